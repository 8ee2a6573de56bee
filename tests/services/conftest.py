"""The scale-out stack for the service tests, started once for this folder and stopped after.

Locally, without PostgreSQL, Redis or RabbitMQ, these tests skip and say what is missing;
under CI=true a missing service fails them.
"""

import datetime as dt
import os
import shutil
from pathlib import Path

import dagster as dg
import pytest

from tests.conftest import START, small_spec
from tests.services.stack import Stack, missing_services

DAYS = [(START + dt.timedelta(days=i)).isoformat() for i in range(14)]
BACKFILL_DAYS = DAYS[:10]
SIGKILL_DAY, BROKER_DAY, GRAPHQL_DAY, RETRY_DAY = DAYS[10:]
HEAVY_ROWS = 20_000  # the fault tests' days: long enough steps to kill one in the middle
# few boosting rounds: the tests check where training runs, not how well it learns
TRAIN_RUN_CONFIG = {
    "ops": {"santander__model": {"config": {"max_rounds": 300, "early_stopping_rounds": 50}}}
}


@pytest.fixture(scope="package")
def service_data(tmp_path_factory) -> Path:
    from credit_assets.core.synthetic import generate

    root = tmp_path_factory.mktemp("service_data")
    generate(root, small_spec(days=len(DAYS), rows_per_day=150, history_rows=3000))
    for day in (SIGKILL_DAY, BROKER_DAY):
        heavy = tmp_path_factory.mktemp(f"heavy_{day}")
        spec = small_spec(
            start=dt.date.fromisoformat(day), days=1, rows_per_day=HEAVY_ROWS, history_rows=10
        )
        generate(heavy, spec)
        shutil.copyfile(heavy / "applications" / f"{day}.csv", root / "applications" / f"{day}.csv")
    # the retry test's day arrives late: its run fails until the file is put in place
    late = root.parent / f"{root.name}_late"
    late.mkdir()
    shutil.move(root / "applications" / f"{RETRY_DAY}.csv", late / f"{RETRY_DAY}.csv")
    return root


@pytest.fixture(scope="package")
def stack(tmp_path_factory, service_data):
    missing = missing_services()
    if missing:
        message = "scale-out service tests need " + ", ".join(missing)
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    running = Stack(tmp_path_factory.mktemp("stack"), service_data)
    # the S3 endpoint and its test credentials, so tests here can open the stack's store
    saved = {k: os.environ.get(k) for k in running.env if k.startswith("AWS_")}
    os.environ.update({k: running.env[k] for k in saved})
    try:
        running.start()
        yield running
    finally:
        running.stop()
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


@pytest.fixture(scope="package")
def instance(stack):
    """The stack's Dagster instance (PostgreSQL), to read runs and their event logs."""
    with stack.environment():
        shared = dg.DagsterInstance.get()
    try:
        yield shared
    finally:
        shared.dispose()


@pytest.fixture(scope="package")
def store(stack):
    from credit_assets.core.storage import open_store

    return open_store(f"{stack.storage_url}/santander")


@pytest.fixture(scope="package")
def client(stack):
    from credit_assets.cli.graphql_client import CreditClient

    return CreditClient("santander", "127.0.0.1", stack.ports["web"])


def _failure_line(entry) -> str:
    error = entry.dagster_event.step_failure_data.error
    return f"{entry.step_key}: {(error.cause or error).message.strip()[-500:]}"


@pytest.fixture(scope="package")
def training_run(client, instance) -> str:
    """Train and register the champion once, through the Celery workers."""
    run_id = client.launch(client.training_job, run_config=TRAIN_RUN_CONFIG)
    status = client.wait(run_id, timeout=600)
    failures = [
        _failure_line(e)
        for e in instance.all_logs(run_id)
        if e.dagster_event is not None and e.dagster_event.is_step_failure
    ]
    assert status == dg.DagsterRunStatus.SUCCESS, (
        f"training run {run_id} ended {status}: {failures}"
    )
    return run_id
