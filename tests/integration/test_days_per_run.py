"""Several days in one run (the daily assets' backfill policy), through the multiprocess
executor: every day gets its own file, materialization and decisions; a bad day is rejected
alone, the step fails naming it, and a re-execution from failure after the fix completes the
run.

The executor's forkserver starts once per test process, with the environment it sees first:
the module's tests share one copy of the trained environment.
"""

from pathlib import Path

import dagster as dg
import pandas as pd
import pytest
from dagster._core.storage.tags import (
    ASSET_PARTITION_RANGE_END_TAG,
    ASSET_PARTITION_RANGE_START_TAG,
)

from credit_assets.core.storage import LocalStore
from credit_assets.defs.scope import DAILY_JOB, DAYS_PER_RUN, job_name
from credit_assets.settings import Settings
from tests.conftest import copy_env

DAYS = ["2026-11-01", "2026-11-02", "2026-11-03", "2026-11-04"]
BAD = "2026-11-03"


def daily_job() -> dg.JobDefinition:
    """The daily job, reconstructable in the executor's step processes."""
    from credit_assets.definitions import defs

    return defs().resolve_job_def(job_name("santander", DAILY_JOB))


@pytest.fixture(scope="module")
def lab(trained, tmp_path_factory):
    env, _ = trained
    with copy_env(env, tmp_path_factory.mktemp("days")) as lab_env:
        yield lab_env


def _run(instance: dg.DagsterInstance, **options) -> dg.JobExecutionResult:
    tags = {ASSET_PARTITION_RANGE_START_TAG: DAYS[0], ASSET_PARTITION_RANGE_END_TAG: DAYS[-1]}
    return dg.execute_job(
        dg.reconstructable(daily_job), instance, tags=tags, raise_on_error=False, **options
    )


def _store() -> LocalStore:
    return LocalStore(Path(Settings.from_env().dataset_storage("santander")))


def _decided_at(store: LocalStore) -> dict[str, str]:
    return {d: store.read_frame("decisions", d)["decided_at"].iloc[0] for d in DAYS}


def test_a_backfill_puts_several_days_in_a_run():
    policy = daily_job().asset_layer.get(dg.AssetKey(["santander", "decisions"])).backfill_policy
    assert policy is not None and policy.max_partitions_per_run == DAYS_PER_RUN > 1


def test_several_days_in_one_run_each_decided_and_checked(lab):
    store = _store()
    before = _decided_at(store)
    with dg.DagsterInstance.get() as instance:
        result = _run(instance)
        assert result.success
        decided = {
            e.event_specific_data.materialization.partition: e.event_specific_data.materialization
            for e in result.get_asset_materialization_events()
            if e.asset_key == dg.AssetKey(["santander", "decisions"])
        }
        checks = [
            e.event_specific_data
            for e in result.all_events
            if e.event_type == dg.DagsterEventType.ASSET_CHECK_EVALUATION
        ]
    assert sorted(decided) == DAYS
    for day in DAYS:
        applications = pd.read_csv(lab.data / "applications" / f"{day}.csv", usecols=["ID_code"])
        assert decided[day].metadata["rows"].value == len(applications)
        assert len(store.read_frame("decisions", day)) == len(applications)
    assert all(before[d] != after for d, after in _decided_at(store).items())
    assert checks and all(c.passed for c in checks)
    expectations = next(c for c in checks if c.asset_key.path[-1] == "decisions")
    assert expectations.description.startswith("passed on each of 4 days")


def test_a_bad_day_is_rejected_alone_and_reexecution_completes_the_run(lab):
    store = _store()
    bad_file = lab.data / "applications" / f"{BAD}.csv"
    good = bad_file.read_bytes()
    frame = pd.read_csv(bad_file, dtype=str, keep_default_na=False)
    first_day = pd.read_csv(lab.data / "applications" / f"{DAYS[0]}.csv", dtype=str)
    frame.loc[0, "ID_code"] = first_day.loc[0, "ID_code"]  # an id seen on another day
    frame.to_csv(bad_file, index=False)
    before = _decided_at(store)
    with dg.DagsterInstance.get() as instance:
        failed = _run(instance)
        assert not failed.success
        evaluation = next(
            e.event_specific_data
            for e in failed.all_events
            if e.event_type == dg.DagsterEventType.ASSET_CHECK_EVALUATION
            and e.event_specific_data.check_name == "ids_not_in_other_files"
        )
        assert not evaluation.passed
        assert evaluation.description.startswith("failed on 1 of 4 days")
        assert BAD in evaluation.description and "id already appears" in evaluation.description
        assert evaluation.metadata["failed_days"].value == [BAD]
        # the other days were written and checked; only the bad day is marked rejected
        assert store.rejected("raw_applications", BAD) is not None
        assert [d for d in DAYS if store.rejected("raw_applications", d)] == [BAD]
        # nothing downstream ran in the failed run
        assert _decided_at(store) == before

        bad_file.write_bytes(good)
        again = _run(
            instance,
            reexecution_options=dg.ReexecutionOptions.from_failure(failed.run_id, instance),
        )
        assert again.success
    assert not [d for d in DAYS if store.rejected("raw_applications", d)]
    assert all(before[d] != after for d, after in _decided_at(store).items())
