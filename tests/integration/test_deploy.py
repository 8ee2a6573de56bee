"""The deployment files agree with the code and with each other.

No container engine or Helm runs here, so the compose file is checked against the Compose
Specification's JSON schema (as shipped by check-jsonschema) and for dangling references, and
every file is parsed and held to deploy/components.yaml: which variables (and secrets) each
component reads, the one list the compose file, the Helm manifests and docs/operations.md
follow.
"""

import configparser
import json
import os
import re
import shutil
import subprocess
import tempfile
import tomllib
from importlib.resources import files
from pathlib import Path

import jsonschema
import pytest
import yaml

from credit_assets.defs.jobs import TRAINING_RUN_TAG
from credit_assets.scaleout.queues import DEFAULT_QUEUE, TRAINING_QUEUE

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
SECRET = re.compile(r"PASSWORD|SECRET", re.IGNORECASE)


def _yaml(path: Path):
    return yaml.safe_load(path.read_text())


@pytest.fixture(scope="module")
def compose() -> dict:
    return _yaml(DEPLOY / "compose.yaml")


@pytest.fixture(scope="module")
def components() -> dict:
    return _yaml(DEPLOY / "components.yaml")


def _reads(components: dict, component: str) -> set[str]:
    """The variables a component reads, its groups spelled out."""
    groups = components["groups"]
    names = components["components"][component]["reads"]
    return set().union(*(groups.get(n, [n]) for n in names))


def _uses(components: dict, where: str) -> dict[str, set[str]]:
    """What each compose service (where="compose") or Helm workload ("helm") reads: the
    union over the components it runs."""
    uses: dict[str, set[str]] = {}
    for name, component in components["components"].items():
        for unit in component.get(where, []):
            uses.setdefault(unit, set()).update(_reads(components, name))
    return uses


def _runs(components: dict, group: str, where: str) -> set[str]:
    """The compose services or Helm workloads of the components that read a whole group."""
    wanted = set(components["groups"][group])
    return {
        unit
        for name, component in components["components"].items()
        if wanted <= _reads(components, name)
        for unit in component.get(where, [])
    }


@pytest.fixture(scope="module")
def env_example() -> dict[str, str]:
    pairs = [
        line.split("=", 1)
        for line in (DEPLOY / ".env.example").read_text().splitlines()
        if line and not line.startswith("#")
    ]
    return dict(pairs)


def _env_refs(node) -> set[str]:
    """Names of the ``{env: NAME}`` references in a Dagster YAML file."""
    if isinstance(node, dict):
        if set(node) == {"env"}:
            return {node["env"]}
        node = list(node.values())
    if isinstance(node, list):
        return set().union(*(_env_refs(v) for v in node))
    return set()


# compose's own ${VAR} (not $${VAR}, which is left to the container's shell)
COMPOSE_VAR = re.compile(r"(?<!\$)\$\{([A-Z0-9_]+)")


def test_compose_file_matches_the_compose_specification(compose):
    schema_file = files("check_jsonschema") / "builtin_schemas" / "vendor" / "compose-spec.json"
    jsonschema.validate(compose, json.loads(schema_file.read_text()))


def test_compose_references_resolve(compose, env_example):
    text = (DEPLOY / "compose.yaml").read_text()
    # every ${VAR} has a value (or a default) in the example environment
    used = set(re.findall(r"\$\{([A-Z0-9_]+)", text))
    assert used <= set(env_example), used - set(env_example)
    services = compose["services"]
    for name, service in services.items():
        for dependency in service.get("depends_on", {}):
            assert dependency in services, (name, dependency)
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("."):
                assert (DEPLOY / source).exists(), (name, source)
            else:
                assert source in compose["volumes"], (name, source)
        if "build" in service:
            assert (DEPLOY / service["build"]["context"] / service["build"]["dockerfile"]).exists()
    # the list of components (the web app comes with a later issue)
    assert {
        "decision-api",
        "postgres",
        "redis",
        "rabbitmq",
        "minio",
        "mlflow",
        "code-server",
        "webserver",
        "daemon",
        "worker",
        "training-worker",
    } <= set(services)


def test_the_instance_tables_exist_before_any_server_opens_the_instance(compose):
    """On a fresh database the webserver, the daemon and the code server would each create
    Dagster's tables at once, and all but one fail: a one-shot migration runs first."""
    services = compose["services"]
    assert services["dagster-migrate"]["command"] == ["dagster", "instance", "migrate"]
    for name in ("code-server", "worker", "training-worker"):
        after = services[name]["depends_on"]["dagster-migrate"]
        assert after == {"condition": "service_completed_successfully"}, name
    for name in ("webserver", "daemon", "web-app"):
        assert "code-server" in services[name]["depends_on"], name


def test_examples_hold_no_secrets(env_example):
    for key, value in env_example.items():
        if SECRET.search(key):
            assert value == "", f"{key} must be left empty in .env.example"
    for config in _helm_docs("credit-config.yaml"):
        assert not [k for k in config["data"] if SECRET.search(k)]


def test_helm_values_point_at_the_code_location():
    values = _yaml(DEPLOY / "helm" / "values.yaml")
    module = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["dagster"]["module_name"]
    (deployment,) = values["dagster-user-deployments"]["deployments"]
    assert deployment["dagsterApiGrpcArgs"] == ["-m", module]
    assert values["postgresql"]["postgresqlScheme"] == "postgresql+psycopg2"
    assert values["runLauncher"]["type"] == "K8sRunLauncher"
    workloads = list(yaml.safe_load_all((DEPLOY / "helm" / "workloads.yaml").read_text()))
    images = {deployment["image"]["repository"] + ":" + deployment["image"]["tag"]}
    queues = set()
    for doc in workloads:
        if doc["kind"] != "Deployment":
            continue
        (container,) = doc["spec"]["template"]["spec"]["containers"]
        images.add(container["image"])
        if container["command"][:3] == ["credit-assets", "workers", "start"]:
            queues.add(container["command"][container["command"].index("--queue") + 1])
    assert images == {"registry.example.com/credit-assets:0.1.0"}
    assert queues == {DEFAULT_QUEUE, TRAINING_QUEUE}


def test_dockerfile_copies_what_exists():
    lines = (DEPLOY / "Dockerfile").read_text().splitlines()
    copies = [line.split()[1:-1] for line in lines if line.startswith("COPY")]
    for sources in copies:
        for source in sources:
            assert (ROOT / source).exists(), source
    assert "COPY deploy/dagster.yaml deploy/workspace.yaml /opt/dagster/dagster_home/" in lines
    # the suites ship with the code (the scale-out profile refuses to start without them)
    assert "COPY expectations ./expectations" in lines
    ignore = (DEPLOY / "Dockerfile.dockerignore").read_text().splitlines()
    assert "!expectations/" in ignore


@pytest.mark.parametrize(
    "path", [ROOT / "dagster.yaml", DEPLOY / "dagster.yaml", DEPLOY / "helm" / "values.yaml"]
)
def test_instances_run_one_training_per_dataset_at_a_time(path, tmp_path):
    from credit_assets.definitions import defs

    key, value = TRAINING_RUN_TAG, {"applyLimitPerUniqueValue": True}
    assert defs().resolve_job_def("santander__training_job").tags[key] == "santander"
    config = _yaml(path)
    if path.name == "values.yaml":
        queued = config["dagsterDaemon"]["runCoordinator"]["config"]["queuedRunCoordinator"]
        limits = queued["tagConcurrencyLimits"]
    else:
        limits = config["concurrency"]["runs"]["tag_concurrency_limits"]
    assert {"key": key, "value": value, "limit": 1} in limits
    if path.parent == ROOT:  # the embedded instance needs no server: check Dagster reads it
        import dagster as dg

        (tmp_path / "dagster.yaml").write_text(path.read_text())
        with dg.DagsterInstance.from_config(str(tmp_path)) as instance:
            queue = instance.get_concurrency_config().run_queue_config
        (limit,) = [x for x in queue.tag_concurrency_limits if x["key"] == key]
        assert limit["limit"] == 1 and limit["value"] == value


# -- what each container gets ---------------------------------------------------------------


def test_components_name_what_the_instance_and_workspace_read(components):
    """The instance and workspace groups are exactly the variables deploy/dagster.yaml and
    deploy/workspace.yaml read (plus DAGSTER_HOME, where the instance is found)."""
    groups = components["groups"]
    assert set(groups["instance"]) == _env_refs(_yaml(DEPLOY / "dagster.yaml")) | {"DAGSTER_HOME"}
    assert set(groups["workspace"]) == _env_refs(_yaml(DEPLOY / "workspace.yaml"))
    assert set(components["secrets"]) <= {v for g in groups.values() for v in g} | {
        v for c in components["components"].values() for v in c["reads"]
    }


def test_compose_services_get_only_what_they_read(compose, components):
    uses = _uses(components, "compose")
    services = compose["services"]
    assert set(services) == set(uses), set(services) ^ set(uses)
    for name, service in services.items():
        given = set(service.get("environment", {}))
        assert given <= uses[name], (name, given - uses[name])
    # a process that opens the instance or loads the workspace gets all of it
    for group in ("instance", "workspace"):
        for name in _runs(components, group, "compose"):
            assert set(components["groups"][group]) <= set(services[name]["environment"]), name
    workers = {
        s["command"][s["command"].index("--queue") + 1]
        for s in services.values()
        if s.get("command", [])[:3] == ["credit-assets", "workers", "start"]
    }
    assert workers == {DEFAULT_QUEUE, TRAINING_QUEUE}


def _env_secrets(env_example: dict[str, str]) -> set[str]:
    return {k for k in env_example if SECRET.search(k)}


def test_compose_secrets_reach_only_their_readers(compose, components, env_example):
    """A secret of .env reaches a container only through a variable it reads and never on a
    command line (visible to `ps` and `docker inspect`), except Redis's requirepass; each
    database's password reaches only the components that use that database."""
    secrets = _env_secrets(env_example)
    assert {"POSTGRES_PASSWORD", "DAGSTER_DB_PASSWORD", "MLFLOW_DB_PASSWORD"} <= secrets
    holders: dict[str, set[str]] = {}
    for name, service in compose["services"].items():
        for variable, value in service.get("environment", {}).items():
            for secret in set(COMPOSE_VAR.findall(str(value))) & secrets:
                holders.setdefault(secret, set()).add(name)
                assert variable in components["secrets"], (name, variable, secret)
        command = " ".join(map(str, service.get("command", [])))
        on_command_line = set(COMPOSE_VAR.findall(command)) & secrets
        assert on_command_line <= ({"REDIS_PASSWORD"} if name == "redis" else set()), name
    workers = {"worker", "training-worker"}
    assert holders["POSTGRES_PASSWORD"] == {"postgres"}
    assert (
        holders["DAGSTER_DB_PASSWORD"]
        == {"postgres", "dagster-migrate", "code-server", "webserver", "daemon", "web-app"}
        | workers
    )
    assert holders["MLFLOW_DB_PASSWORD"] == {"postgres", "mlflow"}
    assert holders["DECISIONS_DB_PASSWORD"] == {"postgres", "decision-api", "web-app"} | workers
    assert holders["RABBITMQ_PASSWORD"] == {"rabbitmq", "code-server"} | workers
    assert holders["S3_SECRET_KEY"] == {"minio", "minio-bucket", "mlflow"} | workers
    assert holders["MLFLOW_ADMIN_PASSWORD"] == {"mlflow", "mlflow-users"}
    assert holders["MLFLOW_WRITER_PASSWORD"] == {"mlflow-users"} | workers
    assert holders["MLFLOW_READER_PASSWORD"] == {"mlflow-users", "decision-api", "web-app"}
    init = (DEPLOY / "postgres-init.sh").read_text()
    for owner in ("dagster", "mlflow", "decisions"):
        assert f"CREATE DATABASE {owner} OWNER {owner};" in init
    assert "REVOKE ALL ON DATABASE dagster, mlflow, decisions FROM PUBLIC;" in init


def test_compose_publishes_only_services_that_check_credentials(compose):
    """Only the web app (login) and the decision API (API keys) have a port on the host,
    on loopback; every other service is on the internal network alone."""
    services = compose["services"]
    published = {name for name, s in services.items() if "ports" in s or "expose" in s}
    assert published == {"web-app", "decision-api"}
    for name in published:
        assert all(str(p).startswith("127.0.0.1:") for p in services[name]["ports"]), name
    networks = compose["networks"]
    internal = {n for n, spec in networks.items() if (spec or {}).get("internal")}
    assert internal == {"backend"}
    for name, service in services.items():
        assert "backend" in service["networks"], name
        outside = set(service["networks"]) - internal
        assert outside == (set() if name not in published else {"front"}), name
        assert service.get("network_mode") is None, name


def test_compose_mlflow_asks_for_credentials(compose, components):
    services = compose["services"]
    mlflow = services["mlflow"]
    command = mlflow["command"]
    assert command[command.index("--app-name") + 1] == "basic-auth"
    env = mlflow["environment"]
    mounted = {v.split(":")[1]: v.split(":")[0] for v in mlflow["volumes"]}
    assert mounted[env["MLFLOW_AUTH_CONFIG_PATH"]] == "./mlflow-auth.ini"
    for variable in ("MLFLOW_AUTH_ADMIN_PASSWORD", "MLFLOW_FLASK_SERVER_SECRET_KEY", "PGPASSWORD"):
        assert env[variable].startswith("${"), variable
    auth = configparser.ConfigParser()
    auth.read(DEPLOY / "mlflow-auth.ini")
    assert "admin_password" not in auth["mlflow"]  # from the environment, never the file
    assert "@" not in auth["mlflow"]["database_uri"]  # nor the database's password
    # every client of MLflow carries an account, and only its clients know where it is
    clients = _runs(components, "mlflow-client", "compose")
    assert clients == {"worker", "training-worker", "decision-api", "web-app", "mlflow-users"}
    for name, service in services.items():
        given = set(service.get("environment", {}))
        assert ({"MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD"} <= given) == (
            name in clients
        ), name


# -- Helm ----------------------------------------------------------------------------------

# the labels by which the Dagster chart's pods are selected (chart 1.13.27; run pods are
# labelled by dagster-k8s)
CHART_PODS = {
    "chart:webserver": {"component": "dagster-webserver"},
    "chart:daemon": {"component": "dagster-daemon"},
    "chart:user-deployment": {"component": "user-deployments"},
    "chart:run-pod": {"app.kubernetes.io/component": "run_worker"},
}


def _helm_docs(name: str) -> list[dict]:
    return [d for d in yaml.safe_load_all((DEPLOY / "helm" / name).read_text()) if d]


def _config_maps() -> dict[str, set[str]]:
    return {d["metadata"]["name"]: set(d["data"]) for d in _helm_docs("credit-config.yaml")}


def _container_env(config_maps: dict, env_from: list, env: list) -> tuple[set[str], set[str]]:
    """The variables a container gets, and those of them that come from a Secret."""
    given, from_secrets = set(), set()
    for source in env_from or []:
        assert "secretRef" not in source, "a whole Secret in envFrom"
        given |= config_maps[source["configMapRef"]["name"]]
    for item in env or []:
        given.add(item["name"])
        if "secretKeyRef" in item.get("valueFrom", {}):
            from_secrets.add(item["name"])
    return given, from_secrets


def _helm_workloads() -> dict[str, dict]:
    """Container spec of each workload in workloads.yaml and each chart pod in values.yaml,
    as {name: {"env_from": ..., "env": ..., "labels": ...}}."""
    found = {}
    for doc in _helm_docs("workloads.yaml"):
        if doc["kind"] in ("Deployment", "Job"):
            template = doc["spec"]["template"]
            (container,) = template["spec"]["containers"]
            found[doc["metadata"]["name"]] = {
                "env_from": container.get("envFrom"),
                "env": container.get("env"),
                "labels": template["metadata"]["labels"],
            }
    values = _yaml(DEPLOY / "helm" / "values.yaml")
    (user,) = values["dagster-user-deployments"]["deployments"]
    assert "envSecrets" not in user and "env" not in user
    code_maps = [{"configMapRef": m} for m in user["envConfigMaps"]]
    launcher = values["runLauncher"]["config"]["k8sRunLauncher"]
    assert "envSecrets" not in launcher and "envVars" not in launcher
    run_maps = [{"configMapRef": m} for m in launcher["envConfigMaps"]]
    run_env = launcher["runK8sConfig"]["containerConfig"]["env"]
    for chart_pod in ("dagsterWebserver", "dagsterDaemon"):
        assert not {"env", "envSecrets", "envConfigMaps"} & set(values[chart_pod]), chart_pod
    found["chart:user-deployment"] = {"env_from": code_maps, "env": []}
    # run pods get the code location's settings (includeConfigInLaunchedRuns) and the launcher's
    found["chart:run-pod"] = {"env_from": code_maps + run_maps, "env": run_env}
    found["chart:webserver"] = found["chart:daemon"] = {"env_from": [], "env": []}
    for name, labels in CHART_PODS.items():
        found[name]["labels"] = labels
    return found


def test_helm_workloads_get_only_what_they_read(components):
    uses = _uses(components, "helm")
    workloads = _helm_workloads()
    assert set(workloads) == set(uses), set(workloads) ^ set(uses)
    config_maps = _config_maps()
    for name, spec in workloads.items():
        given, from_secrets = _container_env(config_maps, spec["env_from"], spec["env"])
        assert given <= uses[name], (name, given - uses[name])
        # a secret comes by key from a Secret, never as a value in the manifest
        assert given & set(components["secrets"]) <= from_secrets, name
    for name in ("credit-worker", "credit-training-worker", "decision-api", "web-app"):
        given, _ = _container_env(config_maps, workloads[name]["env_from"], workloads[name]["env"])
        assert {"MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD"} <= given, name


def test_helm_mlflow_asks_for_credentials():
    (mlflow,) = [
        d
        for d in _helm_docs("workloads.yaml")
        if d["metadata"]["name"] == "mlflow" and d["kind"] == "Deployment"
    ]
    (container,) = mlflow["spec"]["template"]["spec"]["containers"]
    command = container["command"]
    assert command[command.index("--app-name") + 1] == "basic-auth"
    assert not [c for c in command if "${" in c or "@" in c]  # no password on its command line
    env = {e["name"]: e for e in container["env"]}
    mount = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}["auth"]
    assert env["MLFLOW_AUTH_CONFIG_PATH"]["value"] == f"{mount}/basic_auth.ini"
    assert (
        "--from-file=basic_auth.ini=deploy/mlflow-auth.ini"
        in (DEPLOY / "helm" / "values.yaml").read_text()
    )


def _selects(selector: dict, labels: dict) -> bool:
    if any(labels.get(k) != v for k, v in selector.get("matchLabels", {}).items()):
        return False
    for expression in selector.get("matchExpressions", []):
        assert expression["operator"] == "In"
        if labels.get(expression["key"]) not in expression["values"]:
            return False
    return True


# the managed services' ports, by the group of variables whose holders may open them
SERVICE_PORTS = {
    "broker": {5671, 5672, 6379, 6380},
    "s3": {443},
}


def test_helm_network_policies_follow_the_components(components):
    """Default deny; the code server's gRPC admits only the processes that load the
    workspace, MLflow only its clients; a pod may open PostgreSQL's, the broker's, Redis's
    and the object store's ports only if it reads their credentials."""
    policies = [d for d in _helm_docs("network-policies.yaml") if d["kind"] == "NetworkPolicy"]
    (deny,) = [p for p in policies if p["metadata"]["name"] == "default-deny"]
    assert deny["spec"] == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}
    workloads = _helm_workloads()
    labels = {name: spec["labels"] for name, spec in workloads.items()}

    def admitted(target: str, port: int) -> set[str]:
        names = set()
        for policy in policies:
            spec = policy["spec"]
            if "Ingress" not in spec["policyTypes"] or not _selects(
                spec["podSelector"], labels[target]
            ):
                continue
            for rule in spec.get("ingress", []):
                if port not in {p["port"] for p in rule.get("ports", [])}:
                    continue
                if "from" not in rule:
                    return {"anyone"}
                for peer in rule["from"]:
                    names |= {n for n, pod in labels.items() if _selects(peer["podSelector"], pod)}
        return names

    def open_ports(source: str) -> set[int]:
        """Ports a workload may open anywhere (rules without a destination)."""
        ports = set()
        for policy in policies:
            spec = policy["spec"]
            if "Egress" in spec["policyTypes"] and _selects(spec["podSelector"], labels[source]):
                for rule in spec.get("egress", []):
                    if "to" not in rule:
                        ports |= {p["port"] for p in rule["ports"]}
        return ports

    readers = {name: set() for name in workloads}
    for name, reads in _uses(components, "helm").items():
        readers[name] = reads
    workspace = set(components["groups"]["workspace"])
    loads_workspace = {
        n for n, r in readers.items() if workspace <= r or n in ("chart:webserver", "chart:daemon")
    }  # the chart gives its pods the workspace itself
    assert (
        admitted("chart:user-deployment", 3030)
        == loads_workspace
        == {"chart:webserver", "chart:daemon", "web-app"}
    )
    mlflow_clients = {n for n, r in readers.items() if "MLFLOW_TRACKING_PASSWORD" in r}
    assert admitted("mlflow", 5000) == mlflow_clients
    assert admitted("chart:webserver", 80) == admitted("chart:webserver", 3000) == set()
    assert admitted("web-app", 8080) == admitted("decision-api", 8000) == {"anyone"}
    database = {"DAGSTER_PG_PASSWORD", "CREDIT_DECISION_LOG_URL", "PGPASSWORD"}
    for name, reads in readers.items():
        chart_instance = name.startswith("chart:")  # the chart's dagster.yaml and password
        expected = {5432} if reads & database or chart_instance else set()
        for group, ports in SERVICE_PORTS.items():
            if set(components["groups"][group]) & set(components["secrets"]) & reads:
                expected |= ports
        if name == "mlflow":
            expected |= SERVICE_PORTS["s3"]  # its own bucket keys (credit-mlflow-server)
        if name in ("chart:webserver", "chart:daemon", "web-app"):
            expected |= {443, 6443}  # the Kubernetes API: launching and ending run pods
        assert open_ports(name) == expected, name


# -- the docs ------------------------------------------------------------------------------


def _code(items: list[str]) -> str:
    return ", ".join(f"`{i}`" for i in items) or "—"


def _components_table(components: dict) -> str:
    secrets = set(components["secrets"])
    rows = [
        "| component | compose services | Helm workloads | reads | secrets | why |",
        "|---|---|---|---|---|---|",
    ]
    for name, c in components["components"].items():
        secret = sorted(_reads(components, name) & secrets)
        rows.append(
            f"| {name} | {_code(c.get('compose', []))} | {_code(c.get('helm', []))} | "
            f"{_code(c['reads'])} | {_code(secret)} | {' '.join(c['why'].split())} |"
        )
    rows += ["", "| group | variables |", "|---|---|"]
    rows += [f"| `{g}` | {_code(v)} |" for g, v in components["groups"].items()]
    return "\n".join(rows)


def test_operations_doc_shows_the_components_table(components):
    table = _components_table(components)
    assert table in (ROOT / "docs" / "operations.md").read_text(), table


# -- the databases' owners, on a real PostgreSQL --------------------------------------------


def _postgres_bin() -> Path | None:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    return found[-1].parent if found else None


@pytest.mark.skipif(
    _postgres_bin() is None and os.environ.get("CI") != "true", reason="no PostgreSQL server"
)
def test_postgres_init_gives_each_database_its_own_owner():
    """deploy/postgres-init.sh on a throwaway cluster (a socket in a temporary folder, no
    TCP): each owner opens its own database and no other one."""
    pg = _postgres_bin()
    # PostgreSQL refuses to run as root: run it as the postgres user then
    as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    # not below pytest's tmp_path: that is readable by its owner only
    tmp_path = Path(tempfile.mkdtemp(prefix="credit-pg-init-"))
    if as_user:
        shutil.chown(tmp_path, "postgres")

    def run(*command: str, **env: str) -> subprocess.CompletedProcess:
        full = [
            *as_user,
            "env",
            f"PGHOST={tmp_path}",
            "PGPORT=5499",
            *(f"{k}={v}" for k, v in env.items()),
            *command,
        ]
        return subprocess.run(full, capture_output=True, text=True, timeout=120)

    data = tmp_path / "data"
    assert run(str(pg / "initdb"), "-D", str(data), "-U", "credit", "--auth=trust").returncode == 0
    options = f"-p 5499 -k {tmp_path} -c listen_addresses=''"
    # a log file, so that the server holds none of our pipes open
    started = run(
        str(pg / "pg_ctl"),
        "-D",
        str(data),
        "-o",
        options,
        "-l",
        str(tmp_path / "log"),
        "-w",
        "start",
    )
    assert started.returncode == 0, started.stderr
    try:
        script = tmp_path / "init.sh"
        shutil.copy(DEPLOY / "postgres-init.sh", script)
        passwords = {
            "DAGSTER_DB_PASSWORD": "it's",
            "MLFLOW_DB_PASSWORD": "m",
            "DECISIONS_DB_PASSWORD": "d",
        }
        done = run("sh", str(script), POSTGRES_USER="credit", **passwords)
        assert done.returncode == 0, done.stderr
        for user in ("dagster", "mlflow", "decisions"):
            for database in ("dagster", "mlflow", "decisions"):
                opened = run(str(pg / "psql"), "-U", user, "-d", database, "-Atc", "select 1")
                assert (opened.returncode == 0) == (user == database), (
                    user,
                    database,
                    opened.stderr,
                )
    finally:
        run(str(pg / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop")
        shutil.rmtree(tmp_path)
