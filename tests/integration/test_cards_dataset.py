"""The cards product, generated and run through the whole graph with its packaged contract:
string target, levels with spaces and symbols, a protected attribute and rule C01."""

import pandas as pd
import pytest

from credit_assets.cli.runner import run_all
from credit_assets.core.gate_policy import GatePolicies
from credit_assets.core.storage import LocalStore
from credit_assets.core.synthetic_cards import contract_path, generate_cards
from credit_assets.settings import Settings
from tests.conftest import START, Env


@pytest.fixture(scope="module")
def cards_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("cards")
    generate_cards(root, rows=1000, days=3, rows_per_day=100, start=START, seed=0)
    with Env(root / "home", root, contract_path()) as env:
        # A 1,000-row product has a ~200-row holdout: its calibration sits near the ECE gate's
        # bound, and this test is about the dataset, not the gates. Gate bounds are policy
        # that an admin sets; a run's own settings may only tighten them, so both say 0.1.
        GatePolicies(Settings.from_env().decision_log()).set(
            "cards", {"max_ece": 0.1}, by="admin", reason="a small product's holdout"
        )
        yield env, run_all(run_config={"ops": {"champion_model": {"config": {"max_ece": 0.1}}}})


def test_cards_train_and_decide_every_application(cards_run):
    env, summary = cards_run
    assert summary["model_name"] == "credit-cards" and summary["promoted"]
    assert summary["holdout_auc"] > 0.7
    store = LocalStore(Settings.from_env().storage_dir / "cards")
    day = START.isoformat()
    decided = store.read_frame("decisions", day)
    apps = pd.read_csv(env.data / "applications" / f"{day}.csv")
    assert decided["card_id"].tolist() == apps["card_id"].tolist()
    unemployed = (apps["employment"] == "unemployed – seeking work").to_numpy()
    assert unemployed.any()
    assert (decided["decision"].to_numpy()[unemployed] == "rule_reject").all()
    assert set(decided.loc[~unemployed, "decision"]) <= {"approve", "reject", "review"}
    # reasons quote the applicant's own levels, symbols and all
    scored = decided[decided["decision"] != "rule_reject"]
    texts = pd.concat([scored[f"reason_text_{i}"] for i in range(1, 5)])
    levels = {level for column in ("income_band", "previous_default") for level in apps[column]}
    assert any(level in text for text in texts.dropna() for level in levels)
    # the protected attribute rides along beside the decision
    assert decided["gender"].tolist() == apps["gender"].tolist()
