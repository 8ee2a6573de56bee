"""``credit-assets ui`` stops everything it started (webserver, daemon and their code
servers) on SIGTERM and on Ctrl-C (SIGINT)."""

import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.services.stack import free_port, wait_until


def _children_of() -> dict[int, list[int]]:
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:  # the process ended while we looked
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    return children


def _descendants(pid: int) -> set[int]:
    children, found, todo = _children_of(), set(), [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.add(child)
            todo.append(child)
    return found


def _running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.parametrize(
    "signum", [signal.SIGTERM, pytest.param(signal.SIGINT, marks=pytest.mark.slow)]
)
def test_ui_stops_every_process_it_started(signum, tmp_path):
    port = free_port()
    env = {
        **os.environ,
        "CREDIT_HOME": str(tmp_path / "home"),
        "DAGSTER_HOME": str(tmp_path / "home" / "dagster_home"),
        "CREDIT_DATA_DIR": str(tmp_path / "data"),
    }
    ui = subprocess.Popen(
        [Path(sys.executable).with_name("credit-assets"), "ui", "--port", str(port)],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )

    def answers() -> bool:
        try:
            return httpx.get(f"http://127.0.0.1:{port}/server_info", timeout=2).is_success
        except httpx.HTTPError:
            return False

    try:
        wait_until(answers, 180, "the Dagster webserver")
        # webserver and daemon, each with the code server it starts
        wait_until(lambda: len(_descendants(ui.pid)) >= 4, 120, "the code servers")
        started = _descendants(ui.pid)
        ui.send_signal(signum)
        assert ui.wait(60) == 0
        wait_until(lambda: not any(_running(p) for p in started), 10, "every process to stop")
    finally:
        if ui.poll() is None:
            ui.kill()
        for pid in _descendants(ui.pid):
            os.kill(pid, signal.SIGKILL)
