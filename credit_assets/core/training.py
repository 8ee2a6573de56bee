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
parameters; ``linear`` a logistic regression (L2) on standardized numeric features and one-hot
categories, a glass-box learner that suits small categorical datasets.

``additive`` and ``linear`` models are compiled after training into per-feature tables
(:mod:`credit_assets.core.compiled`): their scores and reason codes are exact look-ups. A model
that is not additive (``default``) scores and explains through LightGBM itself.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from credit_assets.core.compiled import AdditiveModel, compile_model

if TYPE_CHECKING:  # imported where a model is fitted: loading definitions stays light
    import lightgbm as lgb
    from sklearn.pipeline import Pipeline

    from credit_assets.core.features import FeatureBuilder

LINEAR = "linear"

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
    LINEAR: {"C": 1.0},  # inverse L2 strength on standardized features
}


@dataclass(frozen=True)
class TrainConfig:
    candidates: tuple[str, ...] = ("additive", "default", LINEAR)
    max_rounds: int = 10_000
    early_stopping_rounds: int = 300
    seed: int = 42
    n_jobs: int = 2
    overrides: dict[str, Any] = field(default_factory=dict)

    def params(self, candidate: str) -> dict[str, Any]:
        if candidate not in CANDIDATES:
            raise ValueError(f"unknown model candidate {candidate!r}; known: {list(CANDIDATES)}")
        if candidate == LINEAR:  # overrides are LightGBM parameters
            return dict(CANDIDATES[candidate])
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
    pipeline: Pipeline  # fitted FeatureBuilder + model (LGBMClassifier or linear_model)
    candidate: str
    params: dict[str, Any]
    best_iteration: int
    validation_auc: dict[str, float]
    # Per-feature tables of an additive model; None: LightGBM's own path. (A model pickled
    # before tables existed reads the class default, None.)
    compiled: AdditiveModel | None = None

    @property
    def builder(self) -> FeatureBuilder:
        return self.pipeline.named_steps["features"]

    def build(self, frame: pd.DataFrame) -> np.ndarray:
        """Built features (float32, as the model was trained on) for raw contract columns."""
        return self.builder.transform_array(frame)

    def raw_contributions(self, built: np.ndarray) -> np.ndarray:
        """Per-feature contributions to the raw score (log-odds of the positive class) and,
        last, the expected value: LightGBM's ``pred_contrib`` layout; rows sum to the raw
        score. Table look-ups for an additive model, LightGBM's TreeSHAP otherwise."""
        if self.compiled is not None:
            return self.compiled.contributions(built)
        clf = self.pipeline.named_steps["model"]
        named = pd.DataFrame(built, columns=self.builder.feature_names_out_)
        return np.asarray(
            clf.predict(named, pred_contrib=True, n_jobs=scoring_threads()), dtype=float
        )

    def predict_positive(self, frame: pd.DataFrame) -> np.ndarray:
        """P(positive class) for raw contract columns."""
        return self.predict_built(self.build(frame))

    def predict_built(self, built: np.ndarray | pd.DataFrame) -> np.ndarray:
        """P(positive class) for built features: table look-ups for a compiled model, so the
        same values to the last bit as its decisions get."""
        if self.compiled is not None:
            return positive_probability(self.compiled.raw_score(np.asarray(built)))
        clf = self.pipeline.named_steps["model"]
        named = pd.DataFrame(built, columns=self.builder.feature_names_out_)
        return clf.predict_proba(named, n_jobs=scoring_threads())[:, 1]

    def feature_importance(self) -> pd.Series:
        """Per built feature: LightGBM's total gain, or a linear model's |weight| per
        standard deviation (summed over a categorical feature's levels)."""
        clf = self.pipeline.named_steps["model"]
        names = self.builder.feature_names_out_
        if self.candidate == LINEAR:
            return pd.Series(linear_importance(clf, len(names)), index=names)
        return pd.Series(clf.booster_.feature_importance("gain"), index=names, dtype=float)

    def describe(self) -> dict[str, Any]:
        return {
            "candidate": self.candidate,
            "best_iteration": self.best_iteration,
            **{f"val_auc_{k}": v for k, v in self.validation_auc.items()},
        }


def positive_probability(raw: np.ndarray) -> np.ndarray:
    """The logistic link, written as LightGBM's binary objective computes it."""
    return 1.0 / (1.0 + np.exp(-raw))


def linear_model(n_features: int, categorical: list[int], c: float) -> Pipeline:
    """Logistic regression on built features: numeric ones mean-imputed and standardized,
    categorical codes one-hot (missing is a level of its own, an unseen level none)."""
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline, make_pipeline
    from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, StandardScaler

    numeric = [j for j in range(n_features) if j not in categorical]
    parts = [
        (
            "numeric",
            make_pipeline(SimpleImputer(keep_empty_features=True), StandardScaler()),
            numeric,
        ),
        (
            "categorical",
            make_pipeline(
                SimpleImputer(strategy="constant", fill_value=-1.0),
                OneHotEncoder(handle_unknown="ignore", sparse_output=False),
            ),
            categorical,
        ),
    ]
    return Pipeline(
        [
            # float64 throughout: built features are float32, and so would the fit be
            ("float64", FunctionTransformer(np.asarray, kw_args={"dtype": np.float64})),
            ("prepare", ColumnTransformer([p for p in parts if p[2]])),
            ("classifier", LogisticRegression(C=c, max_iter=5_000)),
        ]
    )


def linear_importance(model: Pipeline, n_features: int) -> np.ndarray:
    """|weight| per standard deviation of each feature, summed over a category's levels."""
    prepare = model.named_steps["prepare"]
    weights = np.abs(model.named_steps["classifier"].coef_[0])
    out, start = np.zeros(n_features), 0
    for name, transformer, columns in prepare.transformers_:
        if name == "numeric":
            out[columns] = weights[start : start + len(columns)]
            start += len(columns)
        elif name == "categorical":
            for j, levels in zip(columns, transformer[-1].categories_, strict=True):
                out[j] = weights[start : start + len(levels)].sum()
                start += len(levels)
    return out


def fit_candidate(
    candidate: str,
    x_train: pd.DataFrame,
    y_train: np.ndarray,
    x_val: pd.DataFrame,
    y_val: np.ndarray,
    config: TrainConfig,
    categorical: list[str] | None = None,
) -> tuple[lgb.LGBMClassifier | Pipeline, float]:
    """Fit one candidate on built features; early stopping watches the validation split."""
    import lightgbm as lgb
    from sklearn.metrics import roc_auc_score

    params = config.params(candidate)
    if candidate == LINEAR:
        columns = list(x_train.columns)
        categorical_idx = [columns.index(c) for c in categorical or []]
        model = linear_model(len(columns), categorical_idx, params["C"])
        model.fit(x_train, y_train)
        return model, float(roc_auc_score(y_val, model.predict_proba(x_val)[:, 1]))
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
        best_iteration=0 if best == LINEAR else int(model.best_iteration_ or model.n_estimators),
        validation_auc={c: auc for c, (_, auc) in fitted.items()},
        compiled=compile_model(model, x_train.to_numpy(dtype=np.float64)),
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
