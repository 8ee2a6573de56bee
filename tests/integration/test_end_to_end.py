"""Materialize the whole graph on small data through the CLI's runner, then use the result."""

import subprocess
import sys

import dagster as dg
import pandas as pd

from credit_assets.core.registry import ModelRegistry
from credit_assets.core.storage import LocalStore
from credit_assets.settings import Settings


def test_every_asset_materialized_and_summary(trained):
    _env, summary = trained
    assert summary["model_version"] == "1"
    # the first model becomes champion through the absolute gates
    assert summary["promoted"] is True and summary["challenger_version"] == "1"
    assert summary["previous_champion"] is None and summary["failed_gates"] == []
    assert 0.6 < summary["holdout_auc"] < 1.0
    assert [d["day"] for d in summary["days"]] == [
        "2026-11-01",
        "2026-11-02",
        "2026-11-03",
        "2026-11-04",
    ]
    with dg.DagsterInstance.get() as instance:
        materialized = {
            k.to_user_string().removeprefix("santander/") for k in instance.get_asset_keys()
        }
    assert {
        "raw_history",
        "raw_applications",
        "raw_outcomes",
        "rule_filtered_applications",
        "training_data",
        "features",
        "model",
        "decision_thresholds",
        "registered_model",
        "champion_model",
        "decisions",
    } <= materialized


def test_decisions_cover_every_application(trained, small_data):
    _env, _ = trained
    store = LocalStore(Settings.from_env().storage_dir / "santander")
    for day in ["2026-11-01", "2026-11-04"]:
        apps = pd.read_csv(small_data / "applications" / f"{day}.csv")
        decided = store.read_frame("decisions", day)
        assert decided["ID_code"].tolist() == apps["ID_code"].tolist()
        assert set(decided["decision"]) <= {"rule_reject", "approve", "reject", "review"}
        rejected = apps["var_81"] < 8.0
        assert (decided.loc[rejected.to_numpy(), "decision"] == "rule_reject").all()
        assert decided.loc[~rejected.to_numpy(), "score"].notna().all()
        assert (decided["model_version"] == "1").all()
        assert decided["thresholds_version"].str.startswith("thr-").all()
        assert "gender" in decided.columns  # carried for fairness, never a feature
        # every decision carries its reasons; a rule reject's is its rule
        rule = decided["decision"] == "rule_reject"
        assert (decided.loc[rule, "reason_1"] == "R01").all()
        assert decided.loc[rule, "reason_text_1"].str.contains("policy minimum").all()
        assert (decided.loc[~rule, "reason_1"].str.match(r"var_\d+")).all()
        assert (decided.loc[~rule, "reason_text_1"] != "").all()
        approve = decided["decision"] == "approve"
        assert (decided.loc[approve, "contribution_1"] < 0).all()  # lowered the risk
        assert (decided.loc[decided["decision"] == "review", "contribution_1"] > 0).all()


def test_training_used_labelled_partitions(trained):
    store = LocalStore(Settings.from_env().storage_dir / "santander")
    table = store.read_frame("training_data")
    # outcomes lag one day: applications of the first three days are labelled
    assert table["ID_code"].str.startswith("app_").sum() > 0
    assert not table["ID_code"].str.startswith("app_20261104").any()


def test_mlflow_run_has_metrics_and_lineage(trained):
    settings = Settings.from_env()
    registry = ModelRegistry(settings.mlflow_tracking_uri, "credit-santander", "credit-santander")
    version = registry.resolve("champion")
    run = registry.client.get_run(version.run_id)
    assert {"holdout_auc", "holdout_ks", "holdout_brier"} <= set(run.data.metrics)
    assert {
        "data_fingerprint",
        "rules_version",
        "contract_version",
        "code_version",
        "thresholds_version",
        "training_partitions",
        "training_table_fingerprint",
    } <= set(run.data.tags)
    assert run.data.tags["gates_passed"] == "true"
    artifacts = [a.path for a in registry.client.list_artifacts(version.run_id, "report")]
    assert artifacts == ["report/report-v1.html"]
    assert "applications 2026-11-01..2026-11-04 (4)" in run.data.tags["training_partitions"]
    pipeline, _ = registry.load("1")
    assert pipeline.thresholds.approve_below <= pipeline.thresholds.reject_above


def _cli(*args, env=None):
    import os

    return subprocess.run(
        [sys.executable, "-m", "credit_assets", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=300,
    )


def test_score_command_matches_batch_decisions(trained, small_data, tmp_path):
    source = small_data / "applications" / "2026-11-02.csv"
    out = tmp_path / "scored.csv"
    result = _cli("score", "--in", str(source), "--out", str(out), "--model", "champion")
    assert result.returncode == 0, result.stderr
    scored = pd.read_csv(out)
    batch = LocalStore(Settings.from_env().storage_dir / "santander").read_frame(
        "decisions", "2026-11-02"
    )
    assert scored["decision"].tolist() == batch["decision"].tolist()
    pd.testing.assert_series_equal(scored["score"], batch["score"], check_names=False, rtol=1e-6)


def test_score_errors_are_one_line(trained, small_data, tmp_path):
    source = small_data / "applications" / "2026-11-02.csv"
    result = _cli("score", "--in", str(source), "--out", str(tmp_path / "o.csv"), "--model", "99")
    assert result.returncode == 1
    assert "has no version 99" in result.stderr and "Traceback" not in result.stderr
    result = _cli("score", "--in", str(tmp_path / "nope.csv"), "--out", str(tmp_path / "o.csv"))
    assert result.returncode == 1 and "nope.csv: file not found" in result.stderr
    assert not (tmp_path / "o.csv").exists()
