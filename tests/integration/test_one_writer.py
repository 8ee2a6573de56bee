"""One writer per dataset, and clean recovery after a crash, with real processes.

Two ``credit-assets run`` started together on one home: the second is refused naming the first
(or, with ``--wait``, runs after it). A run killed with ``kill -9`` in the middle of training
leaves a STARTED Dagster run and a RUNNING MLflow run; the next run marks both failed and
registers only the model it trained itself.
"""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg
import pytest

from credit_assets.settings import Settings
from tests.conftest import copy_env


def _start(*args: str, **env: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "credit_assets", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **env},
    )


def _wait_for(predicate, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.2)


@pytest.fixture
def home(trained, tmp_path):
    env, _ = trained
    with copy_env(env, tmp_path) as copied:
        yield copied


def test_a_second_writer_is_refused_naming_the_first(home):
    locks = Settings.from_env().writer_locks()
    first = _start("run", "--no-train")
    _wait_for(lambda: locks.holder("santander") is not None or first.poll() is not None)
    second = _start("run", "--no-train")
    out, err = second.communicate(timeout=300)
    assert second.returncode == 1, out + err
    assert (
        err.strip()
        .splitlines()[-1]
        .startswith(
            f"error: dataset 'santander' is being written by credit-assets run (pid {first.pid} on "
        )
    )
    assert first.wait(timeout=300) == 0, first.stderr.read()
    # once the first is done, another writer is welcome
    third = _start("run", "--no-train", "--wait", "300")
    assert third.wait(timeout=300) == 0, third.stderr.read()


def test_a_run_killed_mid_training_is_recovered_by_the_next(home, tmp_path):
    settings = Settings.from_env()
    registry = settings.registry("santander")
    versions_before = len(registry.client.search_model_versions("name='credit-santander'"))
    paused = tmp_path / "paused"
    victim = _start(
        "run",
        "--partition",
        "2026-11-04",
        CREDIT_PAUSE_AT="registered_model",
        CREDIT_PAUSE_AT_FILE=str(paused),
    )
    _wait_for(lambda: paused.exists() or victim.poll() is not None, timeout=600)
    assert victim.poll() is None, victim.stderr.read()
    os.kill(victim.pid, signal.SIGKILL)
    victim.wait()

    with dg.DagsterInstance.get() as instance:
        (dead,) = instance.get_runs(
            dg.RunsFilter(
                job_name="santander__training_job", statuses=[dg.DagsterRunStatus.STARTED]
            )
        )
    client = registry.client
    experiment = client.get_experiment_by_name("credit-santander").experiment_id
    (orphan,) = client.search_runs([experiment], "attributes.status = 'RUNNING'")
    assert orphan.data.tags["dagster_run_id"] == dead.run_id
    assert not Path(
        settings.dataset_storage("santander"), "registered_model", "written_by.json"
    ).exists()

    rerun = _start("run", "--partition", "2026-11-04")
    out, err = rerun.communicate(timeout=600)
    assert rerun.returncode == 0, out + err

    with dg.DagsterInstance.get() as instance:
        assert instance.get_run_by_id(dead.run_id).status == dg.DagsterRunStatus.FAILURE
        (latest,) = instance.get_runs(dg.RunsFilter(job_name="santander__training_job"), limit=1)
    assert client.get_run(orphan.info.run_id).info.status == "FAILED"
    assert not client.search_runs([experiment], "attributes.status = 'RUNNING'")
    versions = client.search_model_versions("name='credit-santander'")
    assert len(versions) == versions_before + 1  # the killed run registered nothing
    newest = max(versions, key=lambda v: int(v.version))
    assert client.get_run(newest.run_id).data.tags["dagster_run_id"] == latest.run_id
