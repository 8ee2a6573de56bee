"""Feature building as a scikit-learn transformer, fitted on training rows only.

Everything it learns (clip bounds, categorical levels, frequency tables) is frozen in the
fitted object, which travels inside the logged decision pipeline: batch scoring and the
real-time API apply exactly the same transform.
"""

from __future__ import annotations

import hashlib
import json
from typing import Self

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin

from credit_assets.core.contract import FREQ_SUFFIX, DatasetContract
from credit_assets.core.dataset import SPLIT, TRAIN
from credit_assets.core.lean import FittedFeatures, value_keys


class FeatureBuilder(TransformerMixin, BaseEstimator):
    """Numeric columns clipped to the training range, categoricals as integer codes
    (unknown or missing -> NaN), and optional frequency-of-value features."""

    def __init__(
        self,
        numeric: list[str] | None = None,
        categorical: list[str] | None = None,
        frequency: list[str] | None = None,
        clip_quantile: float = 0.0005,
    ) -> None:
        self.numeric = numeric
        self.categorical = categorical
        self.frequency = frequency
        self.clip_quantile = clip_quantile

    @classmethod
    def from_contract(cls, contract: DatasetContract, columns: list[str]) -> FeatureBuilder:
        features = contract.resolve_features(columns)
        specs = {c: contract.feature_spec(c) for c in features}
        return cls(
            numeric=[c for c in features if specs[c].type == "numeric"],
            categorical=[c for c in features if specs[c].type == "categorical"],
            frequency=[c for c in features if specs[c].frequency],
        )

    def fit(self, X: pd.DataFrame, y: object = None) -> Self:
        numeric, categorical = list(self.numeric or []), list(self.categorical or [])
        q = self.clip_quantile
        values = X[numeric].to_numpy(dtype="float64")
        self.clip_low_ = np.nanquantile(values, q, axis=0) if numeric else np.array([])
        self.clip_high_ = np.nanquantile(values, 1 - q, axis=0) if numeric else np.array([])
        # Levels ordered by training frequency, so codes are stable for the same data.
        self.levels_ = {
            c: X[c].dropna().astype(str).value_counts().index.tolist() for c in categorical
        }
        self.frequency_ = {
            c: value_keys(X[c]).value_counts(normalize=True).to_dict() for c in self.frequency or []
        }
        self.feature_names_out_ = [
            *numeric,
            *categorical,
            *(f"{c}{FREQ_SUFFIX}" for c in self.frequency or []),
        ]
        return self

    def transform(self, X: pd.DataFrame) -> pd.DataFrame:
        built = self.transform_array(X)
        return pd.DataFrame(built, index=X.index, columns=self.feature_names_out_)

    def transform_array(self, X: pd.DataFrame) -> np.ndarray:
        """:meth:`transform`'s values as one float32 array, feature-major in memory (each
        feature's column contiguous), without building a frame: the scoring path's input."""
        return self.fitted().transform_array(X)

    def fitted(self) -> FittedFeatures:
        """The learned state as plain data, with the transform: all scoring needs."""
        return FittedFeatures(
            numeric=list(self.numeric or []),
            clip_low=self.clip_low_,
            clip_high=self.clip_high_,
            levels=self.levels_,
            frequency=self.frequency_,
            feature_names_out_=self.feature_names_out_,
        )

    def get_feature_names_out(self, input_features: object = None) -> np.ndarray:
        return np.asarray(self.feature_names_out_, dtype=object)

    @property
    def categorical_out(self) -> list[str]:
        return list(self.levels_)

    def state_fingerprint(self) -> str:
        """Hash of the learned state: equal fingerprints mean identical transforms."""
        state = {
            "clip_low": np.round(self.clip_low_, 10).tolist(),
            "clip_high": np.round(self.clip_high_, 10).tolist(),
            "levels": self.levels_,
            "frequency": {
                c: sorted((str(k), round(v, 12)) for k, v in t.items())
                for c, t in self.frequency_.items()
            },
            "names": self.feature_names_out_,
        }
        return hashlib.sha256(json.dumps(state, sort_keys=True).encode()).hexdigest()[:12]


def fit_feature_builder(table: pd.DataFrame, contract: DatasetContract) -> FeatureBuilder:
    """The feature builder for ``table`` (a training table with a ``split`` column), fitted
    on its train rows alone: validation and holdout rows never shape a learned transform."""
    builder = FeatureBuilder.from_contract(contract, list(table.columns))
    return builder.fit(table[table[SPLIT] == TRAIN])
