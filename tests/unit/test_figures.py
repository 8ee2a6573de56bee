"""One set of numbers: each figure defined once, with its sample size and interval, and the
summary, the gates and the report stating the same figures for the same model and holdout."""

import json
import re
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from credit_assets.core.figures import (
    MET,
    MISSED,
    WITHIN_NOISE,
    Estimate,
    accuracy,
    automation_of_decisions,
    band_on_holdout,
    describe_automation,
    describe_band,
    proportion,
    summary_lines,
)
from credit_assets.core.gates import (
    MIN_AUTOMATION,
    Evaluation,
    GateConfig,
    evaluate_gates,
    evaluate_model,
)
from credit_assets.core.report import ReportInputs, build_report
from credit_assets.core.thresholds import Costs, choose_thresholds


def _scores(n: int, seed: int, separation: float = 2.0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    bad = rng.random(n) < 0.1
    logit = rng.normal(np.where(bad, separation / 2, -separation / 2), 1.0) - 2.0
    return 1 / (1 + np.exp(-logit)), bad


def test_automation_counts_scored_applications_only():
    rate = automation_of_decisions({"rule_reject": 500, "approve": 60, "reject": 10, "review": 30})
    assert rate.value == pytest.approx(0.70) and rate.n == 100
    assert rate.low < 0.70 < rate.high
    assert "automated 70.0% of 100 scored applications" in describe_automation(rate)
    assert "rule rejects not counted" in describe_automation(rate)


def test_no_applications_is_not_zero_percent():
    for counts in ({}, {"rule_reject": 12}):
        rate = automation_of_decisions(counts)
        assert rate.n == 0 and describe_automation(rate) == "no applications decided yet"
    lines = summary_lines(automation_of_decisions({}), band_on_holdout(*_holdout_case()))
    assert lines[0] == "decided: no applications decided yet"
    assert "0.0%" not in lines[0]


def test_small_samples_have_wide_intervals():
    small, large = proportion(7, 10), proportion(7000, 10_000)
    assert small.high - small.low > 0.4
    assert large.high - large.low < 0.02
    # Wilson stays inside [0, 1] where the normal interval would not
    assert proportion(10, 10).high == 1.0 and 0.6 < proportion(10, 10).low < 0.8


def test_balanced_accuracy_interval_covers_the_truth_about_95_percent():
    # Known class-wise rates: 90% of good applicants approved, 70% of bad ones rejected.
    rng = np.random.default_rng(0)
    truth, hits, draws = 0.5 * (0.9 + 0.7), 0, 300
    for _ in range(draws):
        good_approved = rng.binomial(400, 0.9)
        bad_rejected = rng.binomial(60, 0.7)
        est = accuracy(
            good_approved, 60 - bad_rejected, 400 - good_approved, bad_rejected, "balanced"
        )
        hits += est.low <= truth <= est.high
    assert 0.90 <= hits / draws <= 0.99


def _holdout_case():
    """A band chosen on validation, and a holdout on which the model separates less well:
    the band misses its target there."""
    validation = _scores(4000, 0, separation=2.0)
    band = choose_thresholds(*validation, 0.90, costs=Costs(10.0, 1.0, 0.3))
    risk, bad = _scores(4000, 1, separation=1.5)
    return band, risk, bad


def test_band_on_holdout_says_whether_it_meets_its_target():
    band, risk, bad = _holdout_case()
    result = band_on_holdout(band, risk, bad)
    assert result.status == MISSED and result.accuracy.high < 0.90
    assert result.shortfall == pytest.approx(0.90 - result.accuracy.value)
    assert f"missed the 0.90 target by {result.shortfall:.4f}" in describe_band(result)
    # on rows like its validation rows, the band meets it
    assert band_on_holdout(band, *_scores(4000, 2, separation=2.0)).status in (MET, WITHIN_NOISE)
    # a band that only approves has no balanced accuracy: it says so, and claims nothing
    only_approves = band_on_holdout(
        replace(band, approve_below=0.1, reject_above=1.0),
        np.array([0.01, 0.02, 0.5, 0.6]),
        np.array([False, False, True, False]),
    )
    assert only_approves.status == "not measurable"
    assert "balanced accuracy undefined on" in describe_band(only_approves)
    assert "the 0.90 target cannot be checked" in describe_band(only_approves)
    # a shortfall the interval still covers is noise, not a miss
    near = replace(result, accuracy=Estimate(0.895, 500, 0.87, 0.92))
    assert near.status == WITHIN_NOISE
    assert "0.0050 below the 0.90 target, within noise" in describe_band(near)


def test_summary_gates_and_report_state_the_same_numbers():
    band, risk, bad = _holdout_case()
    evaluation = evaluate_model(risk, bad, band)
    gates = evaluate_gates(evaluation, None, GateConfig(min_automation_rate=0.2))
    report = build_report(
        ReportInputs(
            model_name="credit-toy",
            version="1",
            run_id="r1",
            bad=bad,
            challenger_risk=risk,
            challenger=evaluation,
            thresholds=band,
            importance=pd.Series({"var_1": 1.0}),
            gates=gates,
            promoted=True,
        )
    )
    # the run summary reads the evaluation back from the champion_model JSON
    stored = Evaluation.from_dict(json.loads(json.dumps(evaluation.to_dict())))
    summary = summary_lines(automation_of_decisions({"approve": 3, "review": 1}), stored.band)[1]

    line = describe_band(evaluation.band)
    assert summary == f"review band on holdout: {line}"
    assert line in report.markdown
    assert re.sub(r"\s+", " ", line) in re.sub(r"\s+", " ", report.html.replace("&#39;", "'"))
    gate = next(g for g in gates if g.gate == MIN_AUTOMATION)
    assert gate.value == evaluation.band.automation.value
    assert describe_automation(evaluation.band.automation) in gate.message
    # the report never claims the target it missed
    assert "missed the 0.90 target" in report.markdown and "met the" not in report.markdown
