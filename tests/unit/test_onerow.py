"""The one-application path (core/onerow.py) decides every application as the batch does:
decision, score to the last bit, reasons and rule, through rule rejects, missing values and
unseen levels."""

import numpy as np
import pandas as pd
import pytest

from credit_assets.core.contract import Rule, load_contract
from credit_assets.core.decision_inputs import input_records
from credit_assets.core.features import FeatureBuilder
from credit_assets.core.onerow import OneRow
from credit_assets.core.pipeline import DecisionPipeline
from credit_assets.core.reasons import training_medians
from credit_assets.core.rules import breaks, rule_mask
from credit_assets.core.synthetic import SyntheticSpec, draw, make_shapes
from credit_assets.core.thresholds import Thresholds
from credit_assets.core.training import LINEAR, TrainConfig, train
from tests.conftest import FIXTURES, _loans


def _pipeline(contract, frame, y, candidate: str, thresholds: Thresholds) -> DecisionPipeline:
    columns = list(frame.columns)
    builder = FeatureBuilder.from_contract(contract, columns)
    model = train(
        builder,
        frame.iloc[:2000],
        y[:2000],
        frame.iloc[2000:2500],
        y[2000:2500],
        TrainConfig(candidates=(candidate,), max_rounds=100, early_stopping_rounds=20),
    )
    names = list(builder.feature_names_out_)
    medians = training_medians(builder.transform(frame.iloc[:2000]), names)
    features = contract.resolve_features(columns)
    return DecisionPipeline(contract, model, thresholds, features, feature_medians=medians)


def _santander(candidate: str) -> tuple[DecisionPipeline, pd.DataFrame]:
    spec = SyntheticSpec(n_features=90, signal=0.12)
    sample = draw(3000, make_shapes(spec), spec, np.random.default_rng(0))
    frame = pd.DataFrame(sample.x, columns=[f"var_{j}" for j in range(90)])
    frame.insert(0, "ID_code", [f"r{i}" for i in range(len(frame))])
    thresholds = Thresholds(0.05, 0.2, 0.9, "balanced", 0.8, 0.9)
    pipeline = _pipeline(load_contract(), frame, sample.y, candidate, thresholds)
    rows = frame.iloc[2500:2560].copy()
    rows.iloc[:3, rows.columns.get_loc("var_81")] = 1.0  # breaks R01
    rows.iloc[3:6, rows.columns.get_loc("var_81")] = np.nan  # missing: R01 not broken
    rows.iloc[6:9, 5:20] = np.nan
    rows.iloc[9, 2:] = 1e9  # clipped to the training range
    return pipeline, rows


def _loans_case(candidate: str) -> tuple[DecisionPipeline, pd.DataFrame]:
    contract = load_contract(FIXTURES / "loans.yaml")
    history = _loans(3000, np.random.default_rng(5), pd.Timestamp("2026-09-01").date(), True, "h")
    y = (history.pop("repaid") == "yes").to_numpy()
    history = history.drop(columns="days_late")
    pipeline = _pipeline(
        contract, history, y, candidate, Thresholds(0.1, 0.3, 0.9, "balanced", 0.8, 0.9)
    )
    rows = _loans(80, np.random.default_rng(6), pd.Timestamp("2026-11-03").date(), False, "n")
    rows["age"] = rows["age"].astype(float)  # the API's numbers are floats
    rows.loc[0:2, "income"] = 500.0  # breaks L02
    rows.loc[3:5, "employment"] = "unemployed"  # breaks L01
    rows.loc[6:9, "employment"] = np.nan  # missing: a code and a frequency of NaN
    rows.loc[10:13, "region"] = "okinawa"  # a level never seen in training
    rows.loc[14:16, "region"] = np.nan
    rows.loc[17:19, ["income", "score_bureau"]] = np.nan  # missing numbers: no rule match
    rows.loc[20:22, "sex"] = np.nan
    return pipeline, rows


@pytest.mark.parametrize(
    ("case", "candidate"),
    [("santander", "additive"), ("loans", "additive"), ("loans", LINEAR)],
)
def test_one_row_path_decides_every_application_as_the_batch(case, candidate):
    pipeline, rows = (_santander if case == "santander" else _loans_case)(candidate)
    one = OneRow.of(pipeline, list(rows.columns))
    assert one is not None
    batch = pipeline.decide(rows, model_version="7")
    # each application as the API's schema gives it: missing values are None
    applications = [
        {k: (None if isinstance(v, float) and np.isnan(v) else v) for k, v in row.items()}
        for row in rows.to_dict("records")
    ]
    one_by_one = pd.concat(
        [
            pd.DataFrame(one.decision_columns(one.values(a), model_version="7"))
            for a in applications
        ],
        ignore_index=True,
    )
    assert list(one_by_one.columns) == list(batch.columns)
    for column in batch.columns:
        got, want = one_by_one[column].tolist(), batch[column].tolist()
        if batch[column].dtype.kind == "f":  # to the last bit, NaN where NaN
            np.testing.assert_array_equal(np.array(got, dtype=float), np.array(want, dtype=float))
        else:
            assert [None if isinstance(v, float) and np.isnan(v) else v for v in got] == [
                None if isinstance(v, float) and np.isnan(v) else v for v in want
            ], column
    decided = set(batch["decision"])
    assert "rule_reject" in decided and len(decided) >= 3  # not all one kind
    texts = pd.concat([batch[f"reason_text_{i}"] for i in range(1, 5)])
    assert texts.str.contains("missing").any() or candidate == LINEAR  # linear: imputed


def test_a_champion_that_is_not_compiled_has_no_one_row_path():
    pipeline, rows = _santander("default")
    assert pipeline.model.compiled is None
    assert OneRow.of(pipeline, list(rows.columns)) is None


@pytest.mark.parametrize("redact", [False, True])
def test_an_application_is_recorded_as_its_one_row_frame(redact):
    """The log's input record (and so the idempotency fingerprint) of one application's
    values is the one its frame gives."""
    pipeline, rows = _loans_case("additive")
    one = OneRow.of(pipeline, list(rows.columns))
    assert one is not None
    for row in rows.head(25).to_dict("records"):
        values = one.values(
            {k: None if k in ("region", "score_bureau") else v for k, v in row.items()}
        )
        frame = pd.DataFrame([values])
        assert input_records([values], pipeline.contract, redact) == input_records(
            frame, pipeline.contract, redact
        )


@pytest.mark.parametrize(
    ("op", "value"),
    [
        ("<", 2.0),
        ("<=", 2.0),
        (">", 2.0),
        (">=", 2.0),
        ("==", 2.0),
        ("!=", 2.0),
        ("in", [1.0, 2.0]),
        ("in", [1.0, float("nan")]),
        ("in", [None]),
        ("not_in", [1.0]),
        ("is_null", None),
        ("==", "b"),
        ("!=", "b"),
        ("in", ["a", "c"]),
        ("not_in", ["a"]),
    ],
)
def test_a_rule_on_one_value_matches_as_on_a_column(op, value):
    numbers = isinstance(value, float) or (isinstance(value, list) and 1.0 in value)
    column = [1.0, 2.0, 3.0, np.nan] if numbers or value is None else ["a", "b", "c", np.nan]
    rule = Rule(id="X", column="c", op=op, value=value, reason="x")
    frame = pd.DataFrame({"c": pd.Series(column, dtype=float if numbers else object)})
    assert [breaks(v, rule) for v in column] == rule_mask(frame, rule).tolist()
