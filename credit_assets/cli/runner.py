"""Materialize the graph from the command line, on the Dagster instance in DAGSTER_HOME.

Runs are recorded in the instance, so ``make ui`` shows them with their metadata. Order:
ingest every day (applications, outcomes, rules), train and register the challenger once,
promote it if every gate passes, then decide every day with the champion (the new one, or the
unchanged one when a gate failed).

A run that fails stops here with one message naming the file, the column or row and the rule
broken: from the asset's own contract validation, or from a blocking asset check. Failed WARN
checks do not stop anything; they are returned as ``warnings``.
"""

import datetime as dt
import re
from collections import Counter

import dagster as dg

from credit_assets.core.dataset import partition_key
from credit_assets.core.errors import CreditAssetsError
from credit_assets.core.registry_names import CHAMPION
from credit_assets.core.thresholds import DECISIONS
from credit_assets.defs.recovery import process_tags, recover_dead_runs
from credit_assets.settings import Settings

# A data problem is reported once, as one line naming the file and rule (below): Dagster's
# own step log, with its stack traces, only with -v.
QUIET = {"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}}


def _execute(
    job: dg.JobDefinition,
    instance: dg.DagsterInstance,
    assets: list[dg.AssetKey],
    partition: str | None,
    verbose: bool,
    run_config: dict | None = None,
) -> list[str]:
    """Run ``assets`` (and their checks); return failed WARN checks, raise on failure."""
    config = {**({} if verbose else QUIET), **(run_config or {})}
    result = job.execute_in_process(
        run_config=config,
        instance=instance,
        partition_key=partition,
        asset_selection=assets,
        raise_on_error=False,
        tags={"launched_by": "credit-assets run", **process_tags()},
    )
    suffix = f" [{partition}]" if partition else ""
    warnings, blocked = [], []
    for event in result.all_events:
        if event.event_type_value != "ASSET_CHECK_EVALUATION":
            continue
        evaluation = event.event_specific_data
        if evaluation.passed:
            continue
        line = (
            f"{evaluation.asset_key.to_user_string()}{suffix} check "
            f"{evaluation.check_name}: {evaluation.description}"
        )
        if evaluation.severity == dg.AssetCheckSeverity.WARN:
            warnings.append(line)
        else:
            blocked.append(line)
    if result.success:
        return warnings
    for event in result.all_events:
        if event.is_step_failure:
            error = event.step_failure_data.error
            if error.cls_name == "DagsterAssetCheckFailedError" and blocked:
                raise CreditAssetsError("\n".join(blocked))
            cause = error.cause or error
            # every problem of a file, one a line, its summary last (``core/errors.py``)
            message = cause.message.strip()
            if cause.cls_name and cause.cls_name.endswith("Error"):  # "pkg.mod.XError: ..."
                message = re.sub(rf"^[\w.]*{cause.cls_name}: ", "", message)
            # a step is named after its asset key: ``santander__raw_applications``
            asset = event.step_key.replace("__", "/", 1)
            raise CreditAssetsError(f"{asset}{suffix}: {message}")
    raise CreditAssetsError(f"run {result.run_id} of {job.name} failed")


def check_partitions(data, partitions: dg.PartitionsDefinition, partition: str | None) -> None:
    """Every dated file, and a requested partition, must be a day the partitions cover."""
    if partition is not None:
        try:
            dt.date.fromisoformat(partition)
        except ValueError:
            raise CreditAssetsError(
                f"partition {partition!r} is not a date that exists (YYYY-MM-DD)"
            ) from None
    keys = partitions.get_partition_keys()
    first, last = (keys[0], keys[-1]) if keys else ("", "")
    for path in [*data.application_files().values(), *data.outcome_files().values()]:
        day = partition_key(path)
        if keys and first <= day <= last:
            continue
        if day < first:
            why = f"daily partitions start on {first} (set CREDIT_PARTITIONS_START earlier)"
        else:
            why = f"the last daily partition is {last}: a file cannot be dated in the future"
        raise CreditAssetsError(f"{path}: partition {day} does not exist: {why}")


def run_all(
    dataset: str | None = None,
    partition: str | None = None,
    verbose: bool = False,
    train: bool = True,
    run_config: dict | None = None,
    wait: float = 0.0,
) -> dict:
    """Ingest, train and gate (unless ``train`` is False: decide with the current champion),
    decide, for one dataset (by name; None: the only one known). ``run_config`` is run
    config for the training job, e.g. a cheaper model for a benchmark or
    ``{"ops": {"champion_model": {"config": {"auc_tolerance": 0.01}}}}``. The dataset's
    writer lock is held throughout: another writer of the dataset makes this wait up to
    ``wait`` seconds, then stop naming the other (``core/locks.py``)."""
    from credit_assets.core.dataset import DataDir
    from credit_assets.definitions import defs
    from credit_assets.defs.scope import DAILY_JOB, TRAINING_JOB, job_name

    settings = Settings.from_env()
    entry = settings.catalog().resolve(dataset)
    data = DataDir(entry.data_dir)
    data.check()
    contract = entry.contract()
    definitions = defs()
    daily = definitions.resolve_job_def(job_name(entry.name, DAILY_JOB))
    training = definitions.resolve_job_def(job_name(entry.name, TRAINING_JOB))
    check_partitions(data, daily.partitions_def, partition)
    apps, outcomes = data.application_files(), data.outcome_files()
    days = data.partitions()
    if partition is not None:
        if partition not in apps:
            raise CreditAssetsError(
                f"no applications file for {partition} in {data.root / 'applications'}"
            )
        days = [partition]

    def key(asset: str) -> dg.AssetKey:
        return dg.AssetKey([entry.name, asset])

    if run_config and "ops" in run_config:  # steps are named after their asset's key
        ops = {f"{entry.name}__{op}": cfg for op, cfg in run_config["ops"].items()}
        run_config = {**run_config, "ops": ops}

    warnings: list[str] = []
    locks = settings.writer_locks()
    with (
        locks.hold(entry.name, "credit-assets run", wait=wait),
        dg.DagsterInstance.get() as instance,
    ):
        recover_dead_runs(instance, entry.name)  # training also fails orphaned MLflow runs
        for day in days:
            ingest = ["raw_outcomes"] if day in outcomes or day not in apps else []
            if day in apps:
                ingest += ["raw_applications", "rule_filtered_applications"]
            warnings += _execute(daily, instance, [key(a) for a in ingest], day, verbose)
        if train:
            warnings += _execute(
                training,
                instance,
                list(training.asset_layer.selected_asset_keys),
                None,
                verbose,
                run_config,
            )
        _check_champion(settings, entry.name, contract)
        decided_days = [d for d in days if d in apps]
        for day in decided_days:
            warnings += _execute(daily, instance, [key("decisions")], day, verbose)
    return {**summarize(settings, entry.name, contract, decided_days), "warnings": warnings}


def _check_champion(settings: Settings, dataset: str, contract) -> None:
    """Decisions need a champion: say why there is none instead of failing on a missing alias."""
    from credit_assets.core.catalog import model_name
    from credit_assets.core.registry import ModelRegistry
    from credit_assets.core.storage import open_store

    registry = ModelRegistry(
        settings.mlflow_tracking_uri, model_name(contract.name), model_name(contract.name)
    )
    if registry.alias_version(CHAMPION) is not None:
        return
    promotion = open_store(settings.dataset_storage(dataset)).read_json("champion_model")
    raise CreditAssetsError(
        f"no champion to decide with: challenger version {promotion['challenger_version']} "
        f"was not promoted ({'; '.join(promotion['failed'])})"
    )


def summarize(settings: Settings, dataset: str, contract, days: list[str]) -> dict:
    """What a run did: the promotion, the champion's figures on the holdout, the decisions
    per day; every figure as ``core/figures.py`` defines it."""
    from credit_assets.core.figures import BandResult, automation_of_decisions
    from credit_assets.core.storage import open_store

    store = open_store(settings.dataset_storage(dataset))
    champion = settings.registry(dataset).resolve(CHAMPION)
    promotion = store.read_json("champion_model")
    rows, totals = [], Counter()
    for day in days:
        counts = store.read_frame("decisions", day)["decision"].value_counts()
        row = {"day": day, **{d: int(counts.get(d, 0)) for d in DECISIONS}}
        row["automated"] = automation_of_decisions(row).value
        totals.update({d: row[d] for d in DECISIONS})
        rows.append(row)
    challenger = promotion["challenger"]
    # the champion's figures on the current holdout
    if champion.version == promotion["challenger_version"]:
        evaluation = challenger
    else:
        evaluation = promotion["champion"]
    band = evaluation.get("band") if evaluation else None  # absent in files of older versions
    return {
        "model_name": champion.name,
        "model_version": champion.version,
        "challenger_version": promotion["challenger_version"],
        "promoted": promotion["promoted"],
        "previous_champion": promotion["previous_champion"],
        "failed_gates": promotion["failed"],
        "report_path": promotion["report_path"],
        "holdout_auc": evaluation["auc"] if evaluation else float("nan"),
        "challenger_holdout_auc": challenger["auc"],
        "automation": automation_of_decisions(totals),
        "holdout_band": BandResult.from_dict(band) if band else None,
        "days": rows,
    }
