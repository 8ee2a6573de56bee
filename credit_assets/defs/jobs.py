"""Jobs and schedules: daily decisions per partition, and retraining."""

import dagster as dg

from credit_assets.defs.partitions import daily_partitions

daily_job = dg.define_asset_job(
    "daily_decisions_job",
    selection=dg.AssetSelection.groups("ingest", "decisions")
    - dg.AssetSelection.assets("raw_history"),
    partitions_def=daily_partitions,
    description="Ingest one day's applications and outcomes, apply the rules, decide.",
)

# One training run at a time: the instance's run queue limits runs with this tag to one
# (dagster.yaml, deploy/dagster.yaml), so a retraining launched by hand while the weekly one
# runs waits for it instead of racing it to the same files and registry aliases.
TRAINING_RUN_TAG = ("credit-assets/job", "training")

training_job = dg.define_asset_job(
    "training_job",
    selection=dg.AssetSelection.assets("raw_history") | dg.AssetSelection.groups("training"),
    description="Rebuild the training table, retrain, choose the review band, register.",
    tags=dict([TRAINING_RUN_TAG]),
)

daily_schedule = dg.build_schedule_from_partitioned_job(
    daily_job, hour_of_day=6, description="Decide each day's applications at 06:00."
)

weekly_retraining = dg.ScheduleDefinition(
    name="weekly_retraining",
    job=training_job,
    cron_schedule="0 3 * * 1",
    description="Retrain every Monday at 03:00 on history plus all labelled applications.",
)
