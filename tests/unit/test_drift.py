"""Drift of a batch against the training reference: alarms a user would act on, and silence
when nothing changed."""

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
from scipy.special import expit

from credit_assets.core.contract import load_contract
from credit_assets.core.drift import (
    DriftReference,
    HoldoutReference,
    build_reference,
    concept_drift,
    data_drift,
)
from credit_assets.core.errors import DriftError
from credit_assets.core.synthetic import SyntheticSpec, draw, make_shapes, true_logit
from credit_assets.core.thresholds import choose_thresholds
from tests.conftest import FIXTURES

SPEC = SyntheticSpec(n_features=20, signal=0.15, drift_features=(3, 7, 11))
SHAPES = make_shapes(SPEC)
CONTRACT = load_contract()
COLUMNS = [f"var_{j}" for j in range(SPEC.n_features)]


def _frame(sample) -> pd.DataFrame:
    frame = pd.DataFrame(np.round(sample.x, 4), columns=COLUMNS)
    frame["target"] = sample.y
    return frame


def _risk(frame: pd.DataFrame) -> np.ndarray:
    """The champion's risk: the true P(bad | x) before any concept drift."""
    return expit(true_logit(frame[COLUMNS].to_numpy(), SHAPES, SPEC.positive_rate))


def _batch(n: int, seed: int, spec: SyntheticSpec = SPEC, **drift: bool) -> pd.DataFrame:
    return _frame(draw(n, SHAPES, spec, np.random.default_rng(seed), **drift))


@pytest.fixture(scope="module")
def reference() -> DriftReference:
    train, holdout = _batch(30_000, 1), _batch(10_000, 2)
    bad, risk = holdout["target"].to_numpy() == 1, _risk(holdout)
    figures = HoldoutReference.compute(bad, risk, choose_thresholds(risk, bad))
    return build_reference(train, CONTRACT, _risk(train), holdout=figures)


def test_no_drift_no_alarm(reference):
    batch = _batch(10_000, 3)
    report = data_drift(reference, batch, _risk(batch))
    assert not report.drifted and report.drifted_features == []
    assert set(report.features["psi_band"]) == {"stable"}
    assert report.summary().startswith("no drift: 0/20 features drifted")
    assert not concept_drift(reference, batch, _risk(batch)).drifted


def test_a_shift_raises_the_alarm_naming_the_shifted_features_first(reference):
    spec = replace(SPEC, feature_drift_shift=0.3)
    batch = _batch(10_000, 4, spec, feature_shift=True)
    report = data_drift(reference, batch, _risk(batch))
    assert report.drifted
    assert set(report.top(3)["feature"]) == {"var_3", "var_7", "var_11"}
    assert report.drifted_features[:3] == report.top(3)["feature"].tolist()
    assert report.summary().startswith("DRIFT: ")
    # the score moves with its inputs: the champion sees a different population
    assert [s.name for s in report.signals if s.drifted] == ["score"]


def test_a_variance_change_alone_is_found(reference):
    spec = replace(SPEC, feature_drift_shift=0.0, feature_drift_scale=1.3)
    batch = _batch(10_000, 5, spec, feature_shift=True)
    report = data_drift(reference, batch)
    assert set(report.drifted_features) == {"var_3", "var_7", "var_11"}


def test_concept_drift_with_unchanged_features(reference):
    batch = _batch(10_000, 6, concept_change=True)
    scores = _risk(batch)
    assert not data_drift(reference, batch, scores).drifted
    report = concept_drift(reference, batch, scores)
    assert report.drifted and report.relationship_changed
    assert set(report.changed_features) <= {"var_3", "var_7", "var_11"}
    # the champion's realised AUC fell below what it showed on its holdout
    auc = report.check("auc")
    assert auc.high < reference.holdout.auc and auc.fired
    assert "label-feature relationship changed" in report.summary()


def test_auc_interval_narrows_with_the_batch_size(reference):
    widths = []
    for rows in (1_000, 10_000):
        batch = _batch(rows, 7)
        auc = concept_drift(reference, batch, _risk(batch)).check("auc")
        assert auc.low < reference.holdout.auc < auc.high
        widths.append(auc.high - auc.low)
    assert 2.5 < widths[0] / widths[1] < 4.0  # about sqrt(10)


def test_categorical_drift_and_unseen_levels():
    contract = load_contract(FIXTURES / "loans.yaml")
    rng = np.random.default_rng(0)
    levels = ["salaried", "self_employed", "contractor", "unemployed"]

    def loans(n: int, shares: list[float], regions: list[str]) -> pd.DataFrame:
        return pd.DataFrame(
            {
                "application_id": np.arange(n),
                "applied_on": "2026-11-01",
                "repaid": rng.integers(0, 2, n),
                "income": rng.lognormal(8, 0.5, n),
                "age": rng.integers(18, 80, n),
                "employment": rng.choice(levels, n, p=shares),
                "region": rng.choice(regions, n),
            }
        )

    reference = build_reference(loans(20_000, [0.6, 0.2, 0.15, 0.05], ["north", "south"]), contract)
    same = data_drift(reference, loans(5_000, [0.6, 0.2, 0.15, 0.05], ["north", "south"]))
    assert not same.drifted
    moved = data_drift(reference, loans(5_000, [0.45, 0.2, 0.3, 0.05], ["north", "south", "east"]))
    assert set(moved.drifted_features) == {"employment", "region"}
    employment = moved.features.set_index("feature").loc["employment"]
    assert employment["test"] == "chi2" and employment["psi_band"] in {"moderate", "significant"}


def test_reference_survives_storage(reference, tmp_path):
    path = tmp_path / "drift_reference.json"
    reference.save(path)
    batch = _batch(5_000, 8)
    stored = DriftReference.load(path)
    assert data_drift(stored, batch).to_dict() == data_drift(reference, batch).to_dict()
    assert concept_drift(stored, batch, _risk(batch)).summary() == (
        concept_drift(reference, batch, _risk(batch)).summary()
    )


def test_user_mistakes_are_one_line(reference):
    batch = _batch(1_000, 9)
    with pytest.raises(DriftError, match="lacks columns of the drift reference: var_5"):
        data_drift(reference, batch.drop(columns=["var_5"]))
    with pytest.raises(DriftError, match="999 scores for 1000 rows"):
        data_drift(reference, batch, _risk(batch)[1:])
    with pytest.raises(DriftError, match="needs good and bad outcomes"):
        concept_drift(reference, batch.assign(target=0), _risk(batch))


def test_drift_plot_is_a_png(reference):
    from credit_assets.core.plots import drift_png

    spec = replace(SPEC, feature_drift_shift=0.3)
    report = data_drift(reference, _batch(5_000, 10, spec, feature_shift=True))
    assert drift_png(report.top(10)).startswith(b"\x89PNG")


def _miscalibrated(frame: pd.DataFrame) -> np.ndarray:
    """A champion that ranks well but overstates risk, as much on its holdout as later."""
    logit = true_logit(frame[COLUMNS].to_numpy(), SHAPES, SPEC.positive_rate)
    return expit(0.8 * logit + 0.4)


def test_calibration_is_judged_against_the_holdout_not_the_diagonal():
    train, holdout = _batch(30_000, 11), _batch(10_000, 12)
    bad, risk = holdout["target"].to_numpy() == 1, _miscalibrated(holdout)
    figures = HoldoutReference.compute(bad, risk, choose_thresholds(risk, bad))
    reference = build_reference(train, CONTRACT, _miscalibrated(train), holdout=figures)
    assert figures.ece > 0.03  # clearly off the diagonal: Hosmer-Lemeshow would always fire
    # clean batches: the calibration check fires at most at the bench's false-alarm level (1%)
    clean = [_batch(2_000, 100 + b) for b in range(100)]
    p = [concept_drift(reference, b, _miscalibrated(b)).check("ece").p_value for b in clean]
    assert sum(v < 0.001 for v in p) <= 1
    assert 0.3 < np.median(p) < 0.7  # p-values of a true null are about uniform
    # under concept drift the bad-outcome rate per score bin moves away from the holdout's
    drifted = _batch(10_000, 13, concept_change=True)
    report = concept_drift(reference, drifted, _miscalibrated(drifted))
    assert report.drifted and report.check("ece").p_value < 0.001


def test_a_categorical_feature_that_changes_its_meaning_is_found():
    contract = load_contract(FIXTURES / "loans.yaml")
    rng = np.random.default_rng(1)
    levels = ["salaried", "self_employed", "contractor"]

    def loans(n: int, bad_rate: dict[str, float]) -> pd.DataFrame:
        employment = rng.choice(levels, n)
        repaid = rng.random(n) >= pd.Series(employment).map(bad_rate).to_numpy()
        return pd.DataFrame(
            {
                "application_id": np.arange(n),
                "applied_on": "2026-11-01",
                "repaid": repaid.astype(int),
                "income": rng.lognormal(8, 0.5, n),
                "age": rng.integers(18, 80, n),
                "employment": employment,
                "region": rng.choice(["north", "south"], n),
            }
        )

    before = {"salaried": 0.05, "self_employed": 0.15, "contractor": 0.10}
    train, holdout = loans(20_000, before), loans(5_000, before)
    risk_of = pd.Series(before)  # the champion knows the old bad rates

    def risk(frame: pd.DataFrame) -> np.ndarray:
        return frame["employment"].map(risk_of).to_numpy() + rng.normal(0, 0.01, len(frame))

    bad = holdout["repaid"].to_numpy() == 0
    figures = HoldoutReference.compute(bad, risk(holdout), choose_thresholds(risk(holdout), bad))
    reference = build_reference(train, contract, risk(train), holdout=figures)
    same = loans(5_000, before)
    assert "employment" not in concept_drift(reference, same, risk(same)).changed_features
    # the same levels, the same shares: only what they say about repaying has changed
    swapped = loans(5_000, {"salaried": 0.15, "self_employed": 0.05, "contractor": 0.10})
    assert not data_drift(reference, swapped).drifted
    report = concept_drift(reference, swapped, risk(swapped))
    assert report.changed_features == ["employment"]
    row = report.relationship.set_index("feature").loc["employment"]
    assert row["kind"] == "categorical" and np.sign(row["gap"]) != np.sign(row["reference_gap"])


def test_a_feature_that_goes_missing_more_often_drifts(reference):
    batch = _batch(5_000, 14)
    # values missing at random: the rest keep their distribution, so only the share can tell
    gone = batch.assign(var_5=batch["var_5"].mask(np.random.default_rng(0).random(5_000) < 0.05))
    report = data_drift(reference, gone)
    assert report.drifted_features == ["var_5"]
    assert report.top(1)["missing"].item() == pytest.approx(0.05, abs=0.01)
    # a reference with missing values: the same share later raises nothing
    holey = build_reference(
        _batch(30_000, 15).assign(var_5=lambda f: f["var_5"].mask(f.index % 20 == 0)),
        CONTRACT,
    )
    assert holey.missing["var_5"] == 1_500 and holey.missing["var_4"] == 0
    assert not data_drift(holey, gone).drifted
