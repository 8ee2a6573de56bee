"""Model training: candidate LightGBM designs, chosen on the validation split only.

Santander-like data has features that are nearly independent given the class, so the
Bayes-optimal log-odds is a sum of one function per feature. The ``additive`` candidate
matches that design: depth-one trees (stumps, ``num_leaves=2``), so every tree reads one
feature and the model is a sum of per-feature step functions (LightGBM's ``pred_contrib`` then
splits each score exactly into per-feature shares). Each tree picks its split among a small
random subset of the features; fine bins (``max_bin=511``) resolve the tails, where much of the
evidence sits; rounds stop early on validation AUC. On 200,000 x 200 synthetic rows it comes
within about 0.007 AUC of the Bayes optimum, LightGBM's defaults within about 0.035 (see
``bench/model_quality.py`` and ``bench/README.md``). ``default`` is LightGBM with its default
parameters, kept as a reference point.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

if TYPE_CHECKING:  # imported where a model is fitted: loading definitions stays light
    import lightgbm as lgb
    from sklearn.pipeline import Pipeline

    from credit_assets.core.features import FeatureBuilder

CANDIDATES: dict[str, dict[str, Any]] = {
    "additive": {
        "num_leaves": 2,  # stumps: one feature per tree, an additive model
        "learning_rate": 0.2,
        "feature_fraction": 0.05,  # ~10 of 200 features per tree
        "min_child_samples": 80,
        "reg_lambda": 1.0,
        "max_bin": 511,  # 63 bins cost ~0.003 AUC; 511 edges out 255, costs ~1s more
        "force_col_wise": True,  # histograms only for the sampled features
        "metric": "auc",  # early stopping watches validation AUC alone
    },
    "default": {},
}


@dataclass(frozen=True)
class TrainConfig:
    candidates: tuple[str, ...] = ("additive",)
    max_rounds: int = 10_000
    early_stopping_rounds: int = 300
    seed: int = 42
    n_jobs: int = 2
    overrides: dict[str, Any] = field(default_factory=dict)

    def params(self, candidate: str) -> dict[str, Any]:
        if candidate not in CANDIDATES:
            raise ValueError(f"unknown model candidate {candidate!r}; known: {list(CANDIDATES)}")
        return {**CANDIDATES[candidate], **self.overrides}


def scoring_threads() -> int | None:
    """Threads LightGBM scores with: the process's ``OMP_NUM_THREADS`` when set, else
    LightGBM's default (every physical core).

    A fitted model keeps the thread count it was trained with, and scoring must not inherit
    it: two one-core Celery workers each scoring with two threads on two cores wait on each
    other's descheduled threads (a decisions step took half as long again as alone)."""
    value = os.environ.get("OMP_NUM_THREADS", "")
    return int(value) if value.isdigit() and int(value) > 0 else None


@dataclass
class TrainedModel:
    pipeline: Pipeline  # fitted FeatureBuilder + LGBMClassifier
    candidate: str
    params: dict[str, Any]
    best_iteration: int
    validation_auc: dict[str, float]

    def predict_positive(self, frame: pd.DataFrame) -> np.ndarray:
        """P(positive class) for raw contract columns."""
        return self.pipeline.predict_proba(frame, n_jobs=scoring_threads())[:, 1]

    def describe(self) -> dict[str, Any]:
        return {
            "candidate": self.candidate,
            "best_iteration": self.best_iteration,
            **{f"val_auc_{k}": v for k, v in self.validation_auc.items()},
        }


def fit_candidate(
    candidate: str,
    x_train: pd.DataFrame,
    y_train: np.ndarray,
    x_val: pd.DataFrame,
    y_val: np.ndarray,
    config: TrainConfig,
    categorical: list[str] | None = None,
) -> tuple[lgb.LGBMClassifier, float]:
    """Fit one candidate on built features; early stopping watches the validation split."""
    import lightgbm as lgb
    from sklearn.metrics import roc_auc_score

    params = config.params(candidate)
    model = lgb.LGBMClassifier(
        n_estimators=config.max_rounds if params else 100,
        random_state=config.seed,
        n_jobs=config.n_jobs,
        verbose=-1,
        **params,
    )
    callbacks = [lgb.early_stopping(config.early_stopping_rounds, verbose=False)] if params else []
    model.fit(
        x_train,
        y_train,
        eval_X=(x_val,),
        eval_y=(y_val,),
        eval_metric="auc",
        categorical_feature=categorical or "auto",
        callbacks=callbacks,
    )
    val_auc = float(roc_auc_score(y_val, model.predict_proba(x_val)[:, 1]))
    return model, val_auc


def train_on_features(
    builder: FeatureBuilder,
    x_train: pd.DataFrame,
    y_train: np.ndarray,
    x_val: pd.DataFrame,
    y_val: np.ndarray,
    config: TrainConfig | None = None,
) -> TrainedModel:
    """Fit every candidate on features ``builder`` already built; keep the best on validation."""
    from sklearn.pipeline import Pipeline

    config = config or TrainConfig()
    fitted = {
        c: fit_candidate(c, x_train, y_train, x_val, y_val, config, builder.categorical_out)
        for c in config.candidates
    }
    best = max(fitted, key=lambda c: fitted[c][1])
    model = fitted[best][0]
    return TrainedModel(
        pipeline=Pipeline([("features", builder), ("model", model)]),
        candidate=best,
        params={
            **config.params(best),
            "candidate": best,
            "max_rounds": config.max_rounds,
            "early_stopping_rounds": config.early_stopping_rounds,
            "seed": config.seed,
        },
        best_iteration=int(model.best_iteration_ or model.n_estimators),
        validation_auc={c: auc for c, (_, auc) in fitted.items()},
    )


def train(
    builder: FeatureBuilder,
    train_rows: pd.DataFrame,
    y_train: np.ndarray,
    val_rows: pd.DataFrame,
    y_val: np.ndarray,
    config: TrainConfig | None = None,
) -> TrainedModel:
    """Fit features on training rows only, then the model: the whole job in one call."""
    builder.fit(train_rows)
    return train_on_features(
        builder, builder.transform(train_rows), y_train, builder.transform(val_rows), y_val, config
    )
