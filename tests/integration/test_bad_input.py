"""The bad-input catalogue: each broken file goes through the Dagster graph, and for each:

1. the run fails (or, for a WARN case, warns) with a message naming the file, the column or
   line, and the rule broken;
2. nothing downstream is materialized from it: every stored file is byte-identical except
   the bad partition's own (written then marked rejected, when a check caught it), and no
   temporary file is left;
3. the champion model is untouched;
4. putting the good file back and re-running succeeds with no clean-up.

One trained environment (the session's) is copied once for the module; every case breaks a
file, checks, restores it and re-runs, so the cases share it without retraining.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest
import yaml

from credit_assets.cli.runner import run_all
from credit_assets.core.contract import load_contract
from credit_assets.core.errors import CreditAssetsError
from credit_assets.core.registry import CHAMPION, ModelRegistry
from credit_assets.core.storage import LocalStore
from credit_assets.settings import Settings
from tests.conftest import copy_env

DAY = "2026-11-03"
APPS = f"applications/{DAY}.csv"
OUTS = f"outcomes/{DAY}.csv"
DOWNSTREAM = ("rule_filtered_applications", "decisions")


@pytest.fixture(scope="module")
def lab(trained, tmp_path_factory):
    """A private copy of the trained environment: home (instance, MLflow, storage) and data."""
    env, _ = trained
    with copy_env(env, tmp_path_factory.mktemp("lab")) as lab_env:
        yield lab_env


def _digests(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def _champion() -> str:
    settings = Settings.from_env()
    registry = ModelRegistry(settings.mlflow_tracking_uri, "credit-santander", "credit-santander")
    return registry.resolve(CHAMPION).version


def _materializations(asset: str) -> int:
    with dg.DagsterInstance.get() as instance:
        key = dg.AssetKey(["santander", asset])
        result = instance.fetch_materializations(key, limit=10_000)
        return len(result.records)


def _read(data: Path, rel: str) -> pd.DataFrame:
    return pd.read_csv(data / rel, dtype=str, keep_default_na=False)


def _write(frame: pd.DataFrame, data: Path, rel: str) -> None:
    frame.to_csv(data / rel, index=False)


def _set_cell(rel: str, row: int, column: str, value: str) -> Callable[[Path], None]:
    def apply(data: Path) -> None:
        frame = _read(data, rel)
        frame.loc[row, column] = value
        _write(frame, data, rel)

    return apply


def _edit(rel: str, change: Callable[[pd.DataFrame], pd.DataFrame]) -> Callable[[Path], None]:
    def apply(data: Path) -> None:
        _write(change(_read(data, rel)), data, rel)

    return apply


def _raw(rel: str, change: Callable[[bytes], bytes]) -> Callable[[Path], None]:
    def apply(data: Path) -> None:
        path = data / rel
        path.write_bytes(change(path.read_bytes()))

    return apply


def _add_file(rel: str, source: str) -> Callable[[Path], None]:
    def apply(data: Path) -> None:
        shutil.copyfile(data / source, data / rel)

    return apply


def _bigger(factor: int) -> Callable[[pd.DataFrame], pd.DataFrame]:
    def change(frame: pd.DataFrame) -> pd.DataFrame:
        copies = []
        for k in range(factor):
            part = frame.copy()
            part["ID_code"] = part["ID_code"] + (f"_x{k}" if k else "")
            copies.append(part)
        return pd.concat(copies, ignore_index=True)

    return change


def _truncated(data: Path) -> None:
    """Cut the file in the middle of a row, as an interrupted copy would."""
    content = (data / APPS).read_bytes()
    cut = content.index(b",", len(content) * 2 // 3) + 3
    (data / APPS).write_bytes(content[:cut])


def _latin1(data: Path) -> None:
    frame = _read(data, APPS)
    frame.loc[5, "gender"] = "\u00c9"
    (data / APPS).write_bytes(frame.to_csv(index=False).encode("latin-1"))


def _semicolons(data: Path) -> None:
    frame = _read(data, APPS)
    frame.to_csv(data / APPS, index=False, sep=";")


def _utf16(data: Path) -> None:
    text = (data / APPS).read_text()
    (data / APPS).write_bytes(text.encode("utf-16"))


def _reuse_id(source_rel: str) -> Callable[[Path], None]:
    def apply(data: Path) -> None:
        other = _read(data, source_rel)
        frame = _read(data, APPS)
        frame.loc[0, "ID_code"] = other.loc[0, "ID_code"]
        _write(frame, data, APPS)

    return apply


def _unknown_outcomes(data: Path) -> None:
    frame = _read(data, OUTS)
    extra = pd.DataFrame({"ID_code": ["ghost_1", "ghost_2"], "target": ["0", "1"]})
    _write(pd.concat([frame, extra], ignore_index=True), data, OUTS)


@dataclass(frozen=True)
class Case:
    name: str
    breaks: Callable[[Path], None]
    expect: tuple[str, ...]  # every one of these is in the message
    warn: bool = False
    rejected: tuple[str, ...] = ()  # stored files a blocking check wrote and marked rejected
    contract: dict | None = field(default=None)  # overrides of the Santander contract


CASES = [
    Case(
        "missing required column",
        _edit(APPS, lambda f: f.drop(columns=["ID_code"])),
        (APPS, "'ID_code'", "required column is missing"),
    ),
    Case(
        "missing rule column",
        _edit(APPS, lambda f: f.drop(columns=["var_81"])),
        (APPS, "'var_81'", "rule R01 needs this column"),
    ),
    Case(
        "missing feature column (pattern)",
        _edit(APPS, lambda f: f.drop(columns=["var_5"])),
        (APPS, "'var_5'", "feature column is in the history files but missing here"),
    ),
    Case(
        "extra unknown column",
        _edit(APPS, lambda f: f.assign(comment="x")),
        (APPS, "'comment'", "column is not in the dataset contract"),
    ),
    Case(
        "extra feature column not in the history",
        _edit(APPS, lambda f: f.assign(var_500="1.0")),
        (APPS, "'var_500'", "not in the history files"),
    ),
    Case(
        "text in a numeric column",
        _set_cell(APPS, 4, "var_10", "oops"),
        (APPS, "'var_10'", "line 6", "value is not a number"),
    ),
    Case(
        "NaN",
        _set_cell(APPS, 1, "var_3", "NaN"),
        (APPS, "'var_3'", "line 3", "value is missing (column is not nullable)"),
    ),
    Case(
        "+inf",
        _set_cell(APPS, 2, "var_3", "inf"),
        (APPS, "'var_3'", "line 4", "value is infinite"),
    ),
    Case(
        "-inf",
        _set_cell(APPS, 3, "var_7", "-inf"),
        (APPS, "'var_7'", "line 5", "value is infinite"),
    ),
    Case(
        "value out of the contract's range",
        _set_cell(APPS, 6, "var_0", "1000000"),
        (APPS, "'var_0'", "line 8", "value outside the allowed range [-100.0, 100.0]"),
        contract={"features": [{"name": "var_0", "min": -100, "max": 100}]},
    ),
    Case(
        "categorical level out of the contract",
        _set_cell(APPS, 2, "gender", "Q"),
        (APPS, "'gender'", "line 4", "value is not one of the levels"),
    ),
    Case(
        "duplicate ids",
        _edit(APPS, lambda f: f.assign(ID_code=f["ID_code"].where(f.index != 7, f["ID_code"][2]))),
        (APPS, "'ID_code'", "line 9", "id must be unique"),
    ),
    Case("empty file", _raw(APPS, lambda b: b""), (APPS, "file is empty")),
    Case(
        "header only",
        _raw(APPS, lambda b: b.split(b"\n")[0] + b"\n"),
        (APPS, "file has a header but no rows"),
    ),
    Case(
        "truncated file",
        _truncated,
        (APPS, "line ", "the header has 92 (truncated file?)"),
    ),
    Case("wrong delimiter", _semicolons, (APPS, "values must be separated by commas")),
    Case("UTF-16 encoding", _utf16, (APPS, "file must be UTF-8 text")),
    Case("Latin-1 encoding", _latin1, (APPS, "'gender'", "line 7", "text is not UTF-8")),
    Case(
        "partition date that does not exist",
        _add_file("applications/2026-11-31.csv", APPS),
        ("2026-11-31.csv", "file name is not a date that exists"),
    ),
    Case(
        "partition date in the future",
        _add_file("applications/2099-01-01.csv", APPS),
        ("2099-01-01.csv", "partition 2099-01-01 does not exist", "dated in the future"),
    ),
    Case(
        "target in application data (leakage)",
        _edit(APPS, lambda f: f.assign(target="0")),
        (APPS, "'target'", "must not contain the target or a post-outcome column (leakage)"),
    ),
    Case(
        "post-outcome column in application data (leakage)",
        _edit(APPS, lambda f: f.assign(days_late="0")),
        (APPS, "'days_late'", "must not contain the target or a post-outcome column (leakage)"),
        contract={"post_outcome": ["days_late"]},
    ),
    Case(
        "same id in two days (train and holdout)",
        _reuse_id("applications/2026-11-01.csv"),
        (
            APPS,
            "check ids_not_in_other_files",
            "'ID_code'",
            "id already appears in applications of 2026-11-01",
            "1 row (0.25%)",
            "'app_20261101_0'",
        ),
        rejected=(f"raw_applications/{DAY}.parquet", f"raw_applications/{DAY}.rejected.json"),
    ),
    Case(
        "same id in history and applications",
        _reuse_id("history/train.csv"),
        (APPS, "'ID_code'", "id already appears in the history", "'train_0'"),
        rejected=(f"raw_applications/{DAY}.parquet", f"raw_applications/{DAY}.rejected.json"),
    ),
    Case(
        "outcomes for ids never seen (WARN)",
        _unknown_outcomes,
        (OUTS, "check outcome_ids_known", "'ID_code'", "no application file has", "2 rows"),
        warn=True,
    ),
    Case(
        "row count 4x the recent average (WARN)",
        _edit(APPS, _bigger(4)),
        (APPS, "check row_count_near_recent_average", "row count is outside", "1600 rows"),
        warn=True,
    ),
]


def _contract_file(tmp_path: Path, overrides: dict) -> Path:
    """The Santander contract with overrides; named features go before the pattern."""
    raw = load_contract().model_dump(mode="json", exclude_none=True)
    for key, value in overrides.items():
        raw[key] = value + raw[key] if key == "features" else value
    path = tmp_path / "santander-variant.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_bad_input(lab, case, tmp_path, monkeypatch):
    data, storage = lab.data, Path(Settings.from_env().dataset_storage("santander"))
    if case.contract is not None:
        monkeypatch.setenv("CREDIT_CONTRACT", str(_contract_file(tmp_path, case.contract)))
    good = {p: p.read_bytes() for p in data.rglob("*.csv")}
    before = _digests(storage)
    champion = _champion()
    counts = {a: _materializations(a) for a in DOWNSTREAM}

    case.breaks(data)
    if case.warn:
        summary = run_all(partition=DAY, train=False)
        message = "\n".join(summary["warnings"])
    else:
        with pytest.raises(CreditAssetsError) as failure:
            run_all(partition=DAY, train=False)
        message = str(failure.value)
        after = _digests(storage)
        changed = {k for k in before.keys() | after.keys() if before.get(k) != after.get(k)}
        assert changed == set(case.rejected), changed
        assert {a: _materializations(a) for a in DOWNSTREAM} == counts
        for path in case.rejected:
            if path.endswith(".rejected.json"):
                reason = json.loads((storage / path).read_text())["reason"]
                assert "ID_code" in reason
    for part in case.expect:
        assert part in message, f"{part!r} not in {message!r}"
    assert not list(storage.rglob("*.tmp")), "a temporary file was left behind"
    assert _champion() == champion

    # Fix: the good files back (a file that should not exist removed), then re-run.
    for path in data.rglob("*.csv"):
        if path not in good:
            path.unlink()
    for path, content in good.items():
        path.write_bytes(content)
    summary = run_all(partition=DAY, train=False)
    assert summary["warnings"] == []
    assert not list(storage.rglob("*.rejected.json"))
    assert _champion() == champion
    store = LocalStore(storage)
    assert len(store.read_frame("decisions", DAY)) == len(pd.read_csv(data / APPS))


def test_unknown_outcome_ids_never_reach_training(lab):
    """The WARN case is safe: labelling joins on application ids, so unknown ids drop out."""
    from credit_assets.defs.training import labelled_applications

    store = LocalStore(Path(Settings.from_env().dataset_storage("santander")))
    outcomes = store.read_frame("raw_outcomes", DAY)
    ghost = pd.DataFrame({"ID_code": ["ghost_9"], "target": [1]}).astype(outcomes.dtypes)
    store.write_frame(pd.concat([outcomes, ghost], ignore_index=True), "raw_outcomes", DAY)
    try:
        labelled = labelled_applications(store, load_contract())
        assert "ghost_9" not in set(labelled["ID_code"])
        assert len(labelled) > 0
    finally:
        store.write_frame(outcomes, "raw_outcomes", DAY)


def test_bad_history_blocks_training_and_keeps_the_champion(lab):
    """A history file sharing an id with the applications (train/holdout leakage): the
    training run stops at the history's check; no model, no registration."""
    data = lab.data
    history = data / "history" / "train.csv"
    good = history.read_bytes()
    champion = _champion()
    counts = {a: _materializations(a) for a in ("training_data", "model", "registered_model")}
    frame = pd.read_csv(history, dtype=str, keep_default_na=False)
    frame.loc[3, "ID_code"] = "app_20261102_7"
    frame.to_csv(history, index=False)
    try:
        with pytest.raises(CreditAssetsError) as failure:
            run_all(partition=DAY)
        message = str(failure.value)
        assert "raw_history check history_ids_not_in_applications" in message
        assert "train.csv" in message and "'ID_code'" in message
        assert "id already appears in applications of 2026-11-02" in message
        assert "'app_20261102_7'" in message
        assert {a: _materializations(a) for a in counts} == counts
        assert _champion() == champion
        store = LocalStore(Path(Settings.from_env().dataset_storage("santander")))
        assert store.rejected("raw_history") is not None
        with pytest.raises(CreditAssetsError, match="rejected by a quality check"):
            store.read_frame("raw_history")
    finally:
        history.write_bytes(good)
    summary = run_all(partition=DAY)
    assert summary["warnings"] == []
    assert _materializations("registered_model") == counts["registered_model"] + 1


def test_blocking_hand_written_expectation(lab, tmp_path, monkeypatch):
    """A critical expectation added by hand to a committed suite blocks like a generated one,
    and its failure lists the column, the count and share of bad rows and sample ids."""
    suites = tmp_path / "expectations"
    shutil.copytree(Settings.from_env().expectations_dir, suites)
    path = suites / "santander" / "raw_applications.json"
    suite = json.loads(path.read_text())
    var_0 = pd.read_csv(lab.data / APPS)["var_0"]
    low, high = float(var_0.min()) - 1, float(var_0.max()) + 1
    suite["expectations"].append(
        {
            "type": "expect_column_values_to_be_between",
            "kwargs": {"column": "var_0", "min_value": low, "max_value": high},
            "description": "var_0 is a percentage-like score",
            "severity": "critical",
            "meta": {},
        }
    )
    path.write_text(json.dumps(suite))
    monkeypatch.setenv("CREDIT_EXPECTATIONS_DIR", str(suites))
    apps = lab.data / APPS
    good = apps.read_bytes()
    storage = Path(Settings.from_env().dataset_storage("santander"))
    before = _digests(storage)
    champion = _champion()
    _set_cell(APPS, 10, "var_0", str(high + 5))(lab.data)
    _set_cell(APPS, 11, "var_0", str(low - 5))(lab.data)
    try:
        with pytest.raises(CreditAssetsError) as failure:
            run_all(partition=DAY, train=False)
    finally:
        apps.write_bytes(good)
    message = str(failure.value)
    for part in (
        "raw_applications [2026-11-03] check expectations",
        APPS,
        "column 'var_0'",
        "var_0 is a percentage-like score",
        "expect_column_values_to_be_between",
        "2 rows (0.50%)",
        "'app_20261103_10', 'app_20261103_11'",
    ):
        assert part in message, f"{part!r} not in {message!r}"
    changed = {k for k, v in _digests(storage).items() if before.get(k) != v}
    assert changed == {f"raw_applications/{DAY}.parquet", f"raw_applications/{DAY}.rejected.json"}
    assert _champion() == champion
    summary = run_all(partition=DAY, train=False)
    assert summary["warnings"] == []


def test_warning_expectation_does_not_block(lab, tmp_path, monkeypatch):
    suites = tmp_path / "expectations"
    shutil.copytree(Settings.from_env().expectations_dir, suites)
    path = suites / "santander" / "raw_applications.json"
    suite = json.loads(path.read_text())
    suite["expectations"].append(
        {
            "type": "expect_table_row_count_to_be_between",
            "kwargs": {"max_value": 10},
            "description": "a small pilot: at most 10 applications a day",
            "severity": "warning",
            "meta": {},
        }
    )
    path.write_text(json.dumps(suite))
    monkeypatch.setenv("CREDIT_EXPECTATIONS_DIR", str(suites))
    summary = run_all(partition=DAY, train=False)
    assert len(summary["warnings"]) == 1
    warning = summary["warnings"][0]
    assert "raw_applications [2026-11-03] check expectations" in warning
    assert "a small pilot" in warning and "observed 400" in warning
    assert os.environ["CREDIT_EXPECTATIONS_DIR"] == str(suites)


def test_changing_holdout_rows_changes_no_fitted_state(lab):
    """Materialize ``features`` on a training table whose validation and holdout rows were
    changed: the fitted feature state is the same, only those rows' features differ."""
    from credit_assets.definitions import defs

    store = LocalStore(Path(Settings.from_env().dataset_storage("santander")))
    files = [
        store.path("training_data"),
        store.path("features"),
        store.path("features", "feature_builder", "joblib"),
    ]
    saved = {p: p.read_bytes() for p in files}
    before = store.read_object("features", "feature_builder").state_fingerprint()
    built_before = store.read_frame("features")
    table = store.read_frame("training_data")
    later = (table["split"] != "train").to_numpy()
    numeric = [c for c in table.columns if c.startswith("var_")]
    table.loc[later, numeric] = table.loc[later, numeric] * 7 + 100
    table.loc[later, "gender"] = "F"
    store.write_frame(table, "training_data")
    try:
        job = defs().resolve_job_def("santander__training_job")
        with dg.DagsterInstance.get() as instance:
            result = job.execute_in_process(
                instance=instance, asset_selection=[dg.AssetKey(["santander", "features"])]
            )
        assert result.success
        assert store.read_object("features", "feature_builder").state_fingerprint() == before
        built = store.read_frame("features")
        train = (built["split"] == "train").to_numpy()
        pd.testing.assert_frame_equal(built[train], built_before[train])
        assert not built[~train]["var_0"].equals(built_before[~train]["var_0"])
    finally:
        for path, content in saved.items():
            path.write_bytes(content)
