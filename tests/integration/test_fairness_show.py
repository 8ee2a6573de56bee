"""`credit-assets model show` says in one line how a version did on the fairness gates."""

import json

import numpy as np
import pandas as pd
from typer.testing import CliRunner

from credit_assets.core.contract import load_contract
from credit_assets.core.fairness import assess
from credit_assets.core.gates import GateConfig, evaluate_gates, evaluate_model, fairness_summary
from credit_assets.core.registry_names import FAIRNESS_TAG, GATES_PASSED_TAG, GATES_TAG
from credit_assets.core.thresholds import choose_thresholds
from tests.conftest import Env


def _gated_version() -> dict[str, str]:
    """The tags champion_model sets on a version whose automatic decisions favour men."""
    rng = np.random.default_rng(0)
    n = 4000
    gender = rng.choice(["F", "M"], n)
    bad = rng.random(n) < 0.1
    risk = np.clip(rng.normal(np.where(bad, 0.4, 0.1), 0.1), 0.001, 0.999)
    approved = (risk < 0.15) & (rng.random(n) < np.where(gender == "F", 0.5, 1.0))
    decisions = pd.DataFrame(
        {
            "gender": gender,
            "decision": np.where(approved, "approve", "review"),
            "score": risk,
            "bad": bad,
        }
    )
    band = choose_thresholds(risk, bad, 0.9)
    evaluation = evaluate_model(risk, bad, band, fairness=assess(decisions, load_contract()))
    results = evaluate_gates(evaluation, None, GateConfig())
    return {
        GATES_TAG: json.dumps([r.to_dict() for r in results]),
        GATES_PASSED_TAG: "false",
        FAIRNESS_TAG: fairness_summary(evaluation, results),
    }


def test_model_show_has_the_fairness_line(tmp_path):
    from credit_assets.cli import app, model
    from credit_assets.core.registry import ModelRegistry
    from credit_assets.settings import Settings

    with Env(tmp_path, tmp_path / "data"):
        settings = Settings.from_env()
        name = "credit-santander"
        registry = ModelRegistry(settings.mlflow_tracking_uri, name, name)
        run_id = registry.start_run("challenger", {})
        registry.client.create_registered_model(name)
        registry.client.create_model_version(name, f"runs:/{run_id}/model", run_id)
        registry.set_version_tags("1", _gated_version())
        model.console.width = 300  # one line stays one line
        result = CliRunner().invoke(app, ["model", "show", "1"])
    assert result.exit_code == 0, result.stderr
    line = next(x for x in result.stdout.splitlines() if x.startswith("fairness: "))
    assert "selection_rate_ratio" in line and "FAIL (gender: approval rate F 0." in line
    assert "fairness_selection_rate" in result.stdout  # and the gate in the gates table
