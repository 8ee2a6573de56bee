"""One writer per dataset: a lock around everything that writes a dataset's shared state.

Training, registration, alias moves and re-deciding a day write files and registry entries
that other writers of the same dataset read. Whoever starts such work (the command line, the
UI, a schedule, a sensor, a Celery worker) takes the dataset's writer lock first; a second
writer waits for it, or is refused with a message naming the first.

A lock is taken exclusively (training, promotion, a whole ``credit-assets run``) or shared
(work that only reads the dataset's shared state, such as deciding days with the champion):
shared holders run side by side and keep exclusive ones out, so days are decided in parallel
while no training or promotion can change the champion under them. Two decisions of the
same day are kept apart by a lock of that day (``day_lock``).

Two places hold the lock, both released by the operating system or the database when their
holder dies, so a killed process never leaves a stale lock:

- the embedded profile: an OS file lock (``flock``) under ``$CREDIT_HOME/locks``;
- the scale-out profile: a PostgreSQL session advisory lock in the instance's database, held
  by a connection of the holding process, seen from every host.

Beside the lock, the holder writes who it is (``Holder``), so the refused writer can name it.
The lock is re-entrant within a thread: a command that holds it runs Dagster steps in the
same thread, and those take it again (in either mode) without waiting for themselves.
"""

from __future__ import annotations

import datetime as dt
import fcntl
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


def day_lock(dataset: str, day: str) -> str:
    """The name of the lock that keeps two decisions of one day apart."""
    return f"{dataset}@{day}"


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


def _describe(holders: list[Holder]) -> str:
    if not holders:
        return "another process"
    others = f" and {len(holders) - 1} other(s)" if len(holders) > 1 else ""
    return holders[0].describe() + others


@dataclass
class _Held:
    """A lock this process holds: the backend's handle, how often it was taken, by which
    thread, and in which mode."""

    handle: Any
    count: int
    thread: int
    shared: bool


# Re-entrancy: the locks this process holds, by name.
_HELD: dict[str, _Held] = {}
_GUARD = threading.Lock()


class _FileBackend:
    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def _lock_path(self, name: str) -> Path:
        return self.folder / f"{name}.lock"

    def _holder_path(self, name: str, shared: bool) -> Path:
        if shared:  # one file per shared holder
            return self.folder / f"{name}.shared" / f"{os.getpid()}-{threading.get_ident()}.json"
        return self.folder / f"{name}.holder.json"

    def try_acquire(self, name: str, holder: Holder, shared: bool) -> Any | None:
        self.folder.mkdir(parents=True, exist_ok=True)
        fd = os.open(self._lock_path(name), os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, (fcntl.LOCK_SH if shared else fcntl.LOCK_EX) | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return None
        path = self._holder_path(name, shared)
        path.parent.mkdir(exist_ok=True)
        path.write_text(json.dumps(asdict(holder)))
        return fd, path

    def release(self, name: str, handle: Any) -> None:
        fd, path = handle
        path.unlink(missing_ok=True)
        os.close(fd)  # closing the descriptor releases the flock

    def holders(self, name: str) -> list[Holder]:
        """The exclusive holder, else the shared ones still alive on this host."""
        found = _read_holder(self._holder_path(name, shared=False))
        if found is not None and _held_exclusively(self._lock_path(name)):
            return [found]
        readers = []
        for path in sorted((self.folder / f"{name}.shared").glob("*.json")):
            reader = _read_holder(path)
            if reader is not None and _alive(reader):
                readers.append(reader)
        return readers


def _read_holder(path: Path) -> Holder | None:
    try:
        return Holder(**json.loads(path.read_text()))
    except (OSError, ValueError, TypeError):
        return None


def _held_exclusively(path: Path) -> bool:
    """Whether someone holds the lock file exclusively (a holder file left by a killed process
    names no one): a shared lock is then refused."""
    try:
        fd = os.open(path, os.O_RDWR)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False


def _alive(holder: Holder) -> bool:
    if holder.host != socket.gethostname():
        return True
    try:
        os.kill(holder.pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


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

    def try_acquire(self, name: str, holder: Holder, shared: bool) -> Any | None:
        conn = self._connect()
        take = "pg_try_advisory_lock_shared" if shared else "pg_try_advisory_lock"
        with conn.cursor() as cur:
            cur.execute(f"SELECT {take}(%s)", (self._key(name),))
            (ok,) = cur.fetchone()
            if not ok:
                conn.close()
                return None
            cur.execute(
                "CREATE TABLE IF NOT EXISTS credit_locks_held (name text, backend_pid int, "
                "shared boolean NOT NULL, holder jsonb NOT NULL, PRIMARY KEY (name, backend_pid))"
            )
            cur.execute(  # rows of holders whose connection died with them
                "DELETE FROM credit_locks_held WHERE name = %s "
                "AND backend_pid NOT IN (SELECT pid FROM pg_stat_activity)",
                (name,),
            )
            cur.execute(
                "INSERT INTO credit_locks_held VALUES (%s, pg_backend_pid(), %s, %s)",
                (name, shared, json.dumps(asdict(holder))),
            )
        return conn, shared

    def release(self, name: str, handle: Any) -> None:
        conn, shared = handle
        release = "pg_advisory_unlock_shared" if shared else "pg_advisory_unlock"
        with conn.cursor() as cur:
            cur.execute(
                "DELETE FROM credit_locks_held WHERE name = %s AND backend_pid = pg_backend_pid()",
                (name,),
            )
            cur.execute(f"SELECT {release}(%s)", (self._key(name),))
        conn.close()

    def holders(self, name: str) -> list[Holder]:
        """The exclusive holder, else the shared ones (only holders whose connection lives)."""
        conn = self._connect()
        try:
            with conn.cursor() as cur:
                cur.execute(
                    "SELECT holder FROM credit_locks_held JOIN pg_stat_activity "
                    "ON pid = backend_pid WHERE name = %s ORDER BY shared, backend_pid",
                    (name,),
                )
                rows = cur.fetchall()
        except Exception:  # no table yet: nobody ever held a lock here
            return []
        finally:
            conn.close()
        return [Holder(**row[0]) for row in rows]


@dataclass(frozen=True)
class WriterLocks:
    """The writer locks of one platform: ``where`` is a folder (embedded) or a PostgreSQL URL
    (``postgresql://...``, scale-out)."""

    where: str

    def _backend(self) -> _FileBackend | _PostgresBackend:
        if self.where.startswith(("postgresql://", "postgres://")):
            return _PostgresBackend(self.where)
        return _FileBackend(Path(self.where))

    def holder(self, name: str) -> Holder | None:
        """Who holds the lock ``name`` (the first of its shared holders), or None."""
        holders = self._backend().holders(name)
        return holders[0] if holders else None

    @contextmanager
    def hold(self, name: str, what: str, wait: float = 0.0, shared: bool = False) -> Iterator[None]:
        """Hold the lock ``name`` (a dataset, or ``day_lock(dataset, day)``) for the block,
        exclusively or ``shared``; wait up to ``wait`` seconds for it, then raise
        :class:`LockHeldError` naming the holder. A thread that holds it exclusively takes it
        again in either mode; one that holds it shared cannot take it exclusively."""
        mine = (name, threading.get_ident())
        with _GUARD:
            held = _HELD.get(mine)
            if held is not None:
                if held.shared and not shared:
                    raise RuntimeError(f"lock {name!r} is held shared by this thread")
                held.count += 1
        if held is not None:
            try:
                yield
            finally:
                with _GUARD:
                    held.count -= 1
            return
        backend = self._backend()
        deadline = time.monotonic() + wait
        while (handle := backend.try_acquire(name, Holder.me(what), shared)) is None:
            if time.monotonic() >= deadline:
                holders = backend.holders(name)
                raise LockHeldError(
                    f"{_subject(name)} is being written by {_describe(holders)}; "
                    "try again when it is done"
                )
            time.sleep(0.2)
        held = _Held(handle, 1, threading.get_ident(), shared)
        with _GUARD:
            _HELD[mine] = held
        try:
            yield
        finally:
            with _GUARD:
                held.count -= 1
                if held.count == 0:
                    del _HELD[mine]
            if held.count == 0:
                backend.release(name, handle)


def _subject(name: str) -> str:
    dataset, _, day = name.partition("@")
    return f"dataset {dataset!r}" + (f", day {day}," if day else "")
