"""The review band: which scores are decided automatically and which go to a reviewer.

Scores are *risk*: the model's probability of a bad outcome. Applications with risk below
``approve_below`` are approved, above ``reject_above`` rejected, and the band in between goes to
human review. The band is chosen on validation rows by one of two policies:

* ``accuracy``: automate as many applications as possible while the automatic decisions stay at
  least ``target_accuracy`` right, as in the seed's error analysis;
* ``cost``: the lowest expected cost per scored application, given what approving a bad
  applicant, rejecting a good one and a manual review cost the bank.

With about 10% bad outcomes, plain accuracy is useless as a target: approving everyone is
already 90% right. The default metric is therefore *balanced* accuracy (the mean of the share
of good applicants approved and of bad applicants rejected among automatic decisions), which
does not depend on the base rate; ``plain`` is available where the classes are balanced.

The figures themselves (automation rate, accuracy of automatic decisions, expected cost) are
defined here once, as the formulas the band search optimises; ``core/figures.py`` measures them
on other rows with their sample size and confidence interval, and words them.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, astuple, dataclass, fields
from typing import Literal

import numpy as np
import pandas as pd

APPROVE, REJECT, REVIEW, RULE_REJECT = "approve", "reject", "review", "rule_reject"
DECISIONS = (RULE_REJECT, APPROVE, REJECT, REVIEW)


Metric = Literal["balanced", "plain"]
Policy = Literal["accuracy", "cost"]


@dataclass(frozen=True)
class Costs:
    """What one decision costs the bank, in one currency unit of its choice.

    A review is assumed to reach the right decision: it costs ``review`` and nothing else.
    """

    bad_approved: float  # approving an applicant who then defaults
    good_rejected: float  # rejecting an applicant who would have repaid
    review: float  # one manual review

    def __post_init__(self) -> None:
        if min(self.bad_approved, self.good_rejected, self.review) < 0:
            raise ValueError(f"costs cannot be negative, got {self}")

    def per_application(self, bad_approved, good_rejected, reviewed, scored):
        """Expected cost per scored application (rule rejects cost nothing here: no model
        decision is made on them). Works on counts and on arrays of counts."""
        with np.errstate(divide="ignore", invalid="ignore"):
            return (
                self.bad_approved * bad_approved
                + self.good_rejected * good_rejected
                + self.review * reviewed
            ) / scored


# A card that defaults loses about ten times the yearly margin a good customer brings; a
# manual review costs about a third of that margin. Relative units: only ratios matter.
DEFAULT_COSTS = Costs(bad_approved=10.0, good_rejected=1.0, review=0.3)


@dataclass(frozen=True)
class Thresholds:
    approve_below: float
    reject_above: float
    target_accuracy: float | None  # None when the band was chosen by cost
    metric: Metric
    validation_coverage: float
    validation_accuracy: float
    # Added after models were registered: the defaults keep bands stored without them
    # readable, both through from_dict and when an old pickled pipeline is loaded.
    policy: Policy = "accuracy"
    cost_bad_approved: float | None = None
    cost_good_rejected: float | None = None
    cost_review: float | None = None
    validation_cost: float | None = None  # expected cost per scored application, validation

    @property
    def version(self) -> str:
        payload: list = [self.approve_below, self.reject_above, self.target_accuracy, self.metric]
        if self.policy != "accuracy":  # accuracy bands keep the versions they always had
            payload += [self.policy, *astuple(self.costs)]
        return "thr-" + hashlib.sha256(json.dumps(payload).encode()).hexdigest()[:10]

    @property
    def costs(self) -> Costs | None:
        """The costs the band was chosen with (cost policy) or judged by (accuracy policy)."""
        if self.cost_bad_approved is None:
            return None
        return Costs(self.cost_bad_approved, self.cost_good_rejected, self.cost_review)

    def decide(self, risk: np.ndarray) -> np.ndarray:
        return np.where(
            risk < self.approve_below, APPROVE, np.where(risk > self.reject_above, REJECT, REVIEW)
        )

    def to_dict(self) -> dict[str, float | str | None]:
        return {**asdict(self), "version": self.version}

    @classmethod
    def from_dict(cls, data: dict) -> Thresholds:
        """Inverse of :meth:`to_dict`; extra keys (version, reports) are ignored, missing
        later fields take their defaults."""
        return cls(**{f.name: data[f.name] for f in fields(cls) if f.name in data})


def auto_accuracy(good_approved, bad_approved, good_rejected, bad_rejected, metric: Metric):
    """Accuracy of automatic decisions: approvals right when good, rejections when bad.

    ``plain``: the share of automatic decisions that are right. ``balanced``: the mean of the
    share of good applicants approved (among good ones decided automatically) and of bad
    applicants rejected (among bad ones decided automatically). Works on arrays of counts.
    """
    counts = (good_approved, bad_approved, good_rejected, bad_rejected)
    good_approved, bad_approved, good_rejected, bad_rejected = (
        np.asarray(c, dtype=float)
        for c in counts  # 0 / 0 is NaN, never an exception
    )
    good = good_approved + good_rejected
    bad = bad_approved + bad_rejected
    with np.errstate(divide="ignore", invalid="ignore"):
        if metric == "plain":
            return (good_approved + bad_rejected) / (good + bad)
        # Balanced: each class weighs the same, so approving everyone scores 0.5, not the
        # share of good applicants.
        return 0.5 * (good_approved / good + bad_rejected / bad)


@dataclass(frozen=True)
class _Grid:
    """Every candidate band on ``grid`` quantile steps: k lowest-risk rows approved, m
    highest-risk rows rejected, with the counts of each outcome."""

    sorted_risk: np.ndarray
    k: np.ndarray
    m: np.ndarray
    good_approved: np.ndarray
    bad_approved: np.ndarray
    good_rejected: np.ndarray
    bad_rejected: np.ndarray

    @property
    def n(self) -> int:
        return len(self.sorted_risk)

    @property
    def feasible(self) -> np.ndarray:
        return self.k + self.m <= self.n

    def accuracy(self, metric: Metric) -> np.ndarray:
        return auto_accuracy(
            self.good_approved, self.bad_approved, self.good_rejected, self.bad_rejected, metric
        )

    def cost(self, costs: Costs) -> np.ndarray:
        reviewed = self.n - self.k - self.m
        return costs.per_application(self.bad_approved, self.good_rejected, reviewed, self.n)

    def band(self, index: int, **recorded) -> Thresholds:
        """The thresholds of candidate ``index`` (into the raveled grid)."""
        bk, bm = int(self.k.ravel()[index]), int(self.m.ravel()[index])
        approve_below = _approve_cut(self.sorted_risk, bk)
        return Thresholds(
            approve_below=approve_below,
            reject_above=max(_reject_cut(self.sorted_risk, bm), approve_below),
            validation_coverage=(bk + bm) / self.n,
            **recorded,
        )


def _grid(risk: np.ndarray, bad: np.ndarray, grid: int) -> _Grid:
    risk = np.asarray(risk, dtype=float)
    order = np.argsort(risk, kind="stable")
    sorted_bad = np.asarray(bad, dtype=bool)[order]
    n = len(risk)
    cum_bad = np.concatenate([[0], np.cumsum(sorted_bad)])
    steps = np.unique(np.linspace(0, n, min(grid, n) + 1).astype(int))
    k, m = np.meshgrid(steps, steps, indexing="ij")
    bad_approved = cum_bad[k]
    bad_rejected = cum_bad[n] - cum_bad[np.clip(n - m, 0, n)]
    return _Grid(risk[order], k, m, k - bad_approved, bad_approved, m - bad_rejected, bad_rejected)


def _cost_fields(costs: Costs | None, grid: _Grid, index: int) -> dict:
    if costs is None:
        return {}
    return {
        "cost_bad_approved": float(costs.bad_approved),  # 10 and 10.0: the same version
        "cost_good_rejected": float(costs.good_rejected),
        "cost_review": float(costs.review),
        "validation_cost": float(grid.cost(costs).ravel()[index]),
    }


def choose_thresholds(
    risk: np.ndarray,
    bad: np.ndarray,
    target_accuracy: float = 0.90,
    metric: Metric = "balanced",
    grid: int = 400,
    costs: Costs | None = None,
) -> Thresholds:
    """Widest automation whose automatic decisions reach ``target_accuracy``.

    Approvals take the lowest-risk rows, rejections the highest; the search runs over
    ``grid`` quantile steps for each side. ``costs``, if given, are recorded with the band so
    its report shows what it costs.
    """
    if not 0.5 < target_accuracy < 1.0:
        raise ValueError(f"target accuracy must lie in (0.5, 1), got {target_accuracy}")
    g = _grid(risk, bad, grid)
    score = g.accuracy(metric)
    ok = g.feasible & (score >= target_accuracy) & ((g.k + g.m) > 0)
    # Most automation first; among equals, the more accurate split. When nothing reaches
    # the target, candidate 0 (approve none, reject none): everything goes to review.
    best = (
        np.lexsort((np.where(ok, score, -1).ravel(), np.where(ok, g.k + g.m, -1).ravel()))[-1]
        if ok.any()
        else 0
    )
    return g.band(
        best,
        target_accuracy=target_accuracy,
        metric=metric,
        validation_accuracy=float(score.ravel()[best]) if ok.any() else float("nan"),
        **_cost_fields(costs, g, best),
    )


def choose_thresholds_by_cost(
    risk: np.ndarray,
    bad: np.ndarray,
    cost_bad_approved: float,
    cost_good_rejected: float,
    cost_review: float,
    metric: Metric = "balanced",
    grid: int = 400,
) -> Thresholds:
    """The band with the lowest expected cost per scored application on these rows.

    Same search as :func:`choose_thresholds`; among bands of equal cost, the one that
    automates most. ``metric`` is only the accuracy the band is reported with.
    """
    costs = Costs(cost_bad_approved, cost_good_rejected, cost_review)
    g = _grid(risk, bad, grid)
    cost = np.where(g.feasible, g.cost(costs), np.inf)
    best = np.lexsort(((g.k + g.m).ravel(), -cost.ravel()))[-1]
    return g.band(
        best,
        target_accuracy=None,
        metric=metric,
        validation_accuracy=float(g.accuracy(metric).ravel()[best]),
        policy="cost",
        **_cost_fields(costs, g, best),
    )


def choose_band(
    risk: np.ndarray,
    bad: np.ndarray,
    policy: Policy,
    target_accuracy: float,
    metric: Metric,
    costs: Costs | None,
) -> Thresholds:
    """The band by the configured policy (what the ``decision_thresholds`` asset calls)."""
    if policy == "cost":
        if costs is None:
            raise ValueError("the cost policy needs the three costs")
        return choose_thresholds_by_cost(
            risk, bad, costs.bad_approved, costs.good_rejected, costs.review, metric
        )
    return choose_thresholds(risk, bad, target_accuracy, metric, costs=costs)


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


def cost_curve(risk: np.ndarray, bad: np.ndarray, costs: Costs, grid: int = 400) -> pd.DataFrame:
    """The lowest expected cost per scored application at each automation rate (rounded to
    half a percent) on these rows: where a band sits against the best it could be."""
    g = _grid(risk, bad, grid)
    feasible = g.feasible.ravel()
    frame = pd.DataFrame(
        {
            "coverage": np.round(((g.k + g.m).ravel()[feasible] / g.n) * 200) / 200,
            "cost": g.cost(costs).ravel()[feasible],
        }
    )
    return frame.groupby("coverage", as_index=False)["cost"].min()
