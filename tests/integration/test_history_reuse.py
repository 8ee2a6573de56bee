"""Every retraining selects the history: an unchanged one is neither read nor checked again,
while any change to its files, the suite or a forced recheck reads and checks it anew."""

import json
import shutil

import dagster as dg
import pytest

from credit_assets.core.errors import CreditAssetsError
from credit_assets.core.storage import LocalStore
from credit_assets.defs import checks, ingest
from credit_assets.settings import DEFAULT_EXPECTATIONS_DIR, Settings
from tests.conftest import Env


@pytest.fixture
def env(tmp_path, small_data):
    data = tmp_path / "data"
    shutil.copytree(small_data, data)
    with Env(tmp_path / "home", data) as env:
        yield env


def _materialize(recheck: bool = False) -> tuple[str, dict, dict[str, dg.AssetCheckEvaluation]]:
    """Materialize raw_history alone: its run id, metadata and check evaluations."""
    from credit_assets.definitions import defs

    job = defs().resolve_job_def("santander__training_job")
    with dg.DagsterInstance.get() as instance:
        result = job.execute_in_process(
            instance=instance,
            asset_selection=[dg.AssetKey(["santander", "raw_history"])],
            run_config={"ops": {"santander__raw_history": {"config": {"recheck": recheck}}}},
        )
    (materialization,) = result.asset_materializations_for_node("santander__raw_history")
    evaluations = {
        e.event_specific_data.check_name: e.event_specific_data
        for e in result.all_events
        if e.event_type_value == "ASSET_CHECK_EVALUATION"
    }
    return result.run_id, {k: v.value for k, v in materialization.metadata.items()}, evaluations


def _reading_forbidden(monkeypatch) -> None:
    def read(*_a, **_k):
        raise AssertionError("the history was read again")

    monkeypatch.setattr(ingest, "load_history", read)


def test_unchanged_history_is_kept_and_its_ids_still_compared(env, monkeypatch):
    first_run, first, checked = _materialize()
    assert "unchanged_since_run" not in first

    with monkeypatch.context() as m:
        _reading_forbidden(m)
        _, second, evaluations = _materialize()
    assert second["unchanged_since_run"] == first_run
    assert (second["rows"], second["fingerprint"]) == (first["rows"], first["fingerprint"])
    suite = evaluations["expectations"]
    assert suite.passed and f"checked in run {first_run[:8]}" in suite.description
    assert suite.metadata["checked_in_run"].value == first_run
    for key in ("suite", "suite_source", "rows", "expectations", "failed", "file"):
        assert suite.metadata[key] == checked["expectations"].metadata[key]
    assert suite.description.startswith(checked["expectations"].description)
    ids = evaluations["history_ids_not_in_applications"]
    assert ids.passed and "checked_in_run" not in ids.metadata  # compared with today's files


def test_changed_file_suite_or_recheck_reads_and_checks_again(env, monkeypatch, tmp_path):
    _, first, _ = _materialize()
    _, forced, evaluations = _materialize(recheck=True)
    assert "unchanged_since_run" not in forced
    assert "checked_in_run" not in evaluations["expectations"].metadata

    suites = tmp_path / "expectations"
    shutil.copytree(DEFAULT_EXPECTATIONS_DIR, suites)
    path = suites / "santander" / "raw_history.json"
    suite = json.loads(path.read_text())
    suite["expectations"][0]["description"] += " (edited)"
    path.write_text(json.dumps(suite))
    monkeypatch.setenv("CREDIT_EXPECTATIONS_DIR", str(suites))
    _, edited, _ = _materialize()
    assert "unchanged_since_run" not in edited
    assert edited["source_fingerprint"] != first["source_fingerprint"]

    history = env.data / "history" / "train.csv"
    lines = history.read_text().splitlines()
    history.write_text("\n".join(lines[:-1]) + "\n")  # one row fewer
    _, changed, _ = _materialize()
    assert "unchanged_since_run" not in changed
    assert changed["rows"] == first["rows"] - 1


def test_only_the_same_source_unrejected_is_reused(env):
    _materialize()
    store = LocalStore(Settings.from_env().storage_dir / "santander")
    source = store.read_json("raw_history", "checked_source")["source"]
    assert checks.Checked.find(store, "raw_history", source) is not None
    assert checks.Checked.find(store, "raw_history", "another source") is None
    store.reject("raw_history", None, "a check failed")
    assert checks.Checked.find(store, "raw_history", source) is None


@pytest.mark.parametrize("record", [b"{not json", b'{"source": "abc"}'])
def test_an_unreadable_record_is_not_trusted(env, record):
    _materialize()
    store = LocalStore(Settings.from_env().storage_dir / "santander")
    store.write_bytes(record, "raw_history", "checked_source", "json")
    _, again, _ = _materialize()
    assert "unchanged_since_run" not in again
    assert store.read_json("raw_history", "checked_source")["source"] == again["source_fingerprint"]


def test_a_failed_read_forgets_the_record(env, monkeypatch):
    _materialize()
    store = LocalStore(Settings.from_env().storage_dir / "santander")
    history = env.data / "history" / "train.csv"
    good = history.read_bytes()
    history.write_bytes(good.replace(b"\n", b"\nbroken,row\n", 1))
    with pytest.raises(CreditAssetsError, match=r"train\.csv"):
        _materialize()
    assert not store.exists("raw_history", "checked_source", "json")
    history.write_bytes(good)  # the old content again: read and checked, not trusted
    _, again, _ = _materialize()
    assert "unchanged_since_run" not in again
