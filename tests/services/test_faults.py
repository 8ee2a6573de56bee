"""A worker killed mid-step and a cut broker connection, each in a run of two days: the run
ends failed or carries on elsewhere, never "success" with data missing; re-execution from
failure completes both days."""

import signal

import dagster as dg
import pytest

from tests.services.conftest import BACKFILL_DAYS, BROKER_DAY, SIGKILL_DAY
from tests.services.runs import (
    assert_decided,
    assert_files_whole,
    champion_version,
    children,
    days_tags,
    step_pids,
    wait_for_worker,
)
from tests.services.stack import wait_until

pytestmark = pytest.mark.services
STEP = "raw_applications"  # parses and validates the heavy day's CSV: seconds of work
# each fault's run: a light day, then the heavy day the fault lands in
KILL_DAYS = (BACKFILL_DAYS[-1], SIGKILL_DAY)
CUT_DAYS = (SIGKILL_DAY, BROKER_DAY)


def _finish(client, run_id: str) -> tuple[dg.DagsterRunStatus, dg.DagsterRunStatus | None]:
    """The run's end, and if it failed, the end of its re-execution from failure."""
    status = client.wait(run_id, timeout=300, poll=1)
    assert status in {dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.FAILURE}
    if status == dg.DagsterRunStatus.SUCCESS:
        return status, None
    retry = client.reexecute_from_failure(run_id)
    return status, client.wait(retry, timeout=300, poll=1)


def _assert_consistent(stack, store, data, days: tuple[str, ...]) -> None:
    version = champion_version(stack.env["MLFLOW_TRACKING_URI"])
    for day in days:
        assert_decided(store, data, day, version)
        assert_files_whole(store, day)


def test_worker_killed_mid_step(stack, instance, client, store, training_run, service_data):
    run_id = client.launch(client.scoring_job, days_tags(*KILL_DAYS))
    victim = wait_for_worker(instance, run_id, STEP)
    pool = children(stack.procs[victim].pid)
    stack.procs[victim].signal_group(signal.SIGKILL)
    try:
        first, retried = _finish(client, run_id)
    finally:
        stack.procs[victim].popen.wait(10)
        stack.start_worker(victim)
        wait_until(lambda: stack.worker_ready(victim), 180, f"restarted worker {victim}")
    print(f"worker {victim} killed during {STEP}: run {first.value}, re-execution {retried}")
    # the killed worker never finished the step: it was interrupted in the middle
    finished = step_pids(instance, run_id, dg.DagsterEventType.STEP_SUCCESS)[STEP]
    assert not pool & set(finished)
    assert (retried or first) == dg.DagsterRunStatus.SUCCESS
    _assert_consistent(stack, store, service_data, KILL_DAYS)


def test_broker_connection_cut(stack, instance, client, store, training_run, service_data):
    run_id = client.launch(client.scoring_job, days_tags(*CUT_DAYS))
    wait_for_worker(instance, run_id, STEP)
    cut = stack.proxy.cut(refuse_for=5)
    assert cut >= 3, "the launcher's and both workers' broker connections were cut"
    first, retried = _finish(client, run_id)
    print(f"{cut} broker connections cut during {STEP}: run {first.value}, re-execution {retried}")
    assert (retried or first) == dg.DagsterRunStatus.SUCCESS
    _assert_consistent(stack, store, service_data, CUT_DAYS)
    wait_until(lambda: all(stack.worker_ready(n) for n in ("w1", "w2")), 60, "workers")
