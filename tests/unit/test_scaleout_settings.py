"""One variable picks the profile; the scale-out profile's executor, queues and workers."""

import pytest
from typer.testing import CliRunner

from credit_assets.scaleout.executors import CELERY_SETTINGS, build_executor, celery_config
from credit_assets.scaleout.queues import DEFAULT_QUEUE, TRAINING_QUEUE
from credit_assets.scaleout.workers import worker_argv
from credit_assets.settings import Settings, SettingsError


@pytest.fixture
def scaleout(monkeypatch):
    for key in ("MLFLOW_TRACKING_URI", "CREDIT_STORAGE_URL", "CREDIT_CELERY_BROKER"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("CREDIT_PROFILE", "scaleout")
    return monkeypatch


def test_embedded_is_the_default(monkeypatch):
    monkeypatch.delenv("CREDIT_PROFILE", raising=False)
    monkeypatch.delenv("CREDIT_STORAGE_URL", raising=False)
    settings = Settings.from_env()
    assert settings.profile == "embedded"
    assert settings.mlflow_artifact_location.startswith("file://")
    assert settings.storage_location == str(settings.storage_dir)
    assert build_executor(settings).name == "multiprocess"


def test_scaleout_profile(scaleout):
    settings = Settings.from_env()
    assert settings.mlflow_tracking_uri == "http://localhost:5000"
    assert settings.mlflow_artifact_location is None  # the tracking server decides
    assert settings.celery_broker.startswith("pyamqp://")
    assert build_executor(settings).name == "celery"
    scaleout.setenv("CREDIT_STORAGE_URL", "s3://bucket/assets")
    scaleout.setenv("CREDIT_CELERY_BROKER", "pyamqp://u:p@broker:5672/v")
    settings = Settings.from_env()
    assert settings.storage_location == "s3://bucket/assets"
    config = celery_config(settings)
    assert config["broker"] == "pyamqp://u:p@broker:5672/v"
    assert config["config_source"]["task_acks_late"] is True


def test_unknown_profile_is_refused_in_one_line(monkeypatch):
    monkeypatch.setenv("CREDIT_PROFILE", "cloud")
    with pytest.raises(SettingsError, match=r"^CREDIT_PROFILE: .*'scaleout'.*'cloud'"):
        Settings.from_env()


def test_home_moves_every_default_and_empty_variables_count_as_unset(monkeypatch, tmp_path):
    for key in ("MLFLOW_TRACKING_URI", "CREDIT_STORAGE_DIR", "CREDIT_DATASETS", "CREDIT_PROFILE"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("CREDIT_HOME", str(tmp_path))
    monkeypatch.setenv("CREDIT_STORAGE_URL", "")
    settings = Settings.from_env()
    assert settings.storage_dir == tmp_path / "storage"
    assert settings.datasets_file == tmp_path / "datasets.yaml"
    assert settings.mlflow_tracking_uri == f"sqlite:///{tmp_path / 'mlflow.db'}"
    assert settings.storage_location == str(tmp_path / "storage")


def test_scaled_out_writer_locks_live_in_the_instance_database(scaleout):
    scaleout.delenv("CREDIT_LOCKS", raising=False)
    scaleout.setenv("DAGSTER_PG_HOST", "db.internal")
    scaleout.setenv("DAGSTER_PG_PASSWORD", "pw")
    where = Settings.from_env().writer_locks().where
    assert where == "postgresql://postgres:pw@db.internal:5432/dagster"
    scaleout.setenv("CREDIT_LOCKS", "/shared/locks")
    assert Settings.from_env().writer_locks().where == "/shared/locks"


def test_worker_app_matches_the_executor(scaleout):
    scaleout.setenv("CREDIT_CELERY_BROKER", "pyamqp://guest@somewhere:5672//")
    from credit_assets.scaleout.celery_app import app

    assert app.conf.broker_url == "pyamqp://guest@somewhere:5672//"
    assert "execute_plan" in app.tasks
    assert app.conf.task_default_queue == DEFAULT_QUEUE
    for key, value in CELERY_SETTINGS.items():
        assert app.conf[key] == value, key


def test_worker_command_line():
    argv = worker_argv([DEFAULT_QUEUE, TRAINING_QUEUE], 3, None, "INFO")
    assert argv[1:6] == ["-m", "celery", "-A", "credit_assets.scaleout.celery_app", "worker"]
    assert argv[argv.index("--queues") + 1] == "dagster,training"
    assert argv[argv.index("--concurrency") + 1] == "3"
    assert argv[argv.index("--hostname") + 1] == "dagster-training@%h"


def test_workers_refuse_the_embedded_profile(monkeypatch):
    from credit_assets.cli import app

    monkeypatch.delenv("CREDIT_PROFILE", raising=False)
    result = CliRunner().invoke(app, ["workers", "start"])
    assert result.exit_code == 1
    assert "CREDIT_PROFILE=scaleout" in result.output


def test_scaleout_refuses_to_start_without_its_suites(scaleout, tmp_path):
    from credit_assets.cli import app

    scaleout.setenv("CREDIT_EXPECTATIONS_DIR", str(tmp_path / "not-shipped"))
    result = CliRunner().invoke(app, ["workers", "start"])
    assert result.exit_code == 1
    assert result.output.startswith("error: CREDIT_EXPECTATIONS_DIR: no expectation suites at ")
    assert len(result.output.strip().splitlines()) == 1
    scaleout.setenv("CREDIT_PROFILE", "embedded")  # the embedded profile derives in memory
    Settings.from_env().require_suites()


def test_trigger_without_a_webserver_is_one_line():
    import socket

    from credit_assets.cli import app

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    runner = CliRunner()
    result = runner.invoke(
        app, ["trigger", "--port", str(port), "score", "--partition", "2026-11-01"]
    )
    assert result.exit_code == 1
    assert f"cannot reach the Dagster webserver at http://localhost:{port}/graphql" in result.output
    result = runner.invoke(
        app, ["trigger", "backfill", "--from", "2026-11-05", "--to", "2026-11-01"]
    )
    assert result.exit_code == 2 and "--to is before --from" in result.output


def test_job_snapshots_hold_no_password(scaleout, tmp_path):
    """Dagster stores each run's job snapshot, resource config included, where its UI and
    GraphQL show it to every viewer: no password of the environment may end up there."""
    from dagster._core.snap import JobSnap
    from dagster._serdes import serialize_value

    from credit_assets.definitions import defs

    passwords = {
        "CREDIT_CELERY_BROKER": "pyamqp://u:broker-pw@broker:5672//",
        "CREDIT_CELERY_BACKEND": "redis://:redis-pw@redis:6379/0",
        "CREDIT_DECISION_LOG_URL": "postgresql+psycopg2://u:decisions-pw@pg/decisions",
        "DAGSTER_PG_PASSWORD": "instance-pw",
    }
    scaleout.setenv("CREDIT_HOME", str(tmp_path))
    scaleout.setenv("DAGSTER_PG_HOST", "pg")
    for key, value in passwords.items():
        scaleout.setenv(key, value)
    definitions = defs()
    settings = Settings.from_env()
    assert "instance-pw" in settings.writer_locks().where  # the steps still find them
    for job in definitions.resolve_all_job_defs():
        snapshot = serialize_value(JobSnap.from_job_def(job))
        for secret in ("broker-pw", "redis-pw", "decisions-pw", "instance-pw"):
            assert secret not in snapshot, (job.name, secret)
