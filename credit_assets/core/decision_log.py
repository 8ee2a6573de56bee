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
from credit_assets.core.decision_log_schema import decisions, review_queue
from credit_assets.core.errors import CreditAssetsError
from credit_assets.core.reasons import TOP_REASONS
from credit_assets.core.rules import RULE_ID, RULE_REASON
from credit_assets.core.thresholds import Thresholds

SOURCES = ("batch", "api", "review")
REDACTED = "[redacted]"
# The one statement a migration lock is held for (any 64-bit number unique to this app).
_PG_MIGRATION_LOCK = 7_215_040_111
_MIGRATED: set[str] = set()  # URLs brought to the latest revision by this process


class DecisionLogUnavailableError(CreditAssetsError):
    """The decision log cannot be reached or written: nothing may be decided off the record."""


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
    def from_row(cls, row: sa.Row) -> RecordedDecision:
        data = dict(row._mapping)
        data.pop("seq", None)
        at = data["decided_at"]
        data["decided_at"] = at if at.tzinfo else at.replace(tzinfo=dt.UTC)
        data["inputs"] = orjson.loads(data["inputs"])
        data["reasons"] = [Reason(**r) for r in orjson.loads(data["reasons"])]
        return cls(**data)

    def to_dict(self) -> dict[str, Any]:
        out = {f: getattr(self, f) for f in self.__dataclass_fields__}
        out["decided_at"] = self.decided_at.isoformat()
        out["reasons"] = [r.__dict__ for r in self.reasons]
        return out


def _none_if_nan(value: Any) -> Any:
    return None if isinstance(value, float) and math.isnan(value) else value


def input_records(
    inputs: pd.DataFrame | Sequence[Mapping[str, Any]],
    contract: DatasetContract,
    redact_protected: bool,
) -> list[str]:
    """Each input row (a frame's, or an application's values by column) as a JSON object
    (missing values as ``null``), protected attributes replaced by ``"[redacted]"`` when
    asked."""
    if not isinstance(inputs, pd.DataFrame):
        return [_record(row, contract, redact_protected) for row in inputs]
    frame = inputs
    protected = contract.resolve_protected(list(frame.columns))
    if redact_protected and protected:
        frame = frame.assign(**dict.fromkeys(protected, REDACTED))
    columns = list(frame.columns)
    # One conversion for the whole table: per-column access costs more than the row itself
    # for the API's one-row frames.
    values = frame.to_numpy(dtype=object)
    missing = pd.isna(values)
    if missing.any():
        values[missing] = None  # JSON has no NaN
    return [_json(dict(zip(columns, row, strict=True))) for row in values.tolist()]


def _record(row: Mapping[str, Any], contract: DatasetContract, redact_protected: bool) -> str:
    """:func:`input_records` of one application's values, without a frame."""
    record = {c: v if v == v else None for c, v in row.items()}  # NaN is not itself: null
    if redact_protected:
        record.update(dict.fromkeys(contract.resolve_protected(list(row)), REDACTED))
    return _json(record)


def _json(record: dict[str, Any]) -> str:
    # orjson: a third of json's time on a day of float rows; dates and timestamps (a
    # contract's date column) as ISO text
    return orjson.dumps(record, default=_iso).decode()


def _iso(value: Any) -> str:
    if hasattr(value, "isoformat"):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def fingerprint(record: str) -> str:
    return hashlib.sha256(record.encode()).hexdigest()


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
        inputs: pd.DataFrame | Sequence[Mapping[str, Any]],
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
    ) -> list[dict[str, Any]]:
        """The log rows of ``pipeline.decide``'s output (``decided``, or its
        ``decision_columns``) for ``inputs``, row by row in the same order."""
        if source not in SOURCES:
            raise ValueError(f"source must be one of {SOURCES}, got {source!r}")
        if isinstance(decided, pd.DataFrame):
            # column by column from one object array: cheaper than a pandas access per column
            table = decided.to_numpy(dtype=object)
            columns = {c: table[:, i].tolist() for i, c in enumerate(decided.columns)}
        else:
            columns = {c: np.asarray(v, dtype=object).tolist() for c, v in decided.items()}
        if len(columns["decision"]) != len(inputs):
            raise ValueError(f"{len(inputs)} inputs but {len(columns['decision'])} decisions")
        records = input_records(inputs, contract, self.redact_protected)
        reasons = _reasons_json(columns)
        at = decided_at or dt.datetime.now(dt.UTC)
        keys = idempotency_keys or [None] * len(records)
        scores = np.asarray(columns["score"], dtype=float)
        band = (thresholds.approve_below, thresholds.reject_above) if thresholds else (None, None)
        return [
            {
                "decision_id": str(uuid.uuid4()),
                "dataset": dataset,
                "application_id": str(columns[contract.id_column][i]),
                "source": source,
                "actor": actor,
                "decided_at": at,
                "partition_day": partition_day,
                "request_id": request_id,
                "idempotency_key": keys[i],
                "input_fingerprint": fingerprint(records[i]),
                "inputs": records[i],
                "decision": columns["decision"][i],
                "score": None if np.isnan(scores[i]) else float(scores[i]),
                "reasons": reasons[i],
                "rule_id": _none_if_nan(columns[RULE_ID][i]),
                "rule_reason": _none_if_nan(columns[RULE_REASON][i]),
                "model_version": columns["model_version"][i],
                "thresholds_version": columns["thresholds_version"][i],
                "rules_version": columns["rules_version"][i],
                "approve_below": band[0],
                "reject_above": band[1],
                "latency_ms": latency_ms,
            }
            for i in range(len(records))
        ]

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
        """Append a whole batch of decisions (one transaction); returns the rows added.
        Deciding a day again appends: earlier decisions stay readable."""
        rows = self.rows(
            dataset,
            decided,
            inputs,
            contract,
            thresholds,
            source=source,
            actor=actor,
            partition_day=partition_day,
        )
        self.append(rows)
        return len(rows)

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
            return [_recorded(r) for r in rows], True
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
            found = {r.idempotency_key: RecordedDecision.from_row(r) for r in conn.execute(query)}
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
            row = conn.execute(query).first()
        return RecordedDecision.from_row(row) if row else None

    def history(self, dataset: str, application_id: str) -> list[RecordedDecision]:
        """Every decision of an application, oldest first."""
        query = (
            sa.select(decisions)
            .where(decisions.c.dataset == dataset, decisions.c.application_id == application_id)
            .order_by(decisions.c.seq)
        )
        with self.transaction() as conn:
            return [RecordedDecision.from_row(r) for r in conn.execute(query)]

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
            return [RecordedDecision.from_row(r) for r in conn.execute(query)]

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
            return pd.DataFrame(columns=[c.name for c in decisions.columns if c.name != "seq"])
        inputs = pd.DataFrame([orjson.loads(s) for s in table.pop("inputs")], index=table.index)
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
        rows = self.log.rows(
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
        if rows:
            pickle.dump(rows, self.staging, protocol=pickle.HIGHEST_PROTOCOL)
            self.staged += len(rows)

    def commit(self) -> int:
        """Put every staged row on record in one transaction, a chunk at a time; return the
        rows added."""
        end = self.staging.tell()
        self.staging.seek(0)
        with self.log.transaction() as conn:
            while self.staging.tell() < end:
                conn.execute(decisions.insert(), pickle.load(self.staging))
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


def _recorded(row: dict[str, Any]) -> RecordedDecision:
    return RecordedDecision(
        **{
            **row,
            "inputs": orjson.loads(row["inputs"]),
            "reasons": [Reason(**r) for r in orjson.loads(row["reasons"])],
        }
    )


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # WAL: readers never block the writer; a commit is one append to the log file, which
    # is fsynced (synchronous=FULL), so a committed decision survives a power cut.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()
