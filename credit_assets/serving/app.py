"""The real-time decision API: the batch's decisions, one application at a time.

Every dataset of the catalog gets ``POST /v1/<dataset>/decisions`` (one application),
``POST /v1/<dataset>/decisions:batch`` (many), ``GET /v1/<dataset>/decisions/<id>`` and
``GET /v1/<dataset>/applications/<id>/decisions`` (an application's history). A decision is
committed to the decision log before it is answered; without a loadable champion or a
reachable log the answer is 503, never a decision made up or off the record.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager, suppress
from operator import attrgetter
from typing import Any

import numpy as np
import orjson
import pandas as pd
from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.security import APIKeyHeader
from pydantic import BaseModel, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect

from credit_assets.core.api_keys import ApiKey, ApiKeyError, ApiKeys
from credit_assets.core.catalog import model_name
from credit_assets.core.decision_inputs import fingerprint, input_records
from credit_assets.core.decision_log import (
    DecisionLogUnavailableError,
    IdempotencyConflictError,
    RecordedDecision,
)
from credit_assets.core.registry import ModelRegistry
from credit_assets.serving.metrics import Metrics, MetricsMiddleware
from credit_assets.serving.models import ChampionHolder, ChampionWatcher, Served
from credit_assets.serving.schemas import Decision, Decisions, FieldError, Health, Problem
from credit_assets.settings import Settings

API_KEY_HEADER = "X-API-Key"
IDEMPOTENCY_HEADER = "Idempotency-Key"
REQUEST_ID_HEADER = "X-Request-ID"
REPLAYED_HEADER = "Idempotent-Replayed"


class ServingSettings(BaseSettings):
    """Options of the service, from ``CREDIT_SERVING_*`` environment variables."""

    model_config = SettingsConfigDict(env_prefix="CREDIT_SERVING_")

    refresh_seconds: float = 10.0  # how often the champion alias is checked
    max_batch: int = 1000  # applications per batch request
    max_body_bytes: int = 8 * 1024 * 1024
    auth: bool = True  # False: no API key needed (local trials only)


class ApiProblem(Exception):
    """An answer other than a decision: status, one-line detail, the bad fields."""

    def __init__(self, status: int, detail: str, errors: list[FieldError] | None = None) -> None:
        self.status, self.detail, self.errors = status, detail, errors or []


def _problem(status: int, detail: str, errors: list[FieldError] | None = None) -> JSONResponse:
    return JSONResponse(
        Problem(detail=detail, errors=errors or []).model_dump(), status_code=status
    )


def _field_name(loc: tuple[Any, ...]) -> str:
    name = ""
    for part in loc:
        name += f"[{part}]" if isinstance(part, int) else (f".{part}" if name else str(part))
    return name or "(body)"


def _field_errors(exc: ValidationError) -> list[FieldError]:
    return [FieldError(field=_field_name(tuple(e["loc"])), message=e["msg"]) for e in exc.errors()]


def _responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    words = {
        400: "the body is not JSON",
        401: "no valid API key",
        403: "the key lacks the scope for this dataset",
        404: "not found",
        409: "the idempotency key was used for other inputs",
        413: "the body is too large",
        422: "invalid application: each bad field is named",
        503: "no champion model loaded, or the decision log unavailable",
    }
    return {code: {"model": Problem, "description": words[code]} for code in codes}


def _inline(node: Any, defs: dict[str, Any]) -> Any:
    """``node`` with every local ``$ref`` replaced by its definition: a schema given to
    ``openapi_extra`` is put in the document as is, where ``#/$defs/...`` would dangle."""
    if isinstance(node, dict):
        if "$ref" in node:
            return _inline(defs[node["$ref"].rsplit("/", 1)[-1]], defs)
        return {k: _inline(v, defs) for k, v in node.items()}
    if isinstance(node, list):
        return [_inline(v, defs) for v in node]
    return node


def _body_schema(model: type[BaseModel] | None) -> dict[str, Any]:
    schema = model.model_json_schema(by_alias=True) if model else {"type": "object"}
    schema = _inline(schema, schema.pop("$defs", {}))
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}}


_DECISION_FIELDS = tuple(Decision.model_fields)


def _response(recorded: RecordedDecision) -> dict[str, Any]:
    data = {name: getattr(recorded, name) for name in _DECISION_FIELDS}
    data["decided_at"] = recorded.decided_at.isoformat()
    data["reasons"] = [r.__dict__ for r in recorded.reasons]
    return data


class _Json(JSONResponse):
    """A decision or a batch of them, written by orjson: a tenth of json's time for a
    batch of 1,000 decisions."""

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


class DecisionService:
    """What the routes share: the champions, the log, the keys and the metrics.

    ``decide`` runs on the thread pool: while one request waits for its commit's fsync or
    for LightGBM (both release the GIL), another is parsed, decided or recorded."""

    def __init__(self, settings: Settings, options: ServingSettings) -> None:
        self.options = options
        self.log = settings.decision_log()
        self.keys = ApiKeys(self.log)
        self.metrics = Metrics()
        catalog = settings.catalog()
        self.holders = {
            name: ChampionHolder(
                name,
                ModelRegistry(settings.mlflow_tracking_uri, model_name(name), model_name(name)),
                options.max_batch,
            )
            for name in catalog.names()
        }
        self.watcher = ChampionWatcher(list(self.holders.values()), options.refresh_seconds)

    def served(self, dataset: str) -> Served:
        served = self.holders[dataset].current
        if served is None:
            raise ApiProblem(
                503,
                f"no champion model loaded for dataset {dataset!r}: "
                f"{self.holders[dataset].problem}",
            )
        return served

    async def body(self, request: Request, model: type[BaseModel]) -> BaseModel:
        limit = self.options.max_body_bytes
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            raise ApiProblem(413, f"the body is larger than {limit} bytes")
        chunks, size = [], 0
        try:
            async for chunk in request.stream():
                size += len(chunk)
                if size > limit:
                    raise ApiProblem(413, f"the body is larger than {limit} bytes")
                chunks.append(chunk)
        except ClientDisconnect:  # nobody to answer; nothing decided
            raise ApiProblem(400, "the client went away before sending the body") from None
        try:
            return model.model_validate_json(b"".join(chunks))
        except ValidationError as exc:
            if any(e["type"] == "json_invalid" for e in exc.errors()):
                raise ApiProblem(400, "the body is not valid JSON") from None
            raise ApiProblem(422, "invalid application", _field_errors(exc)) from None

    def decide(
        self,
        dataset: str,
        served: Served,
        applications: list[BaseModel],
        key: ApiKey | None,
        *,
        request_id: str,
        idempotency: str | None,
        started: float,
    ) -> tuple[list[RecordedDecision], bool]:
        contract = served.pipeline.contract
        one_row = served.one_row if len(applications) == 1 else None
        inputs: pd.DataFrame | list[dict[str, Any]]
        if one_row is not None:  # a compiled champion decides one application without pandas
            inputs = [one_row.values(applications[0].model_dump(by_alias=True))]
        else:
            inputs = _frame(served, applications)
        records = input_records(inputs, contract, self.log.redact_protected)
        keys = None
        if idempotency:
            if len(idempotency) > 100:
                raise ApiProblem(
                    422,
                    "the idempotency key is too long",
                    [FieldError(field=IDEMPOTENCY_HEADER, message="at most 100 characters")],
                )
            keys = (
                [idempotency]
                if len(inputs) == 1
                else [f"{idempotency}/{i}" for i in range(len(inputs))]
            )
            prints = [fingerprint(r) for r in records]
            stored = self.log.replay(dataset, keys, prints)
            if stored is not None:
                return stored, False
        if one_row is not None:
            decided = one_row.decision_columns(inputs[0], model_version=served.version)
        else:
            decided = served.pipeline.decision_columns(inputs, model_version=served.version)
        rows = self.log.rows(
            dataset,
            decided,
            records,
            contract,
            served.pipeline.thresholds,
            source="api",
            actor=f"api-key {key.key_id}" if key else "api",
            request_id=request_id,
            idempotency_keys=keys,
            latency_ms=(time.perf_counter() - started) * 1000,
        )
        recorded, created = self.log.record_idempotent(dataset, rows)
        if created:
            for row in recorded:
                self.metrics.decisions.labels(dataset, row.decision).inc()
        return recorded, created


def _request_id(request: Request) -> str:
    """The caller's ``X-Request-ID`` (printable, at most 64 characters), else a new one."""
    given = request.headers.get(REQUEST_ID_HEADER, "")
    return given[:64] if given and given.isprintable() else uuid.uuid4().hex


def _headers(request_id: str, created: bool) -> dict[str, str]:
    return {REQUEST_ID_HEADER: request_id, REPLAYED_HEADER: str(not created).lower()}


def _frame(served: Served, applications: list[BaseModel]) -> pd.DataFrame:
    """The applications as the pipeline reads a day's file: one column per field, numeric
    columns as float64 with NaN for a missing value.

    The numeric columns are made one float block and the few others inserted at their
    places: a frame built column by column costs twice as much and decides slower."""
    fields = dict(zip(served.columns, served.application.model_fields, strict=True))
    numeric = [c for c in served.columns if c in served.numeric]
    get = attrgetter(*(fields[c] for c in numeric)) if numeric else lambda _: ()
    matrix = np.array([get(a) for a in applications], dtype=float)
    # one numeric column: attrgetter gives each value alone, not in a tuple
    frame = pd.DataFrame(matrix.reshape(len(applications), len(numeric)), columns=numeric)
    for place, column in enumerate(served.columns):
        if column not in served.numeric:
            frame.insert(place, column, [getattr(a, fields[column]) for a in applications])
    return frame


def create_app(settings: Settings, options: ServingSettings | None = None) -> FastAPI:
    """The decision API for every dataset of ``settings``' catalog."""
    options = options or ServingSettings()
    service = DecisionService(settings, options)
    # Without the log the service is not ready; every decision is refused until it answers.
    with suppress(DecisionLogUnavailableError):
        service.log.migrate()
    service.watcher.refresh_all()

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        service.watcher.start()
        yield
        service.watcher.stop()

    app = FastAPI(
        title="credit-assets decision API",
        version="1",
        description=__doc__,
        lifespan=lifespan,
    )
    app.state.service = service
    app.add_middleware(MetricsMiddleware, metrics=service.metrics)

    @app.exception_handler(ApiProblem)
    async def on_problem(_: Request, exc: ApiProblem) -> JSONResponse:
        return _problem(exc.status, exc.detail, exc.errors)

    @app.exception_handler(DecisionLogUnavailableError)
    async def on_log_down(_: Request, exc: DecisionLogUnavailableError) -> JSONResponse:
        return _problem(503, f"refused, nothing decided: {exc}")

    @app.exception_handler(IdempotencyConflictError)
    async def on_conflict(_: Request, exc: IdempotencyConflictError) -> JSONResponse:
        return _problem(409, str(exc))

    @app.exception_handler(RequestValidationError)
    async def on_invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            FieldError(field=_field_name(tuple(e["loc"])), message=e["msg"]) for e in exc.errors()
        ]
        return _problem(422, "invalid request", errors)

    @app.exception_handler(StarletteHTTPException)
    async def on_http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        return _problem(exc.status_code, str(exc.detail))

    api_key = APIKeyHeader(name=API_KEY_HEADER, auto_error=False)

    def require(dataset: str, scope: str) -> Callable[..., ApiKey | None]:
        def check(token: str | None = Depends(api_key)) -> ApiKey | None:
            if not options.auth:
                return None
            if not token:
                raise ApiProblem(401, f"an API key is needed (header {API_KEY_HEADER})")
            try:
                key = service.keys.authenticate(token)
            except ApiKeyError as exc:
                raise ApiProblem(401, str(exc)) from None
            if not key.allows(dataset, scope):
                raise ApiProblem(403, f"this key may not {scope} on dataset {dataset!r}")
            return key

        return check

    for name in service.holders:
        _dataset_routes(app, service, name, require)

    @app.get("/healthz", response_model=Health, tags=["operations"])
    async def healthz() -> Health:
        """The process answers."""
        return Health(status="ok")

    @app.get("/readyz", response_model=Health, responses=_responses(503), tags=["operations"])
    async def readyz() -> Any:
        """Ready when every dataset has a champion loaded and the decision log answers."""
        models = {n: (h.current.version if h.current else None) for n, h in service.holders.items()}
        problems = {n: h.problem for n, h in service.holders.items() if h.current is None}
        try:
            service.log.ping()
        except DecisionLogUnavailableError as exc:
            problems["decision_log"] = str(exc)
        health = Health(status="not ready" if problems else "ready", models=models)
        health.problems = {k: v or "" for k, v in problems.items()}
        return JSONResponse(health.model_dump(), status_code=503 if problems else 200)

    @app.get("/metrics", tags=["operations"], response_class=Response)
    async def metrics() -> Response:
        """Prometheus: requests, latency, decisions by outcome, model version."""
        for n, h in service.holders.items():
            service.metrics.model_version.labels(n).set(int(h.current.version) if h.current else 0)
        body, content_type = service.metrics.exposition()
        return Response(body, media_type=content_type)

    return app


def _dataset_routes(
    app: FastAPI,
    service: DecisionService,
    name: str,
    require: Callable[[str, str], Callable[..., ApiKey | None]],
) -> None:
    startup = service.holders[name].current
    decide_key = Depends(require(name, "decide"))
    read_key = Depends(require(name, "read"))
    write_errors = _responses(400, 401, 403, 409, 413, 422, 503)

    @app.post(
        f"/v1/{name}/decisions",
        response_model=Decision,
        responses=write_errors,
        openapi_extra=_body_schema(startup.application if startup else None),
        tags=[name],
        operation_id=f"{name}_decide",
        summary=f"Decide one {name} application",
    )
    async def decide_one(request: Request, key: ApiKey | None = decide_key) -> Any:
        started = time.perf_counter()
        served = service.served(name)
        application = await service.body(request, served.application)
        request_id = _request_id(request)
        (recorded,), created = await run_in_threadpool(
            service.decide,
            name,
            served,
            [application],
            key,
            request_id=request_id,
            idempotency=request.headers.get(IDEMPOTENCY_HEADER),
            started=started,
        )
        return _Json(_response(recorded), headers=_headers(request_id, created))

    @app.post(
        f"/v1/{name}/decisions:batch",
        response_model=Decisions,
        responses=write_errors,
        openapi_extra=_body_schema(startup.batch if startup else None),
        tags=[name],
        operation_id=f"{name}_decide_batch",
        summary=f"Decide many {name} applications at once",
    )
    async def decide_batch(request: Request, key: ApiKey | None = decide_key) -> Any:
        started = time.perf_counter()
        served = service.served(name)
        batch = await service.body(request, served.batch)
        request_id = _request_id(request)
        recorded, created = await run_in_threadpool(
            service.decide,
            name,
            served,
            batch.applications,
            key,
            request_id=request_id,
            idempotency=request.headers.get(IDEMPOTENCY_HEADER),
            started=started,
        )
        return _Json(
            {"decisions": [_response(r) for r in recorded]}, headers=_headers(request_id, created)
        )

    @app.get(
        f"/v1/{name}/decisions/{{decision_id}}",
        response_model=Decision,
        responses=_responses(401, 403, 404, 503),
        tags=[name],
        operation_id=f"{name}_get_decision",
        summary="One recorded decision",
    )
    async def get_decision(decision_id: str, key: ApiKey | None = read_key) -> Any:
        found = service.log.get(name, decision_id)
        if found is None:
            raise ApiProblem(404, f"no decision {decision_id!r} for dataset {name!r}")
        return _Json(_response(found))

    @app.get(
        f"/v1/{name}/applications/{{application_id}}/decisions",
        response_model=Decisions,
        responses=_responses(401, 403, 404, 503),
        tags=[name],
        operation_id=f"{name}_application_history",
        summary="Every decision of one application, oldest first",
    )
    async def history(application_id: str, key: ApiKey | None = read_key) -> Any:
        found = service.log.history(name, application_id)
        if not found:
            raise ApiProblem(404, f"no decision for application {application_id!r}")
        return _Json({"decisions": [_response(r) for r in found]})


def app_from_env() -> FastAPI:
    """The app as ``uvicorn --factory`` builds it in each worker."""
    return create_app(Settings.from_env())
