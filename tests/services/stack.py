"""A scale-out deployment on this machine, for the service tests.

PostgreSQL, Redis and RabbitMQ are the machine's; everything else is started here, each in a
process group of its own so that stopping it also stops its children: an S3 server (moto),
an MLflow tracking server on PostgreSQL, the Dagster code server, webserver and daemon, and
two Celery workers. The instance is configured by ``deploy/dagster.yaml`` and
``deploy/workspace.yaml``, as in production. Every session gets its own databases and
RabbitMQ virtual host, removed afterwards.
"""

from __future__ import annotations

import contextlib
import os
import selectors
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
HOST = "127.0.0.1"
SERVICES = {"PostgreSQL": 5432, "Redis": 6379, "RabbitMQ": 5672}
BUCKET = "credit-test"
WORKERS = {"w1": ["dagster", "training"], "w2": ["dagster"]}


def missing_services() -> list[str]:
    """What this machine lacks for the service tests, in words for a skip message."""
    missing = []
    for name, port in SERVICES.items():
        with socket.socket() as s:
            s.settimeout(1)
            if s.connect_ex((HOST, port)) != 0:
                missing.append(f"{name} on {HOST}:{port}")
    if shutil.which("rabbitmqctl") is None:
        missing.append("rabbitmqctl (to create a RabbitMQ virtual host)")
    return missing


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def wait_until(check: Callable[[], bool], timeout: float, what: str, poll: float = 0.5) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(poll)
    raise TimeoutError(f"{what} not ready after {timeout:.0f}s")


class Proc:
    """A command in a process group of its own, logging to a file."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str], logs: Path) -> None:
        self.name, self.argv, self.env = name, argv, env
        self.log = logs / f"{name}.log"
        # a restarted process appends to the same log: read only what this one wrote
        self.offset = self.log.stat().st_size if self.log.exists() else 0
        with self.log.open("ab") as out:
            self.popen = subprocess.Popen(
                argv,
                env=env,
                cwd=ROOT,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def log_text(self) -> str:
        with self.log.open("rb") as log:
            log.seek(self.offset)
            return log.read().decode(errors="replace")

    def signal_group(self, sig: int) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.popen.pid, sig)

    def stop(self, grace: float = 10) -> None:
        """SIGTERM the group, then SIGKILL whatever is left of it."""
        self.signal_group(signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.popen.wait(grace)
        self.signal_group(signal.SIGKILL)  # children may outlive their leader
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.popen.wait(5)


def http_ok(url: str) -> bool:
    try:
        return requests.get(url, timeout=2).status_code == 200
    except requests.RequestException:
        return False


class TcpProxy:
    """A loopback TCP relay whose connections can be cut, to break the broker connection
    of every Celery client without touching the broker itself."""

    def __init__(self, target_port: int) -> None:
        self.target = (HOST, target_port)
        self.server = socket.create_server((HOST, 0))
        self.port = self.server.getsockname()[1]
        self.refuse_until = 0.0
        self.pairs: list[tuple[socket.socket, socket.socket]] = []
        self.lock = threading.Lock()
        self.closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self.closed:
            try:
                client, _ = self.server.accept()
            except OSError:
                return
            if time.monotonic() < self.refuse_until:
                client.close()
                continue
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            with self.lock:
                self.pairs.append((client, upstream))
            threading.Thread(target=self._relay, args=(client, upstream), daemon=True).start()

    def _relay(self, a: socket.socket, b: socket.socket) -> None:
        sel = selectors.DefaultSelector()
        sel.register(a, selectors.EVENT_READ, b)
        sel.register(b, selectors.EVENT_READ, a)
        try:
            while True:
                for key, _ in sel.select(timeout=1):
                    data = key.fileobj.recv(65536)
                    if not data:
                        return
                    key.data.sendall(data)
        except (OSError, ValueError):
            return
        finally:
            sel.close()
            for s in (a, b):
                with contextlib.suppress(OSError):
                    s.close()

    def cut(self, refuse_for: float) -> int:
        """Close every open connection and refuse new ones for ``refuse_for`` seconds."""
        self.refuse_until = time.monotonic() + refuse_for
        with self.lock:
            pairs, self.pairs = self.pairs, []
        for pair in pairs:
            for s in pair:
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)
                    s.close()
        return len(pairs)

    def close(self) -> None:
        self.closed = True
        self.server.close()
        self.cut(0)


def _psql(sql: str) -> None:
    import psycopg2

    conn = psycopg2.connect(host=HOST, port=5432, user="postgres", dbname="postgres")
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            cur.execute(sql)
    finally:
        conn.close()


def _rabbitmqctl(*args: str) -> None:
    subprocess.run(["rabbitmqctl", *args], check=True, capture_output=True, timeout=60)


class Stack:
    """The running deployment; ``start`` and ``stop`` are called by the session fixture."""

    def __init__(
        self,
        tmp: Path,
        data: Path,
        workers: dict[str, list[str]] = WORKERS,
        profile: str = "scaleout",
        extra_env: dict[str, str] | None = None,
        shared_path: bool = False,
    ) -> None:
        """``shared_path``: asset files in a folder of this host (the one-host set-up) instead
        of the S3 server (several hosts)."""
        self.tmp, self.data, self.workers, self.profile = tmp, data, workers, profile
        self.name = f"credit_test_{uuid.uuid4().hex[:10]}"
        self.logs = tmp / "logs"
        self.logs.mkdir(parents=True, exist_ok=True)
        self.procs: dict[str, Proc] = {}
        self.cleanups: list[Callable[[], None]] = []
        self.ports = {k: free_port() for k in ("s3", "mlflow", "code", "web")}
        self.proxy = TcpProxy(SERVICES["RabbitMQ"])
        self.cleanups.append(self.proxy.close)
        self.storage_url = str(tmp / "storage") if shared_path else f"s3://{BUCKET}/storage"
        self.env = {**self._env(), **(extra_env or {})}

    def _env(self) -> dict[str, str]:
        dagster_home = self.tmp / "dagster_home"
        dagster_home.mkdir(exist_ok=True)
        shutil.copyfile(ROOT / "deploy" / "dagster.yaml", dagster_home / "dagster.yaml")
        drop = {"CREDIT_CONTRACT", "CREDIT_STORAGE_DIR", "DAGSTER_HOME"}
        env = {k: v for k, v in os.environ.items() if k not in drop}
        env.update(
            CREDIT_PROFILE=self.profile,
            CREDIT_HOME=str(self.tmp / "home"),
            CREDIT_DATA_DIR=str(self.data),
            CREDIT_STORAGE_URL=self.storage_url,
            CREDIT_CELERY_BROKER=f"pyamqp://guest:guest@{HOST}:{self.proxy.port}/{self.name}",
            CREDIT_CELERY_BACKEND=f"redis://{HOST}:6379/0",
            MLFLOW_TRACKING_URI=f"http://{HOST}:{self.ports['mlflow']}",
            # the decision log in PostgreSQL, as deployed: workers append days side by side
            CREDIT_DECISION_LOG_URL=f"postgresql+psycopg2://postgres@{HOST}:5432/{self.name}_decisions",
            MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR="false",
            DAGSTER_HOME=str(dagster_home),
            DAGSTER_PG_HOST=HOST,
            DAGSTER_PG_PORT="5432",
            DAGSTER_PG_USER="postgres",
            DAGSTER_PG_PASSWORD="",
            DAGSTER_PG_DB=self.name,
            DAGSTER_COMPUTE_LOGS_DIR=str(self.tmp / "compute_logs"),
            CREDIT_CODE_SERVER_HOST=HOST,
            CREDIT_CODE_SERVER_PORT=str(self.ports["code"]),
            AWS_ENDPOINT_URL=f"http://{HOST}:{self.ports['s3']}",
            AWS_ACCESS_KEY_ID="test",
            AWS_SECRET_ACCESS_KEY="test",
            AWS_DEFAULT_REGION="us-east-1",
            # starting a run's orchestrator waits for a fresh process to load the code
            # location: on a busy 2-core machine that can take longer than the default 60 s
            DAGSTER_GRPC_TIMEOUT_SECONDS="300",
        )
        return env

    # -- life cycle -------------------------------------------------------------------------

    def start(self) -> None:
        _psql(f"CREATE DATABASE {self.name}")
        self.cleanups.append(lambda: _psql(f"DROP DATABASE IF EXISTS {self.name} WITH (FORCE)"))
        for database in (f"{self.name}_mlflow", f"{self.name}_decisions"):
            _psql(f"CREATE DATABASE {database}")
            self.cleanups.append(
                lambda db=database: _psql(f"DROP DATABASE IF EXISTS {db} WITH (FORCE)")
            )
        _rabbitmqctl("add_vhost", self.name)
        self.cleanups.append(lambda: _rabbitmqctl("delete_vhost", self.name))
        _rabbitmqctl("set_permissions", "-p", self.name, "guest", ".*", ".*", ".*")

        # The instance's tables before any server starts: the webserver and the daemon would
        # each create them on a fresh database, and one of them fails ("already exists").
        subprocess.run(
            [str(BIN / "dagster"), "instance", "migrate"],
            env=self.env,
            check=True,
            capture_output=True,
            timeout=300,
        )
        workspace = str(ROOT / "deploy" / "workspace.yaml")
        self._spawn("s3", [str(BIN / "moto_server"), "-H", HOST, "-p", str(self.ports["s3"])])
        self._spawn(
            "mlflow",
            [
                str(BIN / "mlflow"),
                "server",
                "--backend-store-uri",
                f"postgresql+psycopg2://postgres@{HOST}:5432/{self.name}_mlflow",
                "--artifacts-destination",
                f"s3://{BUCKET}/mlflow",
                "--host",
                HOST,
                "--port",
                str(self.ports["mlflow"]),
                "--workers",
                "1",
            ],
            MLFLOW_SERVER_ENABLE_JOB_EXECUTION="false",
        )
        self._spawn(
            "code",
            [
                str(BIN / "python"),
                "-m",
                "credit_assets.scaleout.code_server",
                "-m",
                "credit_assets.definitions",
                "-h",
                HOST,
                "-p",
                str(self.ports["code"]),
            ],
        )
        self._spawn(
            "web",
            [
                str(BIN / "dagster-webserver"),
                "-w",
                workspace,
                "-h",
                HOST,
                "-p",
                str(self.ports["web"]),
            ],
        )
        self._spawn("daemon", [str(BIN / "dagster-daemon"), "run", "-w", workspace])
        for name in self.workers:
            self.start_worker(name)
        wait_until(lambda: http_ok(f"{self.env['AWS_ENDPOINT_URL']}/moto-api/"), 120, "S3")
        self._make_bucket()
        self.wait_ready()

    def _spawn(self, name: str, argv: list[str], **extra: str) -> Proc:
        proc = Proc(name, argv, {**self.env, **extra}, self.logs)
        self.procs[name] = proc
        return proc

    def start_worker(self, name: str) -> Proc:
        argv = [str(BIN / "credit-assets"), "workers", "start", "--name", name]
        for queue in self.workers[name]:
            argv += ["--queue", queue]
        return self._spawn(name, argv)

    def worker_ready(self, name: str) -> bool:
        proc = self.procs[name]
        if not proc.alive():
            raise RuntimeError(f"worker {name} exited:\n{proc.log_text()[-3000:]}")
        # Celery logs "<name>@<host> ready." once it consumes from its queues
        return f"{name}@" in proc.log_text() and " ready." in proc.log_text()

    def wait_ready(self, timeout: float = 300) -> None:
        def up() -> bool:
            for proc in self.procs.values():
                if not proc.alive():
                    raise RuntimeError(f"{proc.name} exited:\n{proc.log_text()[-3000:]}")
            return (
                http_ok(f"{self.env['MLFLOW_TRACKING_URI']}/health")
                and self._location_loaded()
                and self._daemon_healthy()
                and all(self.worker_ready(n) for n in self.workers)
            )

        wait_until(up, timeout, "the scale-out stack", poll=1)

    def _graphql(self, query: str) -> dict:
        reply = requests.post(
            f"http://{HOST}:{self.ports['web']}/graphql", json={"query": query}, timeout=10
        )
        return reply.json()["data"]

    def _location_loaded(self) -> bool:
        try:
            data = self._graphql(
                "{ repositoriesOrError { __typename ... on RepositoryConnection "
                "{ nodes { name } } } }"
            )
        except (requests.RequestException, ValueError, KeyError, TypeError):
            return False
        result = data["repositoriesOrError"]
        return result["__typename"] == "RepositoryConnection" and bool(result["nodes"])

    def _daemon_healthy(self) -> bool:
        try:
            data = self._graphql(
                "{ instance { daemonHealth { allDaemonStatuses { daemonType healthy } } } }"
            )
        except (requests.RequestException, ValueError, KeyError, TypeError):
            return False
        statuses = data["instance"]["daemonHealth"]["allDaemonStatuses"]
        return any(s["daemonType"] == "QUEUED_RUN_COORDINATOR" and s["healthy"] for s in statuses)

    def _make_bucket(self) -> None:
        import boto3

        client = boto3.client(
            "s3",
            endpoint_url=self.env["AWS_ENDPOINT_URL"],
            aws_access_key_id="test",
            aws_secret_access_key="test",
            region_name="us-east-1",
        )
        client.create_bucket(Bucket=BUCKET)

    def stop(self) -> None:
        for proc in self.procs.values():
            proc.signal_group(signal.SIGTERM)
        for proc in self.procs.values():
            proc.stop()
        errors = []
        for cleanup in reversed(self.cleanups):
            try:
                cleanup()
            except Exception as exc:  # clean up everything else, then report
                errors.append(exc)
        if errors:
            raise errors[0]

    @contextlib.contextmanager
    def environment(self) -> Iterator[None]:
        """The stack's environment in this process, for the instance and the stores."""
        saved = os.environ.copy()
        os.environ.clear()
        os.environ.update(self.env)
        try:
            yield
        finally:
            os.environ.clear()
            os.environ.update(saved)
