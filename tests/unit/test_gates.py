"""Promotion gates: pure functions over two models' figures on the same holdout."""

import math

import numpy as np
import pytest

from credit_assets.core.fairness import AUTOMATIC, SELECTION_RATE_RATIO, Disparity
from credit_assets.core.figures import BandResult, Estimate, band_on_holdout
from credit_assets.core.gates import (
    AUC_VS_CHAMPION,
    AUTOMATION_VS_CHAMPION,
    BRIER,
    ECE,
    FAIRNESS_EQUALIZED_ODDS,
    FAIRNESS_SELECTION_RATE,
    MIN_AUC,
    Evaluation,
    GateConfig,
    all_passed,
    evaluate_gates,
    evaluate_model,
    failures,
    fairness_summary,
    gates_markdown,
)
from credit_assets.core.thresholds import choose_thresholds


def _band(automation_rate: float) -> BandResult:
    automated = round(automation_rate * 10_000)
    return BandResult(
        thresholds_version="thr-test",
        policy="accuracy",
        metric="balanced",
        target_accuracy=0.90,
        automation=Estimate(automation_rate, 10_000, automation_rate - 0.01, automation_rate),
        accuracy=Estimate(0.90, automated, 0.89, 0.91),
        cost=None,
        validation_coverage=automation_rate,
        validation_accuracy=0.90,
        validation_cost=None,
    )


def _eval(automation_rate: float = 0.40, **overrides) -> Evaluation:
    base = dict(
        auc=0.85,
        brier=0.07,
        ece=0.01,
        band=_band(automation_rate),
        rows=10_000,
        bad_rate=0.10,
        no_skill_brier=0.09,
        ece_noise=0.005,
    )
    return Evaluation(**{**base, **overrides})


def _by_gate(results):
    return {r.gate: r for r in results}


def test_first_model_needs_only_the_absolute_gates():
    results = evaluate_gates(_eval(), None, GateConfig())
    assert all_passed(results)
    gates = _by_gate(results)
    assert not gates[AUC_VS_CHAMPION].applied and not gates[AUTOMATION_VS_CHAMPION].applied
    assert not gates[FAIRNESS_SELECTION_RATE].applied  # no protected attribute
    assert "not applied: no champion yet" in gates[AUC_VS_CHAMPION].message


def test_absolute_gates_fail_with_value_bound_and_shortfall():
    results = evaluate_gates(_eval(auc=0.55, brier=0.095, ece=0.06), None, GateConfig())
    assert not all_passed(results)
    gates = _by_gate(results)
    assert gates[MIN_AUC].message == (
        "gate min_auc failed: value 0.5500 vs bound 0.6000 (short by 0.0500)"
    )
    assert gates[BRIER].message == (  # default bound: the no-skill Brier score
        "gate brier failed: value 0.0950 vs bound 0.0900 (short by 0.0050)"
    )
    # the ECE bound allows for sampling noise on the holdout's size
    assert gates[ECE].bound == pytest.approx(0.03 + 0.005)
    assert gates[ECE].margin == pytest.approx(-0.025)
    assert len(failures(results)) == 3


def test_relative_gates_use_the_champion_on_the_same_holdout():
    champion = _eval(auc=0.86, automation_rate=0.42)
    config = GateConfig(auc_tolerance=0.005, automation_tolerance=0.01)
    ok = _by_gate(evaluate_gates(_eval(auc=0.8560, automation_rate=0.415), champion, config))
    assert ok[AUC_VS_CHAMPION].passed and ok[AUC_VS_CHAMPION].bound == pytest.approx(0.855)
    assert ok[AUTOMATION_VS_CHAMPION].passed
    worse = evaluate_gates(_eval(auc=0.84, automation_rate=0.40), champion, config)
    assert [r.gate for r in worse if not r.passed] == [AUC_VS_CHAMPION, AUTOMATION_VS_CHAMPION]
    assert _by_gate(worse)[AUC_VS_CHAMPION].message == (
        "gate auc_vs_champion failed: value 0.8400 vs bound 0.8550 (short by 0.0150)"
    )


def _ratio(value: float, evidence: float) -> Disparity:
    return Disparity(
        AUTOMATIC,
        "gender",
        SELECTION_RATE_RATIO,
        value,
        evidence,
        "approval rate",
        groups=("F", "M"),
        rates=(0.41, 0.41 / value),
        sizes=(900, 1100),
    )


def test_fairness_gates_read_the_figures_at_their_confidence_bounds():
    # a point ratio under 0.8 whose interval reaches above it is not a clear breach
    noisy = _by_gate(evaluate_gates(_eval(fairness=(_ratio(0.75, 0.86),)), None, GateConfig()))
    assert noisy[FAIRNESS_SELECTION_RATE].passed
    assert noisy[FAIRNESS_SELECTION_RATE].value == pytest.approx(0.86)
    clear = _eval(fairness=(_ratio(0.6, 0.7),))
    results = evaluate_gates(clear, None, GateConfig())
    assert failures(results) == [
        "gate fairness_selection_rate failed: value 0.7000 vs bound 0.8000 (short by 0.1000): "
        "gender, automatic stage: selection_rate_ratio 0.600 (at the confidence bounds 0.700); "
        "approval rate F 0.410 (n=900) vs M 0.683 (n=1,100)"
    ]
    assert not _by_gate(results)[FAIRNESS_EQUALIZED_ODDS].applied  # no labelled figure
    assert fairness_summary(clear, results) == (
        "fairness: selection_rate_ratio 0.7000 >= 0.8000 FAIL "
        "(gender: approval rate F 0.410 vs M 0.683)"
    )
    # the bound is configurable
    assert all_passed(evaluate_gates(clear, None, GateConfig(min_selection_rate_ratio=0.6)))
    assert Evaluation.from_dict(clear.to_dict()) == clear


def test_missing_figures_never_pass():
    gates = _by_gate(evaluate_gates(_eval(ece=math.nan), None, GateConfig()))
    assert not gates[ECE].passed
    assert "short by n/a" in gates[ECE].message


def test_explicit_brier_bound_and_markdown():
    results = evaluate_gates(_eval(brier=0.08), None, GateConfig(max_brier=0.075))
    assert not _by_gate(results)[BRIER].passed
    table = gates_markdown(results)
    assert "| brier | **FAIL** | 0.0800 | <= 0.0750 | -0.0050 |" in table
    assert "| fairness_selection_rate | n/a |" in table


def _scores(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    bad = rng.random(n) < 0.1
    logit = rng.normal(np.where(bad, 1.0, -1.0), 1.0) - 2.0
    return 1 / (1 + np.exp(-logit)), bad


def test_evaluate_model_on_scores():
    rng = np.random.default_rng(0)
    n = 20_000
    risk, bad = _scores(n, 0)
    band = choose_thresholds(*_scores(n, 1), 0.9)  # chosen on other (validation) rows
    ev = evaluate_model(risk, bad, band)
    assert 0.8 < ev.auc < 0.95
    assert ev.rows == n and ev.bad_rate == pytest.approx(bad.mean())
    assert 0 < ev.automation_rate < 1 and ev.band.automation.n == n
    assert ev.band.accuracy.low < ev.automation_accuracy < ev.band.accuracy.high
    assert 0 < ev.ece_noise < 0.02
    assert Evaluation.from_dict(ev.to_dict()) == ev
    # a perfectly calibrated score passes the calibration gate
    p = rng.beta(1, 8, n)
    calibrated = evaluate_model(p, rng.random(n) < p, band)
    assert _by_gate(evaluate_gates(calibrated, None, GateConfig()))[ECE].passed


def test_gates_judge_the_validation_band_not_one_re_chosen_on_the_holdout():
    # The validation band applied to a small holdout: what production does. A band re-chosen
    # on the holdout itself would automate a different share (the 64.7% vs 71.1% of issue 12).
    risk, bad = _scores(3000, 2)
    band = choose_thresholds(*_scores(3000, 3), 0.9)
    ev = evaluate_model(risk, bad, band)
    applied = band_on_holdout(band, risk, bad)
    oracle = choose_thresholds(risk, bad, 0.9)
    assert ev.band == applied
    assert ev.automation_rate != pytest.approx(oracle.validation_coverage, abs=1e-3)
    gate = _by_gate(evaluate_gates(ev, None, GateConfig(min_automation_rate=0.5)))
    assert gate["min_automation"].value == applied.automation.value
    assert f"of {3000:,} scored applications" in gate["min_automation"].what


def test_a_champion_whose_band_misses_its_target_is_held_to_its_accurate_automation():
    # After concept drift the champion's band still automates as much as before, but its
    # automatic decisions are wrong: that automation is no yardstick for a challenger.
    risk, bad = _scores(5_000, 4)
    band = choose_thresholds(*_scores(5_000, 5), 0.9)
    flipped = evaluate_model(1 - risk, bad, band)  # the old concept, read backwards
    assert flipped.band.status == "missed" and flipped.automation_rate > 0.3
    assert flipped.accurate_automation == choose_thresholds(1 - risk, bad, 0.9).validation_coverage
    assert flipped.accurate_automation < 0.05
    challenger = evaluate_model(risk, bad, band)
    assert challenger.band.status != "missed" and challenger.automation_at_target is None
    assert challenger.accurate_automation == challenger.automation_rate
    gate = _by_gate(evaluate_gates(challenger, flipped, GateConfig()))[AUTOMATION_VS_CHAMPION]
    assert gate.passed and gate.bound == flipped.accurate_automation
    assert "misses the target" in gate.what
    # a champion that still meets its target keeps its band's automation as the bound, and a
    # challenger is held to the same rule: its wrong automatic decisions count for nothing
    gate = _by_gate(evaluate_gates(flipped, challenger, GateConfig()))[AUTOMATION_VS_CHAMPION]
    assert not gate.passed and gate.bound == challenger.automation_rate
    assert gate.value == flipped.accurate_automation
    assert Evaluation.from_dict(flipped.to_dict()) == flipped
