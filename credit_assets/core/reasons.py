"""Reason codes: why the model decided as it did, in words an applicant can read.

LightGBM gives, for every row, one additive contribution per feature (TreeSHAP) plus the
model's expected value; together they sum to the raw score, the log-odds of the contract's
positive class. Turned to the *risk* direction (positive = towards a bad outcome), the
features that pushed most towards the decision are its reasons:

* ``approve``: the features that lowered the risk most;
* ``reject`` and ``review``: the features that raised the risk most;
* ``rule_reject``: the rule's own reason, and no model reason (the model never saw the row).

Each reason is worded through the contract's ``reason_texts`` (see
:class:`credit_assets.core.contract.ReasonText`), or by default ``"var_81 is high (12.3)"``:
the applicant's value against the training median.
"""

from __future__ import annotations

import functools
import math
import re
import string
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from credit_assets.core.contract import FREQ_SUFFIX, DatasetContract
from credit_assets.core.lean import DecisionModel
from credit_assets.core.thresholds import APPROVE, RULE_REJECT

EXPECTED_VALUE = "expected_value"
TOP_REASONS = 4
DIRECTIONS = ("high", "low", "missing")
HIGH, LOW, MISSING = range(3)
_PRECISION = re.compile(r"\.\d+[eEfFgG]")  # "%" formats these as str.format does
_BLOCK = 4096  # rows whose contributions (a few MB) are ranked together

# The applicants' own values by column: a day's frame, or one application's values as
# one-row arrays (:mod:`.onerow`); reasons quote them.
Columns = pd.DataFrame | Mapping[str, np.ndarray]


def reason_columns(top: int = TOP_REASONS) -> list[str]:
    return [
        name
        for i in range(1, top + 1)
        for name in (f"reason_{i}", f"reason_text_{i}", f"contribution_{i}")
    ]


def contributions(model: DecisionModel, frame: pd.DataFrame) -> pd.DataFrame:
    """Per-feature contributions to the raw score, plus ``expected_value``; each row sums to
    the model step's raw score (log-odds of the positive class)."""
    contrib = model.raw_contributions(model.build(frame))
    names = list(model.builder.feature_names_out_)
    return pd.DataFrame(contrib, columns=[*names, EXPECTED_VALUE], index=frame.index)


def training_medians(built: pd.DataFrame, names: list[str]) -> dict[str, float]:
    """Medians of the built features on training rows: what "high" and "low" are against."""
    return {c: float(v) for c, v in built[names].median(numeric_only=True).items()}


def _direction(value: object, median: float | None, categorical: bool) -> str:
    # floats first: called once per reason of every decision, and pd.isna is slow on scalars
    missing = math.isnan(value) if isinstance(value, float) else value is None or pd.isna(value)
    if missing:
        return "missing"
    if categorical or median is None or np.isnan(median):
        return "high"
    try:
        return "high" if float(value) >= median else "low"
    except (TypeError, ValueError):
        return "high"


def _default_text(feature: str, value: object, direction: str, categorical: bool) -> str:
    if direction == "missing":
        return f"{feature} is missing"
    if categorical:
        return f"{feature} is {value}"
    if feature.endswith(FREQ_SUFFIX):
        base = feature[: -len(FREQ_SUFFIX)]
        return f"{base} value is {'common' if direction == 'high' else 'rare'}"
    shown = f"{value:.4g}" if isinstance(value, int | float | np.number) else str(value)
    return f"{feature} is {direction} ({shown})"


def word_reason(
    contract: DatasetContract,
    feature: str,
    value: object,
    median: float | None,
    categorical: bool = False,
) -> str:
    """One reason in words: the contract's template for the feature, else the default."""
    direction = _direction(value, median, categorical)
    return _worded(
        contract.reason_template(feature, direction), feature, value, median, direction, categorical
    )


def _worded(
    template: str | None,
    feature: str,
    value: object,
    median: float | None,
    direction: str,
    categorical: bool,
) -> str:
    if template:
        try:
            return template.format(
                feature=feature,
                value=value,
                median=float("nan") if median is None else median,
                direction=direction,
            )
        except (ValueError, TypeError, KeyError, IndexError):
            pass  # e.g. a numeric format for a missing or categorical value
    return _default_text(feature, value, direction, categorical)


def explain(
    model: DecisionModel,
    contract: DatasetContract,
    frame: pd.DataFrame,
    decisions: np.ndarray,
    medians: dict[str, float] | None = None,
    top: int = TOP_REASONS,
) -> pd.DataFrame:
    """``reason_i`` (feature), ``reason_text_i`` and ``contribution_i`` for scored rows.

    ``contribution_i`` is in risk log-odds: positive pushed towards a bad outcome. Only
    features that pushed towards the decision are reasons, so a row may have fewer than
    ``top``; the rest are empty (``""`` and NaN), as are all of a ``rule_reject``'s.
    """
    built = model.build(frame)
    reasons = reason_arrays(
        model, contract, frame, built, model.raw_contributions(built), decisions, medians, top
    )
    return pd.DataFrame(reasons, index=frame.index)


def reason_arrays(
    model: DecisionModel,
    contract: DatasetContract,
    frame: Columns,
    built: np.ndarray,
    contrib: np.ndarray,
    decisions: np.ndarray,
    medians: dict[str, float] | None = None,
    top: int = TOP_REASONS,
) -> dict[str, np.ndarray]:
    """:func:`explain`'s columns from contributions already computed (``contrib``, in
    :meth:`~.training.TrainedModel.raw_contributions`' layout, for ``frame``'s rows and their built
    features ``built``)."""
    names = np.asarray(model.builder.feature_names_out_, dtype=object)
    sign = 1.0 if contract.target.positive_means == "default" else -1.0
    toward = np.where(np.asarray(decisions) == APPROVE, -sign, sign)
    order, valid = _strongest(contrib[:, :-1], toward, top)
    valid &= (np.asarray(decisions) != RULE_REJECT)[:, None]  # the model did not decide
    rows = np.arange(len(contrib))
    texts = _word(contract, model, frame, built, order, valid, medians or {})
    out: dict[str, np.ndarray] = {}
    for i in range(top):
        out[f"reason_{i + 1}"] = np.where(valid[:, i], names[order[:, i]], "").astype(object)
        out[f"reason_text_{i + 1}"] = texts[:, i]
        out[f"contribution_{i + 1}"] = np.where(
            valid[:, i], sign * contrib[rows, order[:, i]], np.nan
        )
    return out


def _strongest(contrib: np.ndarray, toward: np.ndarray, top: int) -> tuple[np.ndarray, np.ndarray]:
    """The ``top`` features that pushed most towards each decision (``contrib * toward``
    largest), strongest first (ties: the first feature), and which of them pushed at all.

    ``argmax`` rounds, cheaper than sorting every row, on blocks of rows small enough to stay
    in the processor's cache."""
    n, p = contrib.shape
    order = np.zeros((n, top), dtype=np.intp)
    valid = np.zeros((n, top), dtype=bool)
    for start in range(0, n, _BLOCK):
        block = slice(start, start + _BLOCK)
        pushed = np.multiply(contrib[block], toward[block, None], order="C")  # > 0: towards
        rows = np.arange(len(pushed))
        for i in range(min(top, p)):
            best = pushed.argmax(axis=1)
            order[block, i] = best
            valid[block, i] = pushed[rows, best] > 0
            pushed[rows, best] = -np.inf
    return order, valid


def _word(
    contract: DatasetContract,
    model: DecisionModel,
    frame: Columns,
    built: np.ndarray,
    order: np.ndarray,
    valid: np.ndarray,
    medians: dict[str, float],
) -> np.ndarray:
    """Every reason in words, worded a feature and a direction at a time: the template is
    looked up and bound once per group, and only the applicant's value is formatted per row."""
    texts = np.full(order.shape, "", dtype=object)
    rows, slots = np.nonzero(valid)
    if not len(rows):
        return texts
    features = order[rows, slots]
    by_feature = np.argsort(features, kind="stable")
    rows, slots, features = rows[by_feature], slots[by_feature], features[by_feature]
    starts = np.flatnonzero(np.diff(features, prepend=-1))
    names = model.builder.feature_names_out_
    categorical = set(model.builder.categorical_out)
    for start, stop in zip(starts, [*starts[1:], len(features)], strict=True):
        feature = names[features[start]]
        at_rows, at_slots = rows[start:stop], slots[start:stop]
        is_categorical = feature in categorical
        values = _display_values(frame, built, names, feature)[at_rows]
        median = medians.get(feature)
        directions = _directions(values, median, is_categorical)
        for code in np.unique(directions):
            here, direction = directions == code, DIRECTIONS[code]
            words = _word_group(
                contract.reason_template(feature, direction),
                feature,
                values[here].tolist(),
                median,
                direction,
                is_categorical,
            )
            texts[at_rows[here], at_slots[here]] = np.fromiter(words, object, len(words))
    return texts


def _display_values(
    frame: Columns, built: np.ndarray, names: list[str], feature: str
) -> np.ndarray:
    """The applicants' own values of a feature (the raw column when there is one)."""
    if feature in frame:  # a frame's column, or a key
        return np.asarray(frame[feature])
    if feature.endswith(FREQ_SUFFIX) and feature[: -len(FREQ_SUFFIX)] in frame:
        return built[:, names.index(feature)]
    return np.full(len(built), np.nan)


def _directions(values: np.ndarray, median: float | None, categorical: bool) -> np.ndarray:
    """:func:`_direction` of every value, as indices into ``DIRECTIONS``; numbers compared
    at once."""
    if values.dtype.kind not in "fiub":
        index = {d: i for i, d in enumerate(DIRECTIONS)}
        return np.array([index[_direction(v, median, categorical)] for v in values.tolist()])
    numbers = values.astype(np.float64)
    missing = np.isnan(numbers)
    if categorical or median is None or np.isnan(median):
        return np.where(missing, MISSING, HIGH)
    return np.where(missing, MISSING, np.where(numbers >= median, HIGH, LOW))


def _word_group(
    template: str | None,
    feature: str,
    values: list[object],
    median: float | None,
    direction: str,
    categorical: bool,
) -> list[str]:
    """The reasons of one feature and direction, as :func:`_worded` words each of them."""
    bound = _bind(template, feature, median, direction) if template else None
    if bound is not None:
        try:
            return list(map(bound, values))
        except (ValueError, TypeError, KeyError, IndexError):
            pass  # some value does not fit the template: word each one on its own
    if template or categorical or direction == "missing" or feature.endswith(FREQ_SUFFIX):
        return [_worded(template, feature, v, median, direction, categorical) for v in values]
    prefix = f"{feature} is {direction} ("
    return [f"{prefix}{v:.4g})" if isinstance(v, int | float) else f"{prefix}{v})" for v in values]


@functools.lru_cache(maxsize=4096)  # bound once per feature and direction, not per decision
def _bind(template: str, feature: str, median: float | None, direction: str) -> Any:
    """``template.format`` with everything but the value filled in, as a function of the
    value; ``None`` when the template is not that simple (it is then formatted per row).

    A template whose only value field is a plain precision (``{value:.2f}``) becomes a
    ``%`` format, the same text in about three quarters of the time."""
    known = {"feature": feature, "median": float("nan") if median is None else median}
    known["direction"] = direction
    texts: list[str] = []  # the template with the known fields filled in, split at values
    specs: list[tuple[str | None, str]] = []  # each value field's conversion and spec
    try:
        for literal, field, spec, conversion in string.Formatter().parse(template):
            texts[-1:] = ["".join(texts[-1:]) + literal]
            if field is None:
                continue
            if "{" in (spec or "") or (field not in known and field != "value"):
                return None
            if field == "value":
                specs.append((conversion, spec or ""))
                texts.append("")
            else:
                texts[-1] += format(_convert(known[field], conversion), spec or "")
    except (ValueError, TypeError):
        return None
    if len(specs) == 1 and specs[0][0] is None and _PRECISION.fullmatch(specs[0][1]):
        before, after = (t.replace("%", "%%") for t in texts)
        return f"{before}%{specs[0][1]}{after}".__mod__
    escaped = [t.replace("{", "{{").replace("}", "}}") for t in texts]
    fields = ["{0" + (f"!{c}" if c else "") + f":{spec}}}" for c, spec in specs]
    return "".join(e + f for e, f in zip(escaped, [*fields, ""], strict=True)).format


def _convert(value: object, conversion: str | None) -> object:
    return {"r": repr, "s": str, "a": ascii}.get(conversion or "", lambda v: v)(value)
