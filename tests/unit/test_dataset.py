import numpy as np
import pandas as pd
import pytest

from credit_assets.core.contract import load_contract
from credit_assets.core.dataset import (
    HOLDOUT,
    SPLIT,
    TRAIN,
    VALIDATION,
    DataDir,
    TrainingWindow,
    build_training_table,
    label_applications,
    newest_rows,
    partition_key,
    source_fingerprint,
)
from credit_assets.core.errors import CreditAssetsError, DataValidationError
from tests.conftest import FIXTURES

CONTRACT = load_contract()


def _rows(prefix, n, seed, with_target=True):
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({"ID_code": [f"{prefix}{i}" for i in range(n)]})
    if with_target:
        frame["target"] = (rng.random(n) < 0.3).astype("int8")
    frame["var_81"] = rng.uniform(5, 20, n)
    return frame


def test_time_ordered_split_and_rules_excluded():
    history = _rows("h", 1000, 0)
    labelled = _rows("a", 200, 1)
    table = build_training_table(history, labelled, CONTRACT)
    kept = table.frame
    assert table.rule_hits["R01"] == int(((pd.concat([history, labelled])["var_81"]) < 8).sum())
    assert (kept["var_81"] >= 8).all()
    # newest rows (the labelled applications) end up in the holdout
    holdout_ids = kept.loc[kept[SPLIT] == HOLDOUT, "ID_code"]
    assert holdout_ids.str.startswith("a").mean() > 0.9
    order = kept[SPLIT].map({TRAIN: 0, VALIDATION: 1, HOLDOUT: 2})
    assert order.is_monotonic_increasing
    assert abs((kept[SPLIT] == HOLDOUT).mean() - 0.15) < 0.01


def test_splits_share_no_ids_and_history_ids_cannot_reappear():
    history = _rows("h", 500, 0)
    table = build_training_table(history, _rows("a", 100, 1), CONTRACT)
    parts = [set(table.part(s)["ID_code"]) for s in (TRAIN, VALIDATION, HOLDOUT)]
    assert not (parts[0] & parts[1] or parts[0] & parts[2] or parts[1] & parts[2])
    with pytest.raises(DataValidationError, match="history and in applications"):
        build_training_table(history, _rows("h", 10, 2), CONTRACT)


def test_label_applications_joins_only_arrived_outcomes():
    apps = _rows("a", 5, 0, with_target=False)
    outcomes = pd.DataFrame({"ID_code": ["a1", "a3"], "target": [1, 0]})
    labelled = label_applications(apps, outcomes, CONTRACT)
    assert labelled["ID_code"].tolist() == ["a1", "a3"]
    assert labelled["target"].tolist() == [1, 0]


def test_one_class_split_is_refused():
    history = _rows("h", 200, 0).assign(target=0)
    with pytest.raises(CreditAssetsError, match="only one class"):
        build_training_table(history, history.iloc[:0], CONTRACT)


def test_data_dir(tmp_path):
    with pytest.raises(CreditAssetsError, match="not found"):
        DataDir(tmp_path / "missing").check()
    (tmp_path / "history").mkdir()
    with pytest.raises(CreditAssetsError, match="no history CSV"):
        DataDir(tmp_path).check()
    (tmp_path / "applications").mkdir()
    (tmp_path / "applications" / "2026-11-02.csv").write_text("x\n")
    undated = tmp_path / "applications" / "test.csv"
    undated.write_text("x\n")
    files = DataDir(tmp_path).application_files()
    assert files["2026-11-02"].name == "2026-11-02.csv"
    assert files[partition_key(undated)] == undated  # Kaggle's test.csv: its day of change


def test_source_fingerprint_follows_content_names_and_versions(tmp_path):
    a, b = tmp_path / "a.csv", tmp_path / "b.csv"
    a.write_text("id,x\n1,2\n")
    b.write_text("id,x\n1,2\n")
    base = source_fingerprint([a], "contract-1", "suite-1")
    assert source_fingerprint([a], "contract-1", "suite-1") == base
    assert source_fingerprint([b], "contract-1", "suite-1") != base  # same bytes, other name
    assert source_fingerprint([a], "contract-2", "suite-1") != base
    assert source_fingerprint([a], "contract-1", "suite-2") != base
    assert source_fingerprint([a, b], "contract-1", "suite-1") != base
    a.write_text("id,x\n1,3\n")
    assert source_fingerprint([a], "contract-1", "suite-1") != base


def test_reviewers_label_what_no_outcome_labels_yet_and_outcomes_win():
    from credit_assets.core.dataset import with_review_labels

    contract = load_contract()
    apps = pd.DataFrame({"ID_code": ["a", "b", "c", "d"], "var_0": [1.0, 2.0, 3.0, 4.0]})
    labelled = apps.iloc[:1].assign(target=pd.Series([0], dtype="int8"))  # a's outcome: good
    reviews = pd.DataFrame({"application_id": ["a", "b", "c"], "bad": [1, 1, 0]})
    out = with_review_labels(labelled, apps, reviews, contract).set_index("ID_code")
    assert out["target"].to_dict() == {"a": 0, "b": 1, "c": 0}  # d: neither outcome nor review
    assert out["target"].dtype == "int8"
    loans = load_contract(FIXTURES / "loans.yaml")  # the positive class is a good outcome
    apps = apps.rename(columns={"ID_code": "application_id"})
    none = apps.iloc[:0].assign(repaid=pd.Series(dtype="int8"))
    out = with_review_labels(none, apps, reviews, loans).set_index("application_id")
    assert out["repaid"].to_dict() == {"a": 0, "b": 0, "c": 1}


def test_a_training_window_keeps_only_the_history_min_history_rows_still_needs():
    history, recent = _rows("h", 1000, 2), _rows("a", 150, 3)
    everything = TrainingWindow()
    assert everything.history_rows(len(recent), CONTRACT) is None
    assert newest_rows(history, None, CONTRACT) is history
    assert everything.describe(len(history)) == "all days"
    window = TrainingWindow("2026-11-20")
    kept = window.history_rows(len(recent), CONTRACT)
    assert CONTRACT.min_history_rows == 200 and kept == 50
    newest = newest_rows(history, kept, CONTRACT)
    assert newest["ID_code"].tolist() == [f"h{i}" for i in range(950, 1000)]  # the newest ones
    assert window.describe(kept) == "applications since 2026-11-20, 50 history rows"
    # enough recent rows: no history at all; the table is the window's rows alone
    assert window.history_rows(800, CONTRACT) == 0
    assert newest_rows(history, 0, CONTRACT).empty
    table = build_training_table(newest_rows(history, 0, CONTRACT), _rows("a", 800, 4), CONTRACT)
    assert table.frame["ID_code"].str.startswith("a").all()


def test_a_training_window_learns_from_the_days_from_its_start_on():
    days = ["2026-11-19", "2026-11-20", "2026-11-21"]
    assert TrainingWindow().days(days) == days
    assert TrainingWindow("2026-11-20").days(days) == ["2026-11-20", "2026-11-21"]
