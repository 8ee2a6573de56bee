import numpy as np
import pandas as pd

from credit_assets.core.features import FeatureBuilder


def _frame(n=200, seed=0):
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "x": rng.normal(size=n),
            "city": rng.choice(["tokyo", "osaka", "nagoya"], size=n, p=[0.6, 0.3, 0.1]),
        }
    )


def _builder():
    return FeatureBuilder(numeric=["x"], categorical=["city"], frequency=["city"])


def test_learned_state_and_transform():
    train = _frame()
    fb = _builder().fit(train)
    assert fb.levels_["city"][0] == "tokyo"  # most frequent first
    out = fb.transform(pd.DataFrame({"x": [1e9, -1e9], "city": ["osaka", "kyoto"]}))
    assert list(out.columns) == ["x", "city", "city__freq"]
    assert out["x"].iloc[0] == np.float32(fb.clip_high_[0])  # clipped to training range
    assert out["x"].iloc[1] == np.float32(fb.clip_low_[0])
    assert out["city"].iloc[0] == fb.levels_["city"].index("osaka")
    assert np.isnan(out["city"].iloc[1])  # unseen level
    assert out["city__freq"].iloc[1] == 0.0
    share = (train["city"] == "osaka").mean()
    assert abs(out["city__freq"].iloc[0] - share) < 1e-6


def test_fit_does_not_mutate_input_and_is_deterministic():
    train = _frame()
    before = train.copy()
    a, b = _builder().fit(train), _builder().fit(train)
    pd.testing.assert_frame_equal(train, before)
    assert a.state_fingerprint() == b.state_fingerprint()


def test_state_depends_only_on_training_rows():
    train, other = _frame(seed=1), _frame(seed=2)
    fitted = _builder().fit(train)
    fitted.transform(other)  # transforming new rows changes nothing learned
    assert fitted.state_fingerprint() == _builder().fit(train).state_fingerprint()
    assert _builder().fit(other).state_fingerprint() != fitted.state_fingerprint()


def test_fitted_state_ignores_validation_and_holdout_rows():
    from credit_assets.core.contract import load_contract
    from credit_assets.core.dataset import HOLDOUT, SPLIT, TRAIN, VALIDATION
    from credit_assets.core.features import fit_feature_builder

    rng = np.random.default_rng(3)
    n = 300
    table = pd.DataFrame({"ID_code": [f"r{i}" for i in range(n)], "target": rng.integers(0, 2, n)})
    for j in range(4):
        table[f"var_{j}"] = rng.normal(size=n)
    table[SPLIT] = [TRAIN] * 200 + [VALIDATION] * 50 + [HOLDOUT] * 50
    contract = load_contract()
    state = fit_feature_builder(table, contract).state_fingerprint()
    changed = table.copy()
    later = changed[SPLIT] != TRAIN
    changed.loc[later, "var_0"] = 1e6  # wild values outside train
    changed.loc[later, "var_1"] = -changed.loc[later, "var_1"] * 50
    assert fit_feature_builder(changed, contract).state_fingerprint() == state
    changed.loc[0, "var_0"] = 1e6  # one training row does change it
    assert fit_feature_builder(changed, contract).state_fingerprint() != state
