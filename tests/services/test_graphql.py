"""External systems trigger scoring through GraphQL: the documented client and command."""

import os
import shutil
import subprocess
import sys

import dagster as dg
import pytest

from tests.services.conftest import GRAPHQL_DAY, RETRY_DAY
from tests.services.runs import (
    DAILY_ASSETS,
    assert_decided,
    champion_version,
    step_pids,
    step_workers,
)

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


def test_failed_run_reexecuted_from_failure(stack, instance, store, training_run, service_data):
    late = service_data.parent / f"{service_data.name}_late" / f"{RETRY_DAY}.csv"
    result = _trigger(stack, "score", "--partition", RETRY_DAY, "--wait")
    assert result.returncode == 1 and "did not succeed" in result.stderr
    (failed,) = instance.get_runs(dg.RunsFilter(tags={"dagster/partition": RETRY_DAY}))
    assert failed.status == dg.DagsterRunStatus.FAILURE
    succeeded = step_pids(instance, failed.run_id, dg.DagsterEventType.STEP_SUCCESS)
    # the applications file was missing: of the assets, only the outcomes were made
    assert set(succeeded) & DAILY_ASSETS == {"raw_outcomes"}

    shutil.copyfile(late, service_data / "applications" / f"{RETRY_DAY}.csv")
    result = _trigger(stack, "retry", failed.run_id, "--wait")
    assert result.returncode == 0, result.stderr
    retry = instance.get_runs(dg.RunsFilter(tags={"dagster/parent_run_id": failed.run_id}))[0]
    assert retry.status == dg.DagsterRunStatus.SUCCESS
    # only what had not succeeded ran again
    retried = set(step_pids(instance, retry.run_id, dg.DagsterEventType.STEP_SUCCESS))
    assert retried & DAILY_ASSETS == {"raw_applications", "rule_filtered_applications", "decisions"}
    assert_decided(
        store, service_data, RETRY_DAY, champion_version(stack.env["MLFLOW_TRACKING_URI"])
    )
