"""The decision log: the platform's one record of decisions.

Whatever decides (the daily batch ``decisions`` asset, the real-time API, a reviewer in the
web app) appends here, with who or what decided, when, on which inputs and with which model,
rules and thresholds versions and review band. Rows are never updated: re-deciding adds a
row, so an application's history (:meth:`DecisionLog.history`) shows everything it was told.

SQLite by default (``sqlite:///$CREDIT_HOME/decisions.db``), PostgreSQL in the scale-out
profile; the schema is managed by Alembic and brought to the latest revision on first use.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import math
import pickle
import queue
import tempfile
import threading
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from functools import cached_property
from importlib import resources
from pathlib import Path
from typing import IO, Any

import numpy as np
import orjson
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from credit_assets.core.contract import DatasetContract
from credit_assets.core.decision_inputs import (
    FORMAT,
    decode,
    encode,
    fingerprint,
    frame_records,
    json_values,
    redacted,
)
from credit_assets.core.decision_log_schema import decision_inputs, decisions, review_queue
from credit_assets.core.errors import CreditAssetsError
from credit_assets.core.pg_copy import copy_binary, copy_columns, copy_out
from credit_assets.core.reasons import TOP_REASONS
from credit_assets.core.rules import RULE_ID, RULE_REASON
from credit_assets.core.thresholds import Thresholds

SOURCES = ("batch", "api", "review")
# The most rows a blob of a batch's inputs holds. Reading one decision fetches, hashes and
# decodes its whole blob: get() took 4.3 ms (SQLite) and 7.7 ms (PostgreSQL) at 1,000 rows of
# 200 inputs, 6.5 and 9.9 ms at 2,000; 500 saved the reader little and cost the writer more
# (a set-up per blob). bench/README.md, decision_log.
BLOB_ROWS = 1_000
# The one statement a migration lock is held for (any 64-bit number unique to this app).
_PG_MIGRATION_LOCK = 7_215_040_111
_MIGRATED: set[str] = set()  # URLs brought to the latest revision by this process


class DecisionLogUnavailableError(CreditAssetsError):
    """The decision log cannot be reached or written: nothing may be decided off the record."""


class DecisionLogDamagedError(CreditAssetsError):
    """Inputs a decision points at are missing or not what was stored."""


class IdempotencyConflictError(CreditAssetsError):
    """An idempotency key was used before for different inputs."""


@dataclass(frozen=True)
class Reason:
    code: str
    text: str
    contribution: float | None


@dataclass(frozen=True)
class RecordedDecision:
    """One row of the log, as a reader sees it."""

    decision_id: str
    dataset: str
    application_id: str
    source: str
    actor: str
    decided_at: dt.datetime
    partition_day: str | None
    request_id: str | None
    idempotency_key: str | None
    input_fingerprint: str
    inputs: dict[str, Any]
    decision: str
    score: float | None
    reasons: list[Reason]
    rule_id: str | None
    rule_reason: str | None
    model_version: str | None
    thresholds_version: str | None
    rules_version: str | None
    approve_below: float | None
    reject_above: float | None
    latency_ms: float | None

    @classmethod
    def from_row(cls, row: Mapping[str, Any], inputs: dict[str, Any]) -> RecordedDecision:
        """A log row (read back, or as it was appended), with its ``inputs`` as
        :func:`_read` reads them."""
        data = {k: v for k, v in row.items() if k not in _STORAGE}
        at = data["decided_at"]
        data["decided_at"] = at if at.tzinfo else at.replace(tzinfo=dt.UTC)
        data["inputs"] = inputs
        data["reasons"] = [Reason(**r) for r in orjson.loads(data["reasons"])]
        return cls(**data)

    def to_dict(self) -> dict[str, Any]:
        out = {f: getattr(self, f) for f in self.__dataclass_fields__}
        out["decided_at"] = self.decided_at.isoformat()
        out["reasons"] = [r.__dict__ for r in self.reasons]
        return out


def _none_if_nan(value: Any) -> Any:
    return None if isinstance(value, float) and math.isnan(value) else value


def _reasons_json(columns: dict[str, list[Any]]) -> list[str]:
    per_reason = [
        zip(
            columns[f"reason_{i}"],
            columns[f"reason_text_{i}"],
            columns[f"contribution_{i}"],
            strict=True,
        )
        for i in range(1, TOP_REASONS + 1)
        if f"reason_{i}" in columns
    ]
    out = []
    for row in zip(*per_reason, strict=True):
        out.append(
            orjson.dumps(
                [
                    {"code": code, "text": text, "contribution": _none_if_nan(contribution)}
                    for code, text, contribution in row
                    if isinstance(code, str) and code  # unused slots are empty or missing
                ]
            ).decode()
        )
    return out


def alembic_config(connection: Connection) -> Any:
    """Alembic's configuration for the packaged migrations, run on ``connection``."""
    from alembic.config import Config

    config = Config()
    config.set_main_option(
        "script_location", str(resources.files("credit_assets.core") / "decision_log_migrations")
    )
    config.attributes["connection"] = connection
    return config


class DecisionLog:
    """Append decisions and read them back, on any SQLAlchemy URL."""

    def __init__(self, url: str, *, redact_protected: bool = False) -> None:
        self.url = url
        self.redact_protected = redact_protected

    @cached_property
    def engine(self) -> Engine:
        url = sa.make_url(self.url)
        if url.get_backend_name() == "sqlite":
            if url.database:
                Path(url.database).parent.mkdir(parents=True, exist_ok=True)
            engine = sa.create_engine(url, connect_args={"timeout": 30})
            sa.event.listen(engine, "connect", _sqlite_pragmas)
            return engine
        return sa.create_engine(url, pool_pre_ping=True, pool_size=10)

    # -- schema ------------------------------------------------------------------------------

    def migrate(self) -> None:
        """Bring the schema to the latest revision (Alembic ``upgrade head``), once per
        process and URL (a daily step opens a new log each time); several processes
        starting together take turns."""
        if self.url in _MIGRATED:
            return
        from alembic import command

        try:
            with self._migration_lock(), self.engine.begin() as conn:
                command.upgrade(alembic_config(conn), "head")
        except SQLAlchemyError as exc:
            raise DecisionLogUnavailableError(self._unavailable(exc)) from exc
        _MIGRATED.add(self.url)

    @contextmanager
    def _migration_lock(self) -> Iterator[None]:
        url = self.engine.url
        if url.get_backend_name() == "sqlite":
            from filelock import FileLock

            if not url.database or url.database == ":memory:":
                yield
                return
            with FileLock(f"{url.database}.migrate.lock"):
                yield
            return
        with self.engine.connect() as conn:
            conn.execute(sa.text("SELECT pg_advisory_lock(:k)"), {"k": _PG_MIGRATION_LOCK})
            try:
                yield
            finally:
                conn.execute(sa.text("SELECT pg_advisory_unlock(:k)"), {"k": _PG_MIGRATION_LOCK})
                conn.commit()

    def _unavailable(self, exc: Exception) -> str:
        safe = sa.make_url(self.url).render_as_string(hide_password=True)
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        return f"decision log {safe} is unavailable: {first}"

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        self.migrate()
        try:
            with self.engine.begin() as conn:
                yield conn
        except IntegrityError:
            raise
        except SQLAlchemyError as exc:
            raise DecisionLogUnavailableError(self._unavailable(exc)) from exc

    def ping(self) -> None:
        """Raise :class:`DecisionLogUnavailableError` unless the log can be read."""
        with self.transaction() as conn:
            conn.execute(sa.select(sa.literal(1)))

    # -- writing -----------------------------------------------------------------------------

    def rows(
        self,
        dataset: str,
        decided: pd.DataFrame | Mapping[str, Any],
        records: list[str],
        contract: DatasetContract,
        thresholds: Thresholds | None,
        **details: Any,
    ) -> list[dict[str, Any]]:
        """The log rows of ``pipeline.decide``'s output (``decided``, or its
        ``decision_columns``) for the inputs whose JSON is ``records``
        (:func:`~.decision_inputs.input_records`, redacted as this log redacts), row by row
        in the same order; ``details``: :meth:`_columns`' keywords (``source``, ``actor``,
        ...)."""
        return _row_dicts(self._columns(dataset, decided, records, contract, thresholds, **details))

    def _columns(
        self,
        dataset: str,
        decided: pd.DataFrame | Mapping[str, Any],
        records: list[str],
        contract: DatasetContract,
        thresholds: Thresholds | None,
        *,
        source: str,
        actor: str,
        partition_day: str | None = None,
        request_id: str | None = None,
        idempotency_keys: Sequence[str | None] | None = None,
        latency_ms: float | None = None,
        decided_at: dt.datetime | None = None,
        blob_ids: Sequence[str] | None = None,
    ) -> dict[str, list[Any]]:
        """:meth:`rows` column by column (what COPY and the staging file take, without a
        dict per row), for the inputs' JSON ``records``; given ``blob_ids``, row ``i`` points
        at position ``i % BLOB_ROWS`` of blob ``blob_ids[i // BLOB_ROWS]`` instead of holding
        its JSON."""
        if source not in SOURCES:
            raise ValueError(f"source must be one of {SOURCES}, got {source!r}")
        if isinstance(decided, pd.DataFrame):
            # column by column from one object array: cheaper than a pandas access per column
            table = decided.to_numpy(dtype=object)
            columns = {c: table[:, i].tolist() for i, c in enumerate(decided.columns)}
        else:
            columns = {c: np.asarray(v, dtype=object).tolist() for c, v in decided.items()}
        n = len(columns["decision"])
        if n != len(records):
            raise ValueError(f"{len(records)} inputs but {n} decisions")
        scores = np.asarray(columns["score"], dtype=float)
        score = scores.astype(object)
        score[np.isnan(scores)] = None
        band = (thresholds.approve_below, thresholds.reject_above) if thresholds else (None, None)
        positions = np.arange(n)
        # in UTC: SQLite keeps a time's digits and drops its offset, and reads it as UTC
        at = (decided_at or dt.datetime.now(dt.UTC)).astimezone(dt.UTC)
        return {
            "decision_id": [str(uuid.uuid4()) for _ in range(n)],
            "dataset": [dataset] * n,
            "application_id": [str(a) for a in columns[contract.id_column]],
            "source": [source] * n,
            "actor": [actor] * n,
            "decided_at": [at] * n,
            "partition_day": [partition_day] * n,
            "request_id": [request_id] * n,
            "idempotency_key": list(idempotency_keys or [None] * n),
            "input_fingerprint": [fingerprint(r) for r in records],
            "inputs": [None] * n if blob_ids else records,
            "inputs_id": [blob_ids[b] for b in positions // BLOB_ROWS] if blob_ids else [None] * n,
            "inputs_row": (positions % BLOB_ROWS).tolist() if blob_ids else [None] * n,
            "decision": columns["decision"],
            "score": score.tolist(),
            "reasons": _reasons_json(columns),
            "rule_id": [_none_if_nan(v) for v in columns[RULE_ID]],
            "rule_reason": [_none_if_nan(v) for v in columns[RULE_REASON]],
            "model_version": columns["model_version"],
            "thresholds_version": columns["thresholds_version"],
            "rules_version": columns["rules_version"],
            "approve_below": [band[0]] * n,
            "reject_above": [band[1]] * n,
            "latency_ms": [latency_ms] * n,
        }

    def append(self, rows: list[dict[str, Any]]) -> None:
        """Insert rows in one transaction: all are on record, or none."""
        if not rows:
            return
        with self.transaction() as conn:
            conn.execute(decisions.insert(), rows)

    @cached_property
    def _group_commit(self) -> GroupCommit:
        return GroupCommit(self)

    def record_batch(
        self,
        dataset: str,
        decided: pd.DataFrame,
        inputs: pd.DataFrame,
        contract: DatasetContract,
        thresholds: Thresholds | None = None,
        *,
        source: str = "batch",
        actor: str,
        partition_day: str | None = None,
    ) -> int:
        """Append a whole batch of decisions (one transaction), its inputs in blobs;
        returns the rows added. Deciding a day again appends: earlier decisions stay
        readable."""
        chunk = self._chunk(
            dataset,
            decided,
            inputs,
            contract,
            thresholds,
            source=source,
            actor=actor,
            partition_day=partition_day,
            decided_at=dt.datetime.now(dt.UTC),
        )
        if chunk is None:
            return 0
        with self.transaction() as conn:
            _insert(conn, chunk)
        return len(inputs)

    def _chunk(
        self,
        dataset: str,
        decided: pd.DataFrame,
        inputs: pd.DataFrame,
        contract: DatasetContract,
        thresholds: Thresholds | None,
        *,
        source: str,
        actor: str,
        partition_day: str | None,
        decided_at: dt.datetime,
    ) -> _Staged | None:
        """A chunk of batch decisions: its ``decision_inputs`` rows (the inputs, redacted as
        their JSON would be, in blobs of at most ``BLOB_ROWS`` rows) and, column by column,
        the log rows that point into them."""
        if inputs.empty:
            return None
        frame = redacted(inputs, contract, self.redact_protected)
        blobs = [
            _blob(dataset, decided_at, frame.iloc[start : start + BLOB_ROWS])
            for start in range(0, len(frame), BLOB_ROWS)
        ]
        rows = self._columns(
            dataset,
            decided,
            frame_records(frame),  # redacted once, for the blobs and the fingerprints
            contract,
            thresholds,
            source=source,
            actor=actor,
            partition_day=partition_day,
            decided_at=decided_at,
            blob_ids=[b["inputs_id"] for b in blobs],
        )
        return _Staged(blobs, rows)

    @contextmanager
    def batch(
        self,
        dataset: str,
        contract: DatasetContract,
        thresholds: Thresholds | None = None,
        *,
        actor: str,
        partition_day: str | None = None,
        decided_at: dt.datetime | None = None,
    ) -> Iterator[StagedBatch]:
        """A batch recorded a chunk at a time (:meth:`StagedBatch.add`) and put on record
        whole by :meth:`StagedBatch.commit`: one transaction, as :meth:`record_batch`. Until
        then the rows wait in a local temporary file, not in memory; a batch not committed
        leaves nothing on record."""
        with tempfile.TemporaryFile() as staging:
            yield StagedBatch(
                self,
                staging,
                dataset,
                contract,
                thresholds,
                actor,
                partition_day,
                decided_at or dt.datetime.now(dt.UTC),
            )

    def record_idempotent(
        self, dataset: str, rows: list[dict[str, Any]]
    ) -> tuple[list[RecordedDecision], bool]:
        """Append rows that carry idempotency keys, unless those keys are on record already:
        then the stored decisions come back instead (``False``: nothing new was decided).
        A key reused for other inputs is an :class:`IdempotencyConflictError`.

        The rows are committed together with those of concurrent callers (one transaction,
        one fsync for all) and are on record when this returns."""
        keys = [r["idempotency_key"] for r in rows]
        try:
            self._group_commit.append(rows)
            return [RecordedDecision.from_row(r, orjson.loads(r["inputs"])) for r in rows], True
        except IntegrityError:  # a key is on record already, maybe by a request just now
            if any(k is None for k in keys):
                raise
        stored = self.replay(dataset, keys, [r["input_fingerprint"] for r in rows])
        if stored is None:
            raise IdempotencyConflictError(
                "idempotency key was used before for a batch of another size"
            )
        return stored, False

    def replay(
        self, dataset: str, keys: list[str], fingerprints: list[str]
    ) -> list[RecordedDecision] | None:
        """The decisions stored under ``keys`` (None if none is), checked to be for the same
        inputs: a key reused for other inputs is an :class:`IdempotencyConflictError`."""
        query = sa.select(decisions).where(
            decisions.c.dataset == dataset, decisions.c.idempotency_key.in_(keys)
        )
        with self.transaction() as conn:
            found = {r.idempotency_key: r for r in _read(conn, query)}
        if not found:
            return None
        for key, print_ in zip(keys, fingerprints, strict=True):
            if key not in found or found[key].input_fingerprint != print_:
                raise IdempotencyConflictError(
                    f"idempotency key {key!r} was used before for other inputs"
                )
        return [found[k] for k in keys]

    # -- reading -----------------------------------------------------------------------------

    def get(self, dataset: str, decision_id: str) -> RecordedDecision | None:
        query = sa.select(decisions).where(
            decisions.c.dataset == dataset, decisions.c.decision_id == decision_id
        )
        with self.transaction() as conn:
            found = _read(conn, query)
        return found[0] if found else None

    def history(self, dataset: str, application_id: str) -> list[RecordedDecision]:
        """Every decision of an application, oldest first."""
        query = (
            sa.select(decisions)
            .where(decisions.c.dataset == dataset, decisions.c.application_id == application_id)
            .order_by(decisions.c.seq)
        )
        with self.transaction() as conn:
            return _read(conn, query)

    def latest(self, dataset: str, application_id: str) -> RecordedDecision | None:
        found = self.history(dataset, application_id)
        return found[-1] if found else None

    def review_queue(self, dataset: str) -> list[RecordedDecision]:
        """Applications whose latest decision is a model's ``review``, oldest first."""
        query = (
            sa.select(review_queue)
            .where(review_queue.c.dataset == dataset)
            .order_by(review_queue.c.seq)
        )
        with self.transaction() as conn:
            return _read(conn, query)

    def count(self, dataset: str | None = None) -> int:
        query = sa.select(sa.func.count()).select_from(decisions)
        if dataset is not None:
            query = query.where(decisions.c.dataset == dataset)
        with self.transaction() as conn:
            return int(conn.execute(query).scalar_one())

    def frame(
        self,
        dataset: str,
        *,
        since: dt.datetime | None = None,
        until: dt.datetime | None = None,
        source: str | None = None,
    ) -> pd.DataFrame:
        """Decisions as a table, inputs spread into their columns, oldest first: what the
        monitoring and fairness assets read from live traffic as they read a day's file."""
        query = sa.select(decisions).where(decisions.c.dataset == dataset)
        if since is not None:
            query = query.where(decisions.c.decided_at >= since)
        if until is not None:
            query = query.where(decisions.c.decided_at < until)
        if source is not None:
            query = query.where(decisions.c.source == source)
        with self.transaction() as conn:
            table = pd.DataFrame(conn.execute(query.order_by(decisions.c.seq)).mappings().all())
            if table.empty:
                stored = [c.name for c in decisions.columns if c.name not in _STORAGE]
                return pd.DataFrame(columns=stored)
            inputs = _input_table(conn, table)
        table["decided_at"] = pd.to_datetime(table["decided_at"], utc=True)
        table = table.drop(columns=["seq"])
        return pd.concat([table, inputs.drop(columns=table.columns, errors="ignore")], axis=1)


@dataclass
class StagedBatch:
    """The rows of a batch of decisions, staged chunk by chunk (see :meth:`DecisionLog.batch`)."""

    log: DecisionLog
    staging: IO[bytes]
    dataset: str
    contract: DatasetContract
    thresholds: Thresholds | None
    actor: str
    partition_day: str | None
    decided_at: dt.datetime
    staged: int = 0
    committed: bool = False

    def add(self, decided: pd.DataFrame, inputs: pd.DataFrame) -> None:
        """Stage the log rows of one chunk (``pipeline.decide``'s output for ``inputs``)."""
        if self.committed:
            raise ValueError("the batch is on record already")
        chunk = self.log._chunk(
            self.dataset,
            decided,
            inputs,
            self.contract,
            self.thresholds,
            source="batch",
            actor=self.actor,
            partition_day=self.partition_day,
            decided_at=self.decided_at,
        )
        if chunk is not None:
            pickle.dump(chunk, self.staging, protocol=pickle.HIGHEST_PROTOCOL)
            self.staged += len(inputs)

    def commit(self) -> int:
        """Put every staged chunk on record in one transaction, its blobs of inputs then its
        rows; return the rows added."""
        end = self.staging.tell()
        self.staging.seek(0)
        with self.log.transaction() as conn:
            while self.staging.tell() < end:
                _insert(conn, pickle.load(self.staging))
        self.committed = True
        return self.staged


class GroupCommit:
    """Commits the rows of concurrent callers in one transaction, so they share its fsync.

    Each caller waits until its own rows are committed (or failed); a writer thread takes
    every request waiting when it is free. A group that breaks a unique constraint (an
    idempotency key on record) is committed again caller by caller, so only that caller
    gets the error."""

    def __init__(self, log: DecisionLog) -> None:
        self._log = log
        self._waiting: queue.SimpleQueue[_Pending] = queue.SimpleQueue()
        self._writer = threading.Thread(target=self._run, name="decision-log-writer", daemon=True)
        self._writer.start()

    def append(self, rows: list[dict[str, Any]]) -> None:
        pending = _Pending(rows)
        self._waiting.put(pending)
        pending.done.wait()
        if pending.error is not None:
            raise pending.error

    def _run(self) -> None:
        while True:
            group = [self._waiting.get()]
            with suppress(queue.Empty):
                while True:
                    group.append(self._waiting.get_nowait())
            self._commit(group)

    def _commit(self, group: list[_Pending]) -> None:
        try:
            self._log.append([row for pending in group for row in pending.rows])
        except IntegrityError as exc:
            if len(group) > 1:
                for pending in group:
                    self._commit([pending])
                return
            group[0].error = exc
        except Exception as exc:  # the caller raises it: nothing of the group is on record
            for pending in group:
                pending.error = exc
        for pending in group:
            pending.done.set()


@dataclass
class _Pending:
    rows: list[dict[str, Any]]
    done: threading.Event = field(default_factory=threading.Event)
    error: Exception | None = None


# How a row stores its inputs: never part of what readers see.
_STORAGE = ("seq", "inputs_id", "inputs_row")


@dataclass(frozen=True)
class _Staged:
    """A chunk of batch decisions as it is staged and written: its blobs of inputs and its
    log rows, column by column."""

    blobs: list[dict[str, Any]]
    rows: dict[str, list[Any]]


def _blob(dataset: str, created_at: dt.datetime, frame: pd.DataFrame) -> dict[str, Any]:
    """The ``decision_inputs`` row of a blob of (redacted) inputs."""
    data = encode(frame)
    return {
        "inputs_id": str(uuid.uuid4()),
        "dataset": dataset,
        "created_at": created_at,
        "row_count": len(frame),
        "format": FORMAT,
        "sha256": hashlib.sha256(data).hexdigest(),
        "data": data,
    }


def _insert(conn: Connection, chunk: _Staged) -> None:
    if conn.dialect.name == "postgresql":
        copy_binary(conn, decision_inputs, chunk.blobs)
        copy_columns(conn, decisions, chunk.rows)
        return
    conn.execute(decision_inputs.insert(), chunk.blobs)
    conn.execute(decisions.insert(), _row_dicts(chunk.rows))


def _row_dicts(columns: dict[str, list[Any]]) -> list[dict[str, Any]]:
    names = list(columns)
    return [dict(zip(names, row, strict=True)) for row in zip(*columns.values(), strict=True)]


def _read(conn: Connection, query: sa.Select) -> list[RecordedDecision]:
    """The decisions ``query`` selects, each with its inputs, whichever way they are stored."""
    rows = conn.execute(query).all()
    chunks = _chunks(conn, [(r.inputs_id, r.inputs_row) for r in rows if r.inputs is None])
    return [
        RecordedDecision.from_row(
            r._mapping,
            orjson.loads(r.inputs)
            if r.inputs is not None
            else chunks[r.inputs_id].record(r.inputs_row),
        )
        for r in rows
    ]


@dataclass(frozen=True)
class _Chunk:
    """The rows of a blob of inputs some decisions point at, as their JSON would read."""

    columns: list[str]
    at: dict[int, int]  # position in the blob -> row of ``values``
    values: np.ndarray

    def row(self, position: int) -> np.ndarray:
        return self.values[self.at[position]]

    def record(self, position: int) -> dict[str, Any]:
        return dict(zip(self.columns, self.row(position), strict=True))


def _chunks(conn: Connection, references: Sequence[tuple[str, int]]) -> dict[str, _Chunk]:
    """Each referenced blob read and decoded once, for the positions referenced in it."""
    wanted: dict[str, set[int]] = {}
    for inputs_id, position in references:
        wanted.setdefault(inputs_id, set()).add(position)
    chunks = {}
    for inputs_id, positions in wanted.items():
        stored = _stored_blob(conn, inputs_id)
        if stored is None or hashlib.sha256(stored[2]).hexdigest() != stored[0]:
            what = "missing" if stored is None else "damaged (its sha256 differs)"
            raise DecisionLogDamagedError(f"decision log: the inputs {inputs_id} are {what}")
        table = decode(stored[2], stored[1])
        order = sorted(positions)
        chunks[inputs_id] = _Chunk(
            table.column_names, {p: i for i, p in enumerate(order)}, json_values(table.take(order))
        )
    return chunks


def _stored_blob(conn: Connection, inputs_id: str) -> tuple[str, str, bytes] | None:
    """A blob's ``sha256``, ``format`` and ``data``, or None if it is not on record."""
    query = sa.select(
        decision_inputs.c.sha256, decision_inputs.c.format, decision_inputs.c.data
    ).where(decision_inputs.c.inputs_id == inputs_id)
    if conn.dialect.name != "postgresql":
        found = conn.execute(query).first()
        return None if found is None else (found.sha256, found.format, found.data)
    found_raw = copy_out(conn, query)  # its bytes, not psycopg2's hex text of them
    if not found_raw:
        return None
    sha256, format_, data = found_raw[0]
    return sha256.decode(), format_.decode(), data


def _input_table(conn: Connection, table: pd.DataFrame) -> pd.DataFrame:
    """The inputs of ``table``'s rows (dropping how they are stored), one column each, as
    ``pd.DataFrame`` makes them of the rows' JSON objects: the columns of every row in the
    order first seen, a key a row lacks as NaN, each column's type inferred as it would be."""
    # a missing JSON object reads as None or NaN, as pandas infers the column
    texts = [t if isinstance(t, str) else None for t in table.pop("inputs").tolist()]
    ids, positions = table.pop("inputs_id").tolist(), table.pop("inputs_row").tolist()
    referenced = [i for i, text in enumerate(texts) if text is None]
    chunks = _chunks(conn, [(ids[i], int(positions[i])) for i in referenced])
    groups: dict[tuple[str, ...], tuple[list[int], list[Any]]] = {}  # columns -> rows, values
    for i in range(len(texts)):  # in row order, so the columns come in the order first seen
        if texts[i] is not None:
            record = orjson.loads(texts[i])
            columns, values = tuple(record), list(record.values())
        else:
            chunk = chunks[ids[i]]
            columns, values = tuple(chunk.columns), chunk.row(int(positions[i]))
        rows, group = groups.setdefault(columns, ([], []))
        rows.append(i)
        group.append(values)
    union = {c: j for j, c in enumerate(dict.fromkeys(c for cs in groups for c in cs))}
    out = np.full((len(texts), len(union)), np.nan, dtype=object)
    for columns, (rows, values) in groups.items():
        block = np.empty((len(values), len(columns)), dtype=object)
        block[:] = values
        out[np.ix_(rows, [union[c] for c in columns])] = block
    # the same inference as ``pd.DataFrame`` of the JSON objects (a list of dicts)
    return pd.DataFrame(out.tolist(), columns=list(union), index=table.index)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # WAL: readers never block the writer; a commit is one append to the log file, which
    # is fsynced (synchronous=FULL), so a committed decision survives a power cut.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()
