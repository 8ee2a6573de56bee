"""Synthetic data in the layout of Kaggle's Santander set, with the true P(target | x) known.

Like the real set: about 10% positive, features nearly independent given the class, each with
its own class-conditional shape (shifted, widened or two-humped). Because every class-conditional
density is a Gaussian mixture, the Bayes-optimal score is computed exactly:

    logit P(y=1 | x) = logit(pi) + sum_j [log p1_j(x_j) - log p0_j(x_j)]

It is written beside the data (``truth/``), never inside it, so benchmarks can report the
Bayes-optimal AUC.

Bias can be injected (``bias > 0``, off by default): one feature becomes a proxy for gender
and group F's labels carry historical bias, so a model learns to reject F through the proxy.
Drift can be injected from a given day: a feature shift (P(x) moves, P(y | x) unchanged: the
drift features' mean moves and / or their spread widens) and a concept change (P(y | x) changes
for the drift features, P(x) does not).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.special import expit, logit, logsumexp

from credit_assets.core.io import write_csv_atomic

# Santander-like scale: each var_j = loc_j + scale_j * z, z drawn from the class mixture.
_LOC_RANGE = (0.0, 20.0)
_SCALE_RANGE = (1.0, 8.0)
_RULE_FEATURE = 81
_PROXY_SHIFT = 1.0  # the proxy's mean is this many feature scales above (F) or below (M)


@dataclass(frozen=True)
class FeatureShape:
    """Class-conditional Gaussian mixtures of one standardized feature z."""

    loc: float
    scale: float
    # rows: (weight, mean, std) for class 0 and class 1
    class0: tuple[tuple[float, float, float], ...]
    class1: tuple[tuple[float, float, float], ...]

    def log_density(self, z: np.ndarray, cls: int) -> np.ndarray:
        comps = self.class1 if cls else self.class0
        w = np.array([c[0] for c in comps])[:, None]
        mu = np.array([c[1] for c in comps])[:, None]
        sd = np.array([c[2] for c in comps])[:, None]
        logpdf = -0.5 * ((z[None, :] - mu) / sd) ** 2 - np.log(sd) - 0.5 * np.log(2 * np.pi)
        return logsumexp(logpdf + np.log(w), axis=0)

    def log_ratio(self, x: np.ndarray) -> np.ndarray:
        z = (x - self.loc) / self.scale
        return self.log_density(z, 1) - self.log_density(z, 0)

    def sample(self, y: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        z = np.empty(len(y))
        for cls, comps in ((0, self.class0), (1, self.class1)):
            idx = np.flatnonzero(y == cls)
            weights = np.array([c[0] for c in comps])
            pick = rng.choice(len(comps), size=len(idx), p=weights / weights.sum())
            mu = np.array([c[1] for c in comps])[pick]
            sd = np.array([c[2] for c in comps])[pick]
            z[idx] = rng.normal(mu, sd)
        return self.loc + self.scale * z


@dataclass(frozen=True)
class SyntheticSpec:
    n_features: int = 200
    history_rows: int = 20_000
    days: int = 7
    rows_per_day: int = 2_000
    start: dt.date = dt.date(2026, 11, 1)
    seed: int = 0
    positive_rate: float = 0.10
    signal: float = 0.05  # gives a Bayes-optimal AUC of about 0.917 with 200 features
    outcome_lag_days: int = 2
    feature_drift_from: dt.date | None = None
    feature_drift_shift: float = 1.0  # in units of the feature's scale (its class-0 sigma)
    feature_drift_scale: float = 1.0  # the drift features' spread is multiplied by this
    concept_drift_from: dt.date | None = None
    drift_features: tuple[int, ...] = field(default=tuple(range(10)))
    drift_share: float | None = None  # if set, this share of features drifts, spread evenly

    def drifting_features(self) -> tuple[int, ...]:
        """The features that drift: ``drift_share`` of them, else ``drift_features``."""
        if self.drift_share is None:
            return self.drift_features
        count = max(1, round(self.drift_share * self.n_features))
        return tuple(np.linspace(0, self.n_features - 1, count).round().astype(int).tolist())

    with_gender: bool = True
    bias: float = 0.0  # share of group F's good outcomes recorded as bad (label bias)
    bias_feature: int = 12  # with bias: the feature that becomes a proxy for gender

    def __post_init__(self) -> None:
        if not 0.0 <= self.bias < 1.0:
            raise ValueError(f"bias is a share of outcomes in [0, 1), got {self.bias}")
        if self.bias and not (self.with_gender and 0 <= self.bias_feature < self.n_features):
            raise ValueError("bias needs the gender column and a bias_feature among the features")


def make_shapes(spec: SyntheticSpec) -> list[FeatureShape]:
    """One shape per feature; effect sizes are mostly small with a few strong ones."""
    rng = np.random.default_rng(spec.seed + 7919)
    shapes = []
    for j in range(spec.n_features):
        loc = float(rng.uniform(*_LOC_RANGE))
        scale = float(rng.uniform(*_SCALE_RANGE))
        effect = spec.signal * float(rng.gamma(2.0, 1.0))
        kind = rng.choice(["shift", "shift", "widen", "bimodal"])
        sign = 1.0 if rng.random() < 0.5 else -1.0
        base = ((1.0, 0.0, 1.0),)
        if kind == "shift":
            pos = ((1.0, sign * effect, 1.0),)
        elif kind == "widen":
            pos = ((1.0, 0.0, 1.0 + 1.5 * effect),)
        else:
            pos = ((0.5, -1.4 * effect, 1.0), (0.5, 1.4 * effect, 1.0))
        if j == _RULE_FEATURE:
            # The default contract's hard rule R01 (var_81 < 8.0) reads this feature: it hits
            # about 2% of rows, and low values are risky, as in the real set.
            loc, scale = 14.7, 3.2
            pos = ((1.0, -4.0 * spec.signal, 1.0),)
        shapes.append(FeatureShape(loc, scale, base, pos))
    return shapes


def true_logit(x: np.ndarray, shapes: list[FeatureShape], prior: float) -> np.ndarray:
    """Bayes-optimal log-odds for rows ``x`` (n_rows x n_features)."""
    total = np.full(x.shape[0], logit(prior))
    for j, shape in enumerate(shapes):
        total += shape.log_ratio(x[:, j])
    return total


@dataclass
class Sample:
    x: np.ndarray
    y: np.ndarray
    p_true: np.ndarray
    gender: np.ndarray | None = None  # drawn with the sample only when bias is injected


def inject_bias(
    sample: Sample, shapes: list[FeatureShape], spec: SyntheticSpec, rng: np.random.Generator
) -> Sample:
    """Historical bias against group F: feature ``spec.bias_feature`` is redrawn to tell the
    genders apart (a proxy, with no evidence about the label any more), and a share
    ``spec.bias`` of F's good outcomes are recorded as bad. The truth follows: without the
    proxy's old evidence, and with P(bad) raised by ``bias * (1 - p)`` for F."""
    n, j = len(sample.y), spec.bias_feature
    gender = rng.choice(np.array(["F", "M"]), size=n)
    female = gender == "F"
    x = sample.x.copy()
    p = expit(logit(sample.p_true) - shapes[j].log_ratio(x[:, j]))
    shift = np.where(female, _PROXY_SHIFT, -_PROXY_SHIFT)
    x[:, j] = shapes[j].loc + shapes[j].scale * (rng.normal(size=n) + shift)
    flipped = female & (sample.y == 0) & (rng.random(n) < spec.bias)
    y = np.where(flipped, 1, sample.y).astype(np.int8)
    return Sample(x, y, np.where(female, p + spec.bias * (1 - p), p), gender)


def draw(
    n: int,
    shapes: list[FeatureShape],
    spec: SyntheticSpec,
    rng: np.random.Generator,
    *,
    feature_shift: bool = False,
    concept_change: bool = False,
) -> Sample:
    sample = _draw_unbiased(
        n, shapes, spec, rng, feature_shift=feature_shift, concept_change=concept_change
    )
    return inject_bias(sample, shapes, spec, rng) if spec.bias else sample


def _draw_unbiased(
    n: int,
    shapes: list[FeatureShape],
    spec: SyntheticSpec,
    rng: np.random.Generator,
    *,
    feature_shift: bool = False,
    concept_change: bool = False,
) -> Sample:
    y0 = (rng.random(n) < spec.positive_rate).astype(np.int8)
    x = np.column_stack([s.sample(y0, rng) for s in shapes])
    if not feature_shift and not concept_change:
        return Sample(x, y0, expit(true_logit(x, shapes, spec.positive_rate)))
    if feature_shift:
        # Covariate shift: x moves, labels then follow the unchanged P(y | x).
        x = shift_features(x, shapes, spec)
    logits = true_logit(x, shapes, spec.positive_rate)
    if concept_change:
        # The drift features' evidence now points the other way.
        for j in spec.drifting_features():
            logits -= 2 * shapes[j].log_ratio(x[:, j])
    p = expit(logits)
    y = (rng.random(n) < p).astype(np.int8)
    return Sample(x, y, p)


def shift_features(x: np.ndarray, shapes: list[FeatureShape], spec: SyntheticSpec) -> np.ndarray:
    """``x`` with the drift features moved by ``feature_drift_shift`` scales and their spread
    around the feature's centre multiplied by ``feature_drift_scale``."""
    x = x.copy()
    for j in spec.drifting_features():
        if spec.feature_drift_scale != 1.0:  # skipped otherwise: same bytes as before
            x[:, j] = shapes[j].loc + spec.feature_drift_scale * (x[:, j] - shapes[j].loc)
        x[:, j] += spec.feature_drift_shift * shapes[j].scale
    return x


def _frame(
    ids: list[str],
    sample: Sample,
    spec: SyntheticSpec,
    rng: np.random.Generator,
    *,
    with_target: bool,
) -> pd.DataFrame:
    cols = {"ID_code": ids}
    if with_target:
        cols["target"] = sample.y
    data = pd.DataFrame(cols)
    feats = pd.DataFrame(
        np.round(sample.x, 4), columns=[f"var_{j}" for j in range(spec.n_features)]
    )
    data = pd.concat([data, feats], axis=1)
    if spec.with_gender:
        drawn = sample.gender is not None  # with bias, gender was drawn with the sample
        data["gender"] = sample.gender if drawn else rng.choice(np.array(["F", "M"]), len(ids))
    return data


def generate(out_dir: str | Path, spec: SyntheticSpec) -> dict[str, int]:
    """Write history, daily applications and later outcomes under ``out_dir``.

    Returns row counts by kind. Files: ``history/train.csv``, ``applications/DATE.csv``,
    ``outcomes/DATE.csv`` (outcomes of day d arrive on d + lag, up to the last day), and the
    true probabilities under ``truth/``.
    """
    out = Path(out_dir)
    rng = np.random.default_rng(spec.seed)
    shapes = make_shapes(spec)
    counts = {"history": 0, "applications": 0, "outcomes": 0}

    hist = draw(spec.history_rows, shapes, spec, rng)
    ids = [f"train_{i}" for i in range(spec.history_rows)]
    write_csv_atomic(_frame(ids, hist, spec, rng, with_target=True), out / "history" / "train.csv")
    write_csv_atomic(
        pd.DataFrame({"ID_code": ids, "p_true": hist.p_true}), out / "truth" / "history.csv"
    )
    counts["history"] = spec.history_rows

    last_day = spec.start + dt.timedelta(days=spec.days - 1)
    outcomes: dict[dt.date, list[pd.DataFrame]] = {}
    for d in range(spec.days):
        day = spec.start + dt.timedelta(days=d)
        sample = draw(
            spec.rows_per_day,
            shapes,
            spec,
            rng,
            feature_shift=spec.feature_drift_from is not None and day >= spec.feature_drift_from,
            concept_change=spec.concept_drift_from is not None and day >= spec.concept_drift_from,
        )
        ids = [f"app_{day:%Y%m%d}_{i}" for i in range(spec.rows_per_day)]
        frame = _frame(ids, sample, spec, rng, with_target=False)
        write_csv_atomic(frame, out / "applications" / f"{day.isoformat()}.csv")
        write_csv_atomic(
            pd.DataFrame({"ID_code": ids, "p_true": sample.p_true}),
            out / "truth" / "applications" / f"{day.isoformat()}.csv",
        )
        counts["applications"] += len(ids)
        arrival = day + dt.timedelta(days=spec.outcome_lag_days)
        if arrival <= last_day:
            outcomes.setdefault(arrival, []).append(
                pd.DataFrame({"ID_code": ids, "target": sample.y})
            )
    for day in sorted(outcomes):
        frame = pd.concat(outcomes[day], ignore_index=True)
        write_csv_atomic(frame, out / "outcomes" / f"{day.isoformat()}.csv")
        counts["outcomes"] += len(frame)
    return counts
