"""How an asset's step runs its checks: all of them, each timed, and never leaving an
unchecked file looking checked."""

import dagster as dg
import pandas as pd
import pytest

from credit_assets.core.catalog import DatasetEntry
from credit_assets.core.expectations import CRITICAL, Failure
from credit_assets.core.storage import LocalStore
from credit_assets.defs import checks
from credit_assets.defs.resources import Dataset
from credit_assets.defs.scope import Scope, daily_partitions

DAY = "2026-11-02"


@pytest.fixture
def written(tmp_path):
    store = LocalStore(tmp_path / "storage")
    frame = pd.DataFrame({"ID_code": ["a", "b"], "target": [0, 1]})
    store.write_frame(frame, "raw_outcomes", DAY)
    entry = DatasetEntry("santander", None, tmp_path / "data")
    return store, frame, Dataset(entry, None)


def _blocking_failure(w: checks.Written) -> dg.AssetCheckResult:
    failure = Failure("ids_unique", "ids must be unique", "ID_code", CRITICAL, 1, 50.0, ("a",))
    return w.result([failure], "never", {})


def _passing(w: checks.Written) -> dg.AssetCheckResult:
    return w.result([], f"{len(w.frame)} rows fine", {"rows": len(w.frame)})


def test_every_check_runs_after_a_blocking_failure_and_the_file_is_rejected(written, monkeypatch):
    store, frame, dataset = written
    monkeypatch.setitem(
        checks.CHECKS,
        "raw_outcomes",
        [
            checks.Check("first", True, "fails", _blocking_failure),
            checks.Check("second", False, "passes", _passing),
        ],
    )
    first, second = checks.run_checks("raw_outcomes", DAY, frame, dataset, store)

    assert (first.check_name, first.passed, first.severity) == (
        "first",
        False,
        dg.AssetCheckSeverity.ERROR,
    )
    assert "column 'ID_code': ids must be unique" in first.description
    assert (second.check_name, second.passed, second.description) == (
        "second",
        True,
        "2 rows fine",
    )
    assert second.metadata["rows"].value == 2
    assert all(r.metadata["seconds"].value >= 0 for r in (first, second))
    assert "ids must be unique" in store.rejected("raw_outcomes", DAY)
    with pytest.raises(Exception, match="rejected"):
        store.read_frame("raw_outcomes", DAY)


def test_a_check_that_cannot_run_rejects_the_file_and_fails_the_step(written, monkeypatch):
    store, frame, dataset = written

    def broken(w: checks.Written) -> dg.AssetCheckResult:
        raise OSError("disk gone")

    monkeypatch.setitem(
        checks.CHECKS, "raw_outcomes", [checks.Check("broken", True, "raises", broken)]
    )
    with pytest.raises(OSError, match="disk gone"):
        checks.run_checks("raw_outcomes", DAY, frame, dataset, store)
    assert store.rejected("raw_outcomes", DAY) == "check broken could not run: disk gone"


def test_specs_follow_the_checks_and_their_blocking():
    specs = checks.check_specs(Scope("cards", daily_partitions("2026-11-01")), "raw_applications")
    assert [(s.name, s.blocking) for s in specs] == [
        (c.name, c.blocking) for c in checks.CHECKS["raw_applications"]
    ]
    assert all(s.asset_key == dg.AssetKey(["cards", "raw_applications"]) for s in specs)
