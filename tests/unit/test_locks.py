"""The writer lock of a dataset, in both places it lives: an OS file lock (embedded) and a
PostgreSQL advisory lock (scale-out). A second writer is refused naming the first; the holder
may take it again; a killed holder leaves no stale lock."""

import os
import signal
import subprocess
import sys
import time
import uuid

import pytest

from credit_assets.core.locks import LockHeldError, WriterLocks

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


def _holder_process(where: str, dataset: str) -> subprocess.Popen:
    """Another process that takes the lock and keeps it until killed."""
    code = (
        "import sys, time; from credit_assets.core.locks import WriterLocks\n"
        f"with WriterLocks({where!r}).hold({dataset!r}, 'credit-assets run'):\n"
        "    print('held', flush=True); time.sleep(600)\n"
    )
    process = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert process.stdout.readline().strip() == "held"
    return process


def test_a_second_writer_is_refused_naming_the_first_until_it_dies(locks):
    dataset = f"d{uuid.uuid4().hex[:8]}"
    holder = _holder_process(locks.where, dataset)
    try:
        with pytest.raises(LockHeldError) as refused, locks.hold(dataset, "second"):
            pass
        assert str(refused.value).startswith(
            f"dataset '{dataset}' is being written by credit-assets run (pid {holder.pid} on "
        )
    finally:
        os.kill(holder.pid, signal.SIGKILL)
        holder.wait()
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
