"""Hard business rules: applications that match one are rejected without scoring."""

from __future__ import annotations

import operator
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from credit_assets.core.contract import DatasetContract, Rule
from credit_assets.core.lean import is_missing

RULE_ID = "rule_id"
RULE_REASON = "rule_reason"

# The same operators for a day's column (pandas) and one application's value (Python).
_COMPARE: dict[str, Callable[[Any, Any], Any]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
    "==": operator.eq,
}


def rule_mask(frame: pd.DataFrame, rule: Rule) -> pd.Series:
    """Rows matching ``rule``. A missing value never matches a comparison."""
    values = frame[rule.column]
    match rule.op:
        case "<" | "<=" | ">" | ">=" | "==":
            hit = _COMPARE[rule.op](values, rule.value)
        case "!=":
            hit = values.notna() & (values != rule.value)
        case "in":
            hit = values.isin(list(rule.value))
        case "not_in":
            hit = values.notna() & ~values.isin(list(rule.value))
        case "is_null":
            hit = values.isna()
    return pd.Series(np.asarray(hit, dtype=bool), index=frame.index)


def breaks(value: Any, rule: Rule) -> bool:
    """:func:`rule_mask` for one application's value."""
    missing = is_missing(value)
    match rule.op:
        case "is_null":
            return missing
        case "in" | "not_in" if missing:
            # pandas' isin matches NaN with a NaN in the list (not with None)
            return rule.op == "in" and any(v != v for v in rule.value)
        case _ if missing:
            return False  # a missing value never matches a comparison
        case "!=":
            return bool(value != rule.value)
        case "in":
            return value in list(rule.value)
        case "not_in":
            return value not in list(rule.value)
    return bool(_COMPARE[rule.op](value, rule.value))


def first_broken_rule(
    values: dict[str, Any], contract: DatasetContract
) -> tuple[str | None, str | None]:
    """The id and reason of the first rule one application breaks (``None`` for none):
    :func:`first_broken_rules` for one row."""
    for rule in contract.rules:
        if breaks(values[rule.column], rule):
            return rule.id, rule.reason
    return None, None


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
