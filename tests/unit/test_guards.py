import pandas as pd

from credit_assets.core.contract import load_contract
from credit_assets.core.guards import (
    feature_leakage,
    ids_seen_elsewhere,
    row_count_vs_recent,
    shared_split_ids,
    unknown_outcome_ids,
)
from tests.conftest import FIXTURES

CONTRACT = load_contract()
LOANS = load_contract(FIXTURES / "loans.yaml")


def test_ids_seen_elsewhere_names_where():
    ids = pd.Series(["a", "b", "c", "d"])
    failure = ids_seen_elsewhere(
        ids,
        {"applications of 2026-11-01": pd.Series(["b"]), "the history": pd.Series(["d", "x"])},
        "ID_code",
    )
    assert failure.blocking and failure.column == "ID_code"
    assert failure.rule == "id already appears in applications of 2026-11-01, the history"
    assert (failure.bad_rows, failure.bad_percent, failure.sample_ids) == (2, 50.0, ("b", "d"))
    assert ids_seen_elsewhere(ids, {"x": pd.Series(["z"])}, "ID_code") is None


def test_row_count_warns_only_far_from_recent_average():
    recent = {"2026-11-01": 400, "2026-11-02": 400}
    assert row_count_vs_recent(1000, recent) is None
    assert row_count_vs_recent(150, recent) is None
    high = row_count_vs_recent(1300, recent)
    assert not high.blocking and high.observed == "1300 rows (3.25x)"
    assert row_count_vs_recent(100, recent) is not None
    assert row_count_vs_recent(10_000, {}) is None  # nothing to compare with


def test_unknown_outcome_ids_warn():
    failure = unknown_outcome_ids(pd.Series(["a", "ghost"]), pd.Series(["a", "b"]), "ID_code")
    assert not failure.blocking and failure.sample_ids == ("ghost",)
    assert unknown_outcome_ids(pd.Series(["a"]), pd.Series(["a"]), "ID_code") is None


def test_shared_split_ids():
    table = pd.DataFrame(
        {"ID_code": ["a", "b", "a", "c"], "split": ["train"] * 2 + ["holdout"] * 2}
    )
    failure = shared_split_ids(table, "ID_code")
    assert failure.blocking and failure.sample_ids == ("a",) and failure.bad_rows == 2
    assert shared_split_ids(table.drop_duplicates("ID_code"), "ID_code") is None
    twice_in_train = table.assign(split=["train", "train", "train", "holdout"])
    assert shared_split_ids(twice_in_train, "ID_code") is None  # the unique-id check names it


def test_feature_leakage():
    columns = ["application_id", "repaid", "applied_on", "days_late", "income", "sex"]
    assert feature_leakage(["income", "employment__freq"], columns, LOANS) is None
    for bad in ("repaid", "days_late", "sex", "applied_on", "repaid__freq"):
        assert feature_leakage(["income", bad], columns, LOANS).column == bad
