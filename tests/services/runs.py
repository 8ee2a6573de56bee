"""What happened in a run, from the instance's event log, and whether the data is whole."""

from __future__ import annotations

import time
from pathlib import Path

import dagster as dg
import pandas as pd

from credit_assets.core.registry import CHAMPION, ModelRegistry
from credit_assets.core.storage import Store

CELERY_WORKER = "Celery worker"  # metadata key of dagster-celery's "Executing steps" event


def _events(instance: dg.DagsterInstance, run_id: str) -> list[dg.EventLogEntry]:
    return [e for e in instance.all_logs(run_id) if e.is_dagster_event]


def _asset(step_key: str) -> str:
    """The asset a step materializes: steps are named ``<dataset>__<asset>``."""
    return step_key.split("__", 1)[-1]


def step_workers(instance: dg.DagsterInstance, run_id: str) -> list[tuple[str, str]]:
    """(step, Celery worker hostname) for every step a worker took up, in order."""
    found = []
    for entry in _events(instance, run_id):
        event = entry.get_dagster_event()
        if event.event_type != dg.DagsterEventType.ENGINE_EVENT:
            continue
        data = event.engine_event_data
        if CELERY_WORKER in (data.metadata or {}):
            found.append((_asset(entry.step_key), data.metadata[CELERY_WORKER].value))
    return found


def step_pids(instance: dg.DagsterInstance, run_id: str, event: dg.DagsterEventType) -> dict:
    """step -> pids of the processes that reported ``event`` for it."""
    pids: dict[str, list[int]] = {}
    for entry in _events(instance, run_id):
        dagster_event = entry.get_dagster_event()
        if dagster_event.event_type == event:
            pids.setdefault(_asset(entry.step_key), []).append(dagster_event.pid)
    return pids


def launcher_pid(instance: dg.DagsterInstance, run_id: str) -> int:
    """The run's orchestrator process, which reported the run's start."""
    for entry in _events(instance, run_id):
        if entry.get_dagster_event().event_type == dg.DagsterEventType.RUN_START:
            return entry.get_dagster_event().pid
    raise AssertionError(f"run {run_id} never started")


def parent_pid(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("PPid:"):
            return int(line.split()[1])
    raise AssertionError(f"no parent pid for {pid}")


def children(pid: int) -> set[int]:
    return {int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()}


def wait_for_worker(
    instance: dg.DagsterInstance, run_id: str, step: str, timeout: float = 240
) -> str:
    """Block until a worker has taken up ``step`` (before the step starts); its name."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        workers = dict(step_workers(instance, run_id))
        if step in workers:
            return workers[step].split("@")[0]
        time.sleep(0.05)
    raise AssertionError(f"no worker took up {step} of run {run_id} within {timeout}s")


def assert_decided(store: Store, data: Path, day: str, version: str) -> pd.DataFrame:
    """One decision per application of the day, made by registry version ``version``."""
    decided = store.read_frame("decisions", day)
    ids = pd.read_csv(data / "applications" / f"{day}.csv", usecols=["ID_code"])["ID_code"]
    assert decided["ID_code"].tolist() == ids.tolist()
    assert (decided["model_version"] == version).all()
    return decided


def assert_files_whole(store: Store, day: str) -> None:
    """Every file of the day, and the model, reads back: no step left half a file."""
    for asset in ("raw_applications", "raw_outcomes", "rule_filtered_applications", "decisions"):
        assert day in store.partitions(asset), asset
        store.read_frame(asset, day)
    store.read_json("decision_thresholds")
    store.read_object("model")


def champion_version(tracking_uri: str) -> str:
    """The champion's version, after checking the registry holds exactly one version."""
    registry = ModelRegistry(tracking_uri, "credit-santander", "credit-santander")
    versions = registry.client.search_model_versions("name='credit-santander'")
    assert [v.version for v in versions] == ["1"], "one training, one registered version"
    return registry.resolve(CHAMPION).version


# A run of several days (the daily assets' backfill policy) carries its first and last day.
RANGE_START_TAG = "dagster/asset_partition_range_start"
RANGE_END_TAG = "dagster/asset_partition_range_end"


def days_tags(first: str, last: str) -> dict[str, str]:
    """Tags of a daily-job run over the days ``first`` to ``last``."""
    return {RANGE_START_TAG: first, RANGE_END_TAG: last}


# Asset steps of the two jobs (their asset checks run as steps of their own besides these).
DAILY_ASSETS = {"raw_applications", "raw_outcomes", "rule_filtered_applications", "decisions"}
TRAINING_ASSETS = {
    "training_data",
    "features",
    "model",
    "decision_thresholds",
    "registered_model",
    "champion_model",
}
