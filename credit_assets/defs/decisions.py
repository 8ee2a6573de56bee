"""Daily decisions: every application of a day gets exactly one decision row."""

import datetime as dt
from collections import Counter

import dagster as dg

from credit_assets.core.dataset import CHUNK_ROWS
from credit_assets.core.figures import automation_of_decisions
from credit_assets.core.registry_names import CHAMPION
from credit_assets.core.rules import RULE_ID, RULE_REASON
from credit_assets.core.thresholds import DECISIONS
from credit_assets.defs.checks import check_specs, run_checks, suite_run
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
        rollback changes what is decided without a code change. A day is read, decided,
        checked and written a chunk at a time (``CREDIT_CHUNK_ROWS``), so memory follows the
        chunk, not the day. Its decisions are put on the decision log in one transaction
        once every chunk is decided, and only then is the day's file written: no decision is
        in the file without being on record, and a day that fails half-way records and
        writes nothing. Deciding a day again appends, and what was decided before stays
        readable.
        """
        dataset = datasets.get(scope.name)
        contract, store = dataset.contract(), storage.store(scope.name)
        chunk_rows = storage.chunk_rows or CHUNK_ROWS
        log = decision_log.log()
        with dataset.deciding(context, context.partition_keys):
            # loaded once for every day of the run
            pipeline, version = mlflow.registry(contract).load(CHAMPION)

            def decide(day: str) -> tuple[dict, list[dg.AssetCheckResult]]:
                decided_at = dt.datetime.now(dt.UTC)
                counts: Counter[str] = Counter()
                suite = suite_run("decisions", dataset)
                with (
                    log.batch(
                        scope.name,
                        pipeline.contract,
                        pipeline.thresholds,
                        actor=f"dagster run {context.run_id}",
                        partition_day=day,
                        decided_at=decided_at,
                    ) as record,
                    store.frame_writer("decisions", day) as write,
                ):
                    for chunk in store.iter_frames("rule_filtered_applications", day, chunk_rows):
                        applications = chunk.drop(columns=[RULE_ID, RULE_REASON])
                        del chunk
                        decided = pipeline.decide(applications, model_version=version.version)
                        if len(decided) != len(applications):  # one decision per application
                            raise RuntimeError(
                                f"{len(applications)} applications but {len(decided)} decisions"
                            )
                        record.add(decided, applications)
                        del applications
                        decided["partition_date"] = day
                        decided["decided_at"] = decided_at.isoformat()
                        write(decided)
                        suite.add(decided)
                        counts.update(decided["decision"].tolist())
                        del decided
                    # on record before the file is written (when this block ends)
                    recorded = record.commit()
                metadata = {
                    "rows": counts.total(),
                    "decision_log_rows": recorded,
                    **{f"n_{d}": counts[d] for d in DECISIONS},
                    "automation_rate": float(automation_of_decisions(counts).value),
                    "model_version": version.version,
                    "thresholds_version": pipeline.thresholds.version,
                    "rules_version": pipeline.contract.rules_version,
                    "path": dg.MetadataValue.path(str(store.location("decisions", day))),
                }
                return metadata, run_checks("decisions", day, suite, dataset, store)

            return each_day(context, decide)

    return [decisions]
