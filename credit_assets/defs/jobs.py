"""Jobs and schedules of one dataset: daily decisions per partition, and retraining."""

import dagster as dg

from credit_assets.defs.scope import DAILY_JOB, DECISIONS, INGEST, TRAINING, TRAINING_JOB, Scope

# One training run per dataset at a time: the instance's run queue limits runs with this tag
# to one per value (dagster.yaml, deploy/dagster.yaml), so a retraining launched by hand while
# the weekly one runs waits for it instead of racing it to the same files and registry
# aliases; other datasets' trainings are not held up.
TRAINING_RUN_TAG = "credit-assets/training"


def dataset_jobs(scope: Scope) -> tuple[list, list[dg.ScheduleDefinition]]:
    daily = dg.define_asset_job(
        scope.job(DAILY_JOB),
        selection=dg.AssetSelection.groups(scope.group(INGEST), scope.group(DECISIONS))
        - dg.AssetSelection.assets(scope.key("raw_history")),
        partitions_def=scope.partitions,
        description=f"{scope.name}: ingest one day's applications and outcomes, apply the "
        "rules, decide.",
    )
    training = dg.define_asset_job(
        scope.job(TRAINING_JOB),
        selection=dg.AssetSelection.assets(scope.key("raw_history"))
        | dg.AssetSelection.groups(scope.group(TRAINING)),
        description=f"{scope.name}: rebuild the training table, retrain, choose the review "
        "band, register.",
        tags={TRAINING_RUN_TAG: scope.name},
    )
    schedules = [
        dg.build_schedule_from_partitioned_job(
            daily,
            hour_of_day=6,
            name=f"{scope.name}__daily_decisions",
            description=f"Decide each day's {scope.name} applications at 06:00.",
        ),
        dg.ScheduleDefinition(
            name=f"{scope.name}__weekly_retraining",
            job=training,
            cron_schedule="0 3 * * 1",
            description=f"Retrain {scope.name} every Monday at 03:00 on history plus all "
            "labelled applications.",
        ),
    ]
    return [daily, training], schedules
