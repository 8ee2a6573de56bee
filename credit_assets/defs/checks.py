"""Quality gates as asset checks: each checked asset's GX suite, and the guards a suite
cannot express (ids across files, leakage, batch size).

The checks run inside the step that writes the asset (the asset declares them as
``check_specs`` and returns their results), on the table it has just written and still holds
in memory: no second read of the file, and no step of their own to schedule on a worker.

A check with ERROR severity is blocking: the step fails after reporting every check, nothing
downstream of the asset runs in that run, and the asset's file is marked rejected so that no
later run (a scheduled retraining, say) builds on it either. Writing the asset again clears
the mark and its checks run again. WARN checks only report. A check that cannot run at all
(it raised) also marks the file rejected: an unchecked file is not a checked one.
"""

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from functools import cached_property
from pathlib import Path

import dagster as dg
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv

from credit_assets.core.contract import DatasetContract
from credit_assets.core.dataset import SPLIT, DataDir
from credit_assets.core.expectations import ChunkedSuiteRun, Failure, run_suite
from credit_assets.core.guards import (
    RECENT_PARTITIONS,
    feature_leakage,
    ids_seen_elsewhere,
    row_count_vs_recent,
    shared_split_ids,
    unknown_outcome_ids,
)
from credit_assets.core.storage import Store
from credit_assets.defs.resources import Dataset
from credit_assets.defs.scope import Scope

Severity = dg.AssetCheckSeverity
NO_OUTCOMES = dg.AssetCheckResult(passed=True, description="no outcomes arrived")


@dataclass(frozen=True)
class Written:
    """An asset file just written, as its checks see it."""

    asset: str
    day: str | None
    frame: pd.DataFrame | None  # what was written; None if it was checked chunk by chunk
    dataset: Dataset
    store: Store
    suite_run: ChunkedSuiteRun | None = None  # the suite, run on each chunk as it was written

    @cached_property
    def contract(self) -> DatasetContract:
        return self.dataset.contract()

    @cached_property
    def data(self) -> DataDir:
        return self.dataset.data()

    @cached_property
    def file(self) -> str:
        """What to name in a message: the supplied CSV for raw assets, else the asset's file."""
        data, day = self.data, self.day
        if self.asset == "raw_applications" and day is not None:
            found = data.application_files().get(day)
            return str(found) if found else str(self.store.location(self.asset, day))
        if self.asset == "raw_outcomes" and day is not None:
            found = data.outcome_files().get(day)
            return str(found) if found else f"(no outcomes file for {day})"
        if self.asset == "raw_history":
            files = data.history_files()
            return ", ".join(str(p) for p in files) if files else str(data.root / "history")
        return str(self.store.location(self.asset, day))

    def result(
        self,
        failures: list[Failure],
        passed_text: str,
        metadata: dict,
        id_label: str = "ids",
    ) -> dg.AssetCheckResult:
        """ERROR if any failure is blocking (and mark the file rejected), WARN if only
        warnings."""
        if not failures:
            return dg.AssetCheckResult(passed=True, description=passed_text, metadata=metadata)
        errors = [f for f in failures if f.blocking]
        shown = errors or failures
        description = f"{self.file}: " + "; ".join(f.describe(id_label) for f in shown[:3])
        if len(shown) > 3:
            description += f"; and {len(shown) - 3} more"
        metadata = {
            **metadata,
            "failures": dg.MetadataValue.json([f.to_dict() for f in failures]),
        }
        if errors:
            self.store.reject(self.asset, self.day, description)
        return dg.AssetCheckResult(
            passed=False,
            severity=Severity.ERROR if errors else Severity.WARN,
            description=description,
            metadata=metadata,
        )


@dataclass(frozen=True)
class Check:
    name: str
    blocking: bool
    description: str
    run: Callable[[Written], dg.AssetCheckResult]
    # the result depends on the asset's own table, the contract and the suite alone, so it
    # holds for as long as they are unchanged (see ``Checked``)
    own_table: bool = False


_CHECKED = "checked_source"


def _own_table_checks(asset: str) -> set[str]:
    return {c.name for c in CHECKS[asset] if c.own_table}


@dataclass(frozen=True)
class Checked:
    """A source whose asset passed every check, recorded beside the asset's file so that the
    same source is not read and checked again: ``source`` fingerprints its files and the
    versions of the contract, suite and code; ``results`` holds what each own-table check
    said."""

    source: str
    run_id: str
    metadata: dict  # the materialization's, without its path
    results: dict[str, dict]  # check name -> {"description": ..., "metadata": ...}

    @classmethod
    def find(cls, store: Store, asset: str, source: str) -> "Checked | None":
        """The record for ``source``, if the asset's file is there, not rejected, and every
        own-table check it has now was recorded."""
        if not store.exists(asset, _CHECKED, "json") or not store.exists(asset):
            return None
        try:
            checked = cls(**store.read_json(asset, _CHECKED))
        except (TypeError, ValueError):  # unreadable, or written by another version: distrust
            return None
        if checked.source != source or not _own_table_checks(asset) <= set(checked.results):
            return None
        return checked if store.rejected(asset) is None else None

    @staticmethod
    def forget(store: Store, asset: str) -> None:
        """Before the asset's file is written anew: the record no longer describes it."""
        store.delete_json(asset, _CHECKED)

    @staticmethod
    def remember(
        store: Store,
        asset: str,
        source: str,
        run_id: str,
        metadata: dict,
        results: list[dg.AssetCheckResult],
    ) -> None:
        """After the asset's file was written and checked: record the source if every
        check passed."""
        if not all(r.passed for r in results):
            return
        own = _own_table_checks(asset)
        said = {
            r.check_name: {
                "description": r.description,
                # Dagster has wrapped every value; keep the plain ones (not this run's timing)
                "metadata": {
                    k: v.value
                    for k, v in r.metadata.items()
                    if k != "seconds"
                    and isinstance(v.value, str | int | float | bool | list | dict)
                },
            }
            for r in results
            if r.check_name in own
        }
        store.write_json(asdict(Checked(source, run_id, metadata, said)), asset, _CHECKED)

    def result(self, check: Check) -> dg.AssetCheckResult:
        said = self.results[check.name]
        return dg.AssetCheckResult(
            passed=True,
            description=f"{said['description']} (checked in run {self.run_id[:8]}; "
            "source unchanged since)",
            metadata={**said["metadata"], "checked_in_run": self.run_id},
        )


def _reserved(contract: DatasetContract) -> list[str]:
    """Columns a suite's column patterns never match."""
    reserved = [contract.id_column, contract.target.column, *contract.post_outcome]
    return [*reserved, contract.date_column] if contract.date_column else reserved


def suite_run(asset: str, dataset: Dataset) -> ChunkedSuiteRun:
    """The asset's suite, to run on each chunk of its table as the chunk is written; give it
    to :func:`run_checks` in place of the table."""
    contract = dataset.contract()
    return ChunkedSuiteRun(dataset.suite(asset), contract.id_column, _reserved(contract))


def expectations(w: Written) -> dg.AssetCheckResult:
    contract = w.contract
    if w.suite_run is not None:
        report = w.suite_run.report()
    else:
        assert w.frame is not None
        if w.asset == "raw_outcomes" and w.frame.empty and w.day not in w.data.outcome_files():
            return NO_OUTCOMES
        suite = w.dataset.suite(w.asset)
        report = run_suite(w.frame, suite, contract.id_column, _reserved(contract))
    metadata = {
        "suite": report.suite,
        "suite_source": report.source,
        "rows": report.rows,
        "expectations": report.evaluated,
        "failed": len(report.failures),
        "file": w.file,
    }
    if report.failures:
        metadata["failures_table"] = dg.MetadataValue.md(report.markdown())
    return w.result(
        list(report.failures),
        f"{report.evaluated} expectations hold on {report.rows} rows",
        metadata,
        report.id_label,
    )


EXPECTATIONS = Check(
    "expectations",
    True,
    "The GX suite expectations/<contract>/<asset>.json (or, without that file, the suite "
    "derived from the contract). Critical expectations block, warning ones warn.",
    expectations,
    own_table=True,
)


def _application_ids(store: Store, id_col: str, skip: str | None = None) -> dict[str, pd.Series]:
    """The id column of every stored applications day but ``skip``, named for messages."""
    return {
        f"applications of {day}": store.read_frame("raw_applications", day, [id_col])[id_col]
        for day in store.partitions("raw_applications")
        if day != skip
    }


def _ids_new(w: Written, elsewhere: dict[str, pd.Series], passed_text: str) -> dg.AssetCheckResult:
    """Blocking result of an "ids are new" check: the written ids are in none of
    ``elsewhere``."""
    id_col = w.contract.id_column
    ids = w.frame[id_col]
    failure = ids_seen_elsewhere(ids, elsewhere, id_col)
    return w.result(
        [failure] if failure else [],
        passed_text,
        {"rows": len(ids), "files_compared": len(elsewhere)},
        id_col,
    )


def ids_not_in_other_files(w: Written) -> dg.AssetCheckResult:
    id_col, store = w.contract.id_column, w.store
    elsewhere = _application_ids(store, id_col, skip=w.day)
    if store.exists("raw_history") and store.rejected("raw_history") is None:
        elsewhere["the history"] = store.read_frame("raw_history", columns=[id_col])[id_col]
    return _ids_new(w, elsewhere, f"{len(w.frame)} ids, none seen in {len(elsewhere)} other files")


def history_ids_not_in_applications(w: Written) -> dg.AssetCheckResult:
    elsewhere = _application_ids(w.store, w.contract.id_column)
    return _ids_new(
        w, elsewhere, f"{len(w.frame)} history ids, none in {len(elsewhere)} application files"
    )


def row_count_near_recent_average(w: Written) -> dg.AssetCheckResult:
    store, day = w.store, w.day
    earlier = [p for p in store.partitions("raw_applications") if p < day][-RECENT_PARTITIONS:]
    recent = {p: store.row_count("raw_applications", p) for p in earlier}
    failure = row_count_vs_recent(len(w.frame), recent)
    return w.result(
        [failure] if failure else [],
        f"{len(w.frame)} rows against {len(recent)} recent days",
        {"rows": len(w.frame), "recent_rows": recent},
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


def outcome_ids_known(w: Written) -> dg.AssetCheckResult:
    id_col = w.contract.id_column
    ids = w.frame[id_col]
    if ids.empty:
        return NO_OUTCOMES
    known = _known_application_ids(w.data, w.store, w.day, id_col)
    failure = unknown_outcome_ids(ids, known, id_col)
    return w.result(
        [failure] if failure else [],
        f"all {len(ids)} outcome ids belong to applications",
        {"rows": len(ids)},
        id_col,
    )


def splits_share_no_id(w: Written) -> dg.AssetCheckResult:
    id_col = w.contract.id_column
    failure = shared_split_ids(w.frame[[id_col, SPLIT]], id_col)
    return w.result(
        [failure] if failure else [],
        "no id in more than one split",
        {"rows": len(w.frame)},
        id_col,
    )


def no_leakage_in_features(w: Written) -> dg.AssetCheckResult:
    builder = w.store.read_object("features", "feature_builder")
    names = builder.feature_names_out_
    failure = feature_leakage(names, w.store.columns("training_data"), w.contract)
    return w.result(
        [failure] if failure else [],
        f"{len(names)} features, none forbidden",
        {"features": len(names)},
    )


CHECKS: dict[str, list[Check]] = {
    "raw_history": [
        EXPECTATIONS,
        Check(
            "history_ids_not_in_applications",
            True,
            "No history id is also an application id (it would be learned from twice, "
            "possibly in train and in holdout).",
            history_ids_not_in_applications,
        ),
    ],
    "raw_applications": [
        EXPECTATIONS,
        Check(
            "ids_not_in_other_files",
            True,
            "Every application id is new: in no other day's file and not in the history "
            "(else one applicant could be in train and in holdout).",
            ids_not_in_other_files,
        ),
        Check(
            "row_count_near_recent_average",
            False,
            "WARN when a day's batch is over 3x (or under 1/3) the average of the last "
            f"{RECENT_PARTITIONS} days: suspicious, not invalid.",
            row_count_near_recent_average,
        ),
    ],
    "raw_outcomes": [
        EXPECTATIONS,
        Check(
            "outcome_ids_known",
            False,
            "WARN for outcomes of ids no application file has: the join with applications "
            "drops them, so they cannot reach the model, but the supplier should know.",
            outcome_ids_known,
        ),
    ],
    "training_data": [
        EXPECTATIONS,
        Check(
            "splits_share_no_id",
            True,
            "Train, validation and holdout share no id.",
            splits_share_no_id,
        ),
    ],
    "features": [
        EXPECTATIONS,
        Check(
            "no_leakage_in_features",
            True,
            "No model feature is the id, target, date, a post-outcome column or a "
            "protected attribute.",
            no_leakage_in_features,
        ),
    ],
    "decisions": [EXPECTATIONS],
}


def check_specs(scope: Scope, asset: str) -> list[dg.AssetCheckSpec]:
    """The checks the dataset's ``asset`` declares; its step runs them with ``run_checks``."""
    return [
        dg.AssetCheckSpec(
            c.name, asset=scope.key(asset), blocking=c.blocking, description=c.description
        )
        for c in CHECKS[asset]
    ]


def run_checks(
    asset: str,
    day: str | None,
    frame: pd.DataFrame | ChunkedSuiteRun,
    dataset: Dataset,
    store: Store,
    checked: Checked | None = None,
) -> list[dg.AssetCheckResult]:
    """Every check of ``asset`` on the ``frame`` just written, each timed (``seconds``).

    With ``checked`` (the asset's source is unchanged and its file kept), own-table checks
    report what they found then, and ``frame`` need only hold what the others read. An asset
    whose one check is its suite may be written a chunk at a time: ``frame`` is then the
    :func:`suite_run` each chunk was given to.
    """
    if isinstance(frame, ChunkedSuiteRun):
        if CHECKS[asset] != [EXPECTATIONS]:
            raise ValueError(f"{asset} has checks that need its whole table")
        written = Written(asset, day, None, dataset, store, suite_run=frame)
    else:
        written = Written(asset, day, frame, dataset, store)
    results = []
    for check in CHECKS[asset]:
        started = time.perf_counter()
        try:
            result = checked.result(check) if checked and check.own_table else check.run(written)
        except Exception as exc:
            store.reject(asset, day, f"check {check.name} could not run: {exc}")
            raise
        seconds = round(time.perf_counter() - started, 3)
        results.append(
            result._replace(
                check_name=check.name,
                metadata={**result.metadata, "seconds": dg.MetadataValue.float(seconds)},
            )
        )
    return results
