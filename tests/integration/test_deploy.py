"""The deployment files agree with the code and with each other.

No container engine runs here, so the compose file is checked against the Compose
Specification's JSON schema (as shipped by check-jsonschema) and for dangling references.
"""

import json
import re
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
        return set().union(*(_env_refs(v) for v in node.values()))
    return set()


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


def test_compose_gives_the_instance_every_variable_it_reads(compose):
    provided = set(compose["x-credit-env"])
    for name in ("dagster.yaml", "workspace.yaml"):
        missing = _env_refs(_yaml(DEPLOY / name)) - provided
        assert not missing, (name, missing)
    workers = {
        s["command"][s["command"].index("--queue") + 1]
        for s in compose["services"].values()
        if s.get("command", [])[:3] == ["credit-assets", "workers", "start"]
    }
    assert workers == {DEFAULT_QUEUE, TRAINING_QUEUE}


def test_examples_hold_no_secrets(env_example):
    for key, value in env_example.items():
        if SECRET.search(key):
            assert value == "", f"{key} must be left empty in .env.example"
    config = _yaml(DEPLOY / "helm" / "credit-config.yaml")
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
