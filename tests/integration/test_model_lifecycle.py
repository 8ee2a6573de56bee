"""Challenger -> champion through the gates; a failed gate keeps the champion; operators
promote and roll back from the CLI, and every alias change is recorded."""

import json

import dagster as dg
import pytest
from typer.testing import CliRunner

from credit_assets.cli.runner import run_all
from credit_assets.core.registry import CHALLENGER, CHAMPION, ModelRegistry
from credit_assets.core.storage import LocalStore
from credit_assets.settings import Settings
from tests.conftest import Env

# A challenger must beat the champion's AUC by 0.5: impossible, so the gate fails.
IMPOSSIBLE = {"champion_model": {"config": {"auc_tolerance": -0.5}}}


def _registry() -> ModelRegistry:
    settings = Settings.from_env()
    return ModelRegistry(settings.mlflow_tracking_uri, "credit-santander", "credit-santander")


def _cli(*args):
    """The CLI in-process (the subprocess path is covered by test_cli / test_end_to_end)."""
    from credit_assets.cli import app, model

    model.console.width = 200  # no wrapping in tables
    return CliRunner().invoke(app, list(args))


@pytest.fixture(scope="module")
def lifecycle(tmp_path_factory, small_data):
    """First run: v1 promoted. Second run with an impossible gate: v2 stays challenger."""
    home = tmp_path_factory.mktemp("lifecycle")
    with Env(home, small_data) as env:
        first = run_all()
        # one day is enough: training reads every partition already ingested
        second = run_all(partition="2026-11-03", run_config={"ops": IMPOSSIBLE})
        yield env, first, second


def test_failed_gate_keeps_the_champion(lifecycle):
    _env, first, second = lifecycle
    assert first["promoted"] and first["model_version"] == "1"
    assert not second["promoted"]
    assert second["challenger_version"] == "2" and second["model_version"] == "1"
    assert len(second["failed_gates"]) == 1
    assert second["failed_gates"][0].startswith("gate auc_vs_champion failed: value ")
    assert (
        " vs bound " in second["failed_gates"][0] and "(short by 0.5" in second["failed_gates"][0]
    )
    registry = _registry()
    assert registry.alias_version(CHAMPION) == "1"
    assert registry.alias_version(CHALLENGER) == "2"
    # decisions made after the failed gate used the unchanged champion
    store = LocalStore(Settings.from_env().storage_dir / "santander")
    assert (store.read_frame("decisions", "2026-11-03")["model_version"] == "1").all()
    tags = registry.version_info("2").tags
    assert tags["gates_passed"] == "false" and tags["gates_compared_with"] == "1"
    assert {g["gate"] for g in json.loads(tags["gates"]) if not g["passed"]} == {"auc_vs_champion"}


def test_failed_gate_is_a_failed_asset_check(lifecycle):
    with dg.DagsterInstance.get() as instance:
        key = dg.AssetCheckKey(dg.AssetKey(["santander", "champion_model"]), "promotion_gates")
        records = instance.event_log_storage.get_asset_check_execution_history(key, limit=5)
    evaluations = [r.event.dagster_event.event_specific_data for r in records if r.event]
    assert [e.passed for e in evaluations] == [False, True]  # newest first
    assert "gate auc_vs_champion failed" in evaluations[0].description


def test_report_written_for_each_version(lifecycle):
    store = LocalStore(Settings.from_env().storage_dir / "santander")
    for version in ("1", "2"):
        page = store.path("champion_model", f"report-v{version}", "html").read_text()
        assert f"version {version}" in page and "data:image/png;base64," in page
    page = store.path("champion_model", "report-v2", "html").read_text()
    assert "re-scored on this holdout" in page and "was not promoted" in page
    assert "<h2>Fairness</h2>" in page


@pytest.fixture(scope="module")
def tokens(lifecycle) -> dict[str, str]:
    """Access tokens of two admins and a data scientist."""
    from credit_assets.core.access import Access, Role

    access = Access(Settings.from_env().decision_log())
    made = {"alice": Role.admin, "bob": Role.admin, "dana": Role.data_scientist}
    for name, role in made.items():
        access.create_user(name, role, "correct-horse-battery", by="test")
    return {name: access.create_token(name, by="test") for name in made}


def test_operator_promotes_and_rolls_back(lifecycle, tokens):
    result = _cli("model", "promote", "2", "--reason", "try it", "--token", tokens["alice"])
    assert result.exit_code == 1
    assert "failed gate(s) auc_vs_champion; use --force" in result.stderr
    for token in (None, tokens["dana"], "ct_forged_token"):
        refused = _cli("model", "promote", "2", "--reason", "x", "--force", "--token", token or "")
        assert refused.exit_code == 1 and "admin" in refused.stderr
    result = _cli(
        "model",
        "promote",
        "2",
        "--reason",
        "approved by risk",
        "--token",
        tokens["alice"],
        "--force",
    )
    assert result.exit_code == 0, result.stderr
    registry = _registry()
    assert registry.alias_version(CHAMPION) == "2"
    assert registry.alias_version(CHALLENGER) is None  # the challenger is now champion
    tags = registry.version_info("2").tags
    assert tags["promoted_by"] == "alice"
    assert tags["promoted_reason"] == "approved by risk [forced: gates not passed]"
    assert registry.champion_history() == ["1", "2"]

    result = _cli("model", "rollback", "--reason", "complaints", "--token", tokens["bob"])
    assert result.exit_code == 0, result.stderr
    assert "champion version 2 -> 1" in result.stdout
    assert registry.alias_version(CHAMPION) == "1"
    assert registry.version_info("2").tags["rolled_back_by"] == "bob"
    events = [(e.action, e.alias, e.version, e.previous, e.by) for e in registry.alias_events()]
    assert events[-2:] == [
        ("promote", CHAMPION, "2", "1", "alice"),
        ("rollback", CHAMPION, "1", "2", "bob"),
    ]
    result = _cli("model", "rollback", "--reason", "again", "--token", tokens["bob"])
    assert result.exit_code == 1 and "no previous champion" in result.stderr
    # and in the platform's own append-only audit log, with the authenticated admins
    from credit_assets.core.audit import AuditLog
    from credit_assets.core.governance import ALIAS_MOVE

    audit = AuditLog(Settings.from_env().decision_log())
    moves = [
        (e.actor, e.detail["move"], e.detail["version"]) for e in audit.events(action=ALIAS_MOVE)
    ]
    assert moves[:2] == [("bob", "rollback", "1"), ("alice", "promote", "2")]

    # the alias changes are in the Dagster event log too
    with dg.DagsterInstance.get() as instance:
        events = instance.fetch_materializations(
            dg.AssetKey(["santander", "champion_model"]), limit=10
        ).records
    metadata = [e.asset_materialization.metadata for e in events]
    assert [m["action"].value for m in metadata if "action" in m][:2] == ["rollback", "promote"]
    assert metadata[0]["changed_by"].value == "bob"


def test_list_and_show(lifecycle):
    result = _cli("model", "list")
    assert result.exit_code == 0, result.stderr
    assert "champion" in result.stdout and "failed auc_vs_champion" in result.stdout
    result = _cli("model", "show", "2")
    assert result.exit_code == 0, result.stderr
    for text in ("data_fingerprint", "auc_vs_champion", "FAIL", "rollback", "report-v2.html"):
        assert text in result.stdout, text


def test_show_flags_a_champion_moved_outside_the_platform(lifecycle, tokens):
    registry = _registry()
    champion = registry.alias_version(CHAMPION)
    assert "outside the platform" not in _cli("model", "show", champion).stderr
    # a direct alias change through MLflow: no event on the platform's record
    registry.client.set_registered_model_alias(registry.model_name, CHAMPION, "2")
    try:
        result = _cli("model", "show", "2")
        assert result.exit_code == 0, result.stderr
        assert "moved outside the platform" in result.stderr
    finally:
        registry.client.set_registered_model_alias(registry.model_name, CHAMPION, champion)
    assert "fairness: selection_rate_ratio" in result.stdout
    assert "fairness_selection_rate" in result.stdout
    result = _cli("model", "show", "9")
    assert result.exit_code == 1 and "has no version 9" in result.stderr
