import pandas as pd

from credit_assets.core.contract import DatasetContract, Rule, load_contract
from credit_assets.core.rules import apply_rules, rule_hit_counts, rule_mask


def test_santander_rule_rejects_below_threshold_and_keeps_every_row():
    contract = load_contract()
    frame = pd.DataFrame({"ID_code": ["a", "b", "c"], "var_81": [7.99, 8.0, float("nan")]})
    ruled = apply_rules(frame, contract)
    assert len(ruled) == 3
    assert ruled["rule_id"].fillna("-").tolist() == ["R01", "-", "-"]
    assert "8.0" in ruled["rule_reason"].iloc[0]
    assert rule_hit_counts(ruled, contract) == {"R01": 1}


def test_first_matching_rule_wins():
    raw = load_contract().model_dump(mode="json")
    raw["rules"].append({"id": "R02", "column": "var_1", "op": ">", "value": 0, "reason": "b"})
    contract = DatasetContract.model_validate(raw)
    frame = pd.DataFrame({"var_81": [1.0, 10.0, 10.0], "var_1": [5.0, 5.0, -1.0]})
    assert apply_rules(frame, contract)["rule_id"].fillna("-").tolist() == ["R01", "R02", "-"]


def test_operators():
    frame = pd.DataFrame({"c": ["a", "b", None], "n": [1.0, None, 3.0]})

    def hits(op, column, value=None):
        return rule_mask(
            frame, Rule(id="r", column=column, op=op, value=value, reason="x")
        ).tolist()

    assert hits("in", "c", ["a"]) == [True, False, False]
    assert hits("not_in", "c", ["a"]) == [False, True, False]
    assert hits("is_null", "n") == [False, True, False]
    assert hits(">=", "n", 3.0) == [False, False, True]
    assert hits("!=", "n", 1.0) == [False, False, True]
    assert hits("==", "c", "b") == [False, True, False]
