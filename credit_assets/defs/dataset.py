"""All definitions of one dataset: its assets (with their checks), jobs and schedules."""

import dagster as dg

from credit_assets.core.catalog import DatasetEntry
from credit_assets.core.dataset import DataDir
from credit_assets.defs.decisions import decision_assets
from credit_assets.defs.ingest import ingest_assets
from credit_assets.defs.jobs import dataset_jobs
from credit_assets.defs.scope import Scope, daily_partitions
from credit_assets.defs.training import training_assets


def dataset_definitions(entry: DatasetEntry, partitions_start: str | None) -> dg.Definitions:
    """``partitions_start``: the first daily partition; None starts at the dataset's first
    dated file."""
    start = partitions_start or DataDir(entry.data_dir).first_day()
    scope = Scope(entry.name, daily_partitions(start))
    jobs, schedules = dataset_jobs(scope)
    return dg.Definitions(
        assets=[*ingest_assets(scope), *training_assets(scope), *decision_assets(scope)],
        jobs=jobs,
        schedules=schedules,
    )
