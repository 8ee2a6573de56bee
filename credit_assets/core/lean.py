"""The compiled decision path as plain data: what ``score`` loads instead of the full pipeline.

A compiled champion (additive or linear, :mod:`credit_assets.core.compiled`) decides from its
feature transforms' learned parameters and its per-feature tables alone; neither the fitted
scikit-learn ``Pipeline`` nor the LightGBM booster is used. Unpickling those imports
scikit-learn, SciPy and LightGBM (about 1.5 s of a command's start), so registration also
stores the pipeline with the model reduced to :class:`CompiledModel`: the same contract,
rules, thresholds, medians and tables, and the transforms as :class:`FittedFeatures` (numpy
and plain containers). Its decisions are the full pipeline's to the last bit: the transform
is the same code (:class:`~credit_assets.core.features.FeatureBuilder` runs it) and the tables
are the same objects.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd

from credit_assets.core.compiled import AdditiveModel
from credit_assets.core.training import TrainedModel, positive_probability


@dataclass(frozen=True, eq=False)  # arrays inside: compared by identity
class FittedFeatures:
    """A fitted feature builder's learned state and its transform: numeric columns clipped
    to the training range, categoricals as integer codes (unknown or missing -> NaN),
    frequency-of-value features."""

    numeric: list[str]
    clip_low: np.ndarray
    clip_high: np.ndarray
    levels: dict[str, list[str]]
    frequency: dict[str, dict[str, float]]
    feature_names_out_: list[str]

    @property
    def categorical_out(self) -> list[str]:
        return list(self.levels)

    def transform_array(self, X: pd.DataFrame) -> np.ndarray:
        """Built features as one float32 array, feature-major in memory (each feature's
        column contiguous), without building a frame: the scoring path's input."""
        numeric = self.numeric
        out = np.empty((len(X), len(self.feature_names_out_)), dtype=np.float32, order="F")
        if numeric:
            values = X[pd.Index(numeric)].to_numpy(dtype="float64")  # an Index: no list check
            # clipped in float64, stored as float32 with no intermediate copy
            np.clip(values, self.clip_low, self.clip_high, out=out[:, : len(numeric)])
        j = len(numeric)
        for c, codes in self._codes.items():
            out[:, j] = X[c].astype(str).map(codes).where(X[c].notna()).to_numpy(dtype="float64")
            j += 1
        for c, table in self.frequency.items():
            out[:, j] = value_keys(X[c]).map(table).fillna(0.0).to_numpy(dtype="float64")
            j += 1
        return out

    def transform_one(self, values: Mapping[str, Any], numeric: frozenset[str]) -> np.ndarray:
        """:meth:`transform_array` for one application, shape ``(1, features)``, without
        pandas: ``values`` by column, every missing one NaN; ``numeric`` names the columns a
        day's file holds as numbers (their frequency keys are rounded)."""
        out = np.empty((1, len(self.feature_names_out_)), dtype=np.float32, order="F")
        n = len(self.numeric)
        if n:
            row = np.array([[values[c] for c in self.numeric]], dtype="float64")
            np.clip(row, self.clip_low, self.clip_high, out=out[:, :n])
        for j, (c, codes) in enumerate(self._codes.items(), start=n):
            value = values[c]
            out[0, j] = np.nan if is_missing(value) else codes.get(str(value), np.nan)
        for j, (c, table) in enumerate(self.frequency.items(), start=n + len(self._codes)):
            value = values[c]  # missing: no key (``astype(str)`` keeps NaN), no frequency
            out[0, j] = 0.0 if is_missing(value) else table.get(value_key(value, c in numeric), 0.0)
        return out

    @cached_property
    def _codes(self) -> dict[str, dict[str, float]]:
        """Each categorical's integer code by level (as text)."""
        return {c: {lv: float(i) for i, lv in enumerate(lvs)} for c, lvs in self.levels.items()}


def is_missing(value: Any) -> bool:
    """None or NaN: a missing value as the API or a frame gives it."""
    return value is None or (isinstance(value, float) and np.isnan(value))


def value_keys(values: pd.Series) -> pd.Series:
    """Keys for frequency tables: numbers rounded so float noise does not split a value."""
    if pd.api.types.is_numeric_dtype(values):
        return values.round(6).astype(str)
    return values.astype(str)


def value_key(value: Any, numeric: bool) -> str:
    """:func:`value_keys` of one value; ``numeric``: its column is a number column (numpy's
    rounding, not Python's, as the column's)."""
    return str(float(np.round(np.float64(value), 6))) if numeric else str(value)


@dataclass(frozen=True, eq=False)
class CompiledModel:
    """A compiled model as the decision needs it: :class:`~.training.TrainedModel`'s scoring
    interface (``build``, ``raw_contributions``, ``predict_positive``, ``builder``) over the
    transforms' parameters and the tables."""

    builder: FittedFeatures
    compiled: AdditiveModel
    candidate: str

    def build(self, frame: pd.DataFrame) -> np.ndarray:
        return self.builder.transform_array(frame)

    def raw_contributions(self, built: np.ndarray) -> np.ndarray:
        return self.compiled.contributions(built)

    def predict_positive(self, frame: pd.DataFrame) -> np.ndarray:
        return positive_probability(self.compiled.raw_score(self.build(frame)))


# What a decision pipeline scores with: the trained model, or its compiled form alone.
DecisionModel = TrainedModel | CompiledModel
