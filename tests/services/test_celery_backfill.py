"""Steps spread over Celery workers: training on its own queue, a backfill of ten days in runs
of several days each, and the same decisions as the embedded profile."""

import dagster as dg
import pandas as pd
import pytest

from credit_assets.cli.graphql_client import BACKFILL_TAG
from credit_assets.core.storage import LocalStore
from credit_assets.defs.scope import backfill_runs
from credit_assets.settings import Settings
from tests.conftest import Env
from tests.services.conftest import BACKFILL_DAYS, TRAIN_RUN_CONFIG
from tests.services.runs import (
    DAILY_ASSETS,
    RANGE_END_TAG,
    RANGE_START_TAG,
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
    runs_expected = backfill_runs(len(BACKFILL_DAYS))
    assert runs_expected > 1, "the backfill is more than one run"
    statuses = client.wait_backfill(backfill_id, runs_expected, timeout=900)
    assert set(statuses.values()) == {dg.DagsterRunStatus.SUCCESS}
    runs = instance.get_runs(dg.RunsFilter(tags={BACKFILL_TAG: backfill_id}))
    # several days a run, the runs together cover every day once
    ranges = sorted((r.tags[RANGE_START_TAG], r.tags[RANGE_END_TAG]) for r in runs)
    assert len(ranges) == runs_expected
    starts = [BACKFILL_DAYS.index(first) for first, _ in ranges]
    ends = [BACKFILL_DAYS.index(last) for _, last in ranges]
    assert starts == [0, *(e + 1 for e in ends[:-1])] and ends[-1] == len(BACKFILL_DAYS) - 1
    for day in BACKFILL_DAYS:  # each day's materialization recorded on its own
        key = dg.AssetKey(["santander", "decisions"])
        assert instance.fetch_materializations(
            dg.AssetRecordsFilter(asset_key=key, asset_partitions=[day]), limit=1
        ).records

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
