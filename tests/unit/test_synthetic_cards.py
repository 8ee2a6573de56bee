"""The second dataset fixture: a credit-card product of another shape than Santander."""

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import cross_val_predict
from sklearn.preprocessing import OneHotEncoder

from credit_assets.core.contract import load_contract
from credit_assets.core.dataset import DataDir, load_file, load_history
from credit_assets.core.rules import RULE_ID, apply_rules
from credit_assets.core.synthetic_cards import contract_path, generate_cards
from credit_assets.core.validation import FileKind
from tests.conftest import START


@pytest.fixture(scope="module")
def cards(tmp_path_factory):
    root = tmp_path_factory.mktemp("cards")
    counts = generate_cards(root, rows=1000, days=3, rows_per_day=100, start=START, seed=0)
    return root, counts, load_contract(str(contract_path()))


def test_files_load_and_validate_against_the_packaged_contract(cards):
    root, counts, contract = cards
    assert counts == {"history": 1000, "applications": 300, "outcomes": 200}
    history = load_history(DataDir(root), contract)
    assert len(history) == 1000
    # the string target is read as 1 = defaulted (a bad outcome)
    assert 0.15 < history["outcome"].mean() < 0.25
    days = sorted(p.name for p in (root / "applications").glob("*.csv"))
    assert days == ["2026-11-01.csv", "2026-11-02.csv", "2026-11-03.csv"]
    for day in days:
        apps = load_file(root / "applications" / day, contract, FileKind.APPLICATIONS)
        assert len(apps) == 100 and "outcome" not in apps.columns
    # outcomes of a day arrive the next day; the last day's have not arrived yet
    outs = sorted(p.name for p in (root / "outcomes").glob("*.csv"))
    assert outs == ["2026-11-02.csv", "2026-11-03.csv"]
    arrived = load_file(root / "outcomes" / outs[0], contract, FileKind.OUTCOMES)
    first_day = pd.read_csv(root / "applications" / days[0])
    assert set(arrived["card_id"]) == set(first_day["card_id"])


def test_a_dozen_categoricals_whose_levels_hold_spaces_and_symbols(cards):
    root, _, contract = cards
    history = load_history(DataDir(root), contract)
    categorical = [s.name for s in contract.features if s.type == "categorical"]
    assert len(categorical) == 12
    # every level of the contract survives the CSV round trip, quotes and pound signs included
    for column in ("purpose", "current_bank", "income_band"):
        assert set(history[column]) == set(contract.feature_spec(column).levels)
    assert "O'Brien & Co" in set(history["current_bank"])
    assert 'emergencies ("just in case")' in set(history["purpose"])
    # the protected attribute rides along but is never a feature
    assert "gender" in history.columns
    assert "gender" not in contract.resolve_features(list(history.columns))


def test_one_business_rule_rejects_the_unemployed(cards):
    root, _, contract = cards
    history = load_history(DataDir(root), contract)
    ruled = apply_rules(history, contract)
    hit = ruled[RULE_ID].notna()
    assert [r.id for r in contract.rules] == ["C01"]
    assert hit.any() and hit.mean() < 0.1
    assert (history.loc[hit, "employment"] == "unemployed – seeking work").all()


def test_a_model_can_learn_the_signal(cards):
    root, _, contract = cards
    history = load_history(DataDir(root), contract)
    categorical = history[[s.name for s in contract.features if s.type == "categorical"]]
    encoded = OneHotEncoder().fit_transform(categorical)
    learned = cross_val_predict(
        LogisticRegression(max_iter=2000, C=0.3),
        encoded,
        history["outcome"],
        cv=5,
        method="predict_proba",
    )[:, 1]
    assert roc_auc_score(history["outcome"], learned) > 0.75
    truth = pd.read_csv(root / "truth" / "history.csv")
    assert roc_auc_score(history["outcome"], truth["p_true"]) > 0.8
    assert np.allclose(truth["p_true"].mean(), history["outcome"].mean(), atol=0.03)
