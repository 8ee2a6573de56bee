"""The writer lock of a dataset, in both places it lives: an OS file lock (embedded) and a
PostgreSQL advisory lock (scale-out). A second writer is refused naming the first; the holder
may take it again; a killed holder leaves no stale lock; shared holders (days decided with
the champion) run side by side and keep exclusive ones (training, promotion) out."""

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from credit_assets.core.locks import LockHeldError, WriterLocks, day_lock

PG = "postgresql://postgres@127.0.0.1:5432/postgres"


def _pg_up() -> bool:
    try:
        import psycopg2

        psycopg2.connect(PG, connect_timeout=3).close()
        return True
    except Exception:
        return False


@pytest.fixture(params=["file", pytest.param("postgres", marks=pytest.mark.services)])
def locks(request, tmp_path):
    if request.param == "file":
        return WriterLocks(str(tmp_path / "locks"))
    if not _pg_up():
        if os.environ.get("CI") == "true":
            pytest.fail("PostgreSQL is required under CI=true")
        pytest.skip("no PostgreSQL on 127.0.0.1:5432")
    return WriterLocks(PG)


@contextmanager
def _held_elsewhere(
    where: str, dataset: str, shared: bool = False, what: str = "credit-assets run"
) -> Iterator[subprocess.Popen]:
    """Another process that takes the lock and keeps it until it is killed (with SIGKILL, as
    a crash would) when the block ends."""
    code = (
        "import sys, time; from credit_assets.core.locks import WriterLocks\n"
        f"with WriterLocks({where!r}).hold({dataset!r}, {what!r}, shared={shared}):\n"
        "    print('held', flush=True); time.sleep(600)\n"
    )
    process = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout.readline().strip() == "held"
        yield process
    finally:
        os.kill(process.pid, signal.SIGKILL)
        process.wait()


def test_a_second_writer_is_refused_naming_the_first_until_it_dies(locks):
    dataset = f"d{uuid.uuid4().hex[:8]}"
    with _held_elsewhere(locks.where, dataset) as holder:
        with pytest.raises(LockHeldError) as refused, locks.hold(dataset, "second"):
            pass
        assert str(refused.value).startswith(
            f"dataset '{dataset}' is being written by credit-assets run (pid {holder.pid} on "
        )
    started = time.monotonic()
    with locks.hold(dataset, "after the crash", wait=30):  # no stale lock is left behind
        assert locks.holder(dataset).what == "after the crash"
    assert time.monotonic() - started < 30
    assert locks.holder(dataset) is None


def test_the_holder_takes_its_lock_again_and_other_datasets_are_free(locks):
    with locks.hold("alpha", "outer"):
        with locks.hold("alpha", "a step of the same run"):  # re-entrant in this thread
            assert locks.holder("alpha").what == "outer"
        with locks.hold("beta", "another dataset"):
            assert locks.holder("beta").what == "another dataset"
        assert locks.holder("alpha").what == "outer"  # the inner release kept it
    assert locks.holder("alpha") is None


def test_shared_holders_run_side_by_side_and_keep_a_writer_out(locks):
    dataset = f"d{uuid.uuid4().hex[:8]}"
    with _held_elsewhere(locks.where, dataset, shared=True, what="decisions of day 1") as reader:
        with locks.hold(dataset, "decisions of day 2", shared=True):  # a second reader: at once
            assert {locks.holder(dataset).what} <= {"decisions of day 1", "decisions of day 2"}
        with pytest.raises(LockHeldError) as refused, locks.hold(dataset, "training"):
            pass
        assert str(refused.value).startswith(
            f"dataset '{dataset}' is being written by decisions of day 1 (pid {reader.pid} on "
        )
    with locks.hold(dataset, "training", wait=30):  # the dead reader left nothing behind
        assert locks.holder(dataset).what == "training"
        with locks.hold(dataset, "a decisions step of the same run", shared=True):  # re-entrant
            pass


def test_a_reader_waits_for_the_writer_and_days_are_locked_apart(locks):
    dataset = f"d{uuid.uuid4().hex[:8]}"
    with _held_elsewhere(locks.where, dataset, what="training"):
        refused = pytest.raises(LockHeldError, match="is being written by training")
        with refused, locks.hold(dataset, "decisions", shared=True):
            pass
    first_day = day_lock(dataset, "2026-11-01")
    with _held_elsewhere(locks.where, first_day, what="decisions") as day:
        with locks.hold(day_lock(dataset, "2026-11-02"), "decisions of another day"):
            pass
        again = locks.hold(day_lock(dataset, "2026-11-01"), "deciding the day again")
        with pytest.raises(LockHeldError) as refused, again:
            pass
        assert str(refused.value).startswith(
            f"dataset '{dataset}', day 2026-11-01, is being written by decisions (pid {day.pid}"
        )


def test_a_shared_holder_cannot_take_the_lock_exclusively(locks):
    with (
        locks.hold("gamma", "reader", shared=True),
        pytest.raises(RuntimeError, match="held shared by this thread"),
        locks.hold("gamma", "writer"),
    ):
        pass
