"""Data and concept drift of a daily batch against the champion's training reference.

Data drift needs no labels. Per feature: a two-sample test against the training rows
(Kolmogorov-Smirnov for numeric features, chi-square for categorical ones) and the Population
Stability Index credit-risk teams report (bands 0.1 / 0.25). The p-values of all features, the
score distribution and the rule-reject rate are adjusted together (Benjamini-Hochberg), so a
batch without drift raises an alarm with probability at most ``alpha``, however many features
there are.

Concept drift needs the outcomes, which arrive later: realised AUC (Hanley-McNeil interval),
calibration (ECE, and a test that the bad-outcome rate per score bin is the holdout's) and
accuracy of the automatic decisions against the holdout, and a test of the label-feature
relationship itself: per numeric feature, the gap between the bad and good outcomes' means
against the reference's gap; per categorical feature, each level's odds ratio of a bad outcome
against the reference's. It fires when the features are unchanged but what they say about the
outcome is not.

The reference is computed once, from the training period's rows as they arrived (rule rejects
included) with the champion's scores, and stored as JSON beside the model (about 0.5 MB for
200 numeric features).
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from credit_assets.core.contract import DatasetContract
from credit_assets.core.errors import DriftError
from credit_assets.core.figures import band_on_holdout
from credit_assets.core.metrics import ece_noise_floor, expected_calibration_error
from credit_assets.core.thresholds import Thresholds

QUANTILES = 200  # the reference keeps each numeric feature's 0.5% quantiles
PSI_BINS = 10  # deciles, as credit-risk PSI reports use
PSI_FLOOR = 1e-4  # share given to an empty bin, so PSI stays finite
PSI_BANDS = ((0.1, "stable"), (0.25, "moderate"), (math.inf, "significant"))
CALIBRATION_BINS = 10
SCORE = "score"
RULE_REJECT_RATE = "rule_reject_rate"


@dataclass(frozen=True)
class DriftRule:
    """When a batch counts as drifted: a false-discovery level ``alpha`` over every test of
    the batch, and the share of features that must drift (0: any single feature)."""

    alpha: float = 0.001
    min_share: float = 0.0


@dataclass(frozen=True)
class HoldoutReference:
    """What the champion achieved on its holdout: the yardstick for realised outcomes."""

    auc: float
    positives: int
    negatives: int
    ece: float
    accuracy: float
    accuracy_se: float
    thresholds: dict[str, Any]
    # Per equal-count score bin of the holdout: [highest risk in it, rows, bad outcomes]. A
    # batch is held to this reliability curve, not to perfect calibration: a champion that is
    # as (mis)calibrated as on its holdout has not drifted.
    calibration: list[list[float]] = field(default_factory=list)

    @classmethod
    def compute(cls, bad: np.ndarray, risk: np.ndarray, thresholds: Thresholds) -> HoldoutReference:
        bad = np.asarray(bad, dtype=bool)
        risk = np.asarray(risk, dtype=float)
        accuracy, se = _auto_accuracy(bad, risk, thresholds)
        edges = np.unique(np.quantile(risk, np.linspace(0, 1, CALIBRATION_BINS + 1)[1:]))
        rows, bads = _per_bin(risk, bad, edges)
        return cls(
            auc=_auc(bad, risk),
            positives=int(bad.sum()),
            negatives=int((~bad).sum()),
            ece=expected_calibration_error(bad, risk, CALIBRATION_BINS),
            accuracy=accuracy,
            accuracy_se=se,
            thresholds=thresholds.to_dict(),
            calibration=np.column_stack([edges, rows, bads]).tolist(),
        )


@dataclass
class DriftReference:
    """Summary of the training rows, small enough to store beside the model."""

    rows: int
    target: str
    positive_is_bad: bool
    numeric: dict[str, list[float]]  # quantiles at np.linspace(0, 1, QUANTILES + 1)
    categorical: dict[str, dict[str, int]]  # level -> count
    # Per numeric feature, over scored rows: [n_good, n_bad, mean_good, mean_bad, var_good,
    # var_bad], the label-feature relationship that concept drift is measured against.
    relationship: dict[str, list[float]]
    score: list[float] | None = None  # quantiles of the champion's risk over scored rows
    scored_rows: int = 0
    rule_rejected: int = 0
    holdout: HoldoutReference | None = None
    # Per categorical feature, over scored rows: level -> [good outcomes, bad outcomes]
    categorical_relationship: dict[str, dict[str, list[int]]] = field(default_factory=dict)
    missing: dict[str, int] = field(default_factory=dict)  # per feature: rows without a value

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DriftReference:
        holdout = data.get("holdout")
        return cls(**{**data, "holdout": HoldoutReference(**holdout) if holdout else None})

    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.to_dict()))

    @classmethod
    def load(cls, path: str | Path) -> DriftReference:
        return cls.from_dict(json.loads(Path(path).read_text()))


def build_reference(
    rows: pd.DataFrame,
    contract: DatasetContract,
    scores: np.ndarray | None = None,
    *,
    holdout: HoldoutReference | None = None,
    quantiles: int = QUANTILES,
) -> DriftReference:
    """The reference from the training period's rows as they arrived, with the target.

    ``scores`` are the champion's risk per row, NaN where a hard rule rejected the row (as in
    the ``score`` column of decisions): they give the score distribution, the rule-reject rate
    and the rows the label-feature relationship is measured on. Build it from the same rows
    the daily batches will be compared with: rule rejects included, before any filtering.
    """
    if quantiles % PSI_BINS:
        raise ValueError(f"quantiles must be a multiple of {PSI_BINS}, got {quantiles}")
    features = contract.resolve_features(list(rows.columns))
    kinds = {c: contract.feature_spec(c).type for c in features}
    numeric = [c for c in features if kinds[c] == "numeric"]
    grid = np.linspace(0, 1, quantiles + 1)
    scores = np.full(len(rows), np.nan) if scores is None else np.asarray(scores, dtype=float)
    scored = ~np.isnan(scores)
    target = contract.target.column
    positive_is_bad = contract.target.positive_means == "default"
    relationship: dict[str, list[float]] = {}
    by_level: dict[str, dict[str, list[int]]] = {}
    if target in rows.columns:
        bad = _bad(rows[target].to_numpy(), positive_is_bad)
        labelled = scored if scored.any() else np.ones(len(rows), dtype=bool)
        relationship = {
            c: _class_moments(rows[c].to_numpy(dtype=float)[labelled], bad[labelled]).tolist()
            for c in numeric
        }
        by_level = {
            c: _level_outcomes(rows[c][labelled], bad[labelled])
            for c in features
            if kinds[c] == "categorical"
        }
    return DriftReference(
        rows=len(rows),
        target=target,
        positive_is_bad=positive_is_bad,
        numeric={c: np.nanquantile(rows[c].to_numpy(dtype=float), grid).tolist() for c in numeric},
        categorical={
            c: {str(k): int(v) for k, v in rows[c].dropna().astype(str).value_counts().items()}
            for c in features
            if kinds[c] == "categorical"
        },
        relationship=relationship,
        categorical_relationship=by_level,
        missing={c: int(rows[c].isna().sum()) for c in features},
        score=np.quantile(scores[scored], grid).tolist() if scored.any() else None,
        scored_rows=int(scored.sum()),
        rule_rejected=int((~scored).sum()) if scored.any() else 0,
        holdout=holdout,
    )


# -- data drift ---------------------------------------------------------------------------


@dataclass(frozen=True)
class SignalTest:
    """Drift of one batch-level signal (the score distribution, the rule-reject rate)."""

    name: str
    test: str
    statistic: float
    p_value: float
    q_value: float
    reference: float
    value: float
    psi: float | None
    drifted: bool


@dataclass
class DataDriftReport:
    rows: int
    # one row per feature, most drifted first: feature, kind, test, statistic, p_value,
    # q_value, psi, psi_band, drifted
    features: pd.DataFrame
    signals: list[SignalTest]
    rule: DriftRule

    @property
    def drifted_features(self) -> list[str]:
        return self.features.loc[self.features["drifted"], "feature"].tolist()

    @property
    def drifted_share(self) -> float:
        return len(self.drifted_features) / max(len(self.features), 1)

    @property
    def drifted(self) -> bool:
        """The batch-level decision: enough drifted features, or a drifted signal."""
        needed = max(1, math.ceil(self.rule.min_share * len(self.features)))
        return len(self.drifted_features) >= needed or any(s.drifted for s in self.signals)

    def top(self, n: int = 10) -> pd.DataFrame:
        return self.features.head(n).reset_index(drop=True)

    def summary(self) -> str:
        verdict = "DRIFT" if self.drifted else "no drift"
        shown = ", ".join(
            f"{r.feature} (PSI {r.psi:.2f}, q {r.q_value:.1g})"
            for r in self.top(3).itertuples()
            if r.drifted
        )
        signals = "; ".join(
            f"{s.name} {'drifted' if s.drifted else 'stable'} ({s.reference:.3g} -> {s.value:.3g})"
            for s in self.signals
        )
        parts = [
            f"{verdict}: {len(self.drifted_features)}/{len(self.features)} features drifted "
            f"({self.drifted_share:.0%}) in {self.rows} rows at q < {self.rule.alpha}"
        ]
        parts += [p for p in (shown, signals) if p]
        return "; ".join(parts)

    def to_dict(self) -> dict[str, Any]:
        return {
            "rows": self.rows,
            "drifted": self.drifted,
            "drifted_share": self.drifted_share,
            "drifted_features": self.drifted_features,
            "rule": asdict(self.rule),
            "signals": [asdict(s) for s in self.signals],
            "features": self.features.to_dict(orient="records"),
        }


def data_drift(
    reference: DriftReference,
    batch: pd.DataFrame,
    scores: np.ndarray | None = None,
    rule: DriftRule = DriftRule(),
) -> DataDriftReport:
    """Drift of one batch of applications (e.g. a ``raw_applications`` partition) against the
    reference. ``scores``: the batch's risk per row, NaN for rule rejects (the decisions'
    ``score`` column); without them the score and rule-reject-rate tests are left out."""
    from scipy.stats import false_discovery_control

    _require_columns(batch, [*reference.numeric, *reference.categorical])
    _require_one_score_per_row(batch, scores)
    rows = [
        _numeric_test(name, q, batch[name], reference.rows) for name, q in reference.numeric.items()
    ]
    rows += [
        _categorical_test(name, counts, batch[name])
        for name, counts in reference.categorical.items()
    ]
    features = pd.DataFrame(
        rows, columns=["feature", "kind", "test", "statistic", "p_value", "psi"]
    )
    missing = batch[features["feature"].tolist()].isna().sum().to_numpy()
    features["missing"] = missing / max(len(batch), 1)
    features["p_value"] = [
        _with_missing_share(p, reference, f, int(n), len(batch))
        for f, p, n in zip(features["feature"], features["p_value"], missing, strict=True)
    ]
    signals = _signal_tests(reference, scores)
    p_values = np.concatenate([features["p_value"].to_numpy(), [s[3] for s in signals]])
    q_values = (
        false_discovery_control(np.nan_to_num(p_values, nan=1.0)) if len(p_values) else p_values
    )
    features["q_value"] = q_values[: len(features)]
    features["psi_band"] = [psi_band(v) for v in features["psi"]]
    features["drifted"] = features["q_value"] < rule.alpha
    features = features.sort_values(
        ["drifted", "p_value", "psi"], ascending=[False, True, False], kind="stable"
    ).reset_index(drop=True)
    tested = [
        SignalTest(
            *s[:4],
            q_value=float(q),
            reference=s[4],
            value=s[5],
            psi=s[6],
            drifted=bool(q < rule.alpha),
        )
        for s, q in zip(signals, q_values[len(features) :], strict=True)
    ]
    columns = [
        "feature",
        "kind",
        "test",
        "statistic",
        "p_value",
        "q_value",
        "psi",
        "psi_band",
        "missing",
        "drifted",
    ]
    return DataDriftReport(len(batch), features[columns], tested, rule)


def psi(expected: np.ndarray, actual: np.ndarray) -> float:
    """Population Stability Index between two vectors of bin shares."""
    e = np.maximum(np.asarray(expected, dtype=float), PSI_FLOOR)
    a = np.maximum(np.asarray(actual, dtype=float), PSI_FLOOR)
    return float(np.sum((a - e) * np.log(a / e)))


def psi_band(value: float) -> str:
    return next(name for bound, name in PSI_BANDS if value < bound)


def _reference_cdf(quantiles: list[float]) -> tuple[np.ndarray, np.ndarray]:
    """Knots of the reference CDF, linear between quantiles; a repeated value keeps the
    highest probability, so the CDF is right-continuous where the reference has ties."""
    q = np.asarray(quantiles)
    grid = np.linspace(0, 1, len(q))
    last = np.r_[q[1:] != q[:-1], True]
    return q[last], grid[last]


def _ks_against(
    values: np.ndarray, knots: tuple[np.ndarray, np.ndarray], reference_rows: int
) -> tuple[float, float]:
    """Two-sample Kolmogorov-Smirnov statistic and p-value for sorted ``values``, the
    reference given by its quantiles; its size still counts. The p-value is the asymptotic
    Kolmogorov one (scipy's ``ks_2samp(method="asymp")`` before 1.5): slightly conservative,
    and 100x faster than the exact finite-sample one, which matters for 200 features."""
    from scipy.special import kolmogorov

    n = len(values)
    if n == 0:
        return float("nan"), float("nan")
    cdf = np.interp(values, *knots, left=0.0, right=1.0)
    steps = np.arange(1, n + 1) / n
    d = float(max(np.max(steps - cdf), np.max(cdf - (steps - 1 / n))))
    effective = n * reference_rows / (n + reference_rows)
    return d, float(kolmogorov(d * math.sqrt(effective)))


def _psi_numeric(
    values: np.ndarray, knots: tuple[np.ndarray, np.ndarray], quantiles: list[float]
) -> float:
    """PSI over the reference's deciles, for sorted ``values``."""
    edges = np.unique(np.asarray(quantiles)[:: len(quantiles) // PSI_BINS][1:-1])
    expected = np.diff(np.r_[0.0, np.interp(edges, *knots), 1.0])
    at_most = np.searchsorted(values, edges, side="right")  # bins are (edge, next edge]
    actual = np.diff(np.r_[0, at_most, len(values)])
    return psi(expected, actual / max(len(values), 1))


def _sorted(values: np.ndarray) -> np.ndarray:
    values = np.asarray(values, dtype=float)
    return np.sort(values[~np.isnan(values)])


def _numeric_test(
    name: str, quantiles: list[float], column: pd.Series, reference_rows: int
) -> tuple:
    values = _sorted(column.to_numpy(dtype=float))
    knots = _reference_cdf(quantiles)
    d, p = _ks_against(values, knots, reference_rows)
    return name, "numeric", "ks", d, p, _psi_numeric(values, knots, quantiles)


def _categorical_test(name: str, counts: dict[str, int], column: pd.Series) -> tuple:
    from scipy.stats import chi2_contingency

    batch = column.dropna().astype(str).value_counts()
    levels = sorted(set(counts) | set(batch.index))  # a level unseen in training counts too
    table = np.array(
        [[counts.get(lv, 0) for lv in levels], [int(batch.get(lv, 0)) for lv in levels]]
    )
    table = table[:, table.sum(axis=0) > 0]
    if table.shape[1] < 2 or table[1].sum() == 0:
        stat, p = 0.0, 1.0
    else:
        stat, p, *_ = chi2_contingency(table, correction=False)
    shares = table / np.maximum(table.sum(axis=1, keepdims=True), 1)
    return name, "categorical", "chi2", float(stat), float(p), psi(shares[0], shares[1])


def _with_missing_share(
    p_value: float, reference: DriftReference, name: str, now: int, rows: int
) -> float:
    """The feature's p-value with its share of missing values tested too (chi-square against
    the reference's share), the smaller of the two p-values doubled (Bonferroni). The
    distribution tests leave missing values out: a feature that goes missing more often would
    pass them unnoticed. A feature never missing in either is tested as before."""
    from scipy.stats import chi2_contingency

    before = reference.missing.get(name, 0)
    if not before and not now:
        return p_value
    table = np.array([[before, reference.rows - before], [now, rows - now]])
    if (table.sum(axis=0) == 0).any():  # every value missing in both: nothing to compare
        return p_value
    p_missing = float(chi2_contingency(table, correction=False)[1])
    return min(1.0, 2 * min(np.nan_to_num(p_value, nan=1.0), p_missing))


def _signal_tests(reference: DriftReference, scores: np.ndarray | None) -> list[tuple]:
    """(name, test, statistic, p, reference value, batch value, psi) per batch-level signal."""
    from scipy.stats import chi2_contingency

    if scores is None or reference.score is None:
        return []
    scores = np.asarray(scores, dtype=float)
    rejected = int(np.isnan(scores).sum())
    knots = _reference_cdf(reference.score)
    values = _sorted(scores)
    d, p = _ks_against(values, knots, reference.scored_rows)
    ref_mean = float(np.mean(reference.score))  # mean of the quantiles: the reference's mean
    out = [
        (
            SCORE,
            "ks",
            d,
            p,
            ref_mean,
            float(np.nanmean(scores)),
            _psi_numeric(values, knots, reference.score),
        )
    ]
    if reference.rule_rejected or rejected:
        table = np.array(
            [
                [reference.rule_rejected, reference.rows - reference.rule_rejected],
                [rejected, len(scores) - rejected],
            ]
        )
        stat, p, *_ = chi2_contingency(table, correction=False)
        out.append(
            (
                RULE_REJECT_RATE,
                "chi2",
                float(stat),
                float(p),
                reference.rule_rejected / reference.rows,
                rejected / max(len(scores), 1),
                None,
            )
        )
    return out


# -- concept drift ------------------------------------------------------------------------


@dataclass(frozen=True)
class Check:
    """One realised-outcome figure against the holdout: the batch's value with its 95%
    interval where one exists, and the p-value that it is worse than the reference."""

    name: str
    value: float
    low: float | None
    high: float | None
    reference: float
    p_value: float
    q_value: float
    fired: bool


@dataclass
class ConceptDriftReport:
    rows: int
    bad_outcomes: int
    checks: list[Check]
    # one row per feature, most changed first: feature, kind, reference_gap, gap, z, p_value,
    # q_value, changed. gap: numeric, the mean of bad outcomes minus that of good ones;
    # categorical, the log odds ratio of a bad outcome of the level that changed most.
    relationship: pd.DataFrame
    ece_noise: float
    rule: DriftRule = field(default_factory=DriftRule)

    @property
    def changed_features(self) -> list[str]:
        return self.relationship.loc[self.relationship["changed"], "feature"].tolist()

    @property
    def relationship_changed(self) -> bool:
        return bool(self.changed_features)

    @property
    def drifted(self) -> bool:
        return self.relationship_changed or any(c.fired for c in self.checks)

    def check(self, name: str) -> Check:
        return next(c for c in self.checks if c.name == name)

    def top(self, n: int = 10) -> pd.DataFrame:
        return self.relationship.head(n).reset_index(drop=True)

    def summary(self) -> str:
        verdict = "CONCEPT DRIFT" if self.drifted else "no concept drift"
        figures = "; ".join(
            f"{c.name} {c.value:.3f}"
            + (f" [{c.low:.3f}, {c.high:.3f}]" if c.low is not None else "")
            + f" vs {c.reference:.3f}{' (worse)' if c.fired else ''}"
            for c in self.checks
        )
        changed = self.changed_features
        meaning = (
            f"label-feature relationship changed for {len(changed)} features "
            f"({', '.join(changed[:3])}{', ...' if len(changed) > 3 else ''})"
            if changed
            else "label-feature relationship unchanged"
        )
        return f"{verdict} over {self.rows} labelled rows: {figures}; {meaning}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "rows": self.rows,
            "bad_outcomes": self.bad_outcomes,
            "drifted": self.drifted,
            "relationship_changed": self.relationship_changed,
            "changed_features": self.changed_features,
            "ece_noise": self.ece_noise,
            "rule": asdict(self.rule),
            "checks": [asdict(c) for c in self.checks],
            "relationship": self.relationship.to_dict(orient="records"),
        }


def concept_drift(
    reference: DriftReference,
    labelled_batch: pd.DataFrame,
    scores: np.ndarray,
    rule: DriftRule = DriftRule(),
) -> ConceptDriftReport:
    """Concept drift of a batch whose outcomes have arrived (the target column filled in).

    ``scores``: the champion's risk per row, NaN for rule rejects, which are left out (as in
    the reference). Needs a holdout reference and both outcomes in the batch.
    """
    from scipy.stats import false_discovery_control, norm

    holdout = reference.holdout
    if holdout is None:
        raise DriftError("the drift reference has no holdout figures: rebuild it with the holdout")
    _require_columns(
        labelled_batch,
        [reference.target, *reference.relationship, *reference.categorical_relationship],
    )
    _require_one_score_per_row(labelled_batch, scores)
    scores = np.asarray(scores, dtype=float)
    scored = ~np.isnan(scores)
    bad = _bad(labelled_batch[reference.target].to_numpy()[scored], reference.positive_is_bad)
    risk = scores[scored]
    if bad.all() or not bad.any():
        raise DriftError(
            f"concept drift needs good and bad outcomes; the batch's {len(bad)} scored rows "
            f"have {int(bad.sum())} bad ones"
        )
    checks: list[tuple] = []  # (name, value, low, high, reference, p)

    auc = _auc(bad, risk)
    se = _auc_se(auc, int(bad.sum()), int((~bad).sum()))
    se_ref = _auc_se(holdout.auc, holdout.positives, holdout.negatives)
    z = (holdout.auc - auc) / math.hypot(se, se_ref)
    checks.append(("auc", auc, auc - 1.96 * se, auc + 1.96 * se, holdout.auc, float(norm.sf(z))))

    ece = expected_calibration_error(bad, risk, CALIBRATION_BINS)
    checks.append(("ece", ece, None, None, holdout.ece, _calibration_change(holdout, bad, risk)))

    thresholds = Thresholds.from_dict(holdout.thresholds)
    accuracy, acc_se = _auto_accuracy(bad, risk, thresholds)
    if not math.isnan(accuracy):
        z = (holdout.accuracy - accuracy) / math.hypot(acc_se, holdout.accuracy_se)
        checks.append(
            (
                "auto_accuracy",
                accuracy,
                accuracy - 1.96 * acc_se,
                accuracy + 1.96 * acc_se,
                holdout.accuracy,
                float(norm.sf(z)),
            )
        )

    relationship = pd.concat(
        [
            _relationship_test(reference, labelled_batch.loc[scored], bad),
            _level_relationship_test(reference, labelled_batch.loc[scored], bad),
        ],
        ignore_index=True,
    )
    p_values = np.concatenate([relationship["p_value"].to_numpy(), [c[-1] for c in checks]])
    q_values = false_discovery_control(np.nan_to_num(p_values, nan=1.0))
    relationship["q_value"] = q_values[: len(relationship)]
    relationship["changed"] = relationship["q_value"] < rule.alpha
    relationship = relationship.sort_values("p_value", kind="stable").reset_index(drop=True)
    tested = [
        Check(*c[:5], p_value=c[5], q_value=float(q), fired=bool(q < rule.alpha))
        for c, q in zip(checks, q_values[len(relationship) :], strict=True)
    ]
    return ConceptDriftReport(
        rows=int(scored.sum()),
        bad_outcomes=int(bad.sum()),
        checks=tested,
        relationship=relationship,
        ece_noise=ece_noise_floor(risk, CALIBRATION_BINS),
        rule=rule,
    )


def _per_bin(risk: np.ndarray, bad: np.ndarray, edges: np.ndarray) -> tuple[np.ndarray, ...]:
    """Rows and bad outcomes per score bin; bin i holds risks up to ``edges[i]`` (the last
    bin also those above: a batch may score higher than any holdout row)."""
    which = np.minimum(np.searchsorted(edges, risk, side="left"), len(edges) - 1)
    return (
        np.bincount(which, minlength=len(edges)),
        np.bincount(which, weights=bad, minlength=len(edges)),
    )


def _calibration_change(holdout: HoldoutReference, bad: np.ndarray, risk: np.ndarray) -> float:
    """p-value that the bad-outcome rate per score bin differs from the holdout's: per bin a
    two-proportion chi-square (both samples' sizes count), summed over the bins, one degree of
    freedom each. Judged against the holdout's reliability curve rather than the diagonal, a
    model miscalibrated as much as it was when it was promoted raises no alarm."""
    from scipy.stats import chi2

    if not holdout.calibration:
        raise DriftError(
            "the drift reference predates the calibration bins: delete its file under "
            "drift_reference/ and materialize drift_reference again"
        )
    edges, ref_rows, ref_bad = np.asarray(holdout.calibration, dtype=float).T
    rows, bads = _per_bin(risk, bad, edges)
    pooled = (ref_bad + bads) / np.maximum(ref_rows + rows, 1)
    tested = (rows > 0) & (ref_rows > 0) & (pooled > 0) & (pooled < 1)
    if not tested.any():
        return 1.0
    gap = bads[tested] / rows[tested] - ref_bad[tested] / ref_rows[tested]
    var = pooled[tested] * (1 - pooled[tested]) * (1 / rows[tested] + 1 / ref_rows[tested])
    return float(chi2.sf(np.sum(gap**2 / var), int(tested.sum())))


def auc_interval(
    auc: float, positives: int, negatives: int, level: float = 0.95
) -> tuple[float, float]:
    """Hanley-McNeil confidence interval of an AUC measured on this many rows of each class."""
    from scipy.stats import norm

    half = norm.ppf(0.5 + level / 2) * _auc_se(auc, positives, negatives)
    return max(0.0, auc - half), min(1.0, auc + half)


def _auc_se(auc: float, positives: int, negatives: int) -> float:
    q1, q2 = auc / (2 - auc), 2 * auc**2 / (1 + auc)
    var = (auc * (1 - auc) + (positives - 1) * (q1 - auc**2) + (negatives - 1) * (q2 - auc**2)) / (
        positives * negatives
    )
    return math.sqrt(max(var, 0.0))


def _relationship_test(
    reference: DriftReference, batch: pd.DataFrame, bad: np.ndarray
) -> pd.DataFrame:
    """Per feature: has the gap between bad and good outcomes' means moved? Both gaps are
    measured with error; z is their difference over the combined standard error."""
    from scipy.stats import norm

    names = list(reference.relationship)
    ref = np.array([reference.relationship[c] for c in names]).reshape(-1, 6)
    now = np.array([_class_moments(batch[c].to_numpy(dtype=float), bad) for c in names]).reshape(
        -1, 6
    )

    def gap_and_var(m: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        n0, n1, mean0, mean1, var0, var1 = m.T
        return mean1 - mean0, var0 / n0 + var1 / n1

    ref_gap, ref_var = gap_and_var(ref)
    gap, var = gap_and_var(now)
    z = (gap - ref_gap) / np.sqrt(ref_var + var)
    return pd.DataFrame(
        {
            "feature": names,
            "kind": "numeric",
            "reference_gap": ref_gap,
            "gap": gap,
            "z": z,
            "p_value": 2 * norm.sf(np.abs(z)),
        }
    )


def _level_relationship_test(
    reference: DriftReference, batch: pd.DataFrame, bad: np.ndarray
) -> pd.DataFrame:
    """Per categorical feature: has any level's log odds ratio of a bad outcome (the level
    against all others, Woolf's variance, half a count added to each cell) moved from the
    reference's? The feature's p-value is the smallest level's, times the levels compared
    (Bonferroni). A level the reference never saw is left to the data-drift test."""
    from scipy.stats import norm

    rows = []
    for name, ref_levels in reference.categorical_relationship.items():
        now = _level_outcomes(batch[name], bad)
        levels = [lv for lv in ref_levels if lv in now]
        if len(levels) < 2:
            continue
        ref_lor, ref_var = _log_odds_ratios(np.array([ref_levels[lv] for lv in levels]))
        lor, var = _log_odds_ratios(np.array([now[lv] for lv in levels]))
        z = (lor - ref_lor) / np.sqrt(ref_var + var)
        worst = int(np.argmax(np.abs(z)))
        p = min(1.0, 2 * float(norm.sf(abs(z[worst]))) * len(levels))
        rows.append((name, "categorical", ref_lor[worst], lor[worst], z[worst], p))
    return pd.DataFrame(
        rows, columns=["feature", "kind", "reference_gap", "gap", "z", "p_value"]
    ).astype({"reference_gap": float, "gap": float, "z": float, "p_value": float})


def _log_odds_ratios(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per level (rows of [good, bad] counts): the log odds ratio of a bad outcome in the
    level against all other levels, and its variance."""
    good, bad = counts[:, 0] + 0.5, counts[:, 1] + 0.5
    other_good, other_bad = (
        counts[:, 0].sum() - counts[:, 0] + 0.5,
        counts[:, 1].sum() - counts[:, 1] + 0.5,
    )
    lor = np.log(bad / good) - np.log(other_bad / other_good)
    return lor, 1 / good + 1 / bad + 1 / other_good + 1 / other_bad


# -- shared pieces ------------------------------------------------------------------------


def _level_outcomes(column: pd.Series, bad: np.ndarray) -> dict[str, list[int]]:
    """Level -> [good outcomes, bad outcomes] of a categorical column (missing left out)."""
    known = column.notna().to_numpy()
    table = pd.crosstab(column[known].astype(str).to_numpy(), np.asarray(bad)[known])
    table = table.reindex(columns=[False, True], fill_value=0)
    return {
        str(lv): [int(g), int(b)] for lv, (g, b) in zip(table.index, table.to_numpy(), strict=True)
    }


def _class_moments(x: np.ndarray, bad: np.ndarray) -> np.ndarray:
    ok = ~np.isnan(x)
    good_x, bad_x = x[ok & ~bad], x[ok & bad]
    return np.array(
        [
            len(good_x),
            len(bad_x),
            good_x.mean() if len(good_x) else np.nan,
            bad_x.mean() if len(bad_x) else np.nan,
            good_x.var(ddof=1) if len(good_x) > 1 else np.nan,
            bad_x.var(ddof=1) if len(bad_x) > 1 else np.nan,
        ]
    )


def _bad(target: np.ndarray, positive_is_bad: bool) -> np.ndarray:
    positive = np.asarray(target).astype(int) == 1
    return positive if positive_is_bad else ~positive


def _auc(bad: np.ndarray, risk: np.ndarray) -> float:
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(bad, risk))


def _auto_accuracy(
    bad: np.ndarray, risk: np.ndarray, thresholds: Thresholds
) -> tuple[float, float]:
    """Accuracy of the automatic decisions (in the band's metric, as ``core/figures.py``
    defines it) and its standard error, read off its 95% interval."""
    estimate = band_on_holdout(thresholds, np.asarray(risk), np.asarray(bad, dtype=bool)).accuracy
    return estimate.value, (estimate.high - estimate.low) / (2 * 1.959964)


def _require_columns(frame: pd.DataFrame, columns: list[str]) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        shown = ", ".join(missing[:5]) + (
            f" (+{len(missing) - 5} more)" if len(missing) > 5 else ""
        )
        raise DriftError(f"the batch lacks columns of the drift reference: {shown}")


def _require_one_score_per_row(frame: pd.DataFrame, scores: np.ndarray | None) -> None:
    if scores is not None and len(scores) != len(frame):
        raise DriftError(
            f"{len(scores)} scores for {len(frame)} rows: give one per row, NaN for rule rejects"
        )
