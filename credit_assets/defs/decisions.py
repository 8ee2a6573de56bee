"""Daily decisions: every application of a day gets exactly one decision row."""

import datetime as dt

import dagster as dg

from credit_assets.core.figures import automation_of_decisions
from credit_assets.core.registry_names import CHAMPION
from credit_assets.core.rules import RULE_ID, RULE_REASON
from credit_assets.core.thresholds import DECISIONS
from credit_assets.defs.checks import check_specs, run_checks
from credit_assets.defs.days import each_day
from credit_assets.defs.resources import (
    DatasetsResource,
    DecisionLogResource,
    MlflowResource,
    StorageResource,
)
from credit_assets.defs.scope import DECISIONS as GROUP
from credit_assets.defs.scope import Scope


def decision_assets(scope: Scope) -> list[dg.AssetsDefinition]:
    """The dataset's daily decisions."""

    @dg.asset(
        key=scope.key("decisions"),
        group_name=scope.group(GROUP),
        partitions_def=scope.partitions,
        backfill_policy=scope.backfill_policy,
        deps=[scope.key("rule_filtered_applications"), scope.key("champion_model")],
        kinds={"mlflow", "parquet"},
        check_specs=check_specs(scope, "decisions"),
    )
    def decisions(
        context: dg.AssetExecutionContext,
        datasets: DatasetsResource,
        storage: StorageResource,
        mlflow: MlflowResource,
        decision_log: DecisionLogResource,
    ) -> dg.MaterializeResult:
        """``rule_reject | approve | reject | review`` per application, with score and versions.

        The model is loaded from the registry by the ``champion`` alias, so a promotion or a
        rollback changes what is decided without a code change. Every day's decisions are
        appended to the decision log before the day's file is written: deciding a day again
        appends, and what was decided before stays readable.
        """
        dataset = datasets.get(scope.name)
        contract, store = dataset.contract(), storage.store(scope.name)
        log = decision_log.log()
        with dataset.deciding(context, context.partition_keys):
            # loaded once for every day of the run
            pipeline, version = mlflow.registry(contract).load(CHAMPION)

            def decide(day: str) -> tuple[dict, list[dg.AssetCheckResult]]:
                applications = store.read_frame("rule_filtered_applications", day).drop(
                    columns=[RULE_ID, RULE_REASON]
                )
                decided = pipeline.decide(applications, model_version=version.version)
                if len(decided) != len(applications):  # one decision per application
                    raise RuntimeError(
                        f"{len(applications)} applications but {len(decided)} decisions"
                    )
                # the record first: no decision is in the day's file without being on record
                recorded = log.record_batch(
                    scope.name,
                    decided,
                    applications,
                    pipeline.contract,
                    pipeline.thresholds,
                    actor=f"dagster run {context.run_id}",
                    partition_day=day,
                )
                decided["partition_date"] = day
                decided["decided_at"] = dt.datetime.now(dt.UTC).isoformat()
                path = store.write_frame(decided, "decisions", day)
                counts = decided["decision"].value_counts()
                metadata = {
                    "rows": len(decided),
                    "decision_log_rows": recorded,
                    **{f"n_{d}": int(counts.get(d, 0)) for d in DECISIONS},
                    "automation_rate": float(automation_of_decisions(counts).value),
                    "model_version": version.version,
                    "thresholds_version": pipeline.thresholds.version,
                    "rules_version": pipeline.contract.rules_version,
                    "path": dg.MetadataValue.path(str(path)),
                }
                return metadata, run_checks("decisions", day, decided, dataset, store)

            return each_day(context, decide)

    return [decisions]
