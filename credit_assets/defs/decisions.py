"""Daily decisions: every application of a day gets exactly one decision row."""

import datetime as dt

import dagster as dg

from credit_assets.core.registry_names import CHAMPION
from credit_assets.core.rules import RULE_ID, RULE_REASON
from credit_assets.core.thresholds import DECISIONS, RULE_REJECT
from credit_assets.defs.checks import check_specs, run_checks
from credit_assets.defs.days import each_day
from credit_assets.defs.resources import DatasetsResource, MlflowResource, StorageResource
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
    ) -> dg.MaterializeResult:
        """``rule_reject | approve | reject | review`` per application, with score and versions.

        The model is loaded from the registry by the ``champion`` alias, so a promotion or a
        rollback changes what is decided without a code change.
        """
        dataset = datasets.get(scope.name)
        contract, store = dataset.contract(), storage.store(scope.name)
        with dataset.writing(context):  # re-deciding a day writes what others read
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
                decided["partition_date"] = day
                decided["decided_at"] = dt.datetime.now(dt.UTC).isoformat()
                path = store.write_frame(decided, "decisions", day)
                counts = decided["decision"].value_counts()
                scored = len(decided) - int(counts.get(RULE_REJECT, 0))
                automated = int(counts.get("approve", 0) + counts.get("reject", 0))
                metadata = {
                    "rows": len(decided),
                    **{f"n_{d}": int(counts.get(d, 0)) for d in DECISIONS},
                    "automation_rate": automated / scored if scored else 0.0,
                    "model_version": version.version,
                    "thresholds_version": pipeline.thresholds.version,
                    "rules_version": pipeline.contract.rules_version,
                    "path": dg.MetadataValue.path(str(path)),
                }
                return metadata, run_checks("decisions", day, decided, dataset, store)

            return each_day(context, decide)

    return [decisions]
