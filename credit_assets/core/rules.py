"""Hard business rules: applications that match one are rejected without scoring."""

from __future__ import annotations

import numpy as np
import pandas as pd

from credit_assets.core.contract import DatasetContract, Rule

RULE_ID = "rule_id"
RULE_REASON = "rule_reason"


def rule_mask(frame: pd.DataFrame, rule: Rule) -> pd.Series:
    """Rows matching ``rule``. A missing value never matches a comparison."""
    values = frame[rule.column]
    match rule.op:
        case "<":
            hit = values < rule.value
        case "<=":
            hit = values <= rule.value
        case ">":
            hit = values > rule.value
        case ">=":
            hit = values >= rule.value
        case "==":
            hit = values == rule.value
        case "!=":
            hit = values.notna() & (values != rule.value)
        case "in":
            hit = values.isin(list(rule.value))
        case "not_in":
            hit = values.notna() & ~values.isin(list(rule.value))
        case "is_null":
            hit = values.isna()
    return pd.Series(np.asarray(hit, dtype=bool), index=frame.index)


def first_broken_rules(
    frame: pd.DataFrame, contract: DatasetContract
) -> tuple[np.ndarray, np.ndarray]:
    """The id and reason of the first rule each row breaks (``None`` for none), as arrays."""
    rule_id = np.full(len(frame), None, dtype=object)
    reason = np.full(len(frame), None, dtype=object)
    free = np.ones(len(frame), dtype=bool)
    for rule in contract.rules:
        hit = rule_mask(frame, rule).to_numpy() & free
        rule_id[hit] = rule.id
        reason[hit] = rule.reason
        free &= ~hit
    return rule_id, reason


def apply_rules(frame: pd.DataFrame, contract: DatasetContract) -> pd.DataFrame:
    """Return ``frame`` with ``rule_id`` / ``rule_reason``: the first rule each row breaks."""
    rule_id, reason = first_broken_rules(frame, contract)
    return frame.assign(**{RULE_ID: rule_id, RULE_REASON: reason})


def rule_hit_counts(ruled: pd.DataFrame, contract: DatasetContract) -> dict[str, int]:
    counts = ruled[RULE_ID].value_counts()
    return {rule.id: int(counts.get(rule.id, 0)) for rule in contract.rules}
