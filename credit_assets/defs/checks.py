"""Quality gates as asset checks: each checked asset's GX suite, and the guards a suite
cannot express (ids across files, leakage, batch size).

A check with ERROR severity is blocking: nothing downstream of the asset runs in that run,
and the asset's file is marked rejected so that no later run (a scheduled retraining, say)
builds on it either. Writing the asset again clears the mark and its checks run again.
WARN checks only report. Checks of partitioned assets run per partition.
"""

from pathlib import Path

import dagster as dg
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv

from credit_assets.core.dataset import DataDir
from credit_assets.core.expectations import Failure, run_suite
from credit_assets.core.guards import (
    RECENT_PARTITIONS,
    feature_leakage,
    ids_seen_elsewhere,
    leakage_columns,
    row_count_vs_recent,
    shared_split_ids,
    unknown_outcome_ids,
)
from credit_assets.core.storage import Store
from credit_assets.defs.decisions import decisions
from credit_assets.defs.ingest import raw_applications, raw_history, raw_outcomes
from credit_assets.defs.partitions import daily_partitions
from credit_assets.defs.resources import DatasetResource, StorageResource
from credit_assets.defs.training import features, training_data

Severity = dg.AssetCheckSeverity


def source_file(asset: str, data: DataDir, store: Store, day: str | None) -> str:
    """What to name in a message: the supplied CSV for raw assets, else the asset's file."""
    if asset == "raw_applications" and day is not None:
        found = data.application_files().get(day)
        return str(found) if found else str(store.location(asset, day))
    if asset == "raw_outcomes" and day is not None:
        found = data.outcome_files().get(day)
        return str(found) if found else f"(no outcomes file for {day})"
    if asset == "raw_history":
        files = data.history_files()
        return ", ".join(str(p) for p in files) if files else str(data.root / "history")
    return str(store.location(asset, day))


def _result(
    store: Store,
    asset: str,
    day: str | None,
    failures: list[Failure],
    file: str,
    passed_text: str,
    metadata: dict,
    id_label: str = "ids",
) -> dg.AssetCheckResult:
    """ERROR if any failure is blocking (and mark the file rejected), WARN if only warnings."""
    errors = [f for f in failures if f.blocking]
    shown = errors or failures
    if not failures:
        return dg.AssetCheckResult(passed=True, description=passed_text, metadata=metadata)
    description = f"{file}: " + "; ".join(f.describe(id_label) for f in shown[:3])
    if len(shown) > 3:
        description += f"; and {len(shown) - 3} more"
    metadata = {
        **metadata,
        "failures": dg.MetadataValue.json([f.to_dict() for f in failures]),
    }
    if errors:
        store.reject(asset, day, description)
    return dg.AssetCheckResult(
        passed=False,
        severity=Severity.ERROR if errors else Severity.WARN,
        description=description,
        metadata=metadata,
    )


def _expectations_check(asset_def: dg.AssetsDefinition, partitioned: bool):
    asset = asset_def.key.to_user_string()

    @dg.asset_check(
        asset=asset_def,
        name="expectations",
        blocking=True,
        partitions_def=daily_partitions if partitioned else None,
        description=f"The GX suite expectations/<contract>/{asset}.json (or, without that "
        "file, the suite derived from the contract). Critical expectations block, "
        "warning ones warn.",
    )
    def _check(
        context: dg.AssetCheckExecutionContext,
        dataset: DatasetResource,
        storage: StorageResource,
    ) -> dg.AssetCheckResult:
        day = context.partition_key if partitioned else None
        contract, store, data = dataset.contract(), storage.store(), dataset.data()
        frame = store.read_frame(asset, day, include_rejected=True)
        file = source_file(asset, data, store, day)
        if asset == "raw_outcomes" and frame.empty and day not in data.outcome_files():
            return dg.AssetCheckResult(passed=True, description="no outcomes arrived")
        suite = dataset.suite(asset)
        reserved = [contract.id_column, contract.target.column, *contract.post_outcome]
        if contract.date_column:
            reserved.append(contract.date_column)
        report = run_suite(frame, suite, contract.id_column, reserved)
        metadata = {
            "suite": report.suite,
            "suite_source": suite.source,
            "rows": report.rows,
            "expectations": report.evaluated,
            "failed": len(report.failures),
            "seconds": round(report.seconds, 3),
            "file": file,
        }
        if report.failures:
            metadata["failures_table"] = dg.MetadataValue.md(report.markdown())
        return _result(
            store,
            asset,
            day,
            list(report.failures),
            file,
            f"{report.evaluated} expectations hold on {report.rows} rows",
            metadata,
            report.id_label,
        )

    return _check


expectation_checks = [
    _expectations_check(raw_history, partitioned=False),
    _expectations_check(raw_applications, partitioned=True),
    _expectations_check(raw_outcomes, partitioned=True),
    _expectations_check(training_data, partitioned=False),
    _expectations_check(features, partitioned=False),
    _expectations_check(decisions, partitioned=True),
]


def _application_ids(store: Store, id_col: str, skip: str | None = None) -> dict[str, pd.Series]:
    """The id column of every stored applications day but ``skip``, named for messages."""
    return {
        f"applications of {day}": store.read_frame("raw_applications", day, [id_col])[id_col]
        for day in store.partitions("raw_applications")
        if day != skip
    }


def _ids_new_result(
    store: Store,
    asset: str,
    day: str | None,
    ids: pd.Series,
    elsewhere: dict[str, pd.Series],
    file: str,
    id_col: str,
    passed_text: str,
) -> dg.AssetCheckResult:
    """Blocking result of an "ids are new" check: ``ids`` must be in none of ``elsewhere``."""
    failure = ids_seen_elsewhere(ids, elsewhere, id_col)
    return _result(
        store,
        asset,
        day,
        [failure] if failure else [],
        file,
        passed_text,
        {"rows": len(ids), "files_compared": len(elsewhere)},
        id_col,
    )


@dg.asset_check(
    asset=raw_applications,
    blocking=True,
    partitions_def=daily_partitions,
    description="Every application id is new: in no other day's file and not in the history "
    "(else one applicant could be in train and in holdout).",
)
def ids_not_in_other_files(
    context: dg.AssetCheckExecutionContext, dataset: DatasetResource, storage: StorageResource
) -> dg.AssetCheckResult:
    day, contract, store = context.partition_key, dataset.contract(), storage.store()
    id_col = contract.id_column
    ids = store.read_frame("raw_applications", day, [id_col], include_rejected=True)[id_col]
    elsewhere = _application_ids(store, id_col, skip=day)
    if store.exists("raw_history") and store.rejected("raw_history") is None:
        elsewhere["the history"] = store.read_frame("raw_history", columns=[id_col])[id_col]
    return _ids_new_result(
        store,
        "raw_applications",
        day,
        ids,
        elsewhere,
        source_file("raw_applications", dataset.data(), store, day),
        id_col,
        f"{len(ids)} ids, none seen in {len(elsewhere)} other files",
    )


@dg.asset_check(
    asset=raw_history,
    blocking=True,
    description="No history id is also an application id (it would be learned from twice, "
    "possibly in train and in holdout).",
)
def history_ids_not_in_applications(
    dataset: DatasetResource, storage: StorageResource
) -> dg.AssetCheckResult:
    contract, store = dataset.contract(), storage.store()
    id_col = contract.id_column
    ids = store.read_frame("raw_history", columns=[id_col], include_rejected=True)[id_col]
    elsewhere = _application_ids(store, id_col)
    return _ids_new_result(
        store,
        "raw_history",
        None,
        ids,
        elsewhere,
        source_file("raw_history", dataset.data(), store, None),
        id_col,
        f"{len(ids)} history ids, none in {len(elsewhere)} application files",
    )


@dg.asset_check(
    asset=raw_applications,
    blocking=True,
    partitions_def=daily_partitions,
    description="Application data has neither the target nor a post-outcome column.",
)
def no_target_or_post_outcome_columns(
    context: dg.AssetCheckExecutionContext, dataset: DatasetResource, storage: StorageResource
) -> dg.AssetCheckResult:
    day, contract, store = context.partition_key, dataset.contract(), storage.store()
    failure = leakage_columns(store.columns("raw_applications", day), contract)
    return _result(
        store,
        "raw_applications",
        day,
        [failure] if failure else [],
        source_file("raw_applications", dataset.data(), store, day),
        "no target or post-outcome column",
        {"forbidden": [contract.target.column, *contract.post_outcome]},
    )


@dg.asset_check(
    asset=raw_applications,
    blocking=False,
    partitions_def=daily_partitions,
    description="WARN when a day's batch is over 3x (or under 1/3) the average of the "
    f"last {RECENT_PARTITIONS} days: suspicious, not invalid.",
)
def row_count_near_recent_average(
    context: dg.AssetCheckExecutionContext, dataset: DatasetResource, storage: StorageResource
) -> dg.AssetCheckResult:
    day, store = context.partition_key, storage.store()
    earlier = [p for p in store.partitions("raw_applications") if p < day][-RECENT_PARTITIONS:]
    recent = {p: store.row_count("raw_applications", p) for p in earlier}
    rows = store.row_count("raw_applications", day)
    failure = row_count_vs_recent(rows, recent)
    return _result(
        store,
        "raw_applications",
        day,
        [failure] if failure else [],
        source_file("raw_applications", dataset.data(), store, day),
        f"{rows} rows against {len(recent)} recent days",
        {"rows": rows, "recent_rows": recent},
    )


def _known_application_ids(data: DataDir, store: Store, day: str, id_col: str) -> pd.Series:
    """Ids of every application file up to ``day``: materialized ones from storage, the rest
    (e.g. the same day's, ingested in the same run) from the CSV's id column."""
    stored = set(store.partitions("raw_applications"))
    known = [
        store.read_frame("raw_applications", other, [id_col])[id_col]
        if other in stored
        else _csv_ids(path, id_col)
        for other, path in data.application_files().items()
        if other <= day
    ]
    return pd.concat([pd.Series(dtype=str), *known], ignore_index=True)


def _csv_ids(path: Path, id_col: str) -> pd.Series:
    """The id column of a CSV: Arrow's reader converts that column alone."""
    try:
        table = pacsv.read_csv(
            path,
            convert_options=pacsv.ConvertOptions(
                include_columns=[id_col], column_types={id_col: pa.string()}
            ),
        )
    except (pa.ArrowInvalid, KeyError, OSError):  # the file is broken: its own checks say so
        return pd.Series(dtype=str)
    return table.column(id_col).to_pandas()


@dg.asset_check(
    asset=raw_outcomes,
    blocking=False,
    partitions_def=daily_partitions,
    description="WARN for outcomes of ids no application file has: the join with "
    "applications drops them, so they cannot reach the model, but the supplier should know.",
)
def outcome_ids_known(
    context: dg.AssetCheckExecutionContext, dataset: DatasetResource, storage: StorageResource
) -> dg.AssetCheckResult:
    day, contract, store, data = (
        context.partition_key,
        dataset.contract(),
        storage.store(),
        dataset.data(),
    )
    id_col = contract.id_column
    ids = store.read_frame("raw_outcomes", day, [id_col], include_rejected=True)[id_col]
    if ids.empty:
        return dg.AssetCheckResult(passed=True, description="no outcomes arrived")
    failure = unknown_outcome_ids(ids, _known_application_ids(data, store, day, id_col), id_col)
    return _result(
        store,
        "raw_outcomes",
        day,
        [failure] if failure else [],
        source_file("raw_outcomes", data, store, day),
        f"all {len(ids)} outcome ids belong to applications",
        {"rows": len(ids)},
        id_col,
    )


@dg.asset_check(
    asset=training_data,
    blocking=True,
    description="Train, validation and holdout share no id.",
)
def splits_share_no_id(dataset: DatasetResource, storage: StorageResource) -> dg.AssetCheckResult:
    contract, store = dataset.contract(), storage.store()
    table = store.read_frame(
        "training_data", columns=[contract.id_column, "split"], include_rejected=True
    )
    failure = shared_split_ids(table, contract.id_column)
    return _result(
        store,
        "training_data",
        None,
        [failure] if failure else [],
        str(store.location("training_data")),
        "no id in more than one split",
        {"rows": len(table)},
        contract.id_column,
    )


@dg.asset_check(
    asset=features,
    blocking=True,
    description="No model feature is the id, target, date, a post-outcome column or a "
    "protected attribute.",
)
def no_leakage_in_features(
    dataset: DatasetResource, storage: StorageResource
) -> dg.AssetCheckResult:
    contract, store = dataset.contract(), storage.store()
    builder = store.read_object("features", "feature_builder")
    failure = feature_leakage(builder.feature_names_out_, store.columns("training_data"), contract)
    return _result(
        store,
        "features",
        None,
        [failure] if failure else [],
        str(store.location("features")),
        f"{len(builder.feature_names_out_)} features, none forbidden",
        {"features": len(builder.feature_names_out_)},
    )
