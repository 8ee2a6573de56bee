"""The data directory: where history, daily applications and outcomes live, and how they
become the time-ordered training table.

Layout (Kaggle's, plus daily batches)::

    DIR/history/*.csv            labelled history, e.g. Kaggle's train.csv (required)
    DIR/applications/DATE.csv    one file of applications per day, no target
    DIR/outcomes/DATE.csv        id,target: outcomes that arrived on DATE

An application file whose name is not a date (Kaggle's ``test.csv``) belongs to the day it
was last modified; a name that looks like a date but is none (``2026-02-30.csv``) is an error.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from credit_assets.core.contract import DatasetContract
from credit_assets.core.errors import CreditAssetsError, DataValidationError, Findings
from credit_assets.core.reading import CsvFile
from credit_assets.core.rules import RULE_ID, apply_rules, rule_hit_counts
from credit_assets.core.validation import (
    NO_ROWS,
    FileKind,
    check_columns,
    check_rows,
    validate_frame,
)

SPLIT = "split"
TRAIN, VALIDATION, HOLDOUT = "train", "validation", "holdout"


_DATE_LIKE = re.compile(r"\d{4}-\d{2}-\d{2}")
# Rows per chunk of a file read in chunks: with 200 features, deciding 20,000 rows peaks at
# about 400 MB over the process's own (bench/memory.py).
CHUNK_ROWS = 20_000


def partition_key(path: Path) -> str:
    if _DATE_LIKE.fullmatch(path.stem):
        try:
            return dt.date.fromisoformat(path.stem).isoformat()
        except ValueError:
            raise DataValidationError(
                str(path), "file name is not a date that exists (expected YYYY-MM-DD.csv)"
            ) from None
    return dt.datetime.fromtimestamp(path.stat().st_mtime, dt.UTC).date().isoformat()


@dataclass(frozen=True)
class DataDir:
    root: Path

    def check(self) -> None:
        if not self.root.is_dir():
            raise CreditAssetsError(f"data directory not found: {self.root}")
        if not self.history_files():
            raise CreditAssetsError(
                f"no history CSV in {self.root / 'history'} "
                "(run 'credit-assets generate DIR' or drop train.csv there)"
            )

    def history_files(self) -> list[Path]:
        return sorted((self.root / "history").glob("*.csv"))

    def _dated(self, kind: str) -> dict[str, Path]:
        files: dict[str, Path] = {}
        for path in sorted((self.root / kind).glob("*.csv")):
            key = partition_key(path)
            if key in files:
                raise CreditAssetsError(f"two {kind} files for {key}: {files[key]} and {path}")
            files[key] = path
        return files

    def application_files(self) -> dict[str, Path]:
        return self._dated("applications")

    def outcome_files(self) -> dict[str, Path]:
        return self._dated("outcomes")

    def first_day(self) -> str:
        """First day with a dated file (else 30 days ago), where daily partitions start."""
        days = [*self._days("applications"), *self._days("outcomes")]
        if days:
            return min(days)
        return (dt.date.today() - dt.timedelta(days=30)).isoformat()

    def _days(self, kind: str) -> list[str]:
        days = []
        for path in (self.root / kind).glob("*.csv"):
            try:
                days.append(dt.date.fromisoformat(path.stem).isoformat())
            except ValueError:
                continue
        return days

    def partitions(self) -> list[str]:
        return sorted(set(self.application_files()) | set(self.outcome_files()))

    def history_columns(self) -> list[str]:
        """Column names in the history files' headers (the model's columns come from them)."""
        columns: list[str] = []
        for path in self.history_files():
            with path.open(newline="", encoding="utf-8", errors="replace") as fh:
                header = next(csv.reader(fh), [])
            columns += [c.lstrip("\ufeff") for c in header if c not in columns]
        return columns


def load_file(
    path: Path,
    contract: DatasetContract,
    kind: FileKind,
    expected_features: list[str] | None = None,
) -> pd.DataFrame:
    """Read and validate one file; ``expected_features``: the feature columns it must have
    (those of the history), so a batch cannot lose or add a model feature."""
    source = CsvFile(path, contract)
    return validate_frame(
        source.read(),
        contract,
        kind,
        source.name,
        expected_features=expected_features,
        line_of=source.lines,
    )


def iter_file_chunks(
    path: Path,
    contract: DatasetContract,
    kind: FileKind,
    expected_features: list[str] | None = None,
    chunk_rows: int = CHUNK_ROWS,
) -> Iterator[pd.DataFrame]:
    """Validated chunks of about ``chunk_rows`` rows of one file, read one at a time, so
    memory follows the chunk, not the file. The rules are those of :func:`load_file`, an id
    repeated across chunks included. Once a problem is found no further chunk is yielded,
    but the rest of the file is still checked, and the error lists every problem; a caller
    that writes as it goes must therefore write to a temporary file it keeps only at the end.
    """
    source = CsvFile(path, contract)
    findings = Findings()
    check_columns(source.columns, contract, kind, findings, expected_features)
    seen: set[str] = set()
    rows = 0
    for first, chunk in source.chunks(chunk_rows):
        rows += len(chunk)
        typed = check_rows(chunk, contract, kind, findings, first_row=first)
        del chunk  # the chunk as read is not kept while it is decided
        if contract.id_column in typed.columns:
            _check_ids_seen(typed[contract.id_column], seen, first, findings)
        if not findings:
            yield typed
        del typed  # nor while the next one is read

    if not rows:
        raise DataValidationError(source.name, NO_ROWS)
    if findings:
        raise findings.error(source.name, source.lines)


def _check_ids_seen(ids: pd.Series, seen: set[str], first: int, findings: Findings) -> None:
    """An id of this chunk that an earlier chunk had; remember this chunk's ids."""
    again = ids.isin(seen).to_numpy()
    if again.any():
        findings.add(
            "id must be unique",
            ids.name,
            rows=list(np.flatnonzero(again)[:5] + first),
            count=int(again.sum()),
            detail=f"e.g. {ids[again].iloc[0]!r}",
        )
    seen.update(ids.dropna())


def concat_partitions(
    frames: dict[str, pd.DataFrame], contract: DatasetContract, what: str
) -> pd.DataFrame:
    """Daily frames as one table; an id that appears on two days is an error naming both."""
    id_col = contract.id_column
    if not frames:
        return pd.DataFrame(columns=[id_col])
    table = pd.concat(list(frames.values()), ignore_index=True)
    days = np.repeat(list(frames), [len(f) for f in frames.values()])
    dup = table[id_col].duplicated(keep=False).to_numpy()
    if dup.any():
        value = table[id_col].to_numpy()[dup][0]
        both = sorted(set(days[table[id_col].to_numpy() == value]))
        raise DataValidationError(
            f"{what} of {' and '.join(both)}",
            "id appears in two daily files",
            column=id_col,
            detail=f"{int(dup.sum())} rows share an id, e.g. {value!r}",
        )
    return table


def load_history(data: DataDir, contract: DatasetContract) -> pd.DataFrame:
    frames = [load_file(p, contract, FileKind.HISTORY) for p in data.history_files()]
    history = pd.concat(frames, ignore_index=True)
    where = str(data.root / "history")
    dup = history[contract.id_column].duplicated()
    if dup.any():
        raise DataValidationError(
            where,
            "id must be unique across files",
            column=contract.id_column,
            detail=f"e.g. {history[contract.id_column][dup].iloc[0]!r}",
        )
    check_history_size(history, contract, where)
    return history


def check_history_size(history: pd.DataFrame, contract: DatasetContract, where: str) -> None:
    """Refuse a history too small to train on: a model trained on 5 rows would be registered
    and, as a first model, promoted."""
    findings = Findings()
    if len(history) < contract.min_history_rows:
        findings.add(
            f"history has {len(history)} rows; the contract's min_history_rows is "
            f"{contract.min_history_rows}"
        )
    target = contract.target.column
    positive, negative = contract.target.labels
    counts = history[target].value_counts()
    for label, value in ((positive, 1), (negative, 0)):
        n = int(counts.get(value, 0))
        if n < contract.min_rows_per_class:
            findings.add(
                f"history has {n} rows of class {label!r}; the contract's min_rows_per_class "
                f"is {contract.min_rows_per_class}",
                target,
            )
    if findings:
        raise findings.error(where)


def label_applications(
    applications: pd.DataFrame, outcomes: pd.DataFrame, contract: DatasetContract
) -> pd.DataFrame:
    """Applications that have an outcome, with its target (inner join on the id)."""
    target = contract.target.column
    return applications.merge(
        outcomes[[contract.id_column, target]],
        on=contract.id_column,
        how="inner",
        validate="one_to_one",
    )


def with_review_labels(
    labelled: pd.DataFrame,
    applications: pd.DataFrame,
    reviews: pd.DataFrame,
    contract: DatasetContract,
) -> pd.DataFrame:
    """``labelled`` (applications with an arrived outcome) plus the applications without one
    that a reviewer decided: a reviewer's reject labels the application a bad outcome, an
    approval a good one. A real outcome always wins over a reviewer's label.

    ``reviews``: ``application_id`` and ``bad`` (``core.reviews.review_labels``).
    """
    id_col, target = contract.id_column, contract.target.column
    unlabelled = ~applications[id_col].isin(labelled[id_col])
    reviewed = reviews.set_index("application_id")["bad"]
    candidates = applications[unlabelled & applications[id_col].isin(reviewed.index)]
    if candidates.empty:
        return labelled
    bad = candidates[id_col].map(reviewed).to_numpy().astype(bool)
    # the validated target holds 1 for the contract's positive class
    positive = bad if contract.target.positive_means == "default" else ~bad
    added = candidates.assign(**{target: positive.astype(labelled[target].dtype)})
    return pd.concat([labelled, added], ignore_index=True)


@dataclass(frozen=True)
class TrainingWindow:
    """Which labelled rows a training learns from.

    ``since`` None: the whole history and every labelled day (the default: more rows, as long
    as what the features say about the outcome has not changed). A date: the labelled
    applications of the days from ``since`` on, e.g. the first day of a new concept after
    concept drift, since a table that mixes the old concept with the new one teaches neither;
    of the history only the newest rows the contract's ``min_history_rows`` still needs.
    """

    since: str | None = None

    def history_rows(self, recent: int, contract: DatasetContract) -> int | None:
        """How many of the newest history rows to keep beside ``recent`` labelled rows
        (None: all of them)."""
        if self.since is None:
            return None
        return max(contract.min_history_rows - recent, 0)

    def days(self, partitions: list[str]) -> list[str]:
        """The application days of ``partitions`` it learns from."""
        return [p for p in partitions if self.since is None or p >= self.since]

    def describe(self, history_rows: int) -> str:
        if self.since is None:
            return "all days"
        return f"applications since {self.since}, {history_rows} history rows"


def newest_rows(frame: pd.DataFrame, n: int | None, contract: DatasetContract) -> pd.DataFrame:
    """The ``n`` newest rows (all with None), by the contract's date column or else by order."""
    if n is None:
        return frame
    if contract.date_column:
        frame = frame.sort_values(contract.date_column, kind="stable")
    return frame.iloc[len(frame) - n :] if n else frame.iloc[:0]


@dataclass(frozen=True)
class TrainingTable:
    frame: pd.DataFrame  # contract columns + target + split
    rule_hits: dict[str, int]
    rows_by_source: dict[str, int]

    def part(self, name: str) -> pd.DataFrame:
        return self.frame[self.frame[SPLIT] == name]


def build_training_table(
    history: pd.DataFrame, labelled: pd.DataFrame, contract: DatasetContract
) -> TrainingTable:
    """History then labelled applications, in time order, split train / validation / holdout.

    Rows a hard rule rejects never reach the model, so they are left out of training. The
    newest rows form the holdout, the ones before them validation: nothing is learned from
    the future.
    """
    id_col = contract.id_column
    shared = set(history[id_col]) & set(labelled[id_col])
    if shared:
        raise DataValidationError(
            "training data",
            "id appears in history and in applications",
            column=id_col,
            detail=f"e.g. {sorted(shared)[0]!r}",
        )
    table = pd.concat([history, labelled], ignore_index=True)
    if contract.date_column:
        table = table.sort_values(contract.date_column, kind="stable", ignore_index=True)
    ruled = apply_rules(table, contract)
    hits = rule_hit_counts(ruled, contract)
    kept = (
        ruled[ruled[RULE_ID].isna()].drop(columns=[RULE_ID, "rule_reason"]).reset_index(drop=True)
    )
    n = len(kept)
    n_hold = round(n * contract.split.holdout_fraction)
    n_val = round(n * contract.split.validation_fraction)
    split = np.full(n, TRAIN, dtype=object)
    split[n - n_hold - n_val : n - n_hold] = VALIDATION
    split[n - n_hold :] = HOLDOUT
    kept[SPLIT] = split
    target = kept[contract.target.column]
    for name in (TRAIN, VALIDATION, HOLDOUT):
        classes = target[kept[SPLIT] == name].nunique()
        if classes < 2:
            raise CreditAssetsError(
                f"the {name} split has only one class: more labelled rows are needed to train"
            )
    return TrainingTable(
        kept, hits, {"history": len(history), "labelled_applications": len(labelled)}
    )


def data_fingerprint(
    table_fingerprint: str, contract_version: str, partitions: dict[str, list[str]]
) -> str:
    """What a model was trained on: the training table's content, the contract it was read
    with, and the partitions (days of applications and outcomes) that went into it."""
    import json

    payload = json.dumps(
        {
            "table": table_fingerprint,
            "contract": contract_version,
            "partitions": {k: sorted(v) for k, v in partitions.items()},
        },
        sort_keys=True,
    )
    return hashlib.sha256(payload.encode()).hexdigest()[:16]


def fingerprint(frame: pd.DataFrame) -> str:
    """Content hash of a table (values, column names and order)."""
    digest = hashlib.sha256(",".join(map(str, frame.columns)).encode())
    digest.update(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes())
    return digest.hexdigest()[:16]


def source_fingerprint(files: list[Path], *versions: str) -> str:
    """Content hash of source files (names and bytes) and of the ``versions`` of whatever
    else decides what is built from them (contract, suite, code); about 0.2 s per 300 MB."""
    digest = hashlib.sha256("\0".join(versions).encode())
    for path in files:
        digest.update(b"\0" + path.name.encode() + b"\0")
        with path.open("rb") as fh:
            digest.update(hashlib.file_digest(fh, "sha256").digest())
    return digest.hexdigest()[:16]


def bad_outcomes(rows: pd.DataFrame, contract: DatasetContract) -> np.ndarray:
    """Which labelled rows are bad outcomes, whichever class the contract calls positive."""
    positive = rows[contract.target.column].to_numpy() == 1
    return positive if contract.target.positive_means == "default" else ~positive
