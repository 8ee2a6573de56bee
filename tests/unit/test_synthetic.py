import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from credit_assets.core.synthetic import SyntheticSpec, draw, generate, make_shapes
from tests.conftest import START, small_spec


def test_layout_and_truth_beside_the_data(tmp_path):
    counts = generate(tmp_path, small_spec(days=3, outcome_lag_days=1, rows_per_day=100))
    train = pd.read_csv(tmp_path / "history" / "train.csv")
    assert list(train.columns[:3]) == ["ID_code", "target", "var_0"]
    assert train.columns[-2:].tolist() == ["var_89", "gender"]
    apps = sorted(p.name for p in (tmp_path / "applications").glob("*.csv"))
    assert apps == ["2026-11-01.csv", "2026-11-02.csv", "2026-11-03.csv"]
    day = pd.read_csv(tmp_path / "applications" / "2026-11-01.csv")
    assert "target" not in day.columns and "p_true" not in day.columns
    # outcomes of day d arrive on d+1; the last day's have not arrived yet
    outs = sorted(p.name for p in (tmp_path / "outcomes").glob("*.csv"))
    assert outs == ["2026-11-02.csv", "2026-11-03.csv"]
    arrived = pd.read_csv(tmp_path / "outcomes" / "2026-11-02.csv")
    assert set(arrived["ID_code"]) == set(day["ID_code"])
    assert counts == {"history": 4000, "applications": 300, "outcomes": 200}
    truth = pd.read_csv(tmp_path / "truth" / "history.csv")
    assert truth["ID_code"].tolist() == train["ID_code"].tolist()


def test_santander_like_statistics():
    spec = SyntheticSpec()
    sample = draw(60_000, make_shapes(spec), spec, np.random.default_rng(0))
    assert 0.09 < sample.y.mean() < 0.11
    bayes = roc_auc_score(sample.y, sample.p_true)
    assert 0.90 < bayes < 0.93  # the real set's optimum is about 0.916
    # calibrated truth: mean predicted equals observed rate
    assert abs(sample.p_true.mean() - sample.y.mean()) < 0.01
    rule_hits = (sample.x[:, 81] < 8.0).mean()
    assert 0.005 < rule_hits < 0.05


def test_same_seed_same_data(tmp_path):
    generate(tmp_path / "a", small_spec(days=1))
    generate(tmp_path / "b", small_spec(days=1))
    a = (tmp_path / "a" / "history" / "train.csv").read_bytes()
    assert a == (tmp_path / "b" / "history" / "train.csv").read_bytes()


def test_feature_drift_moves_features_not_the_relationship():
    spec = SyntheticSpec(drift_features=(0, 1), feature_drift_shift=2.0)
    shapes = make_shapes(spec)
    base = draw(20_000, shapes, spec, np.random.default_rng(0))
    shifted = draw(20_000, shapes, spec, np.random.default_rng(0), feature_shift=True)
    moved = (shifted.x[:, 0].mean() - base.x[:, 0].mean()) / shapes[0].scale
    assert 1.8 < moved < 2.2
    assert abs(shifted.x[:, 5].mean() - base.x[:, 5].mean()) < 0.1 * shapes[5].scale


def test_concept_drift_changes_labels_given_features():
    spec = SyntheticSpec(drift_features=tuple(range(40)))
    shapes = make_shapes(spec)
    drifted = draw(30_000, shapes, spec, np.random.default_rng(0), concept_change=True)
    from credit_assets.core.synthetic import true_logit

    old_view = true_logit(drifted.x, shapes, spec.positive_rate)
    # the pre-drift scorer is much worse on post-drift labels than the truth is
    assert roc_auc_score(drifted.y, old_view) < roc_auc_score(drifted.y, drifted.p_true) - 0.05


def test_start_date_is_used(tmp_path):
    generate(tmp_path, small_spec(days=1, start=START))
    assert (tmp_path / "applications" / f"{START.isoformat()}.csv").exists()


def test_injected_bias_makes_a_gender_proxy_and_biased_labels():
    spec = SyntheticSpec(n_features=30, bias=0.2)
    sample = draw(40_000, make_shapes(spec), spec, np.random.default_rng(0))
    female = sample.gender == "F"
    # 20% of F's good outcomes recorded as bad: about 0.28 bad against 0.10
    assert sample.y[female].mean() > sample.y[~female].mean() + 0.15
    assert roc_auc_score(female, sample.x[:, spec.bias_feature]) > 0.9
    for group in (female, ~female):  # the truth stays calibrated within each group
        assert abs(sample.p_true[group].mean() - sample.y[group].mean()) < 0.01
    with pytest.raises(ValueError, match="bias"):
        SyntheticSpec(bias=1.0)


def test_a_share_of_features_drifts_in_mean_and_spread():
    spec = SyntheticSpec(drift_share=0.05, feature_drift_shift=0.0, feature_drift_scale=1.5)
    shapes = make_shapes(spec)
    base = draw(5_000, shapes, spec, np.random.default_rng(0))
    drifted = draw(5_000, shapes, spec, np.random.default_rng(0), feature_shift=True)
    widened = np.flatnonzero(drifted.x.std(axis=0) > 1.2 * base.x.std(axis=0))
    assert len(widened) == 10 and widened.min() == 0 and widened.max() == 199
