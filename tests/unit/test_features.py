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
