"""Materialize the graph from the command line, on the Dagster instance in DAGSTER_HOME.

Runs are recorded in the instance, so ``make ui`` shows them with their metadata. Order:
ingest every day (applications, outcomes, rules), train and register once, then decide every
day with the new champion.
"""

import dagster as dg

from credit_assets.core.errors import CreditAssetsError
from credit_assets.core.registry import CHAMPION
from credit_assets.core.thresholds import APPROVE, DECISIONS, REJECT, RULE_REJECT
from credit_assets.settings import Settings

_QUIET = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}


def _execute(
    job: dg.JobDefinition,
    instance: dg.DagsterInstance,
    assets: list[str],
    partition: str | None,
    verbose: bool,
) -> None:
    result = job.execute_in_process(
        run_config={} if verbose else _QUIET,
        instance=instance,
        partition_key=partition,
        asset_selection=[dg.AssetKey(a) for a in assets],
        raise_on_error=False,
        tags={"launched_by": "credit-assets run"},
    )
    if result.success:
        return
    for event in result.all_events:
        if event.is_step_failure:
            error = event.step_failure_data.error
            cause = error.cause or error
            where = f"{event.step_key}" + (f" [{partition}]" if partition else "")
            raise CreditAssetsError(f"{where}: {cause.message.strip().splitlines()[-1]}")
    raise CreditAssetsError(f"run {result.run_id} of {job.name} failed")


def run_all(partition: str | None = None, verbose: bool = False) -> dict:
    from credit_assets.core.contract import load_contract
    from credit_assets.core.dataset import DataDir
    from credit_assets.definitions import defs

    settings = Settings.from_env()
    data = DataDir(settings.data_dir)
    data.check()
    contract = load_contract(settings.contract_path)
    apps, outcomes = data.application_files(), data.outcome_files()
    days = data.partitions()
    if partition is not None:
        if partition not in apps:
            raise CreditAssetsError(
                f"no applications file for {partition} in {data.root / 'applications'}"
            )
        days = [partition]
    definitions = defs()
    daily = definitions.resolve_job_def("daily_decisions_job")
    training = definitions.resolve_job_def("training_job")
    with dg.DagsterInstance.get() as instance:
        for day in days:
            ingest = ["raw_outcomes"] if day in outcomes or day not in apps else []
            if day in apps:
                ingest += ["raw_applications", "rule_filtered_applications"]
            _execute(daily, instance, ingest, day, verbose)
        _execute(
            training,
            instance,
            [k.to_user_string() for k in training.asset_layer.selected_asset_keys],
            None,
            verbose,
        )
        decided_days = [d for d in days if d in apps]
        for day in decided_days:
            _execute(daily, instance, ["decisions"], day, verbose)
    return summarize(settings, contract, decided_days)


def summarize(settings: Settings, contract, days: list[str]) -> dict:
    from credit_assets.core.registry import ModelRegistry
    from credit_assets.core.storage import open_store

    store = open_store(settings.storage_location)
    registry = ModelRegistry(
        settings.mlflow_tracking_uri, f"credit-{contract.name}", f"credit-{contract.name}"
    )
    champion = registry.resolve(CHAMPION)
    model_summary = store.read_json("model", "summary")
    thresholds = store.read_json("decision_thresholds")
    rows, scored, automated = [], 0, 0
    for day in days:
        counts = store.read_frame("decisions", day)["decision"].value_counts()
        row = {"day": day, **{d: int(counts.get(d, 0)) for d in DECISIONS}}
        day_scored = sum(row[d] for d in DECISIONS if d != RULE_REJECT)
        day_auto = row[APPROVE] + row[REJECT]
        row["automated"] = day_auto / day_scored if day_scored else 0.0
        rows.append(row)
        scored += day_scored
        automated += day_auto
    return {
        "model_name": champion.name,
        "model_version": champion.version,
        "holdout_auc": model_summary["holdout"]["auc"],
        "automation_rate": automated / scored if scored else 0.0,
        "target_accuracy": thresholds["target_accuracy"],
        "days": rows,
    }
