"""The cycle collector is paused around large imports, and resumes as it was."""

import gc
import threading

from credit_assets.core.collector import paused


def test_paused_blocks_nest_and_overlap_across_threads():
    assert gc.isenabled()
    entered, leave = threading.Event(), threading.Event()

    def other() -> None:
        with paused():
            entered.set()
            leave.wait(10)

    with paused():
        thread = threading.Thread(target=other)
        thread.start()
        entered.wait(10)
        with paused():
            assert not gc.isenabled()
    assert not gc.isenabled()  # the other thread's block still runs
    leave.set()
    thread.join()
    assert gc.isenabled()


def test_a_collector_that_was_off_stays_off():
    gc.disable()
    try:
        with paused():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()
