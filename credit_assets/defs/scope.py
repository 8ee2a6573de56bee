"""One dataset's place in the code location: its asset keys, groups, jobs and partitions.

Every dataset's assets live under its name (``santander/raw_applications``), in groups named
after it (``santander_ingest``), with jobs ``<name>__daily_decisions_job`` and
``<name>__training_job``: several datasets show side by side in one Dagster UI and share
nothing but the instance.
"""

import math
import warnings
from dataclasses import dataclass

import dagster as dg

INGEST, TRAINING, DECISIONS = "ingest", "training", "decisions"
DAILY_JOB, TRAINING_JOB = "daily_decisions_job", "training_job"

# A backfill puts up to this many days in one run: a run's orchestrator costs seconds of CPU
# to start whatever its size, so days share it (docs/scaling.md). Runs of a backfill run in
# parallel, so a backfill of D days keeps up to D / DAYS_PER_RUN runs' steps on the workers.
DAYS_PER_RUN = 5
# Backfill policies are "beta" in Dagster 1.13: said once here, not in every process (each
# run's orchestrator, each worker, each command) that loads the code location.
warnings.filterwarnings("ignore", message=".*`backfill_policy`.*", category=dg.BetaWarning)


def backfill_runs(days: int) -> int:
    """How many runs a backfill of ``days`` consecutive days is split into."""
    return math.ceil(days / DAYS_PER_RUN)


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

    @property
    def backfill_policy(self) -> dg.BackfillPolicy:
        """Every daily asset's: a backfill runs ranges of days (``defs/days.py``)."""
        return dg.BackfillPolicy.multi_run(max_partitions_per_run=DAYS_PER_RUN)


def daily_partitions(start: str) -> dg.DailyPartitionsDefinition:
    """The partition key is the execution date the seed passes to notebooks."""
    return dg.DailyPartitionsDefinition(
        start_date=start,
        end_offset=1,  # today's applications are decided today
    )
