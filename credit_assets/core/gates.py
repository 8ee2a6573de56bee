"""Promotion gates: may a newly trained model (the challenger) replace the champion?

Pure functions, no Dagster: the ``champion_model`` asset, the CLI and the tests call the same
code. Both models are judged on the *same* rows (the current holdout, which moves as outcomes
arrive), so the champion is re-scored on it rather than trusted for figures it got on an older
holdout.

Absolute gates apply to every challenger, the first one included:

* ``min_auc``        holdout AUC at least ``min_auc``;
* ``brier``          Brier score at most ``max_brier`` (default: the Brier score of always
                     predicting the holdout's base rate, which any useful model beats);
* ``ece``            expected calibration error at most ``max_ece`` plus the ECE that sampling
                     noise alone gives a perfectly calibrated model on this many rows;
* ``min_automation`` holdout automation rate of the model's own review band (chosen on
                     validation, applied unchanged to the holdout) at least
                     ``min_automation_rate``.

Relative gates apply when there is a champion:

* ``auc_vs_champion``        AUC not below the champion's minus ``auc_tolerance``;
* ``automation_vs_champion`` holdout automation rate of the challenger's band not below
                             that of the champion's band minus ``automation_tolerance``.
                             Automation is only worth its accuracy: a band that clearly
                             misses its target accuracy on this holdout (the champion's after
                             concept drift, say) counts with the automation its model's
                             scores reach at that target on these rows instead (a band chosen
                             on the holdout itself: the most that model could automate here).

Each model is judged with the review band it would decide with in production, so the gates,
the model report and the run summary state the same figures (``core/figures.py``).

Fairness gates apply when the holdout has protected attributes (figures from
:mod:`.fairness`, automatic decisions, every attribute and intersection, the worst one):

* ``fairness_selection_rate`` the ratio of the lowest to the highest group approval rate at
                              least ``min_selection_rate_ratio`` (the four-fifths rule);
* ``fairness_equalized_odds`` the largest gap between groups' approval rates among good, or
                              among bad, applicants at most ``max_equalized_odds_difference``.

Both are read at the edge of the groups' confidence intervals, so only a clear disparity
fails; groups too small to compare leave a gate not applied, never failed.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace
from typing import Any, Literal

import numpy as np

from credit_assets.core.fairness import (
    EQUALIZED_ODDS_DIFFERENCE,
    SELECTION_RATE_RATIO,
    Disparity,
    FairnessReport,
)
from credit_assets.core.figures import MISSED, BandResult, band_on_holdout, describe_automation
from credit_assets.core.metrics import (
    ece_noise_floor,
    expected_calibration_error,
    no_skill_brier,
)
from credit_assets.core.thresholds import Thresholds, choose_thresholds

MIN_AUC, BRIER, ECE, MIN_AUTOMATION = "min_auc", "brier", "ece", "min_automation"
AUC_VS_CHAMPION, AUTOMATION_VS_CHAMPION = "auc_vs_champion", "automation_vs_champion"
FAIRNESS_SELECTION_RATE, FAIRNESS_EQUALIZED_ODDS = (
    "fairness_selection_rate",
    "fairness_equalized_odds",
)
GATES = (
    MIN_AUC,
    BRIER,
    ECE,
    MIN_AUTOMATION,
    AUC_VS_CHAMPION,
    AUTOMATION_VS_CHAMPION,
    FAIRNESS_SELECTION_RATE,
    FAIRNESS_EQUALIZED_ODDS,
)


@dataclass(frozen=True)
class FairnessGate:
    name: str
    metric: str  # the fairness figure it reads (its worst over attributes and intersections)
    bound: str  # the GateConfig field holding its bound
    direction: Literal[">=", "<="]
    what: str


FAIRNESS_GATES = (
    FairnessGate(
        FAIRNESS_SELECTION_RATE,
        SELECTION_RATE_RATIO,
        "min_selection_rate_ratio",
        ">=",
        "lowest / highest group approval rate of automatic decisions (upper confidence bound)",
    ),
    FairnessGate(
        FAIRNESS_EQUALIZED_ODDS,
        EQUALIZED_ODDS_DIFFERENCE,
        "max_equalized_odds_difference",
        "<=",
        "largest gap in approval rates among good or among bad applicants (lower confidence bound)",
    ),
)


@dataclass(frozen=True)
class GateConfig:
    min_auc: float = 0.60
    max_brier: float | None = None
    max_ece: float = 0.03
    min_automation_rate: float = 0.0
    auc_tolerance: float = 0.005
    automation_tolerance: float = 0.0
    min_selection_rate_ratio: float = 0.80
    max_equalized_odds_difference: float = 0.10


@dataclass(frozen=True)
class Evaluation:
    """One model's figures on one holdout; risk is P(bad outcome), bad the outcome flag."""

    auc: float
    brier: float
    ece: float
    band: BandResult  # the model's validation-chosen review band on these rows
    rows: int
    bad_rate: float
    no_skill_brier: float
    ece_noise: float = 0.0  # ECE of a perfectly calibrated model on these rows (noise)
    # The worst figure per fairness gate (empty: no protected attribute on these rows)
    fairness: tuple[Disparity, ...] = ()
    # When the band clearly misses its target accuracy on these rows: the automation rate the
    # scores reach at that target here (None: the band meets it, or has no target)
    automation_at_target: float | None = None

    @property
    def automation_rate(self) -> float:
        return self.band.automation.value

    @property
    def accurate_automation(self) -> float:
        """The automation rate at the band's target accuracy on these rows: the band's own,
        unless its automatic decisions clearly miss the target here."""
        return (
            self.automation_rate if self.automation_at_target is None else self.automation_at_target
        )

    @property
    def automation_accuracy(self) -> float:
        return self.band.accuracy.value

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "band": self.band.to_dict()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Evaluation:
        values = {k: data.get(k) for k in cls.__dataclass_fields__}
        values["fairness"] = tuple(Disparity.from_dict(d) for d in data.get("fairness") or ())
        return cls(**{**values, "band": BandResult.from_dict(data["band"])})

    def disparity(self, metric: str) -> Disparity | None:
        return next((d for d in self.fairness if d.metric == metric), None)


def evaluate_model(
    risk: np.ndarray,
    bad: np.ndarray,
    thresholds: Thresholds,
    fairness: FairnessReport | None = None,
) -> Evaluation:
    """Figures of one model's risk scores on labelled rows, its review band (``thresholds``,
    chosen on validation) applied to them as it is; ``fairness`` is the same rows' report
    (:func:`.fairness.assess_holdout`), of which the gates read the worst figures."""
    from sklearn.metrics import brier_score_loss, roc_auc_score

    risk = np.asarray(risk, dtype=float)
    bad = np.asarray(bad, dtype=bool)
    band = band_on_holdout(thresholds, risk, bad)
    at_target = (
        choose_thresholds(risk, bad, band.target_accuracy, band.metric).validation_coverage
        if band.status == MISSED and band.target_accuracy is not None
        else None
    )
    return Evaluation(
        auc=float(roc_auc_score(bad, risk)),
        brier=float(brier_score_loss(bad, risk)),
        ece=expected_calibration_error(bad, risk),
        band=band,
        rows=len(risk),
        bad_rate=float(bad.mean()),
        no_skill_brier=no_skill_brier(bad),
        ece_noise=ece_noise_floor(risk),
        fairness=tuple(
            d
            for gate in FAIRNESS_GATES
            if fairness is not None and (d := fairness.worst(gate.metric)) is not None
        ),
        automation_at_target=at_target,
    )


@dataclass(frozen=True)
class GateResult:
    gate: str
    passed: bool
    value: float | None
    bound: float | None
    direction: Literal[">=", "<="]
    what: str
    applied: bool = True  # False: not applicable (no champion, no fairness figures)
    detail: str = ""  # what lies behind the value (fairness: attribute, groups, their rates)

    @property
    def margin(self) -> float | None:
        """Slack to the bound: positive passes, negative is the shortfall."""
        if self.value is None or self.bound is None:
            return None
        return self.value - self.bound if self.direction == ">=" else self.bound - self.value

    @property
    def message(self) -> str:
        if not self.applied:
            return f"gate {self.gate} not applied: {self.what}"
        value, bound, margin = _num(self.value), _num(self.bound), self.margin
        if not self.passed and self.value is None:
            return f"gate {self.gate} failed: {self.what}"
        if self.passed:
            return (
                f"gate {self.gate} passed: {self.what} {value} {self.direction} {bound}"
                f" (margin {_num(margin)})"
            )
        short = "n/a" if margin is None or math.isnan(margin) else _num(-margin)
        failed = f"gate {self.gate} failed: value {value} vs bound {bound} (short by {short})"
        return f"{failed}: {self.detail}" if self.detail else failed

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "margin": self.margin, "message": self.message}


def _num(x: float | None) -> str:
    return "n/a" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.4f}"


def _gate(gate: str, value: float, bound: float, direction: Literal[">=", "<="], what: str):
    ok = value >= bound if direction == ">=" else value <= bound  # NaN never passes
    return GateResult(gate, bool(ok), float(value), float(bound), direction, what)


def _skipped(gate: str, why: str, direction: Literal[">=", "<="] = ">=") -> GateResult:
    return GateResult(gate, True, None, None, direction, why, applied=False)


def evaluate_gates(
    challenger: Evaluation, champion: Evaluation | None, config: GateConfig
) -> list[GateResult]:
    """Every gate's result, in a fixed order; promotion needs all of them to pass."""
    max_brier = challenger.no_skill_brier if config.max_brier is None else config.max_brier
    results = [
        _gate(MIN_AUC, challenger.auc, config.min_auc, ">=", "holdout AUC"),
        _gate(BRIER, challenger.brier, max_brier, "<=", "holdout Brier score"),
        _gate(
            ECE,
            challenger.ece,
            config.max_ece + challenger.ece_noise,
            "<=",
            f"expected calibration error (bound: max_ece + sampling noise "
            f"{challenger.ece_noise:.4f})",
        ),
        _gate(
            MIN_AUTOMATION,
            challenger.automation_rate,
            config.min_automation_rate,
            ">=",
            f"holdout automation rate of its review band "
            f"({describe_automation(challenger.band.automation)})",
        ),
    ]
    if champion is None:
        results += [
            _skipped(AUC_VS_CHAMPION, "no champion yet"),
            _skipped(AUTOMATION_VS_CHAMPION, "no champion yet"),
        ]
    else:
        results += [
            _gate(
                AUC_VS_CHAMPION,
                challenger.auc,
                champion.auc - config.auc_tolerance,
                ">=",
                "holdout AUC vs champion's minus tolerance",
            ),
            _gate(
                AUTOMATION_VS_CHAMPION,
                challenger.accurate_automation,
                champion.accurate_automation - config.automation_tolerance,
                ">=",
                "holdout automation rate at the target accuracy vs the champion's minus "
                "tolerance"
                + "".join(
                    f" ({who}'s band automates {e.automation_rate:.1%} but misses the target "
                    f"on this holdout: accuracy {e.automation_accuracy:.3f}; counted: the "
                    f"automation its scores reach at the target here, {e.accurate_automation:.1%})"
                    for who, e in (("challenger", challenger), ("champion", champion))
                    if e.automation_at_target is not None
                ),
            ),
        ]
    return results + [_fairness_gate(challenger, config, gate) for gate in FAIRNESS_GATES]


def _fairness_gate(challenger: Evaluation, config: GateConfig, gate: FairnessGate) -> GateResult:
    found = challenger.disparity(gate.metric)
    if found is None:
        return _skipped(gate.name, "no protected attribute on the holdout", gate.direction)
    if not found.sufficient:
        return _skipped(gate.name, found.describe(), gate.direction)
    bound = getattr(config, gate.bound)  # the same comparison as found.breaches(bound)
    result = _gate(gate.name, found.evidence, bound, gate.direction, gate.what)
    return replace(result, detail=found.describe())


def fairness_summary(challenger: Evaluation, results: list[GateResult]) -> str:
    """One line for ``credit-assets model show`` (version tag ``fairness``): each fairness
    gate's verdict, value and bound, and the attribute and groups behind the value."""
    by_gate = {r.gate: r for r in results}
    parts = []
    for gate in FAIRNESS_GATES:
        result, found = by_gate.get(gate.name), challenger.disparity(gate.metric)
        if result is None or not result.applied or found is None:
            continue
        (low, high), (r_low, r_high) = found.groups, found.rates
        parts.append(
            f"{gate.metric} {_num(result.value)} {result.direction} {_num(result.bound)} "
            f"{'pass' if result.passed else 'FAIL'} ({found.attribute}: {found.rate} "
            f"{low} {r_low:.3f} vs {high} {r_high:.3f})"
        )
    return "fairness: " + ("; ".join(parts) if parts else "not measured")


def all_passed(results: list[GateResult]) -> bool:
    return all(r.passed for r in results)


def failures(results: list[GateResult]) -> list[str]:
    return [r.message for r in results if not r.passed]


def gates_markdown(results: list[GateResult]) -> str:
    lines = ["| gate | result | value | bound | margin |", "|---|---|---|---|---|"]
    for r in results:
        status = "n/a" if not r.applied else ("pass" if r.passed else "**FAIL**")
        lines.append(
            f"| {r.gate} | {status} | {_num(r.value)} | {r.direction} {_num(r.bound)} "
            f"| {_num(r.margin)} |"
            if r.applied
            else f"| {r.gate} | {status} | – | – | {r.what} |"
        )
    return "\n".join(lines)
