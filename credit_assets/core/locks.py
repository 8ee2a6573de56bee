"""One writer per dataset: a lock around everything that writes a dataset's shared state.

Training, registration, alias moves and re-deciding a day write files and registry entries
that other writers of the same dataset read. Whoever starts such work (the command line, the
UI, a schedule, a sensor, a Celery worker) takes the dataset's writer lock first; a second
writer waits for it, or is refused with a message naming the first.

Two places hold the lock, both released by the operating system or the database when their
holder dies, so a killed process never leaves a stale lock:

- the embedded profile: an OS file lock (``filelock``) under ``$CREDIT_HOME/locks``;
- the scale-out profile: a PostgreSQL session advisory lock in the instance's database, held
  by a connection of the holding process, seen from every host.

Beside the lock, the holder writes who it is (``Holder``), so the refused writer can name it.
The lock is re-entrant within a process: a command that holds it runs Dagster steps in the
same process, and those take it again without waiting for themselves.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from credit_assets.core.errors import CreditAssetsError


class LockHeldError(CreditAssetsError):
    """Another writer holds the dataset's lock."""


@dataclass(frozen=True)
class Holder:
    """Who holds a dataset's writer lock."""

    what: str  # e.g. "credit-assets run", "dagster run 1a2b3c4d step santander__model"
    pid: int
    host: str
    since: str

    @classmethod
    def me(cls, what: str) -> Holder:
        now = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
        return cls(what, os.getpid(), socket.gethostname(), now)

    def describe(self) -> str:
        return f"{self.what} (pid {self.pid} on {self.host}, since {self.since})"


# Re-entrancy: dataset locks this process holds, with a count (and the thread that took them).
_HELD: dict[str, list[Any]] = {}
_GUARD = threading.Lock()


class _FileBackend:
    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def _paths(self, dataset: str) -> tuple[Path, Path]:
        return self.folder / f"{dataset}.lock", self.folder / f"{dataset}.holder.json"

    def try_acquire(self, dataset: str, holder: Holder) -> Any | None:
        from filelock import FileLock, Timeout

        lock_path, holder_path = self._paths(dataset)
        self.folder.mkdir(parents=True, exist_ok=True)
        lock = FileLock(lock_path, is_singleton=False)
        try:
            lock.acquire(timeout=0)
        except Timeout:
            return None
        holder_path.write_text(json.dumps(asdict(holder)))
        return lock

    def release(self, dataset: str, handle: Any) -> None:
        self._paths(dataset)[1].unlink(missing_ok=True)
        handle.release()

    def holder(self, dataset: str) -> Holder | None:
        try:
            return Holder(**json.loads(self._paths(dataset)[1].read_text()))
        except (OSError, ValueError, TypeError):
            return None


class _PostgresBackend:
    """Session advisory locks: held by the connection, released when it closes or dies."""

    def __init__(self, url: str) -> None:
        self.url = url

    @staticmethod
    def _key(dataset: str) -> int:
        digest = hashlib.sha256(f"credit-assets/{dataset}".encode()).digest()
        return int.from_bytes(digest[:8], "big", signed=True)

    def _connect(self):
        import psycopg2

        conn = psycopg2.connect(self.url)
        conn.autocommit = True
        return conn

    def try_acquire(self, dataset: str, holder: Holder) -> Any | None:
        conn = self._connect()
        with conn.cursor() as cur:
            cur.execute("SELECT pg_try_advisory_lock(%s)", (self._key(dataset),))
            (ok,) = cur.fetchone()
            if not ok:
                conn.close()
                return None
            cur.execute(
                "CREATE TABLE IF NOT EXISTS credit_lock_holders "
                "(dataset text PRIMARY KEY, holder jsonb NOT NULL)"
            )
            cur.execute(
                "INSERT INTO credit_lock_holders VALUES (%s, %s) "
                "ON CONFLICT (dataset) DO UPDATE SET holder = EXCLUDED.holder",
                (dataset, json.dumps(asdict(holder))),
            )
        return conn

    def release(self, dataset: str, handle: Any) -> None:
        with handle.cursor() as cur:
            cur.execute("DELETE FROM credit_lock_holders WHERE dataset = %s", (dataset,))
            cur.execute("SELECT pg_advisory_unlock(%s)", (self._key(dataset),))
        handle.close()

    def holder(self, dataset: str) -> Holder | None:
        conn = self._connect()
        try:
            with conn.cursor() as cur:
                cur.execute("SELECT holder FROM credit_lock_holders WHERE dataset = %s", (dataset,))
                row = cur.fetchone()
        except Exception:  # no table yet: nobody ever held a lock here
            return None
        finally:
            conn.close()
        return Holder(**row[0]) if row else None


@dataclass(frozen=True)
class WriterLocks:
    """The writer locks of one platform: ``where`` is a folder (embedded) or a PostgreSQL URL
    (``postgresql://...``, scale-out)."""

    where: str

    def _backend(self) -> _FileBackend | _PostgresBackend:
        if self.where.startswith(("postgresql://", "postgres://")):
            return _PostgresBackend(self.where)
        return _FileBackend(Path(self.where))

    def holder(self, dataset: str) -> Holder | None:
        return self._backend().holder(dataset)

    @contextmanager
    def hold(self, dataset: str, what: str, wait: float = 0.0) -> Iterator[None]:
        """Hold ``dataset``'s writer lock for the block; wait up to ``wait`` seconds for it,
        then raise :class:`LockHeldError` naming the holder."""
        with _GUARD:
            held = _HELD.get(dataset)
            if held is not None and held[2] == threading.get_ident():
                held[1] += 1
                mine = True
            else:
                mine = False
        if mine:
            try:
                yield
            finally:
                with _GUARD:
                    _HELD[dataset][1] -= 1
            return
        backend = self._backend()
        deadline = time.monotonic() + wait
        while (handle := backend.try_acquire(dataset, Holder.me(what))) is None:
            if time.monotonic() >= deadline:
                holder = backend.holder(dataset)
                who = holder.describe() if holder else "another process"
                raise LockHeldError(
                    f"dataset {dataset!r} is being written by {who}; try again when it is done"
                )
            time.sleep(0.2)
        with _GUARD:
            _HELD[dataset] = [handle, 1, threading.get_ident()]
        try:
            yield
        finally:
            with _GUARD:
                count = _HELD[dataset][1] - 1
                if count == 0:
                    del _HELD[dataset]
                else:
                    _HELD[dataset][1] = count
            if count == 0:
                backend.release(dataset, handle)
