"""Reason codes: contributions add up to the raw score, and reasons point the right way."""

import numpy as np
import pandas as pd
import pytest

from credit_assets.core.contract import DatasetContract
from credit_assets.core.features import FeatureBuilder
from credit_assets.core.pipeline import DecisionPipeline
from credit_assets.core.reasons import (
    EXPECTED_VALUE,
    contributions,
    explain,
    training_medians,
    word_reason,
)
from credit_assets.core.thresholds import APPROVE, REJECT, REVIEW, Thresholds
from credit_assets.core.training import TrainConfig, train


def _contract(positive_means="default", reason_texts=None):
    return DatasetContract.model_validate(
        {
            "name": "toy",
            "id_column": "id",
            "target": {"column": "y", "positive_means": positive_means},
            "features": [
                {"pattern": "x[0-9]", "type": "numeric", "nullable": True},
                {"name": "city", "type": "categorical", "frequency": True},
            ],
            "rules": [
                {"id": "T1", "column": "x0", "op": ">", "value": 3.0, "reason": "x0 too high"}
            ],
            "reason_texts": reason_texts or [],
        }
    )


def _data(n=3000, seed=0):
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({f"x{i}": rng.normal(size=n) for i in range(5)})
    frame["city"] = rng.choice(["tokyo", "osaka", "nagoya"], size=n, p=[0.6, 0.3, 0.1])
    frame.loc[rng.random(n) < 0.05, "x3"] = np.nan
    logit = 1.5 * frame["x1"] - 1.0 * frame["x2"] + np.where(frame["city"] == "nagoya", 1, 0) - 2
    frame["y"] = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    frame.insert(0, "id", [f"r{i}" for i in range(n)])
    return frame


@pytest.fixture(scope="module")
def fitted():
    contract = _contract()
    data = _data()
    train_rows, val_rows = data.iloc[:2000], data.iloc[2000:]
    builder = FeatureBuilder.from_contract(contract, list(data.columns))
    model = train(
        builder,
        train_rows,
        train_rows["y"].to_numpy(),
        val_rows,
        val_rows["y"].to_numpy(),
        TrainConfig(candidates=("additive", "default"), max_rounds=300, early_stopping_rounds=50),
    )
    medians = training_medians(builder.transform(train_rows), builder.feature_names_out_)
    return contract, data, model, medians


def test_contributions_add_up_to_the_raw_score(fitted):
    _, data, model, _ = fitted
    contrib = contributions(model, data)
    clf = model.pipeline.named_steps["model"]
    built = model.pipeline.named_steps["features"].transform(data)
    raw = clf.predict(built, raw_score=True)
    np.testing.assert_allclose(contrib.sum(axis=1).to_numpy(), raw, rtol=1e-6, atol=1e-6)
    assert EXPECTED_VALUE in contrib.columns
    # and the raw score is the model's probability on the log-odds scale
    proba = model.predict_positive(data)
    np.testing.assert_allclose(1 / (1 + np.exp(-raw)), proba, rtol=1e-6, atol=1e-9)


def test_reasons_push_towards_the_decision(fitted):
    contract, data, model, medians = fitted
    rows = data.iloc[:300]
    decisions = np.array([APPROVE, REJECT, REVIEW] * 100)
    reasons = explain(model, contract, rows, decisions, medians)
    contrib = contributions(model, rows)
    with_reasons = 0
    for i, decision in enumerate(decisions):
        got = reasons.iloc[i]
        values = [got[f"contribution_{k}"] for k in range(1, 5)]
        present = [v for v in values if not np.isnan(v)]
        with_reasons += bool(present)  # none when no feature pushed towards the decision
        if decision == APPROVE:
            assert all(v < 0 for v in present)  # lowered the risk
            assert present == sorted(present)  # strongest first
        else:
            assert all(v > 0 for v in present)  # raised the risk
            assert present == sorted(present, reverse=True)
        for k, v in enumerate(values, start=1):
            name = got[f"reason_{k}"]
            if np.isnan(v):
                assert name == "" and got[f"reason_text_{k}"] == ""
            else:
                assert contrib.iloc[i][name] == pytest.approx(v)
                assert got[f"reason_text_{k}"]
    assert with_reasons > 0.8 * len(decisions)


def test_positive_class_meaning_flips_the_risk_direction(fitted):
    _, data, model, medians = fitted
    rows = data.iloc[:50]
    decisions = np.array([REJECT] * 50)
    default = explain(model, _contract("default"), rows, decisions, medians)
    approve = explain(model, _contract("approve"), rows, decisions, medians)
    contrib = contributions(model, rows)
    for i in range(50):
        for reasons, sign in ((default, 1), (approve, -1)):
            name = reasons.iloc[i]["reason_1"]
            if name:
                assert reasons.iloc[i]["contribution_1"] == pytest.approx(
                    sign * contrib.iloc[i][name]
                )
                assert sign * contrib.iloc[i][name] > 0


def test_reason_texts_from_the_contract():
    contract = _contract(
        reason_texts=[
            {"name": "x1", "high": "x1 is {value:.1f}, above the usual {median:.1f}"},
            {"pattern": "x[0-9]", "text": "{feature} is {direction}"},
        ]
    )
    assert word_reason(contract, "x1", 2.0, 0.5) == "x1 is 2.0, above the usual 0.5"
    assert word_reason(contract, "x1", 0.0, 0.5) == "x1 is low"  # no 'low': the pattern's
    assert word_reason(contract, "x2", float("nan"), 0.5) == "x2 is missing"
    plain = _contract()
    assert word_reason(plain, "x4", 1.25, 0.0) == "x4 is high (1.25)"
    assert word_reason(plain, "city", "osaka", None, categorical=True) == "city is osaka"
    assert word_reason(plain, "city__freq", 0.05, 0.6) == "city value is rare"
    assert _contract().version == _contract().version
    assert contract.version != plain.version


def test_decisions_carry_reasons_and_rule_rejects_their_rule(fitted):
    contract, data, model, medians = fitted
    builder = model.pipeline.named_steps["features"]
    pipeline = DecisionPipeline(
        contract=contract,
        model=model,
        thresholds=Thresholds(0.1, 0.4, 0.9, "balanced", 0.5, 0.9),
        feature_columns=[*builder.numeric, *builder.categorical],
        feature_medians=medians,
    )
    rows = data.iloc[:400].copy()
    rows.loc[rows.index[:3], "x0"] = 5.0  # breaks rule T1
    out = pipeline.decide(rows.drop(columns=["y"]), model_version="7")
    assert len(out) == len(rows)
    rejected = out["decision"] == "rule_reject"
    assert rejected.sum() >= 3
    assert (out.loc[rejected, "reason_1"] == "T1").all()
    assert (out.loc[rejected, "reason_text_1"] == "x0 too high").all()
    assert out.loc[rejected, "contribution_1"].isna().all()
    assert (out.loc[rejected, "reason_2"] == "").all()
    scored = out[~rejected]
    assert (scored["reason_1"] != "").all()
    assert scored["reason_1"].isin(builder.feature_names_out_).all()


def test_batch_wording_matches_wording_each_reason_on_its_own(fitted):
    """Reasons are worded a feature at a time with the template bound once; the words are
    the ones :func:`word_reason` gives for each reason alone, whatever the template."""
    _, data, model, medians = fitted
    contract = _contract(
        reason_texts=[
            {"name": "x1", "high": "x1 at {value:.1f}% of 100% ({median:.2f})"},
            {"name": "x2", "text": "{feature}: {value!r} vs {{typical}} {median:.3g}"},
            {"name": "city", "text": "{value:.2f}"},  # a number format for words: the default
            {"pattern": "x[0-9]", "text": "{feature} {direction} {value:>9.3e}"},
        ]
    )
    rows = data.iloc[:300]
    decisions = np.array([APPROVE, REJECT, REVIEW] * 100)
    reasons = explain(model, contract, rows, decisions, medians)
    categorical = set(model.builder.categorical_out)
    built = model.builder.transform(rows)
    worded = 0
    for i in range(len(rows)):
        for k in range(1, 5):
            feature = reasons.iloc[i][f"reason_{k}"]
            if not feature:
                continue
            source = rows if feature in rows.columns else built
            value = source[feature].iloc[i]
            value = value.item() if isinstance(value, np.generic) else value
            expected = word_reason(
                contract, feature, value, medians.get(feature), feature in categorical
            )
            assert reasons.iloc[i][f"reason_text_{k}"] == expected
            worded += 1
    assert worded > 600
