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

import math

import numpy as np
import pandas as pd

from credit_assets.core.contract import FREQ_SUFFIX, DatasetContract
from credit_assets.core.thresholds import APPROVE
from credit_assets.core.training import TrainedModel, scoring_threads

EXPECTED_VALUE = "expected_value"
TOP_REASONS = 4


def reason_columns(top: int = TOP_REASONS) -> list[str]:
    return [
        name
        for i in range(1, top + 1)
        for name in (f"reason_{i}", f"reason_text_{i}", f"contribution_{i}")
    ]


def contributions(model: TrainedModel, frame: pd.DataFrame) -> pd.DataFrame:
    """Per-feature contributions to the raw score, plus ``expected_value``; each row sums to
    the model step's ``predict(raw_score=True)`` (log-odds of the positive class)."""
    builder = model.pipeline.named_steps["features"]
    clf = model.pipeline.named_steps["model"]
    built = builder.transform(frame)
    contrib = np.asarray(
        clf.predict(built, pred_contrib=True, n_jobs=scoring_threads()), dtype=float
    )
    names = list(builder.feature_names_out_)
    return pd.DataFrame(contrib, columns=[*names, EXPECTED_VALUE], index=frame.index)


def training_medians(built: pd.DataFrame, names: list[str]) -> dict[str, float]:
    """Medians of the built features on training rows: what "high" and "low" are against."""
    return {c: float(v) for c, v in built[names].median(numeric_only=True).items()}


def _display_value(model: TrainedModel, frame: pd.DataFrame, feature: str) -> pd.Series:
    """The applicant's own value of a feature (raw column when there is one)."""
    if feature in frame.columns:
        return frame[feature]
    if feature.endswith(FREQ_SUFFIX) and feature[: -len(FREQ_SUFFIX)] in frame.columns:
        return model.pipeline.named_steps["features"].transform(frame)[feature]
    return pd.Series(np.nan, index=frame.index)


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
    model: TrainedModel,
    contract: DatasetContract,
    frame: pd.DataFrame,
    decisions: np.ndarray,
    medians: dict[str, float] | None = None,
    top: int = TOP_REASONS,
) -> pd.DataFrame:
    """``reason_i`` (feature), ``reason_text_i`` and ``contribution_i`` for scored rows.

    ``contribution_i`` is in risk log-odds: positive pushed towards a bad outcome. Only
    features that pushed towards the decision are reasons, so a row may have fewer than
    ``top``; the rest are empty (``""`` and NaN).
    """
    medians = medians or {}
    contrib = contributions(model, frame)
    names = list(contrib.columns[:-1])
    sign = 1.0 if contract.target.positive_means == "default" else -1.0
    risk = contrib[names].to_numpy() * sign
    toward = np.where(np.asarray(decisions) == APPROVE, -1.0, 1.0)
    pushed = risk * toward[:, None]  # > 0: pushed towards this decision
    order = np.argsort(-pushed, axis=1, kind="stable")[:, :top]
    builder = model.pipeline.named_steps["features"]
    categorical = set(builder.categorical_out)
    n = len(frame)
    out: dict[str, object] = {}
    # Worded row by row (a contract's template may format anything), so the per-row work is
    # kept to the wording: values as Python objects, each template looked up once.
    values: dict[str, np.ndarray] = {}
    templates: dict[tuple[str, str], str | None] = {}
    for i in range(top):
        idx = order[:, i] if order.shape[1] > i else np.zeros(n, dtype=int)
        valid = (pushed[np.arange(n), idx] > 0) if order.shape[1] > i else np.zeros(n, bool)
        feats = np.where(valid, np.asarray(names, dtype=object)[idx], "")
        texts = np.full(n, "", dtype=object)
        for row in np.flatnonzero(valid):
            feature = feats[row]
            if feature not in values:
                values[feature] = _display_value(model, frame, feature).to_numpy(dtype=object)
            value = values[feature][row]
            median, is_categorical = medians.get(feature), feature in categorical
            if isinstance(value, np.generic):
                value = value.item()
            direction = _direction(value, median, is_categorical)
            if (feature, direction) not in templates:
                templates[feature, direction] = contract.reason_template(feature, direction)
            texts[row] = _worded(
                templates[feature, direction], feature, value, median, direction, is_categorical
            )
        out[f"reason_{i + 1}"] = feats
        out[f"reason_text_{i + 1}"] = texts
        out[f"contribution_{i + 1}"] = np.where(valid, risk[np.arange(n), idx], np.nan)
    return pd.DataFrame(out, index=frame.index)[reason_columns(top)]


def empty_reasons(n: int, top: int = TOP_REASONS) -> pd.DataFrame:
    out: dict[str, object] = {}
    for i in range(1, top + 1):
        out[f"reason_{i}"] = np.full(n, "", dtype=object)
        out[f"reason_text_{i}"] = np.full(n, "", dtype=object)
        out[f"contribution_{i}"] = np.full(n, np.nan)
    return pd.DataFrame(out)
