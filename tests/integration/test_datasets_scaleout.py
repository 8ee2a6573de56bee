"""Two datasets on the scale-out profile's shared services: asset files on S3-compatible
storage (a real local S3 server), the Dagster instance and the writer locks in PostgreSQL.
Training and deciding dataset B leaves every object of dataset A byte-identical.

(The steps run in process here; tests/services runs the same definitions on Celery workers.)
"""

import hashlib
import os
import uuid

import pytest

from credit_assets.settings import Settings
from tests.conftest import FIXTURES, Env, write_loans

pytestmark = pytest.mark.services

CHEAP = {"ops": {"model": {"config": {"max_rounds": 200, "candidates": ["additive"]}}}}


def _psql(sql: str) -> None:
    import psycopg2

    conn = psycopg2.connect(host="127.0.0.1", port=5432, user="postgres", dbname="postgres")
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            cur.execute(sql)
    finally:
        conn.close()


@pytest.fixture(scope="module")
def shared(tmp_path_factory, small_data):
    from moto.server import ThreadedMotoServer

    try:
        _psql("SELECT 1")
    except Exception:
        if os.environ.get("CI") == "true":
            pytest.fail("PostgreSQL on 127.0.0.1:5432 is required under CI=true")
        pytest.skip("no PostgreSQL on 127.0.0.1:5432")
    name = f"credit_two_{uuid.uuid4().hex[:8]}"
    _psql(f"CREATE DATABASE {name}")
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    root = tmp_path_factory.mktemp("scaleout")
    home = root / "home"
    (home / "dagster_home").mkdir(parents=True)
    (home / "dagster_home" / "dagster.yaml").write_text(
        "telemetry:\n  enabled: false\nstorage:\n  postgres:\n    postgres_db:\n"
        "      hostname: 127.0.0.1\n      port: 5432\n      username: postgres\n"
        f"      password: ''\n      db_name: {name}\n      scheme: postgresql+psycopg2\n"
    )
    variables = {
        "AWS_ENDPOINT_URL": f"http://{host}:{port}",
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_DEFAULT_REGION": "us-east-1",
        "CREDIT_STORAGE_URL": "s3://credit-two/storage",
        "CREDIT_LOCKS": f"postgresql://postgres@127.0.0.1:5432/{name}",
    }
    saved = {k: os.environ.get(k) for k in variables}
    os.environ.update(variables)
    import boto3

    boto3.client("s3").create_bucket(Bucket="credit-two")
    loans = root / "loans"
    loans.mkdir()
    write_loans(loans)
    try:
        with Env(home, small_data) as env:
            yield env, loans
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        server.stop()
        _psql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def _objects(prefix: str) -> dict[str, str]:
    import boto3

    s3 = boto3.client("s3")
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket="credit-two", Prefix=prefix)
    keys = [o["Key"] for page in pages for o in page.get("Contents", [])]
    return {
        k: hashlib.sha256(s3.get_object(Bucket="credit-two", Key=k)["Body"].read()).hexdigest()
        for k in keys
    }


def test_a_second_dataset_touches_no_object_of_the_first(shared):
    from credit_assets.cli.runner import run_all
    from credit_assets.core.catalog import DatasetEntry

    _env, loans = shared
    settings = Settings.from_env()
    assert settings.writer_locks().where.startswith("postgresql://")
    santander = run_all("santander", run_config=CHEAP)
    assert santander["model_name"] == "credit-santander"
    before = _objects("storage/santander/")
    assert any(k.endswith("decisions/2026-11-02.parquet") for k in before)

    settings.catalog().add(DatasetEntry("loans", FIXTURES / "loans.yaml", loans))
    summary = run_all("loans", run_config=CHEAP)
    assert summary["model_name"] == "credit-loans"
    assert _objects("storage/santander/") == before
    assert any(k.startswith("storage/loans/decisions/") for k in _objects("storage/loans/"))
