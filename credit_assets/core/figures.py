"""The figures every printer shows, each defined once, measured with its sample size and a
95% confidence interval, and worded the same everywhere.

* **Automation rate**: the share of *scored* applications that the review band decides
  automatically (approve or reject). Rule rejects are not counted at all: no model decision
  is made on them.
* **Accuracy of automatic decisions**: the band's metric (``balanced`` by default, see
  :func:`credit_assets.core.thresholds.auto_accuracy`) over automatic decisions whose outcome
  is known.
* **Expected cost per scored application**, when the band has costs (see
  :meth:`credit_assets.core.thresholds.Costs.per_application`).

Intervals: Wilson for a proportion (automation rate, plain accuracy); for balanced accuracy,
the two class-wise Wilson intervals combined by MOVER (Zou & Donner, 2008), i.e. each side's
distances to the estimate added in quadrature and halved; for the expected cost, the normal
interval of a mean.

A band is chosen on validation rows. :func:`band_on_holdout` applies that band, unchanged, to
the holdout, and says whether it meets its target there: ``met``; ``within noise`` (below the
target, but the interval reaches it); or ``missed`` by how much.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any, Literal

import numpy as np

from credit_assets.core.thresholds import (
    APPROVE,
    REJECT,
    REVIEW,
    Costs,
    Metric,
    Thresholds,
    auto_accuracy,
)

CONFIDENCE = 0.95

MET, WITHIN_NOISE, MISSED, NO_TARGET, UNMEASURED = (
    "met",
    "within noise",
    "missed",
    "no target",
    "not measurable",
)
Status = Literal["met", "within noise", "missed", "no target", "not measurable"]


@dataclass(frozen=True)
class Estimate:
    """A figure measured on ``n`` rows, with its confidence interval (NaN when ``n`` is 0)."""

    value: float
    n: int
    low: float
    high: float

    @classmethod
    def none(cls) -> Estimate:
        return cls(math.nan, 0, math.nan, math.nan)


def proportion(successes: int, n: int) -> Estimate:
    """``successes`` out of ``n``, with its Wilson interval."""
    if n == 0:
        return Estimate.none()
    from scipy.stats import binomtest

    ci = binomtest(int(successes), int(n)).proportion_ci(CONFIDENCE, method="wilson")
    return Estimate(successes / n, int(n), float(ci.low), float(ci.high))


def automation(approved: int, rejected: int, reviewed: int) -> Estimate:
    """Automation rate over scored applications (rule rejects are not passed in)."""
    return proportion(approved + rejected, approved + rejected + reviewed)


def automation_of_decisions(counts: Mapping[str, int]) -> Estimate:
    """Automation rate of decided applications, from counts per decision (``rule_reject``
    is ignored), e.g. the days' ``decisions`` files."""
    return automation(counts.get(APPROVE, 0), counts.get(REJECT, 0), counts.get(REVIEW, 0))


def accuracy(
    good_approved: int, bad_approved: int, good_rejected: int, bad_rejected: int, metric: Metric
) -> Estimate:
    """Accuracy of automatic decisions with known outcome, by the band's metric."""
    n = good_approved + bad_approved + good_rejected + bad_rejected
    if metric == "plain":
        return proportion(good_approved + bad_rejected, n)
    value = float(auto_accuracy(good_approved, bad_approved, good_rejected, bad_rejected, metric))
    if math.isnan(value):  # one class has no automatic decision: balanced is undefined
        return Estimate(math.nan, n, math.nan, math.nan)
    good = proportion(good_approved, good_approved + good_rejected)
    bad = proportion(bad_rejected, bad_approved + bad_rejected)
    below = 0.5 * math.hypot(good.value - good.low, bad.value - bad.low)
    above = 0.5 * math.hypot(good.high - good.value, bad.high - bad.value)
    return Estimate(value, n, value - below, value + above)


def expected_cost(
    thresholds: Thresholds, bad_approved: int, good_rejected: int, reviewed: int, scored: int
) -> Estimate | None:
    """Expected cost per scored application under the band's costs (None without costs)."""
    costs = thresholds.costs
    if costs is None:
        return None
    if scored == 0:
        return Estimate.none()
    from scipy.stats import norm

    mean = float(costs.per_application(bad_approved, good_rejected, reviewed, scored))
    squares = Costs(costs.bad_approved**2, costs.good_rejected**2, costs.review**2)
    second = float(squares.per_application(bad_approved, good_rejected, reviewed, scored))
    half = norm.ppf(0.5 + CONFIDENCE / 2) * math.sqrt(max(second - mean**2, 0.0) / scored)
    return Estimate(mean, scored, mean - half, mean + half)


@dataclass(frozen=True)
class BandResult:
    """A review band chosen on validation, applied unchanged to other rows with known
    outcome (the holdout)."""

    thresholds_version: str
    policy: str
    metric: Metric
    target_accuracy: float | None
    automation: Estimate
    accuracy: Estimate
    cost: Estimate | None
    validation_coverage: float
    validation_accuracy: float
    validation_cost: float | None

    @property
    def status(self) -> Status:
        if self.target_accuracy is None:
            return NO_TARGET
        if math.isnan(self.accuracy.value):
            return UNMEASURED
        if self.accuracy.value >= self.target_accuracy:
            return MET
        if self.accuracy.high >= self.target_accuracy:
            return WITHIN_NOISE
        return MISSED

    @property
    def shortfall(self) -> float:
        """How far the accuracy is below the target (0 when met, NaN without a target)."""
        if self.target_accuracy is None:
            return math.nan
        return max(self.target_accuracy - self.accuracy.value, 0.0)

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "status": self.status, "shortfall": self.shortfall}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> BandResult:
        names = cls.__dataclass_fields__
        values = {k: data[k] for k in names}
        for key in ("automation", "accuracy", "cost"):
            if values[key] is not None:
                values[key] = Estimate(**values[key])
        return cls(**values)


def band_on_holdout(thresholds: Thresholds, risk: np.ndarray, bad: np.ndarray) -> BandResult:
    """The validation-chosen band applied to holdout rows (never re-chosen on them)."""
    decision = thresholds.decide(np.asarray(risk, dtype=float))
    bad = np.asarray(bad, dtype=bool)
    approved, rejected = decision == APPROVE, decision == REJECT
    good_approved, bad_approved = int((approved & ~bad).sum()), int((approved & bad).sum())
    good_rejected, bad_rejected = int((rejected & ~bad).sum()), int((rejected & bad).sum())
    reviewed = len(decision) - int(approved.sum()) - int(rejected.sum())
    return BandResult(
        thresholds_version=thresholds.version,
        policy=thresholds.policy,
        metric=thresholds.metric,
        target_accuracy=thresholds.target_accuracy,
        automation=automation(int(approved.sum()), int(rejected.sum()), reviewed),
        accuracy=accuracy(
            good_approved, bad_approved, good_rejected, bad_rejected, thresholds.metric
        ),
        cost=expected_cost(thresholds, bad_approved, good_rejected, reviewed, len(decision)),
        validation_coverage=thresholds.validation_coverage,
        validation_accuracy=thresholds.validation_accuracy,
        validation_cost=thresholds.validation_cost,
    )


# -- wording: every printer (run summary, gates, report, CLI) reads a figure the same way --


def fmt_rate(x: float | None) -> str:
    return "–" if x is None or math.isnan(x) else f"{x:.1%}"


def fmt_accuracy(x: float | None) -> str:
    return "–" if x is None or math.isnan(x) else f"{x:.4f}"


def fmt_cost(x: float | None) -> str:
    return "–" if x is None or math.isnan(x) else f"{x:.3f}"


def describe_automation(rate: Estimate) -> str:
    if rate.n == 0:
        return "no applications decided yet"
    return (
        f"automated {fmt_rate(rate.value)} of {rate.n:,} scored applications, "
        f"95% CI {fmt_rate(rate.low)}–{fmt_rate(rate.high)}, rule rejects not counted"
    )


def describe_accuracy(band: BandResult) -> str:
    acc = band.accuracy
    if acc.n == 0:
        return "no automatic decisions with known outcome"
    if math.isnan(acc.value):
        return (
            f"{band.metric} accuracy undefined on {acc.n:,} automatic decisions with known "
            "outcome: one outcome class has no automatic decision"
        )
    return (
        f"{band.metric} accuracy {fmt_accuracy(acc.value)} on {acc.n:,} automatic decisions "
        f"with known outcome, 95% CI {fmt_accuracy(acc.low)}–{fmt_accuracy(acc.high)}"
    )


def describe_target(band: BandResult) -> str:
    target = band.target_accuracy
    status = band.status
    if status == NO_TARGET:
        return "band chosen by cost, no accuracy target"
    if status == UNMEASURED:
        return f"the {target:.2f} target cannot be checked"
    if status == MET:
        return f"met the {target:.2f} target"
    if status == WITHIN_NOISE:
        return f"{fmt_accuracy(band.shortfall)} below the {target:.2f} target, within noise"
    return f"missed the {target:.2f} target by {fmt_accuracy(band.shortfall)}"


def describe_cost(cost: Estimate | None) -> str | None:
    if cost is None:
        return None
    return (
        f"expected cost {fmt_cost(cost.value)} per scored application, "
        f"95% CI {fmt_cost(cost.low)}–{fmt_cost(cost.high)}"
    )


def describe_band(band: BandResult) -> str:
    """One line: the band's automation, accuracy against its target, and cost if known."""
    parts = [describe_automation(band.automation), describe_accuracy(band)]
    cost = describe_cost(band.cost)
    line = "; ".join(parts) + f": {describe_target(band)}"
    return line + (f"; {cost}" if cost else "")


def summary_lines(decided: Estimate, holdout: BandResult) -> list[str]:
    """What the run summary prints about the champion's decisions and review band."""
    return [
        f"decided: {describe_automation(decided)}",
        f"review band on holdout: {describe_band(holdout)}",
    ]
