"""External systems trigger scoring through GraphQL: the documented client and command."""

import os
import subprocess
import sys

import dagster as dg
import pytest

from tests.services.conftest import GRAPHQL_DAY
from tests.services.runs import assert_decided, champion_version, step_workers

pytestmark = pytest.mark.services


def _trigger(stack, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "credit_assets", "trigger", *args],
        capture_output=True,
        text=True,
        env={
            **os.environ,
            "CREDIT_WEBSERVER_HOST": "127.0.0.1",
            "CREDIT_WEBSERVER_PORT": str(stack.ports["web"]),
        },
        timeout=600,
    )


def test_trigger_score_waits_for_the_run(stack, instance, store, training_run, service_data):
    result = _trigger(stack, "score", "--partition", GRAPHQL_DAY, "--wait")
    assert result.returncode == 0, result.stderr
    assert "SUCCESS" in result.stdout
    run = instance.get_runs(dg.RunsFilter(tags={"dagster/partition": GRAPHQL_DAY}))[0]
    assert run.status == dg.DagsterRunStatus.SUCCESS
    assert {s for s, _ in step_workers(instance, run.run_id)} >= {"decisions"}
    version = champion_version(stack.env["MLFLOW_TRACKING_URI"])
    assert_decided(store, service_data, GRAPHQL_DAY, version)


def test_trigger_errors_are_one_line(stack, training_run):
    result = _trigger(stack, "retry", "no-such-run")
    assert result.returncode == 1
    assert "error:" in result.stderr and "Traceback" not in result.stderr
    result = _trigger(stack, "score", "--partition", "yesterday")
    assert result.returncode == 2 and "not a date" in result.stderr
