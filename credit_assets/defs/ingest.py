"""Raw data and rule filtering: CSV files in, validated Parquet out (one set per dataset)."""

import json

import dagster as dg
import pandas as pd
from pydantic import Field

from credit_assets.code_version import code_version
from credit_assets.core.dataset import fingerprint, load_file, load_history, source_fingerprint
from credit_assets.core.errors import CreditAssetsError
from credit_assets.core.io import alongside
from credit_assets.core.rules import RULE_ID, apply_rules, rule_hit_counts
from credit_assets.core.validation import FileKind
from credit_assets.defs.checks import Checked, check_specs, run_checks
from credit_assets.defs.days import each_day
from credit_assets.defs.resources import DatasetsResource, StorageResource
from credit_assets.defs.scope import INGEST, Scope


class HistoryConfig(dg.Config):
    recheck: bool = Field(
        default=False,
        description="read and check the history files even when they, the contract, the "
        "suite and the code are those of the last materialization that passed every check",
    )


def ingest_assets(scope: Scope) -> list[dg.AssetsDefinition]:
    """The dataset's raw history, daily applications and outcomes, and rule filtering."""

    @dg.asset(
        key=scope.key("raw_history"),
        group_name=scope.group(INGEST),
        kinds={"csv", "parquet"},
        check_specs=check_specs(scope, "raw_history"),
    )
    def raw_history(
        context: dg.AssetExecutionContext,
        config: HistoryConfig,
        datasets: DatasetsResource,
        storage: StorageResource,
    ) -> dg.MaterializeResult:
        """Labelled history (e.g. Kaggle's train.csv), checked against the contract.

        Every retraining selects the history, which seldom changes: when its files (by content),
        the contract, the suite and the code are those of the last materialization that passed
        every check, the stored table is kept, and its suite's result with it. The checks that
        compare it with other files run every time.
        """
        dataset = datasets.get(scope.name)
        contract, data, store = dataset.contract(), dataset.data(), storage.store(scope.name)
        data.check()
        files = data.history_files()
        suite = dataset.suite("raw_history")
        source = source_fingerprint(
            files,
            contract.version,
            json.dumps(suite.data, sort_keys=True),
            code_version(),
        )
        # where the data and the table are now (the data may have moved since a kept check)
        where = {
            "files": [str(p) for p in files],
            "path": dg.MetadataValue.path(str(store.location("raw_history"))),
        }
        checked = None if config.recheck else Checked.find(store, "raw_history", source)
        if checked is not None:
            ids = store.read_frame("raw_history", columns=[contract.id_column])
            return dg.MaterializeResult(
                metadata={
                    **checked.metadata,
                    **where,
                    "unchanged_since_run": checked.run_id,
                },
                check_results=run_checks("raw_history", None, ids, dataset, store, checked),
            )
        Checked.forget(store, "raw_history")
        frame = load_history(data, contract)
        with alongside(store.write_frame, frame, "raw_history"):
            metadata = {
                "rows": len(frame),
                "positive_rate": float(frame[contract.target.column].mean()),
                "contract_version": contract.version,
                "fingerprint": fingerprint(frame),
                "source_fingerprint": source,
            }
        results = run_checks("raw_history", None, frame, dataset, store)
        Checked.remember(store, "raw_history", source, context.run_id, metadata, results)
        return dg.MaterializeResult(
            metadata={**metadata, **where},
            check_results=results,
        )

    @dg.asset(
        key=scope.key("raw_applications"),
        group_name=scope.group(INGEST),
        partitions_def=scope.partitions,
        backfill_policy=scope.backfill_policy,
        kinds={"csv", "parquet"},
        check_specs=check_specs(scope, "raw_applications"),
    )
    def raw_applications(
        context: dg.AssetExecutionContext, datasets: DatasetsResource, storage: StorageResource
    ) -> dg.MaterializeResult:
        """Each day's applications (no target), checked against the contract."""
        dataset = datasets.get(scope.name)
        data, store = dataset.data(), storage.store(scope.name)
        files = data.application_files()

        def ingest(day: str) -> tuple[dict, list[dg.AssetCheckResult]]:
            if day not in files:
                raise CreditAssetsError(
                    f"no applications file for {day} in {data.root / 'applications'}"
                )
            frame = load_file(
                files[day],
                dataset.contract(),
                FileKind.APPLICATIONS,
                expected_features=data.history_columns() or None,
            )
            path = store.write_frame(frame, "raw_applications", day)
            metadata = {
                "rows": len(frame),
                "file": str(files[day]),
                "path": dg.MetadataValue.path(str(path)),
            }
            return metadata, run_checks("raw_applications", day, frame, dataset, store)

        return each_day(context, ingest)

    @dg.asset(
        key=scope.key("raw_outcomes"),
        group_name=scope.group(INGEST),
        partitions_def=scope.partitions,
        backfill_policy=scope.backfill_policy,
        kinds={"csv", "parquet"},
        check_specs=check_specs(scope, "raw_outcomes"),
    )
    def raw_outcomes(
        context: dg.AssetExecutionContext, datasets: DatasetsResource, storage: StorageResource
    ) -> dg.MaterializeResult:
        """Outcomes (id, target) that arrived each day; none arrived means an empty table."""
        dataset = datasets.get(scope.name)
        contract, store = dataset.contract(), storage.store(scope.name)
        files = dataset.data().outcome_files()

        def ingest(day: str) -> tuple[dict, list[dg.AssetCheckResult]]:
            if day in files:
                frame = load_file(files[day], contract, FileKind.OUTCOMES)
                source = str(files[day])
            else:
                frame = pd.DataFrame(
                    {
                        contract.id_column: pd.Series(dtype=str),
                        contract.target.column: pd.Series(dtype="int8"),
                    }
                )
                source = "(no outcomes arrived)"
            path = store.write_frame(frame, "raw_outcomes", day)
            metadata = {
                "rows": len(frame),
                "file": source,
                "path": dg.MetadataValue.path(str(path)),
            }
            return metadata, run_checks("raw_outcomes", day, frame, dataset, store)

        return each_day(context, ingest)

    @dg.asset(
        key=scope.key("rule_filtered_applications"),
        group_name=scope.group(INGEST),
        partitions_def=scope.partitions,
        backfill_policy=scope.backfill_policy,
        deps=[raw_applications],
        kinds={"pandas", "parquet"},
    )
    def rule_filtered_applications(
        context: dg.AssetExecutionContext, datasets: DatasetsResource, storage: StorageResource
    ) -> dg.MaterializeResult:
        """Each day's applications with the contract's hard rules applied.

        Every row is kept; a rejected row carries the id and reason of the first rule it breaks.
        """
        contract = datasets.get(scope.name).contract()
        store = storage.store(scope.name)

        def apply(day: str) -> tuple[dict, list[dg.AssetCheckResult]]:
            ruled = apply_rules(store.read_frame("raw_applications", day), contract)
            path = store.write_frame(ruled, "rule_filtered_applications", day)
            metadata = {
                "rows": len(ruled),
                "passed": int(ruled[RULE_ID].isna().sum()),
                "rule_hits": rule_hit_counts(ruled, contract),
                "rules_version": contract.rules_version,
                "path": dg.MetadataValue.path(str(path)),
            }
            return metadata, []

        return each_day(context, apply)

    return [raw_history, raw_applications, raw_outcomes, rule_filtered_applications]
