"""``credit-assets ui``: the Dagster UI (webserver and daemon) on this platform's instance.

``dagster dev`` is superseded by ``dg dev`` (dagster-dg-cli, not a dependency here); both do
what this command does with Dagster's own, current commands: start ``dagster-webserver`` and
``dagster-daemon run`` on the code location. Each runs in a process group of its own (with
the code servers it starts), so Ctrl-C or SIGTERM stops every group, not only the first
process, and what does not stop within the grace period is killed.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Annotated

import typer

from credit_assets.cli.common import configure, console

CODE_LOCATION = "credit_assets.definitions"
GRACE_SECONDS = 15.0


class _Stop(Exception):
    def __init__(self, signum: int) -> None:
        self.signum = signum


def _raise_stop(signum: int, _frame: object) -> None:
    raise _Stop(signum)


def _alive(group: int) -> bool:
    try:
        os.killpg(group, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # a member we cannot signal is still a member
        return True
    return True


def _signal_groups(groups: list[int], signum: int) -> None:
    for group in groups:
        try:
            os.killpg(group, signum)
        except ProcessLookupError:
            continue


def run_together(commands: list[list[str]], grace: float = GRACE_SECONDS) -> int:
    """Run ``commands`` until one ends or this process gets SIGINT/SIGTERM; then stop all
    of them and everything they started. Returns the exit code of the one that ended first
    (0 when asked to stop)."""
    previous = {s: signal.signal(s, _raise_stop) for s in (signal.SIGINT, signal.SIGTERM)}
    children: list[subprocess.Popen] = []
    code = 0
    try:
        for command in commands:
            children.append(subprocess.Popen(command, start_new_session=True))
        while all(child.poll() is None for child in children):
            time.sleep(0.2)
        code = next(child.returncode for child in children if child.returncode is not None)
    except _Stop:
        code = 0
    finally:
        # from here on a second Ctrl-C must not cut the clean-up short
        for s in previous:
            signal.signal(s, signal.SIG_IGN)
        groups = [child.pid for child in children]
        _signal_groups(groups, signal.SIGTERM)
        deadline = time.monotonic() + grace
        while any(_alive(g) for g in groups) and time.monotonic() < deadline:
            for child in children:
                child.poll()  # reap our own children so their groups can empty
            time.sleep(0.1)
        _signal_groups(groups, signal.SIGKILL)
        for child in children:
            child.wait()
        for s, handler in previous.items():
            signal.signal(s, handler)
    return code


def ui(
    port: Annotated[int, typer.Option(help="port of the web UI")] = 3000,
    host: Annotated[str, typer.Option(help="address to listen on")] = "127.0.0.1",
) -> None:
    """The Dagster UI and daemon (schedules, sensors, queued runs) for every dataset;
    Ctrl-C stops both."""
    configure()
    bin_dir = Path(sys.executable).parent
    commands = [
        [str(bin_dir / "dagster-webserver"), "-m", CODE_LOCATION, "-h", host, "-p", str(port)],
        [str(bin_dir / "dagster-daemon"), "run", "-m", CODE_LOCATION],
    ]
    console.print(f"Dagster UI on http://{host}:{port} (Ctrl-C stops the webserver and daemon)")
    raise typer.Exit(run_together(commands))
