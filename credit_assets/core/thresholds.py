"""The review band: which scores are decided automatically and which go to a reviewer.

Scores are *risk*: the model's probability of a bad outcome. Applications with risk below
``approve_below`` are approved, above ``reject_above`` rejected, and the band in between goes to
human review. The band is chosen on validation rows to automate as many applications as
possible while the automatic decisions stay at least ``target_accuracy`` right, as in the
seed's error analysis.

With about 10% bad outcomes, plain accuracy is useless as a target: approving everyone is
already 90% right. The default metric is therefore *balanced* accuracy (the mean of the share
of good applicants approved and of bad applicants rejected among automatic decisions), which
does not depend on the base rate; ``plain`` is available where the classes are balanced.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, fields
from typing import Literal

import numpy as np
import pandas as pd

APPROVE, REJECT, REVIEW, RULE_REJECT = "approve", "reject", "review", "rule_reject"
DECISIONS = (RULE_REJECT, APPROVE, REJECT, REVIEW)


Metric = Literal["balanced", "plain"]


@dataclass(frozen=True)
class Thresholds:
    approve_below: float
    reject_above: float
    target_accuracy: float
    metric: Metric
    validation_coverage: float
    validation_accuracy: float

    @property
    def version(self) -> str:
        payload = json.dumps(
            [self.approve_below, self.reject_above, self.target_accuracy, self.metric]
        )
        return "thr-" + hashlib.sha256(payload.encode()).hexdigest()[:10]

    def decide(self, risk: np.ndarray) -> np.ndarray:
        return np.where(
            risk < self.approve_below, APPROVE, np.where(risk > self.reject_above, REJECT, REVIEW)
        )

    def to_dict(self) -> dict[str, float | str]:
        return {**asdict(self), "version": self.version}

    @classmethod
    def from_dict(cls, data: dict) -> Thresholds:
        """Inverse of :meth:`to_dict`; extra keys (version, reports) are ignored."""
        return cls(**{f.name: data[f.name] for f in fields(cls)})


def _auto_accuracy(
    good_low: np.ndarray,
    bad_low: np.ndarray,
    good_high: np.ndarray,
    bad_high: np.ndarray,
    metric: Metric,
) -> np.ndarray:
    """Accuracy of automatic decisions: approvals right when good, rejections when bad."""
    good = good_low + good_high
    bad = bad_low + bad_high
    with np.errstate(divide="ignore", invalid="ignore"):
        if metric == "plain":
            return (good_low + bad_high) / (good + bad)
        # Balanced: each class weighs the same, so approving everyone scores 0.5, not the
        # share of good applicants.
        return 0.5 * (good_low / good + bad_high / bad)


def choose_thresholds(
    risk: np.ndarray,
    bad: np.ndarray,
    target_accuracy: float = 0.90,
    metric: Metric = "balanced",
    grid: int = 400,
) -> Thresholds:
    """Widest automation whose automatic decisions reach ``target_accuracy``.

    Approvals take the lowest-risk rows, rejections the highest; the search runs over
    ``grid`` quantile steps for each side.
    """
    if not 0.5 < target_accuracy < 1.0:
        raise ValueError(f"target accuracy must lie in (0.5, 1), got {target_accuracy}")
    risk = np.asarray(risk, dtype=float)
    order = np.argsort(risk, kind="stable")
    sorted_risk, sorted_bad = risk[order], np.asarray(bad, dtype=bool)[order]
    n = len(risk)
    cum_bad = np.concatenate([[0], np.cumsum(sorted_bad)])
    steps = np.unique(np.linspace(0, n, min(grid, n) + 1).astype(int))
    k, m = np.meshgrid(steps, steps, indexing="ij")  # k approved, m rejected
    feasible = k + m <= n
    bad_low, bad_high = cum_bad[k], cum_bad[n] - cum_bad[np.clip(n - m, 0, n)]
    good_low, good_high = k - bad_low, m - bad_high
    score = _auto_accuracy(good_low, bad_low, good_high, bad_high, metric)
    ok = feasible & (score >= target_accuracy) & ((k + m) > 0)
    if not ok.any():
        return Thresholds(0.0, 1.0, target_accuracy, metric, 0.0, float("nan"))
    # Most automation first; among equals, the more accurate split.
    best = np.lexsort((np.where(ok, score, -1).ravel(), np.where(ok, k + m, -1).ravel()))[-1]
    bk, bm = int(k.ravel()[best]), int(m.ravel()[best])
    approve_below = _approve_cut(sorted_risk, bk)
    reject_above = max(_reject_cut(sorted_risk, bm), approve_below)
    return Thresholds(
        approve_below=approve_below,
        reject_above=reject_above,
        target_accuracy=target_accuracy,
        metric=metric,
        validation_coverage=(bk + bm) / n,
        validation_accuracy=float(score.ravel()[best]),
    )


def _approve_cut(sorted_risk: np.ndarray, k: int) -> float:
    """Threshold that approves the k lowest-risk rows (``risk < cut``); ties stay out."""
    if k == 0:
        return 0.0
    if k == len(sorted_risk):
        return float(np.nextafter(sorted_risk[-1], np.inf))
    return float((sorted_risk[k - 1] + sorted_risk[k]) / 2)


def _reject_cut(sorted_risk: np.ndarray, m: int) -> float:
    """Threshold that rejects the m highest-risk rows (``risk > cut``); ties stay out."""
    n = len(sorted_risk)
    if m == 0:
        return 1.0
    if m == n:
        return float(np.nextafter(sorted_risk[0], -np.inf))
    return float((sorted_risk[n - m - 1] + sorted_risk[n - m]) / 2)


def evaluate(thresholds: Thresholds, risk: np.ndarray, bad: np.ndarray) -> dict[str, float]:
    """Automation rate and accuracy of the automatic decisions on other rows (e.g. holdout)."""
    decision = thresholds.decide(np.asarray(risk))
    bad = np.asarray(bad, dtype=bool)
    low, high = decision == APPROVE, decision == REJECT
    args = ((low & ~bad).sum(), (low & bad).sum(), (high & ~bad).sum(), (high & bad).sum())
    return {
        "coverage": float((low | high).mean()),
        "accuracy": float(_auto_accuracy(*map(np.float64, args), thresholds.metric)),
        "plain_accuracy": float(_auto_accuracy(*map(np.float64, args), "plain")),
    }


def coverage_accuracy_curve(
    risk: np.ndarray,
    bad: np.ndarray,
    metric: Metric = "balanced",
    targets: np.ndarray | None = None,
) -> pd.DataFrame:
    """Automation rate reached for each target accuracy (the trade-off a reviewer sees)."""
    targets = np.round(np.arange(0.75, 0.995, 0.01), 2) if targets is None else targets
    rows = []
    for t in targets:
        th = choose_thresholds(risk, bad, float(t), metric)
        rows.append(
            {
                "target_accuracy": float(t),
                "coverage": th.validation_coverage,
                "accuracy": th.validation_accuracy,
            }
        )
    return pd.DataFrame(rows)
