import pickle

import numpy as np
import pytest

from credit_assets.core.figures import band_on_holdout
from credit_assets.core.thresholds import (
    APPROVE,
    REJECT,
    REVIEW,
    Costs,
    Thresholds,
    choose_band,
    choose_thresholds,
    choose_thresholds_by_cost,
    cost_curve,
    coverage_accuracy_curve,
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
    result = band_on_holdout(th, risk, bad)
    assert result.accuracy.value == pytest.approx(th.validation_accuracy)
    assert result.accuracy.value >= 0.90 and result.status == "met"
    assert result.automation.value == pytest.approx(th.validation_coverage, abs=1e-3)
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


def test_bands_stored_before_the_cost_policy_still_load_with_their_version():
    # A band as registered models stored it: the old fields only, version thr-64e9c66a56.
    old = {
        "approve_below": 0.2,
        "reject_above": 0.6,
        "target_accuracy": 0.9,
        "metric": "balanced",
        "validation_coverage": 0.5,
        "validation_accuracy": 0.91,
        "version": "thr-64e9c66a56",
    }
    th = Thresholds.from_dict(old)
    assert th.policy == "accuracy" and th.costs is None
    assert th.version == "thr-64e9c66a56"
    # an old pickled pipeline holds a Thresholds whose __dict__ lacks the new fields
    unpickled = pickle.loads(pickle.dumps(th))
    for name in ("policy", "cost_bad_approved", "cost_good_rejected", "cost_review"):
        del unpickled.__dict__[name]
    del unpickled.__dict__["validation_cost"]
    assert unpickled.policy == "accuracy" and unpickled.costs is None
    assert unpickled.version == "thr-64e9c66a56"
    assert unpickled.decide(np.array([0.1, 0.7])).tolist() == [APPROVE, REJECT]


def test_cost_band_is_the_cheapest_and_follows_the_costs():
    risk, bad = _scores()
    th = choose_thresholds_by_cost(risk, bad, 10.0, 1.0, 0.3)
    assert th.policy == "cost" and th.target_accuracy is None
    assert th.costs == Costs(10.0, 1.0, 0.3)
    # no band on the grid is cheaper: the curve's minimum is the chosen band's cost
    curve = cost_curve(risk, bad, th.costs)
    assert th.validation_cost == pytest.approx(curve["cost"].min())
    assert th.validation_cost < 0.3  # cheaper than reviewing everything
    # approving a bad applicant costs more: fewer approvals
    dearer = choose_thresholds_by_cost(risk, bad, 40.0, 1.0, 0.3)
    assert dearer.approve_below < th.approve_below
    # reviews cost more: more automation
    assert choose_thresholds_by_cost(risk, bad, 10.0, 1.0, 0.9).validation_coverage > (
        th.validation_coverage
    )
    # free reviews: only error-free automation is as cheap, and among equal costs the band
    # that automates most wins
    free = choose_thresholds_by_cost(risk, bad, 10.0, 1.0, 0.0)
    assert free.validation_cost == pytest.approx(0.0) and free.validation_coverage > 0
    assert not bad[free.decide(risk) == APPROVE].any()


def test_cost_band_version_depends_on_costs_and_not_on_their_spelling():
    risk, bad = _scores(4000)
    a = choose_thresholds_by_cost(risk, bad, 10, 1, 0.5)
    assert a.version == choose_thresholds_by_cost(risk, bad, 10.0, 1.0, 0.5).version
    b = Thresholds.from_dict({**a.to_dict(), "cost_review": 0.6})
    assert b.version != a.version
    assert Thresholds.from_dict(a.to_dict()) == a


def test_choose_band_by_policy():
    risk, bad = _scores(4000)
    costs = Costs(10.0, 1.0, 0.3)
    by_accuracy = choose_band(risk, bad, "accuracy", 0.9, "balanced", costs)
    assert by_accuracy.policy == "accuracy" and by_accuracy.validation_accuracy >= 0.9
    # the accuracy band records what it costs, but its version ignores the costs
    assert by_accuracy.costs == costs and by_accuracy.validation_cost is not None
    assert by_accuracy.version == choose_thresholds(risk, bad, 0.9).version
    assert choose_band(risk, bad, "cost", 0.9, "balanced", costs).policy == "cost"
    with pytest.raises(ValueError, match="three costs"):
        choose_band(risk, bad, "cost", 0.9, "balanced", None)
    with pytest.raises(ValueError, match="negative"):
        Costs(-1.0, 1.0, 0.3)
