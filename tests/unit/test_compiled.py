"""Compiled additive models give LightGBM's own scores and contributions, row for row."""

import lightgbm as lgb
import numpy as np
import pandas as pd
import pytest

from credit_assets.core.compiled import compile_booster
from credit_assets.core.contract import DatasetContract
from credit_assets.core.features import FeatureBuilder
from credit_assets.core.training import CANDIDATES, LINEAR, TrainConfig, train

EXACT = 1e-9


def _contract() -> DatasetContract:
    return DatasetContract.model_validate(
        {
            "name": "toy",
            "id_column": "id",
            "target": {"column": "y", "positive_means": "default"},
            "features": [
                {"pattern": "x[0-9]", "type": "numeric", "nullable": True},
                {"name": "city", "type": "categorical", "frequency": True, "nullable": True},
            ],
        }
    )


def _data(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({f"x{i}": rng.normal(size=n).round(3) for i in range(5)})
    frame["city"] = rng.choice(["tokyo", "osaka", "nagoya", "sendai"], n, p=[0.5, 0.3, 0.15, 0.05])
    frame.loc[rng.random(n) < 0.05, "x3"] = np.nan
    frame.loc[rng.random(n) < 0.03, "city"] = None
    frame.loc[rng.random(n) < 0.05, "x4"] = 0.0
    logit = (
        1.5 * frame["x1"]
        - np.abs(frame["x2"])
        + np.where(frame["city"] == "nagoya", 1.0, 0.0)
        + np.where(frame["x3"].isna(), 0.8, 0.0)
        - 1.5
    )
    frame["y"] = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    return frame


@pytest.fixture(scope="module")
def split():
    data = _data(4000, 0)
    test = _data(1500, 1)
    test.loc[test.index[:40], "city"] = "fukuoka"  # a level never seen in training
    return data.iloc[:3000], data.iloc[3000:], test


def _fit(split, candidate):
    train_rows, val_rows, _ = split
    builder = FeatureBuilder.from_contract(_contract(), list(train_rows.columns))
    config = TrainConfig(
        candidates=(candidate,), max_rounds=400, early_stopping_rounds=50, n_jobs=1
    )
    return train(
        builder, train_rows, train_rows["y"].to_numpy(), val_rows, val_rows["y"].to_numpy(), config
    )


def _lgbm_reference(booster: lgb.Booster, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return booster.predict(x, raw_score=True), booster.predict(x, pred_contrib=True)


def _assert_exact(compiled, rows: np.ndarray, booster: lgb.Booster) -> None:
    """Scores and contributions equal LightGBM's, for the whole batch and for a few rows at
    a time (the real-time path's look-up)."""
    raw, contrib = _lgbm_reference(booster, rows)
    np.testing.assert_allclose(compiled.contributions(rows), contrib, rtol=0, atol=EXACT)
    np.testing.assert_allclose(compiled.raw_score(rows), raw, rtol=0, atol=EXACT)
    few = np.vstack([compiled.contributions(rows[i : i + 3]) for i in range(0, len(rows), 3)])
    np.testing.assert_allclose(few, contrib, rtol=0, atol=EXACT)


@pytest.mark.parametrize("candidate", list(CANDIDATES))
def test_every_additive_candidate_scores_and_explains_exactly(split, candidate):
    model = _fit(split, candidate)
    if candidate == "default":  # trees over several features: LightGBM's own path
        assert model.compiled is None
        return
    assert model.compiled is not None, f"{candidate} should compile"
    built = np.asarray(model.build(split[2]), dtype=np.float64)
    compiled = model.compiled.contributions(built)
    estimator = model.pipeline.named_steps["model"]
    if candidate == LINEAR:
        raw = estimator.decision_function(model.builder.transform(split[2]))
        np.testing.assert_allclose(compiled.sum(axis=1), raw, rtol=0, atol=EXACT)
        few = [model.compiled.contributions(built[i : i + 3]) for i in range(0, len(built), 3)]
        np.testing.assert_allclose(np.vstack(few), compiled, rtol=0, atol=EXACT)
        return
    _assert_exact(model.compiled, built, estimator.booster_)
    # and the probability the pipeline reports is LightGBM's
    np.testing.assert_allclose(
        model.predict_positive(split[2]),
        estimator.predict_proba(model.builder.transform(split[2]))[:, 1],
        rtol=0,
        atol=EXACT,
    )


def test_linear_contributions_are_weight_times_distance_from_the_training_mean(split):
    model = _fit(split, LINEAR)
    built = np.asarray(model.build(split[2]), dtype=np.float64)
    contrib = model.compiled.contributions(built)
    # moving one numeric feature moves its own contribution only, by slope x distance
    moved = built.copy()
    moved[:, 1] += 1.0
    delta = model.compiled.contributions(moved) - contrib
    assert np.allclose(np.delete(delta, 1, axis=1), 0.0)
    assert np.allclose(delta[:, 1], delta[0, 1]) and delta[0, 1] != 0
    # on training rows every feature's contribution averages zero (SHAP's baseline)
    train_built = np.asarray(model.build(split[0]), dtype=np.float64)
    assert np.abs(model.compiled.contributions(train_built)[:, :-1].mean(axis=0)).max() < 1e-9


def _booster(x: np.ndarray, y: np.ndarray, **params) -> lgb.Booster:
    base = {"objective": "binary", "verbose": -1, "num_threads": 1, "min_data_in_leaf": 20}
    return lgb.train({**base, **params}, lgb.Dataset(x, y), num_boost_round=150)


def _edge_rows(booster: lgb.Booster, x: np.ndarray) -> np.ndarray:
    """Test rows plus every split threshold, one ulp either side, zeros, tiny values, NaN."""
    dump = booster.dump_model()
    points = {
        (n["split_feature"], float(n["threshold"]))
        for t in dump["tree_info"]
        for n in _nodes(t["tree_structure"])
        if n.get("decision_type") == "<="
    }
    rows = [x]
    for j, t in points:
        for v in (t, np.nextafter(t, -np.inf), np.nextafter(t, np.inf)):
            row = x[:1].copy()
            row[0, j] = v
            rows.append(row)
    specials = np.array([0.0, -0.0, 1e-36, -1e-36, 1e-35, -1e-35, 3e-35, np.nan, np.inf, -np.inf])
    rows.append(np.repeat(specials[:, None], x.shape[1], axis=1))
    return np.vstack(rows)


def _nodes(node):
    yield node
    if "split_feature" in node:
        yield from _nodes(node["left_child"])
        yield from _nodes(node["right_child"])


@pytest.mark.parametrize(
    "params",
    [
        {"num_leaves": 2},
        {"num_leaves": 2, "zero_as_missing": True},
        {"num_leaves": 2, "use_missing": False},
        # deeper trees, each held to one feature
        {"num_leaves": 6, "interaction_constraints": [[0], [1], [2], [3]]},
    ],
    ids=["stumps", "zero-as-missing", "no-missing", "one-feature-trees"],
)
def test_numerical_splits_match_at_every_threshold_and_special_value(params):
    rng = np.random.default_rng(4)
    x = rng.normal(size=(3000, 4)).round(2)
    x[rng.random(3000) < 0.1, 0] = np.nan
    x[rng.random(3000) < 0.2, 1] = 0.0
    y = (rng.random(3000) < 1 / (1 + np.exp(-(x[:, 1] + np.nan_to_num(x[:, 0], nan=2))))).astype(
        int
    )
    booster = _booster(x, y, **params)
    compiled = compile_booster(booster)
    assert compiled is not None
    _assert_exact(compiled, _edge_rows(booster, x[:500]), booster)


def test_categorical_splits_match_for_every_code_unseen_negative_and_missing():
    rng = np.random.default_rng(5)
    codes = rng.integers(0, 12, size=3000).astype(float)
    x = np.column_stack([codes, rng.normal(size=3000)])
    y = (rng.random(3000) < np.where(np.isin(codes, [1, 4, 7]), 0.6, 0.2)).astype(int)
    booster = lgb.train(
        {"objective": "binary", "verbose": -1, "num_leaves": 2, "min_data_per_group": 10},
        lgb.Dataset(x, y, categorical_feature=[0]),
        num_boost_round=100,
    )
    compiled = compile_booster(booster)
    assert compiled is not None and 0 in compiled.steps
    probe = np.arange(-3, 16, 0.5)
    rows = np.column_stack([np.append(probe, np.nan), np.zeros(len(probe) + 1)])
    _assert_exact(compiled, rows, booster)


def test_a_model_with_trees_over_several_features_is_not_compiled():
    rng = np.random.default_rng(6)
    x = rng.normal(size=(2000, 3))
    y = (x[:, 0] * x[:, 1] > 0).astype(int)
    assert compile_booster(_booster(x, y, num_leaves=8)) is None


@pytest.mark.parametrize("candidate", ["additive", LINEAR])
def test_feature_importance_ranks_the_strongest_feature_first(split, candidate):
    importance = _fit(split, candidate).feature_importance()
    assert list(importance.index) == ["x0", "x1", "x2", "x3", "x4", "city", "city__freq"]
    assert (importance >= 0).all()
    assert importance.idxmax() == "x1"  # the largest term of the true log-odds
