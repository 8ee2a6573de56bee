import numpy as np
import pytest

from credit_assets.core.thresholds import (
    APPROVE,
    REJECT,
    REVIEW,
    Thresholds,
    choose_thresholds,
    coverage_accuracy_curve,
    evaluate,
)


def _scores(n=20_000, seed=0, separation=2.0):
    rng = np.random.default_rng(seed)
    bad = rng.random(n) < 0.1
    logit = rng.normal(np.where(bad, separation / 2, -separation / 2), 1.0) - 2.0
    return 1 / (1 + np.exp(-logit)), bad


def test_chosen_band_meets_target_on_the_same_rows():
    risk, bad = _scores()
    th = choose_thresholds(risk, bad, 0.90)
    assert th.approve_below <= th.reject_above
    result = evaluate(th, risk, bad)
    assert result["accuracy"] >= 0.90
    assert result["coverage"] == pytest.approx(th.validation_coverage, abs=1e-3)
    assert 0.2 < th.validation_coverage < 1.0  # some rows go to review


def test_higher_target_automates_less():
    risk, bad = _scores()
    curve = coverage_accuracy_curve(risk, bad)
    assert curve["coverage"].is_monotonic_decreasing
    assert (
        curve["accuracy"].dropna() >= curve["target_accuracy"][curve["accuracy"].notna()] - 1e-12
    ).all()


def test_balanced_metric_does_not_reward_approving_everyone():
    # An uninformative score: plain accuracy is met by approving all (90% good),
    # balanced accuracy cannot be.
    rng = np.random.default_rng(0)
    bad = rng.random(5000) < 0.1
    risk = rng.random(5000)
    assert choose_thresholds(risk, bad, 0.85, "plain").validation_coverage == 1.0
    assert choose_thresholds(risk, bad, 0.85, "balanced").validation_coverage < 0.05


def test_decide_and_round_trip():
    th = Thresholds(0.2, 0.6, 0.9, "balanced", 0.5, 0.91)
    assert th.decide(np.array([0.1, 0.2, 0.5, 0.6, 0.7])).tolist() == [
        APPROVE,
        REVIEW,
        REVIEW,
        REVIEW,
        REJECT,
    ]
    assert Thresholds.from_dict(th.to_dict()) == th
    assert th.version.startswith("thr-")
    assert Thresholds(0.2, 0.61, 0.9, "balanced", 0.5, 0.91).version != th.version


def test_target_must_be_meaningful():
    risk, bad = _scores(1000)
    with pytest.raises(ValueError):
        choose_thresholds(risk, bad, 0.4)
