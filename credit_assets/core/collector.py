"""Python's cycle collector, paused while a large library is imported.

An import such as GX's, MLflow's or scikit-learn's allocates hundreds of thousands of objects
that all stay alive. Each full pass of the collector they trigger walks every object of the
process and finds next to nothing to free: in a training run on 200,000 x 200 rows the steps'
imports caused five such passes, 1.2 s holding the GIL, in the steps' time. Paused, the
collector runs at most once when the import is done.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_lock = threading.Lock()
_pauses = 0
_was_enabled = True


@contextmanager
def paused() -> Iterator[None]:
    """No cycle collection in the process while the block runs. Blocks may nest or run in
    several threads at once: the collector resumes (if it was on) when the last one ends."""
    global _pauses, _was_enabled
    with _lock:
        if _pauses == 0:
            _was_enabled = gc.isenabled()
            gc.disable()
        _pauses += 1
    try:
        yield
    finally:
        with _lock:
            _pauses -= 1
            if _pauses == 0 and _was_enabled:
                gc.enable()
