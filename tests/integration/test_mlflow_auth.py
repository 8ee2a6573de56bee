"""The MLflow tracking server as deployed: behind its basic-auth app, with the platform's
writer and reader accounts (credit_assets/scaleout/mlflow_users.py, deploy/mlflow-auth.ini).

The server runs on loopback with SQLite in place of the deployment's PostgreSQL; everything
else in the auth configuration is the deployment's own file.
"""

import configparser
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from credit_assets.scaleout.mlflow_users import ensure_users

# A real server costs about 20 s of CPU (its start and the slow password hash of each
# request); on a busy machine that was minutes, so it runs with `-m slow`.
pytestmark = pytest.mark.slow

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
ADMIN = ("admin", "admin-password-1")
WRITER, READER = ("writer", "writer-password-1"), ("reader", "reader-password-1")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("mlflow-auth")
    config = configparser.ConfigParser()
    config.read(DEPLOY / "mlflow-auth.ini")
    config["mlflow"]["database_uri"] = f"sqlite:///{tmp / 'auth.db'}"
    with (tmp / "auth.ini").open("w") as f:
        config.write(f)
    port = _free_port()
    env = {
        **os.environ,
        "MLFLOW_AUTH_CONFIG_PATH": str(tmp / "auth.ini"),
        "MLFLOW_AUTH_ADMIN_USERNAME": ADMIN[0],
        "MLFLOW_AUTH_ADMIN_PASSWORD": ADMIN[1],
        "MLFLOW_FLASK_SERVER_SECRET_KEY": "test-secret-key",
    }
    for key in ("MLFLOW_TRACKING_URI", "MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD"):
        env.pop(key, None)
    command = [
        *(sys.executable, "-m", "mlflow", "server", "--app-name", "basic-auth"),
        *("--backend-store-uri", f"sqlite:///{tmp / 'mlflow.db'}"),
        *("--artifacts-destination", (tmp / "artifacts").as_uri()),
        *("--host", "127.0.0.1", "--port", str(port), "--workers", "1"),
    ]
    proc = subprocess.Popen(
        command, env=env, cwd=tmp, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 300  # a loaded machine takes minutes
    while True:
        try:
            urllib.request.urlopen(f"{url}/health", timeout=1)
            break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                pytest.fail(f"mlflow server did not start: {proc.stderr.read().decode()[-2000:]}")
            time.sleep(0.2)
    yield url
    proc.terminate()
    proc.wait(timeout=30)


def _as(monkeypatch, account: tuple[str, str] | None) -> None:
    for key in ("MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD"):
        monkeypatch.delenv(key, raising=False)
    if account:
        monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", account[0])
        monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", account[1])


def test_no_credentials_no_access(server):
    for path in ("/api/2.0/mlflow/experiments/search?max_results=1", "/"):
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(server + path, timeout=10)
        assert refused.value.code == 401, path


def test_writer_writes_reader_reads(server, monkeypatch):
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException
    from mlflow.server.auth.client import AuthServiceClient

    _as(monkeypatch, ADMIN)
    ensure_users(AuthServiceClient(server), dict([WRITER, READER]))
    ensure_users(AuthServiceClient(server), dict([READER]))  # a re-run (rotation) is fine
    _as(monkeypatch, WRITER)
    writer = MlflowClient(server)
    experiment = writer.create_experiment("santander")
    writer.create_registered_model("santander")
    _as(monkeypatch, READER)
    reader = MlflowClient(server)
    assert "santander" in [e.name for e in reader.search_experiments()]
    assert reader.get_registered_model("santander").name == "santander"
    # MLflow lets any account create experiments and models of its own; what the reader
    # cannot do is change the platform's (the writer's)
    for change in (
        lambda: reader.create_run(experiment),
        lambda: reader.set_registered_model_alias("santander", "champion", "1"),
        lambda: reader.delete_registered_model("santander"),
    ):
        with pytest.raises(MlflowException, match=r"PERMISSION_DENIED|Permission denied"):
            change()
    _as(monkeypatch, ("reader", "wrong-password-1"))
    with pytest.raises(MlflowException, match=r"401|Unauthorized|credentials"):
        MlflowClient(server).search_experiments()
