"""The MLflow-free registry readers see what MLflow sees: same versions, aliases, history,
alias events and run metrics; the pickled pipeline they find decides like the registered one."""

import dataclasses
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pandas as pd
import pytest

from credit_assets.core.lean import CompiledModel
from credit_assets.core.registry import ModelRegistry
from credit_assets.core.registry_view import (
    RegistryReader,
    RestRegistryReader,
    SqlRegistryReader,
    load_decision_pipeline,
    open_reader,
)
from credit_assets.core.training import TrainedModel
from tests.services.stack import free_port, wait_until
from tests.unit.test_pipeline import fitted  # noqa: F401  (the fixture)


@pytest.fixture(scope="module")
def registry(fitted, tmp_path_factory):  # noqa: F811
    """Three versions: 1 promoted, 3 promoted, rolled back to 1; metrics on every run."""
    pipeline, rows = fitted
    tmp = tmp_path_factory.mktemp("registry")
    name = "credit-santander"  # the packaged contract's model: commands find it
    registry = ModelRegistry(f"sqlite:///{tmp / 'mlflow.db'}", name, name, (tmp / "art").as_uri())
    for n in range(3):
        run_id = registry.start_run("unit", tags={"code_version": f"c{n}"})
        registry.log(run_id, metrics={"holdout_auc": 0.7 + n / 100})
        registry.register(run_id, pipeline, rows.head(3).reset_index(drop=True))
    registry.set_version_tags("2", {"gates_passed": "false"})
    registry.promote("1", by="a", reason="first")
    registry.promote("3", by="b", reason="better")
    registry.rollback(by="ops", reason="bad week")
    return registry


def _seen(reader: RegistryReader) -> dict:
    versions = reader.versions()
    return {
        "versions": versions,
        "champion": reader.version_info("champion"),
        "by number": reader.version_info("2"),
        "history": reader.champion_history(),
        "events of 3": reader.alias_events("3"),
        "runs": [reader.run(v.run_id) for v in versions],
    }


def test_database_reader_sees_what_mlflow_sees(registry):
    reader = open_reader(registry.tracking_uri, registry.model_name)
    assert isinstance(reader, SqlRegistryReader)
    seen = _seen(reader)
    assert seen == _seen(registry)
    assert [v.version for v in seen["versions"]] == ["3", "2", "1"]
    assert seen["champion"].version == "1" and seen["history"] == ["1"]
    assert seen["by number"].tags["gates_passed"] == "false"
    assert seen["runs"][0].metrics["holdout_auc"] == pytest.approx(0.72)
    with pytest.raises(Exception, match="has no alias 'challenger'"):
        reader.version_info("challenger")


def test_unwritten_registry_reads_as_empty_and_is_not_created(tmp_path):
    reader = open_reader(f"sqlite:///{tmp_path / 'mlflow.db'}", "credit-none")
    assert reader.versions() == [] and reader.champion_history() == []
    with pytest.raises(Exception, match="has no version 1 in the registry"):
        reader.version_info("1")
    assert not (tmp_path / "mlflow.db").exists()


def test_pipeline_loaded_without_mlflow_decides_like_the_registered_one(registry, fitted):  # noqa: F811
    _, rows = fitted
    pipeline, info = load_decision_pipeline(registry.tracking_uri, registry.model_name, "champion")
    registered, _ = registry.load("1")
    assert info.version == "1"
    assert isinstance(pipeline.model, CompiledModel)  # compiled: the decision-only form
    assert isinstance(registered.model, TrainedModel)
    pd.testing.assert_frame_equal(
        pipeline.decide(rows, "1"), registered.decide(rows, "1"), check_exact=True
    )


def test_a_model_that_is_not_compiled_loads_as_the_full_pipeline(fitted, tmp_path):  # noqa: F811
    full, rows = fitted
    uncompiled = dataclasses.replace(full, model=dataclasses.replace(full.model, compiled=None))
    registry = ModelRegistry(f"sqlite:///{tmp_path / 'mlflow.db'}", "m", "m", tmp_path.as_uri())
    run_id = registry.start_run("unit", tags={})
    registry.register(run_id, uncompiled, rows.head(3).reset_index(drop=True))
    pipeline, _ = load_decision_pipeline(registry.tracking_uri, "m", "1")
    assert isinstance(pipeline.model, TrainedModel) and pipeline.model.compiled is None
    pd.testing.assert_frame_equal(pipeline.decide(rows, "1"), uncompiled.decide(rows, "1"))


@pytest.mark.slow
def test_server_reader_sees_what_the_database_reader_sees(registry):
    """An MLflow tracking server on the same database, read over its REST API."""
    port = free_port()
    db = registry.tracking_uri
    command = [Path(sys.executable).with_name("mlflow"), "server", "--backend-store-uri", db]
    server = subprocess.Popen(
        [*command, "--host", "127.0.0.1", "--port", str(port), "--workers", "1"],
        env={**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"

    def answers() -> bool:
        try:
            return httpx.get(f"{url}/health", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    try:
        wait_until(answers, 120, "the MLflow server")
        reader = open_reader(url, registry.model_name)
        assert isinstance(reader, RestRegistryReader)
        assert _seen(reader) == _seen(open_reader(db, registry.model_name))
        assert open_reader(url, "credit-none").versions() == []
    finally:
        os.killpg(server.pid, 15)
        server.wait(30)


def test_registering_leaves_the_processes_tracking_uri_as_it_was(registry):
    """MLflow's set_tracking_uri writes MLFLOW_TRACKING_URI: registering must not leave it
    pointing every later Settings.from_env() of this process at this registry."""
    assert os.environ.get("MLFLOW_TRACKING_URI") != registry.tracking_uri
