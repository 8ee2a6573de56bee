"""Raw data and rule filtering: CSV files in, validated Parquet out."""

import dagster as dg
import pandas as pd

from credit_assets.core.dataset import fingerprint, load_file, load_history
from credit_assets.core.errors import CreditAssetsError
from credit_assets.core.rules import RULE_ID, apply_rules, rule_hit_counts
from credit_assets.core.validation import FileKind
from credit_assets.defs.checks import check_specs, run_checks
from credit_assets.defs.partitions import daily_partitions
from credit_assets.defs.resources import DatasetResource, StorageResource


@dg.asset(group_name="ingest", kinds={"csv", "parquet"}, check_specs=check_specs("raw_history"))
def raw_history(dataset: DatasetResource, storage: StorageResource) -> dg.MaterializeResult:
    """Labelled history (e.g. Kaggle's train.csv), checked against the contract."""
    contract, data = dataset.contract(), dataset.data()
    data.check()
    frame = load_history(data, contract)
    store = storage.store()
    path = store.write_frame(frame, "raw_history")
    target = frame[contract.target.column]
    return dg.MaterializeResult(
        metadata={
            "rows": len(frame),
            "positive_rate": float(target.mean()),
            "files": [str(p) for p in data.history_files()],
            "contract_version": contract.version,
            "fingerprint": fingerprint(frame),
            "path": dg.MetadataValue.path(str(path)),
        },
        check_results=run_checks("raw_history", None, frame, dataset, store),
    )


@dg.asset(
    group_name="ingest",
    partitions_def=daily_partitions,
    kinds={"csv", "parquet"},
    check_specs=check_specs("raw_applications"),
)
def raw_applications(
    context: dg.AssetExecutionContext, dataset: DatasetResource, storage: StorageResource
) -> dg.MaterializeResult:
    """One day's applications (no target), checked against the contract."""
    day = context.partition_key
    data = dataset.data()
    files = data.application_files()
    if day not in files:
        raise CreditAssetsError(f"no applications file for {day} in {data.root / 'applications'}")
    frame = load_file(
        files[day],
        dataset.contract(),
        FileKind.APPLICATIONS,
        expected_features=data.history_columns() or None,
    )
    store = storage.store()
    path = store.write_frame(frame, "raw_applications", day)
    return dg.MaterializeResult(
        metadata={
            "rows": len(frame),
            "file": str(files[day]),
            "path": dg.MetadataValue.path(str(path)),
        },
        check_results=run_checks("raw_applications", day, frame, dataset, store),
    )


@dg.asset(
    group_name="ingest",
    partitions_def=daily_partitions,
    kinds={"csv", "parquet"},
    check_specs=check_specs("raw_outcomes"),
)
def raw_outcomes(
    context: dg.AssetExecutionContext, dataset: DatasetResource, storage: StorageResource
) -> dg.MaterializeResult:
    """Outcomes (id, target) that arrived on this day; none arrived means an empty table."""
    day = context.partition_key
    contract = dataset.contract()
    files = dataset.data().outcome_files()
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
    store = storage.store()
    path = store.write_frame(frame, "raw_outcomes", day)
    return dg.MaterializeResult(
        metadata={
            "rows": len(frame),
            "file": source,
            "path": dg.MetadataValue.path(str(path)),
        },
        check_results=run_checks("raw_outcomes", day, frame, dataset, store),
    )


@dg.asset(
    group_name="ingest",
    partitions_def=daily_partitions,
    deps=[raw_applications],
    kinds={"pandas", "parquet"},
)
def rule_filtered_applications(
    context: dg.AssetExecutionContext, dataset: DatasetResource, storage: StorageResource
) -> dg.MaterializeResult:
    """The day's applications with the contract's hard rules applied.

    Every row is kept; a rejected row carries the id and reason of the first rule it breaks.
    """
    day = context.partition_key
    contract = dataset.contract()
    store = storage.store()
    ruled = apply_rules(store.read_frame("raw_applications", day), contract)
    path = store.write_frame(ruled, "rule_filtered_applications", day)
    hits = rule_hit_counts(ruled, contract)
    return dg.MaterializeResult(
        metadata={
            "rows": len(ruled),
            "passed": int(ruled[RULE_ID].isna().sum()),
            "rule_hits": hits,
            "rules_version": contract.rules_version,
            "path": dg.MetadataValue.path(str(path)),
        }
    )
