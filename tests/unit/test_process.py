"""What importing the package sets for the whole process it runs in."""

import os
import subprocess
import sys


def _run(probe: str, **env: str) -> str:
    environ = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"} | env
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, env=environ, timeout=60
    )
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


def test_openmp_threads_wait_passively_unless_the_operator_chose():
    probe = "import os, credit_assets; print(os.environ['OMP_WAIT_POLICY'])"
    assert _run(probe) == "PASSIVE"
    assert _run(probe, OMP_WAIT_POLICY="ACTIVE") == "ACTIVE"


def test_objects_alive_at_exit_are_frozen_before_the_interpreter_tears_down():
    """Handlers registered before the import run after the package's (last in, first out):
    the one here sees the collector's objects frozen, so shutdown skips its passes over them."""
    probe = (
        "import atexit, gc\n"
        "atexit.register(lambda: print(gc.get_freeze_count() > 0))\n"
        "import credit_assets\n"
    )
    assert _run(probe) == "True"
