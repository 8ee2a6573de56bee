"""One training run at a time: a second one launched meanwhile waits in the run queue. Both
keep the history the first training checked (on S3): same files, contract, suite and code."""

import dagster as dg
import pytest

from credit_assets.defs.jobs import TRAINING_RUN_TAG
from tests.services.conftest import TRAIN_RUN_CONFIG

pytestmark = pytest.mark.services


def _history_metadata(instance: dg.DagsterInstance, run_id: str) -> dict:
    (materialization,) = [
        e.asset_materialization
        for e in instance.all_logs(run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION)
        if e.asset_materialization.asset_key == dg.AssetKey(["santander", "raw_history"])
    ]
    return materialization.metadata


def test_a_second_training_run_waits_for_the_first(client, instance, training_run):
    first = client.launch(client.training_job, run_config=TRAIN_RUN_CONFIG)
    second = client.launch(client.training_job, run_config=TRAIN_RUN_CONFIG)
    for run_id in (first, second):
        assert client.wait(run_id, timeout=600) == dg.DagsterRunStatus.SUCCESS
    records = instance.get_run_records(dg.RunsFilter(run_ids=[first, second]))
    assert all(r.dagster_run.tags[TRAINING_RUN_TAG] == "santander" for r in records)
    earlier, later = sorted(records, key=lambda r: r.start_time)
    assert earlier.end_time <= later.start_time  # never both running
    for run_id in (first, second):
        kept = _history_metadata(instance, run_id)["unchanged_since_run"].value
        assert kept == training_run
