"""The decision API over real HTTP: a uvicorn server on a free loopback port, the champion of
the session's trained environment, the decision log on SQLite."""

import json
import math
import os
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import hypothesis
import pandas as pd
import pytest
import schemathesis
import uvicorn
from typer.testing import CliRunner

from credit_assets.cli.app import app as cli
from credit_assets.cli.common import console
from credit_assets.core.api_keys import ApiKeys, parse_scopes
from credit_assets.core.catalog import model_name
from credit_assets.core.decision_log import DecisionLog
from credit_assets.core.registry import ModelRegistry
from credit_assets.core.registry_names import CHAMPION
from credit_assets.core.storage import open_store
from credit_assets.serving.app import ServingSettings, create_app
from credit_assets.settings import Settings
from tests.conftest import START

DATASET = "santander"
DAY = START.isoformat()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def serving(options: ServingSettings | None = None) -> Iterator[str]:
    """A real uvicorn server in a thread, on the environment's settings; yields its URL."""
    app = create_app(Settings.from_env(), options or ServingSettings(refresh_seconds=0.5))
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline, "the server did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.fixture(scope="module")
def env(trained):
    return trained[0]


@pytest.fixture(scope="module")
def log(env) -> DecisionLog:
    return Settings.from_env().decision_log()


@pytest.fixture(scope="module")
def tokens(log) -> dict[str, str]:
    keys = ApiKeys(log)
    made = {
        "decide": ["santander:decide", "santander:read"],
        "read": ["santander:read"],
        "other": ["loans:decide"],
    }
    return {name: keys.create(name, parse_scopes(scopes))[1] for name, scopes in made.items()}


@pytest.fixture(scope="module")
def api(env, tokens) -> Iterator[httpx.Client]:
    with (
        serving() as url,
        httpx.Client(base_url=url, headers={"X-API-Key": tokens["decide"]}, timeout=30) as client,
    ):
        yield client


def _store_with(asset: str):
    """The asset files of the dataset (per-dataset storage, or the shared one before it)."""
    settings = Settings.from_env()
    for location in (settings.dataset_storage(DATASET), settings.storage_location):
        store = open_store(location)
        if store.partitions(asset):
            return store
    raise AssertionError(f"no {asset} files under {settings.storage_location}")


def _applications(day: str) -> list[dict]:
    frame = _store_with("raw_applications").read_frame("raw_applications", day)
    return [
        {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in row.items()}
        for row in frame.to_dict("records")
    ]


def _reasons(row) -> list[str]:
    return [
        row[f"reason_text_{i}"]
        for i in range(1, 5)
        if isinstance(row[f"reason_text_{i}"], str) and row[f"reason_text_{i}"]
    ]


def test_a_whole_day_decided_through_the_api_matches_the_batch_asset(api, log):
    settings = Settings.from_env()
    registry = ModelRegistry(settings.mlflow_tracking_uri, model_name(DATASET), model_name(DATASET))
    pipeline, _ = registry.load(registry.resolve(CHAMPION).version)
    assert pipeline.compiled_only() is not None  # single decisions take the one-row path
    batch = _store_with("decisions").read_frame("decisions", DAY).set_index("ID_code")
    applications = _applications(DAY)
    before = log.count(DATASET)
    one_by_one = [api.post(f"/v1/{DATASET}/decisions", json=a) for a in applications]
    assert {r.status_code for r in one_by_one} == {200}
    together = api.post(f"/v1/{DATASET}/decisions:batch", json={"applications": applications})
    assert together.status_code == 200
    for answers in ([r.json() for r in one_by_one], together.json()["decisions"]):
        assert len(answers) == len(batch)
        for answer in answers:
            expected = batch.loc[answer["application_id"]]
            assert answer["decision"] == expected["decision"]
            if math.isnan(expected["score"]):
                assert answer["score"] is None
            else:
                assert answer["score"] == expected["score"]
            assert [r["text"] for r in answer["reasons"]] == _reasons(expected)
            assert answer["model_version"] == expected["model_version"]
            assert answer["thresholds_version"] == expected["thresholds_version"]
    # every answer is on record, and no more
    assert log.count(DATASET) == before + 2 * len(applications)
    first = one_by_one[0].json()
    stored = api.get(f"/v1/{DATASET}/decisions/{first['decision_id']}")
    assert stored.status_code == 200 and stored.json() == first
    history = api.get(f"/v1/{DATASET}/applications/{first['application_id']}/decisions")
    assert [d["source"] for d in history.json()["decisions"]][-2:] == ["api", "api"]


def test_a_repeated_idempotency_key_returns_the_stored_decision(api, log):
    application = _applications(DAY)[1]
    headers = {"Idempotency-Key": "order-77"}
    first = api.post(
        f"/v1/{DATASET}/decisions", json=application, headers={**headers, "X-Request-ID": "r-77"}
    )
    assert first.json()["request_id"] == first.headers["X-Request-ID"] == "r-77"
    count = log.count(DATASET)
    again = api.post(f"/v1/{DATASET}/decisions", json=application, headers=headers)
    assert first.status_code == again.status_code == 200
    assert again.json()["decision_id"] == first.json()["decision_id"]
    assert again.headers["Idempotent-Replayed"] == "true"
    assert log.count(DATASET) == count
    other = {**application, "var_0": application["var_0"] + 1}
    conflict = api.post(f"/v1/{DATASET}/decisions", json=other, headers=headers)
    assert conflict.status_code == 409
    assert log.count(DATASET) == count


@pytest.mark.parametrize(
    ("change", "status", "field"),
    [
        (lambda a: a.pop("var_3"), 422, "var_3"),
        (lambda a: a.update(var_999=1.0), 422, "var_999"),
        (lambda a: a.update(var_5="high"), 422, "var_5"),
        (lambda a: a.update(gender="X"), 422, "gender"),
        (lambda a: a.update(ID_code=""), 422, "ID_code"),
    ],
    ids=["missing", "extra", "wrong type", "unknown level", "empty id"],
)
def test_bad_input_is_a_4xx_naming_the_field(api, log, change, status, field):
    application = _applications(DAY)[2]
    change(application)
    count = log.count(DATASET)
    response = api.post(f"/v1/{DATASET}/decisions", json=application)
    assert response.status_code == status
    assert field in [e["field"] for e in response.json()["errors"]]
    assert log.count(DATASET) == count


def test_nan_bad_json_big_bodies_and_big_batches_are_refused(api, log):
    application = _applications(DAY)[3]
    count = log.count(DATASET)
    url = f"/v1/{DATASET}/decisions"
    body = json.dumps({**application, "var_7": float("nan")})  # a bare NaN token
    nan = api.post(url, content=body, headers={"Content-Type": "application/json"})
    assert nan.status_code == 422 and nan.json()["errors"][0]["field"] == "var_7"
    broken = api.post(url, content=b'{"ID_code": ', headers={"Content-Type": "application/json"})
    assert broken.status_code == 400
    huge = api.post(url, content=b" " * (9 * 1024 * 1024))
    assert huge.status_code == 413
    many = {"applications": [application] * 1001}
    too_many = api.post(f"/v1/{DATASET}/decisions:batch", json=many)
    assert too_many.status_code == 422
    assert too_many.json()["errors"][0]["field"] == "applications"
    assert log.count(DATASET) == count


def test_api_keys_need_the_scope_of_the_dataset(api, tokens, log):
    url = f"/v1/{DATASET}/decisions"
    application = _applications(DAY)[4]
    assert api.post(url, json=application, headers={"X-API-Key": ""}).status_code == 401
    assert api.post(url, json=application, headers={"X-API-Key": "ck_x_y"}).status_code == 401
    assert api.post(url, json=application, headers={"X-API-Key": tokens["read"]}).status_code == 403
    assert (
        api.post(url, json=application, headers={"X-API-Key": tokens["other"]}).status_code == 403
    )
    keys = ApiKeys(log)
    made, token = keys.create("soon revoked", parse_scopes(["santander:decide"]))
    keys.revoke(made.key_id)
    assert api.post(url, json=application, headers={"X-API-Key": token}).status_code == 401


def test_a_promoted_champion_is_served_without_a_restart_or_a_failed_request(api, env):
    settings = Settings.from_env()
    registry = ModelRegistry(settings.mlflow_tracking_uri, "credit-santander", "credit-santander")
    pipeline, current = registry.load(CHAMPION)
    applications = _applications(DAY)
    new = registry.register(current.run_id, pipeline, pd.DataFrame(applications[:5]))
    answers, stop = [], threading.Event()

    def load() -> None:
        i = 0
        while not stop.is_set():
            answers.append(api.post(f"/v1/{DATASET}/decisions", json=applications[i % 50]))
            i += 1

    worker = threading.Thread(target=load)
    worker.start()
    try:
        time.sleep(1)
        registry.promote(new.version, by="test", reason="hot swap under load")
        deadline = time.monotonic() + 20
        while not answers or answers[-1].json().get("model_version") != new.version:
            assert time.monotonic() < deadline, "the new champion was not served"
            time.sleep(0.2)
        time.sleep(0.5)
    finally:
        stop.set()
        worker.join()
        registry.promote(current.version, by="test", reason="back to the first champion")
    assert {r.status_code for r in answers} == {200}
    served = [r.json()["model_version"] for r in answers]
    assert served[0] == current.version and served[-1] == new.version
    assert api.get("/readyz").json()["models"][DATASET] in (current.version, new.version)
    assert f'credit_model_version{{dataset="{DATASET}"}}' in api.get("/metrics").text


def test_metrics_count_requests_latency_and_decisions(api):
    text = api.get("/metrics").text
    assert 'credit_decisions_total{dataset="santander",decision="approve"}' in text
    assert "credit_api_request_seconds_bucket" in text
    assert 'route="/v1/santander/decisions"' in text


def test_without_a_model_the_service_is_not_ready_and_decides_nothing(tmp_path, env, tokens):
    saved = os.environ.get("MLFLOW_TRACKING_URI")
    os.environ["MLFLOW_TRACKING_URI"] = f"sqlite:///{tmp_path / 'empty.db'}"
    try:
        with serving() as url:
            ready = httpx.get(f"{url}/readyz")
            assert ready.status_code == 503 and "santander" in ready.json()["problems"]
            refused = httpx.post(
                f"{url}/v1/{DATASET}/decisions",
                json=_applications(DAY)[0],
                headers={"X-API-Key": tokens["decide"]},
            )
            assert refused.status_code == 503
            assert "no champion model" in refused.json()["detail"]
    finally:
        if saved is None:
            os.environ.pop("MLFLOW_TRACKING_URI")
        else:
            os.environ["MLFLOW_TRACKING_URI"] = saved


def test_without_the_decision_log_nothing_is_decided(env, monkeypatch):
    monkeypatch.setenv("CREDIT_DECISION_LOG_URL", "postgresql+psycopg2://postgres@127.0.0.1:1/no")
    with serving(ServingSettings(auth=False)) as url:
        assert httpx.get(f"{url}/readyz").status_code == 503
        refused = httpx.post(f"{url}/v1/{DATASET}/decisions", json=_applications(DAY)[0])
        assert refused.status_code == 503
        assert "decision log" in refused.json()["detail"]


def test_decisions_show_prints_an_applications_history(api, env, log, monkeypatch):
    monkeypatch.setattr(console, "width", 300)
    # the day's batch decisions recorded as the decisions asset records them
    settings = Settings.from_env()
    registry = ModelRegistry(settings.mlflow_tracking_uri, "credit-santander", "credit-santander")
    pipeline, _ = registry.load(CHAMPION)
    inputs = _store_with("raw_applications").read_frame("raw_applications", DAY)
    decided = _store_with("decisions").read_frame("decisions", DAY)
    log.record_batch(
        DATASET,
        decided,
        inputs,
        pipeline.contract,
        pipeline.thresholds,
        actor="decisions asset",
        partition_day=DAY,
    )
    application = _applications(DAY)[5]
    api.post(f"/v1/{DATASET}/decisions", json=application)
    result = CliRunner().invoke(
        cli, ["decisions", "show", "--dataset", DATASET, "--id", application["ID_code"]]
    )
    assert result.exit_code == 0, result.output
    assert "api" in result.output and "batch" in result.output
    missing = CliRunner().invoke(cli, ["decisions", "show", "--dataset", DATASET, "--id", "nope"])
    assert missing.exit_code == 1 and "no decision for 'nope'" in missing.output


def test_apikeys_commands_create_list_and_revoke(env):
    runner = CliRunner()
    created = runner.invoke(cli, ["apikeys", "create", "--name", "cli", "--scope", "*:read"])
    assert created.exit_code == 0, created.output
    token = created.output.strip().splitlines()[-1]
    key_id = token.split("_")[1]
    listed = runner.invoke(cli, ["apikeys", "list"])
    assert key_id in listed.output and "*:read" in listed.output
    assert runner.invoke(cli, ["apikeys", "revoke", key_id]).exit_code == 0
    again = runner.invoke(cli, ["apikeys", "revoke", key_id])
    assert again.exit_code == 1 and "already revoked" in again.output
    bad = runner.invoke(cli, ["apikeys", "create", "--name", "x", "--scope", "santander:all"])
    assert bad.exit_code == 1 and "bad scope" in bad.output


def test_schemathesis_finds_no_server_error_and_no_schema_violation(api, tokens):
    """Bounded examples per operation (the default suite), every schemathesis check."""
    schema = schemathesis.openapi.from_url(f"{api.base_url}/openapi.json")
    failures = []
    for result in schema.get_all_operations():
        operation = result.ok()

        @hypothesis.settings(
            max_examples=15,
            deadline=None,
            database=None,
            suppress_health_check=list(hypothesis.HealthCheck),
        )
        @hypothesis.given(case=operation.as_strategy())
        def exercise(case) -> None:
            case.call_and_validate(headers={"X-API-Key": tokens["decide"]})

        try:
            exercise()
        except Exception as exc:  # every operation's failures, reported together
            failures.append(f"{operation.label}: {exc}")
    assert not failures, "\n".join(failures)
