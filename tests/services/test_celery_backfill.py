"""Steps spread over Celery workers: training on its own queue, a backfill of ten days, and
the same decisions as the embedded profile."""

import dagster as dg
import pandas as pd
import pytest

from credit_assets.cli.graphql_client import BACKFILL_TAG
from credit_assets.core.storage import LocalStore
from credit_assets.settings import Settings
from tests.conftest import Env
from tests.services.conftest import BACKFILL_DAYS, TRAIN_RUN_CONFIG
from tests.services.runs import (
    DAILY_ASSETS,
    TRAINING_ASSETS,
    assert_decided,
    champion_version,
    launcher_pid,
    parent_pid,
    step_pids,
    step_workers,
)

pytestmark = pytest.mark.services


def test_training_steps_ran_on_the_training_queue(instance, training_run):
    workers = step_workers(instance, training_run)
    # asset checks are steps too, on the default queue; the training assets are not
    training_steps = {s: w for s, w in workers if s in TRAINING_ASSETS}
    assert set(training_steps) == TRAINING_ASSETS
    # only w1 listens on the 'training' queue
    assert {w.split("@")[0] for w in training_steps.values()} == {"w1"}


def _embedded_decisions(tmp_path, data) -> dict[str, pd.DataFrame]:
    """The same graph on the same data, in one process with the embedded profile."""
    from credit_assets.definitions import defs

    with Env(tmp_path / "embedded", data):
        definitions = defs()
        training = definitions.resolve_job_def("santander__training_job")
        daily = definitions.resolve_job_def("santander__daily_decisions_job")
        with dg.DagsterInstance.ephemeral() as instance:
            assert training.execute_in_process(
                run_config=TRAIN_RUN_CONFIG, instance=instance
            ).success
            for day in BACKFILL_DAYS:
                assert daily.execute_in_process(partition_key=day, instance=instance).success
        store = LocalStore(Settings.from_env().storage_dir / "santander")
        return {day: store.read_frame("decisions", day) for day in BACKFILL_DAYS}


def test_backfill_runs_steps_on_workers_and_matches_embedded(
    stack, instance, client, store, training_run, service_data, tmp_path
):
    backfill_id = client.backfill(BACKFILL_DAYS)
    statuses = client.wait_backfill(backfill_id, len(BACKFILL_DAYS), timeout=900)
    assert set(statuses.values()) == {dg.DagsterRunStatus.SUCCESS}
    runs = instance.get_runs(dg.RunsFilter(tags={BACKFILL_TAG: backfill_id}))
    assert sorted(r.tags["dagster/partition"] for r in runs) == BACKFILL_DAYS

    worker_pids = {stack.procs[name].pid for name in ("w1", "w2")}
    hosts = set()
    for run in runs:
        launcher = launcher_pid(instance, run.run_id)
        started = step_pids(instance, run.run_id, dg.DagsterEventType.STEP_SUCCESS)
        assert set(started) & DAILY_ASSETS == DAILY_ASSETS
        for pids in started.values():
            for pid in pids:
                # each step ran in a pool process of a worker, never in the launcher
                assert pid != launcher
                assert parent_pid(pid) in worker_pids
        hosts |= {w.split("@")[0] for _, w in step_workers(instance, run.run_id)}
    assert hosts == {"w1", "w2"}, "both workers took steps"

    version = champion_version(stack.env["MLFLOW_TRACKING_URI"])
    expected = _embedded_decisions(tmp_path, service_data)
    for day in BACKFILL_DAYS:
        got = assert_decided(store, service_data, day, version)
        pd.testing.assert_frame_equal(
            got.drop(columns="decided_at"), expected[day].drop(columns="decided_at")
        )
