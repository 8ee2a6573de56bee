"""Clean recovery after a crash: runs that died are marked failed the next time the platform
starts work on their dataset.

A process killed mid-run (``kill -9``, a lost machine) leaves its Dagster run STARTED and its
MLflow run RUNNING for ever. Before a dataset is written again, runs of its jobs whose
process is gone are reported failed, and MLflow runs of the dataset whose Dagster run is over
are terminated as FAILED. (Runs that the daemon launched are watched by Dagster's own run
monitoring, set in ``dagster.yaml``.) Half-written files of such a run are refused by the
stamps of ``core/fencing.py``.
"""

from __future__ import annotations

import os
import socket
import time
from pathlib import Path
from typing import TYPE_CHECKING

import dagster as dg

from credit_assets.defs.scope import DAILY_JOB, TRAINING_JOB, job_name

if TYPE_CHECKING:
    from credit_assets.core.registry import ModelRegistry

PID_TAG, HOST_TAG = "credit-assets/pid", "credit-assets/host"
_UNFINISHED = [dg.DagsterRunStatus.STARTING, dg.DagsterRunStatus.STARTED]


def process_tags() -> dict[str, str]:
    """Tags of a run executed in this process, so that a later command can tell it died."""
    return {PID_TAG: str(os.getpid()), HOST_TAG: socket.gethostname()}


def _gone(run: dg.DagsterRun) -> bool:
    if run.tags.get(HOST_TAG) != socket.gethostname() or PID_TAG not in run.tags:
        return False
    try:
        os.kill(int(run.tags[PID_TAG]), 0)
    except ProcessLookupError:
        return True
    except (PermissionError, ValueError):
        return False
    return False


def recover_dead_runs(instance: dg.DagsterInstance, dataset: str) -> list[str]:
    """Report failed every unfinished run of ``dataset``'s jobs whose process is gone; their
    ids."""
    dead = []
    for job in (job_name(dataset, DAILY_JOB), job_name(dataset, TRAINING_JOB)):
        runs = instance.get_runs(dg.RunsFilter(job_name=job, statuses=_UNFINISHED))
        for run in runs:
            if _gone(run):
                instance.report_run_failed(
                    run, "its process died; marked failed when work on the dataset resumed"
                )
                dead.append(run.run_id)
    return dead


def fail_orphaned_mlflow_runs(instance: dg.DagsterInstance, registry: ModelRegistry) -> list[str]:
    """Terminate as FAILED the dataset's MLflow runs still RUNNING whose Dagster run is over
    (or unknown); their ids."""
    from mlflow.entities import RunStatus

    client = registry.client
    experiment = client.get_experiment_by_name(registry.experiment)
    if experiment is None:
        return []
    orphaned = []
    for run in client.search_runs([experiment.experiment_id], "attributes.status = 'RUNNING'"):
        dagster_run = instance.get_run_by_id(run.data.tags.get("dagster_run_id", ""))
        if dagster_run is None or dagster_run.is_finished:
            client.set_terminated(run.info.run_id, RunStatus.to_string(RunStatus.FAILED))
            orphaned.append(run.info.run_id)
    return orphaned


def pause_for_tests(step: str) -> None:
    """The crash tests' hook: with ``CREDIT_PAUSE_AT`` naming this step, the step announces
    itself in ``$CREDIT_PAUSE_AT_FILE`` and blocks until the test kills the process."""
    if os.environ.get("CREDIT_PAUSE_AT") != step:
        return
    Path(os.environ["CREDIT_PAUSE_AT_FILE"]).write_text(str(os.getpid()))
    while True:
        time.sleep(1)
