import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from credit_assets.core.features import FeatureBuilder
from credit_assets.core.synthetic import SyntheticSpec, draw, make_shapes
from credit_assets.core.training import CANDIDATES, TrainConfig, train

N_FEATURES = 20
COLS = [f"var_{j}" for j in range(N_FEATURES)]
# One thread: with two, OpenMP's spin-waiting makes LightGBM many times slower whenever other
# processes share the cores, and these tests only check what is learned, not how fast.
THREADS = 1


@pytest.fixture(scope="module")
def data():
    """6,000 rows x 20 features, split 70/15/15 in row order, with the true P(target | x)."""
    spec = SyntheticSpec(n_features=N_FEATURES, signal=0.15)
    sample = draw(6000, make_shapes(spec), spec, np.random.default_rng(3))
    frame = pd.DataFrame(sample.x, columns=COLS)
    a, b = 4200, 5100
    return {
        "train": (frame.iloc[:a], sample.y[:a]),
        "val": (frame.iloc[a:b], sample.y[a:b]),
        "hold": (frame.iloc[b:], sample.y[b:], sample.p_true[b:]),
    }


def _fit(data, config):
    builder = FeatureBuilder(numeric=COLS, categorical=[], frequency=[])
    return train(builder, *data["train"], *data["val"], config)


def test_default_candidates_learn_and_explain_every_score(data):
    model = _fit(data, TrainConfig(n_jobs=THREADS))
    x_hold, y_hold, p_true = data["hold"]
    auc = roc_auc_score(y_hold, model.predict_positive(x_hold))
    bayes = roc_auc_score(y_hold, p_true)
    assert model.candidate in TrainConfig().candidates
    assert auc > 0.70, f"holdout AUC {auc:.3f} (Bayes-optimal {bayes:.3f})"
    assert auc > bayes - 0.06
    # every score splits into per-feature contributions (the reason codes) and a baseline
    contrib = model.raw_contributions(model.build(x_hold))
    assert contrib.shape == (len(x_hold), N_FEATURES + 1)
    p_positive = 1 / (1 + np.exp(-contrib.sum(axis=1)))
    np.testing.assert_allclose(p_positive, model.predict_positive(x_hold), atol=1e-9)


def test_selection_keeps_the_best_validation_auc(data):
    config = TrainConfig(candidates=("default", "additive"), n_jobs=THREADS)
    model = _fit(data, config)
    assert set(model.validation_auc) == {"default", "additive"}
    assert model.candidate == max(model.validation_auc, key=model.validation_auc.get)
    x_val, y_val = data["val"]
    recomputed = roc_auc_score(y_val, model.predict_positive(x_val))
    assert recomputed == pytest.approx(model.validation_auc[model.candidate])
    assert model.params["candidate"] == model.candidate
    assert model.best_iteration >= 1


def test_every_default_candidate_is_known():
    assert set(TrainConfig().candidates) <= set(CANDIDATES)
    # the additive design, LightGBM's defaults and a glass-box linear model are all tried
    assert {"additive", "default", "linear"} <= set(TrainConfig().candidates)


def test_on_the_categorical_fixture_the_chosen_model_is_no_worse_than_a_logistic_regression():
    from bench.model_quality import LOANS_TOLERANCE, loans_comparison

    result = loans_comparison()
    assert set(result["validation_auc"]) == set(TrainConfig().candidates)
    reference = result["logistic_regression_holdout_auc"]
    assert result["chosen_holdout_auc"] >= reference - LOANS_TOLERANCE


def test_unknown_candidate_raises(data):
    with pytest.raises(ValueError, match="unknown model candidate"):
        TrainConfig().params("no-such-design")
    with pytest.raises(ValueError, match="unknown model candidate"):
        _fit(data, TrainConfig(candidates=("no-such-design",), n_jobs=THREADS))


def test_scoring_threads_follow_the_process_not_the_training(monkeypatch):
    """A model trained with two threads scores with the scoring process's OMP_NUM_THREADS."""
    from credit_assets.core.training import scoring_threads

    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    assert scoring_threads() == 1
    for unset in ("", "0", "auto"):
        monkeypatch.setenv("OMP_NUM_THREADS", unset)
        assert scoring_threads() is None
    monkeypatch.delenv("OMP_NUM_THREADS")
    assert scoring_threads() is None
