"""One dataset's place in the code location: its asset keys, groups, jobs and partitions.

Every dataset's assets live under its name (``santander/raw_applications``), in groups named
after it (``santander_ingest``), with jobs ``<name>__daily_decisions_job`` and
``<name>__training_job``: several datasets show side by side in one Dagster UI and share
nothing but the instance.
"""

from dataclasses import dataclass

import dagster as dg

INGEST, TRAINING, DECISIONS = "ingest", "training", "decisions"
DAILY_JOB, TRAINING_JOB = "daily_decisions_job", "training_job"


def job_name(dataset: str, job: str) -> str:
    """A dataset's job, e.g. ``santander__training_job``."""
    return f"{dataset}__{job}"


@dataclass(frozen=True)
class Scope:
    name: str
    partitions: dg.DailyPartitionsDefinition

    def key(self, asset: str) -> dg.AssetKey:
        return dg.AssetKey([self.name, asset])

    def group(self, stage: str) -> str:
        return f"{self.name}_{stage}"

    def job(self, job: str) -> str:
        return job_name(self.name, job)


def daily_partitions(start: str) -> dg.DailyPartitionsDefinition:
    """The partition key is the execution date the seed passes to notebooks."""
    return dg.DailyPartitionsDefinition(
        start_date=start,
        end_offset=1,  # today's applications are decided today
    )
