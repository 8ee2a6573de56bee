"""A compiled pipeline reduced to plain data decides exactly as the full pipeline does, and
loading it imports neither scikit-learn nor LightGBM."""

import pickle
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from credit_assets.core.contract import load_contract
from credit_assets.core.dataset import load_file
from credit_assets.core.features import FeatureBuilder
from credit_assets.core.lean import CompiledModel
from credit_assets.core.pipeline import DecisionPipeline
from credit_assets.core.synthetic_cards import contract_path, generate_cards
from credit_assets.core.thresholds import Thresholds
from credit_assets.core.training import TrainConfig, train
from credit_assets.core.validation import FileKind
from tests.unit.test_compiled import _contract, split  # noqa: F401  (the fixture)
from tests.unit.test_compiled import _fit as fit_toy
from tests.unit.test_pipeline import fitted  # noqa: F401  (the fixture)

THRESHOLDS = Thresholds(0.05, 0.5, 0.9, "balanced", 0.8, 0.9)


def _assert_same_decisions(pipeline: DecisionPipeline, rows: pd.DataFrame) -> None:
    lean = pipeline.compiled_only()
    assert isinstance(lean.model, CompiledModel)
    lean = pickle.loads(pickle.dumps(lean))  # as registration writes it and `score` reads it
    expected = pipeline.decide(rows, model_version="3")
    pd.testing.assert_frame_equal(lean.decide(rows, model_version="3"), expected, check_exact=True)
    np.testing.assert_array_equal(lean.risk(rows), pipeline.risk(rows))
    for i in range(0, 12, 3):  # a few rows at a time: the look-up path of small batches
        part = rows.iloc[i : i + 3]
        pd.testing.assert_frame_equal(
            lean.decide(part, model_version="3"),
            pipeline.decide(part, model_version="3"),
            check_exact=True,
        )
    assert lean.decide(rows, model_version="3")["decision"].nunique() > 1  # not vacuous


def test_santander_additive(fitted):  # noqa: F811
    pipeline, rows = fitted
    rows = rows.copy()
    rows.iloc[0, rows.columns.get_loc("var_81")] = 1.0  # a rule reject
    rows.iloc[1, rows.columns.get_loc("var_3")] = np.nan
    _assert_same_decisions(pipeline, rows)


@pytest.mark.parametrize("candidate", ["additive", "linear"])
def test_categories_frequencies_unseen_levels_and_missing(split, candidate):  # noqa: F811
    model = fit_toy(split, candidate)
    test = split[2].drop(columns="y")
    features = [c for c in test.columns if c != "id"]
    test.insert(0, "id", [f"t{i}" for i in range(len(test))])
    pipeline = DecisionPipeline(_contract(), model, THRESHOLDS, features)
    _assert_same_decisions(pipeline, test)


@pytest.fixture(scope="module")
def cards(tmp_path_factory):
    root = tmp_path_factory.mktemp("cards")
    generate_cards(root, rows=1500, days=1, rows_per_day=300, seed=0)
    contract = load_contract(contract_path())
    history = load_file(root / "history" / "train.csv", contract, FileKind.HISTORY)
    apps = load_file(next((root / "applications").iterdir()), contract, FileKind.APPLICATIONS)
    return contract, history, apps


@pytest.mark.parametrize("candidate", ["additive", "linear"])
def test_cards_contract(cards, candidate):
    contract, history, apps = cards
    features = contract.resolve_features(list(apps.columns))
    y = history[contract.target.column].to_numpy()
    model = train(
        FeatureBuilder.from_contract(contract, features),
        history.iloc[:1200],
        y[:1200],
        history.iloc[1200:],
        y[1200:],
        TrainConfig(candidates=(candidate,), max_rounds=300, early_stopping_rounds=30, n_jobs=1),
    )
    _assert_same_decisions(DecisionPipeline(contract, model, THRESHOLDS, features), apps)


def test_a_model_that_is_not_compiled_has_no_lean_form(split):  # noqa: F811
    model = fit_toy(split, "default")
    assert DecisionPipeline(_contract(), model, THRESHOLDS, ["x0"]).compiled_only() is None


def test_deciding_with_it_imports_no_modelling_library(fitted, tmp_path):  # noqa: F811
    pipeline, rows = fitted
    (tmp_path / "lean.pickle").write_bytes(pickle.dumps(pipeline.compiled_only()))
    rows.to_pickle(tmp_path / "rows.pickle")
    probe = f"""
import pickle, sys
import pandas as pd
lean = pickle.loads(open({str(tmp_path / "lean.pickle")!r}, "rb").read())
lean.decide(pd.read_pickle({str(tmp_path / "rows.pickle")!r}), model_version="1")
print(sorted(m for m in ("sklearn", "lightgbm", "scipy") if m in sys.modules))
"""
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stderr
