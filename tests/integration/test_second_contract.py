"""A dataset with categorical strings, other id/target names and a date column works with a
contract alone."""

import pandas as pd
import pytest

from credit_assets.cli.runner import run_all
from credit_assets.core.storage import LocalStore
from credit_assets.settings import Settings
from tests.conftest import FIXTURES, LOANS_REGIONS, Env, write_loans


@pytest.fixture(scope="module")
def loans_env(tmp_path_factory):
    root = tmp_path_factory.mktemp("loans")
    write_loans(root)
    with Env(root / "home", root, FIXTURES / "loans.yaml") as env:
        yield env, run_all()


def test_second_contract_trains_and_decides(loans_env):
    env, summary = loans_env
    assert summary["model_name"] == "credit-loans"
    assert summary["holdout_auc"] > 0.65
    store = LocalStore(Settings.from_env().storage_dir / "loans")
    decided = store.read_frame("decisions", "2026-11-03")
    apps = pd.read_csv(env.data / "applications" / "2026-11-03.csv")
    assert decided["application_id"].tolist() == apps["application_id"].tolist()
    rule = decided.set_index("application_id")["rule_id"]
    unemployed = apps.set_index("application_id")["employment"] == "unemployed"
    assert (rule[unemployed] == "L01").all()
    assert "sex" in decided.columns


def test_second_contract_checked_with_suites_derived_in_memory(loans_env):
    """No expectations/loans/ is committed: every check ran the suite derived from the
    contract, and passed."""
    import dagster as dg

    with dg.DagsterInstance.get() as instance:
        for asset in ("raw_history", "raw_applications", "training_data", "features", "decisions"):
            key = dg.AssetCheckKey(dg.AssetKey(["loans", asset]), "expectations")
            (record,) = instance.event_log_storage.get_asset_check_execution_history(key, limit=1)
            evaluation = record.event.dagster_event.event_specific_data
            assert evaluation.passed, (asset, evaluation.description)
            assert evaluation.metadata["suite"].value == f"loans.{asset}"
            assert evaluation.metadata["suite_source"].value == (
                "derived from contract 'loans' in memory"
            )


def test_second_contract_features_learned_from_training_rows(loans_env):
    store = LocalStore(Settings.from_env().storage_dir / "loans")
    builder = store.read_object("features", "feature_builder")
    assert builder.categorical == ["employment", "region"]
    assert "score_bureau" in builder.numeric and "sex" not in builder.numeric
    assert "days_late" not in builder.feature_names_out_  # post-outcome, never a feature
    assert set(builder.levels_["region"]) == set(LOANS_REGIONS)
    assert "employment__freq" in builder.feature_names_out_
    table = store.read_frame("training_data")
    assert table["applied_on"].is_monotonic_increasing  # time order from the date column
