"""The review department's web app: login, review queue, case pages, dashboard, run
launches, the audit log and the gate policy, with Dagster's UI and GraphQL mounted behind
the same login (``/dagster``).

Server-rendered (Jinja2), plain HTML forms: no JavaScript build, usable by keyboard.
"""

from __future__ import annotations

import datetime as dt
import json
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from starlette.concurrency import run_in_threadpool

from credit_assets.core.access import Access, AccessError, Principal, Role
from credit_assets.core.audit import AuditLog
from credit_assets.core.dashboard import status
from credit_assets.core.errors import CreditAssetsError
from credit_assets.core.figures import describe_automation
from credit_assets.core.gate_policy import GatePolicies
from credit_assets.core.registry_names import LAUNCHED_BY_TAG
from credit_assets.core.reviews import (
    AlreadyDecidedError,
    ReviewError,
    decide_case,
    open_case,
    queue,
)
from credit_assets.settings import Settings
from credit_assets.web.gate import ASGIApp, DagsterGate, Scope
from credit_assets.web.i18n import LABELS, LANGUAGES, language

SESSION_COOKIE = "credit_session"
LOGIN_CSRF_COOKIE = "credit_login_csrf"
DAGSTER_PATH = "/dagster"
TEMPLATES = Jinja2Templates(directory=Path(__file__).parent / "templates")


@dataclass(frozen=True)
class WebOptions:
    secure_cookies: bool = True  # False only for plain-HTTP trials on one's own machine


@dataclass(frozen=True)
class DagsterMount:
    """The Dagster webserver's ASGI app (path prefix ``/dagster``) and its instance."""

    app: ASGIApp
    instance: Any  # DagsterInstance: runs for the dashboard


@dataclass(frozen=True)
class RecentRun:
    run_id: str
    job: str
    status: str
    started: str


def recent_runs(instance: Any, limit: int = 10) -> list[RecentRun]:
    """The newest runs of the instance, for the dashboard's links into Dagster."""
    out = []
    for record in instance.get_run_records(limit=limit):
        run, start = record.dagster_run, record.start_time
        started = (
            dt.datetime.fromtimestamp(start, dt.UTC).strftime("%Y-%m-%d %H:%M") if start else "–"
        )
        out.append(RecentRun(run.run_id, run.job_name, run.status.value, started))
    return out


class LoginRequired(Exception):
    pass


def principal_of(access: Access, cookie: str | None, authorization: str | None) -> Principal | None:
    """Who a request is: a bearer token (systems) or a session cookie (people)."""
    if authorization and authorization.lower().startswith("bearer "):
        return access.token(authorization[7:].strip())
    return access.session(cookie) if cookie else None


def _require(role: Role) -> Any:
    async def dependency(request: Request) -> Principal:
        who = await run_in_threadpool(
            principal_of,
            request.app.state.access,
            request.cookies.get(SESSION_COOKIE),
            request.headers.get("authorization"),
        )
        if who is None:
            raise LoginRequired
        if not who.may(role):
            raise HTTPException(403, LABELS[_lang(request)]["forbidden"])
        return who

    return Depends(dependency)


Viewer = Annotated[Principal, _require(Role.viewer)]
Reviewer = Annotated[Principal, _require(Role.reviewer)]
DataScientist = Annotated[Principal, _require(Role.data_scientist)]
Admin = Annotated[Principal, _require(Role.admin)]


def _age(delta: dt.timedelta | None) -> str:
    if delta is None:
        return "–"
    minutes = int(delta.total_seconds() // 60)
    if minutes < 60:
        return f"{minutes} min"
    hours = minutes // 60
    return f"{hours} h {minutes % 60} min" if hours < 48 else f"{hours // 24} d {hours % 24} h"


def create_web_app(
    settings: Settings,
    options: WebOptions | None = None,
    dagster: DagsterMount | None = None,
) -> FastAPI:
    """The web app over ``settings``' decision log and catalog, with ``dagster`` mounted
    behind the login."""
    options = options or WebOptions()
    log = settings.decision_log()
    log.migrate()
    access = Access(log)
    audit = AuditLog(log)
    policies = GatePolicies(log)
    app = FastAPI(title="credit-assets web", docs_url=None, redoc_url=None, openapi_url=None)

    app.state.access = access

    def datasets() -> list[str]:
        return settings.catalog().names()

    def render(
        request: Request, name: str, who: Principal | None, status_code: int = 200, **ctx: Any
    ) -> HTMLResponse:
        lang = _lang(request)
        return TEMPLATES.TemplateResponse(
            request,
            name,
            {"t": LABELS[lang], "lang": lang, "who": who, "datasets": datasets(), **ctx},
            status_code=status_code,
        )

    def check_csrf(who: Principal, token: str) -> None:
        # Tokens are for systems, which send no cookies: only sessions need the form token.
        if who.csrf_token and not secrets.compare_digest(who.csrf_token, token):
            raise HTTPException(403, "the form's CSRF token is missing or wrong")

    @app.exception_handler(LoginRequired)
    async def to_login(request: Request, _: LoginRequired) -> Response:
        if request.headers.get("authorization") or request.method != "GET":
            return Response("log in first", status_code=401)
        return RedirectResponse(f"/login?next={request.url.path}", status_code=303)

    @app.exception_handler(HTTPException)
    async def error_page(request: Request, exc: HTTPException) -> Response:
        # the menu and the logout button stay on a refusal
        who = await run_in_threadpool(
            principal_of,
            access,
            request.cookies.get(SESSION_COOKIE),
            request.headers.get("authorization"),
        )
        return render(request, "error.html", who, exc.status_code, message=exc.detail)

    @app.exception_handler(CreditAssetsError)
    async def one_line(request: Request, exc: CreditAssetsError) -> Response:
        return render(request, "error.html", None, 409, message=str(exc))

    # -- login -----------------------------------------------------------------------------

    @app.get("/login", response_class=HTMLResponse)
    async def login_page(request: Request, next: str = "/") -> Response:
        token = secrets.token_urlsafe(24)
        response = render(request, "login.html", None, csrf_token=token, next=_local(next))
        response.set_cookie(
            LOGIN_CSRF_COOKIE,
            token,
            httponly=True,
            samesite="strict",
            secure=options.secure_cookies,
        )
        return response

    @app.post("/login")
    async def login(
        request: Request,
        username: Annotated[str, Form()],
        password: Annotated[str, Form()],
        csrf_token: Annotated[str, Form()] = "",
        next: Annotated[str, Form()] = "/",
    ) -> Response:
        expected = request.cookies.get(LOGIN_CSRF_COOKIE, "")
        if not expected or not secrets.compare_digest(expected, csrf_token):
            raise HTTPException(403, "the form's CSRF token is missing or wrong")
        try:
            session_id, _ = await run_in_threadpool(access.login, username, password)
        except AccessError as exc:
            token = secrets.token_urlsafe(24)
            response = render(
                request,
                "login.html",
                None,
                401,
                csrf_token=token,
                next=_local(next),
                error=str(exc),
            )
            response.set_cookie(
                LOGIN_CSRF_COOKIE,
                token,
                httponly=True,
                samesite="strict",
                secure=options.secure_cookies,
            )
            return response
        response = RedirectResponse(_local(next), status_code=303)
        response.set_cookie(
            SESSION_COOKIE,
            session_id,
            httponly=True,
            samesite="strict",
            secure=options.secure_cookies,
        )
        response.delete_cookie(LOGIN_CSRF_COOKIE)
        return response

    @app.post("/logout")
    async def logout(
        request: Request,
        who: Viewer,
        csrf_token: Annotated[str, Form()] = "",
    ) -> Response:
        check_csrf(who, csrf_token)
        await run_in_threadpool(access.logout, request.cookies.get(SESSION_COOKIE, ""))
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(SESSION_COOKIE)
        return response

    @app.get("/lang/{code}")
    async def switch_language(request: Request, code: str) -> Response:
        response = RedirectResponse(_local(request.headers.get("referer", "/")), status_code=303)
        if code in LANGUAGES:
            response.set_cookie("lang", code, samesite="strict", secure=options.secure_cookies)
        return response

    # -- dashboard -------------------------------------------------------------------------

    @app.get("/", response_class=HTMLResponse)
    async def dashboard(request: Request, who: Viewer) -> Response:
        def read() -> list[dict[str, Any]]:
            out = []
            for name in datasets():
                s = status(log, name)
                out.append(
                    {
                        "status": s,
                        "automation": describe_automation(s.automation),
                        "oldest": _age(s.oldest_wait),
                        "champion": _champion(settings, name),
                        "policy": policies.current(name),
                    }
                )
            return out

        rows = await run_in_threadpool(read)
        runs = await run_in_threadpool(recent_runs, dagster.instance) if dagster else []
        return render(
            request,
            "dashboard.html",
            who,
            rows=rows,
            runs=runs,
            dagster=DAGSTER_PATH if dagster else None,
        )

    # -- review ----------------------------------------------------------------------------

    @app.get("/queue/{dataset}", response_class=HTMLResponse)
    async def review_queue(request: Request, dataset: str, who: Reviewer) -> Response:
        _known(dataset, datasets())
        entries = await run_in_threadpool(queue, log, dataset)
        cases = [{"case": e.case, "age": _age(e.age)} for e in entries]
        return render(request, "queue.html", who, dataset=dataset, cases=cases)

    @app.get("/cases/{dataset}/{application_id}", response_class=HTMLResponse)
    async def case_page(
        request: Request, dataset: str, application_id: str, who: Reviewer
    ) -> Response:
        _known(dataset, datasets())
        case = await run_in_threadpool(open_case, log, dataset, application_id)
        history = await run_in_threadpool(log.history, dataset, application_id)
        if not history:
            raise HTTPException(404, f"no application {application_id!r} in {dataset}")
        return render(
            request,
            "case.html",
            who,
            dataset=dataset,
            case=case,
            history=history,
            application_id=application_id,
        )

    @app.post("/cases/{dataset}/{application_id}")
    async def decide(
        request: Request,
        who: Reviewer,
        dataset: str,
        application_id: str,
        decision_id: Annotated[str, Form()],
        outcome: Annotated[str, Form()],
        comment: Annotated[str, Form()] = "",
        csrf_token: Annotated[str, Form()] = "",
    ) -> Response:
        check_csrf(who, csrf_token)
        _known(dataset, datasets())
        try:
            await run_in_threadpool(
                decide_case,
                log,
                dataset,
                application_id,
                decision_id,
                outcome,
                comment,
                who.username,
            )
        except AlreadyDecidedError as exc:
            return render(request, "error.html", who, 409, message=str(exc))
        except ReviewError as exc:
            return render(request, "error.html", who, 422, message=str(exc))
        return RedirectResponse(f"/queue/{dataset}", status_code=303)

    # -- runs ------------------------------------------------------------------------------

    def client(request: Request, dataset: str) -> Any:
        """A GraphQL client of the mounted Dagster that carries the user's own credentials,
        so the gate judges the launch as it would judge the user's browser."""
        from credit_assets.cli.graphql_client import CreditClient

        if dagster is None:
            raise HTTPException(503, "Dagster is not mounted in this web app")
        host, port = request.scope["server"]
        headers = {"Cookie": f"{SESSION_COOKIE}={request.cookies.get(SESSION_COOKIE, '')}"}
        if request.headers.get("authorization"):
            headers = {"Authorization": request.headers["authorization"]}
        return CreditClient(dataset, host, port, path=DAGSTER_PATH, headers=headers)

    @app.get("/runs", response_class=HTMLResponse)
    async def runs_page(
        request: Request,
        who: DataScientist,
        run_id: str = "",
        dataset: str = "",
    ) -> Response:
        state = None
        if run_id and dataset:
            try:
                state = (
                    await run_in_threadpool(lambda: client(request, dataset).status(run_id))
                ).value
            except CreditAssetsError as exc:
                state = str(exc)
        return render(
            request,
            "runs.html",
            who,
            run_id=run_id,
            run_status=state,
            dataset=dataset,
            dagster=DAGSTER_PATH if dagster else None,
        )

    @app.post("/runs")
    async def launch(
        request: Request,
        who: DataScientist,
        dataset: Annotated[str, Form()],
        kind: Annotated[str, Form()],
        day: Annotated[str, Form()] = "",
        csrf_token: Annotated[str, Form()] = "",
    ) -> Response:
        check_csrf(who, csrf_token)
        _known(dataset, datasets())
        tags = {LAUNCHED_BY_TAG: who.username}

        def go() -> str:
            c = client(request, dataset)
            if kind == "training":
                return c.launch(c.training_job, tags)
            return c.score(dt.date.fromisoformat(day).isoformat(), tags)

        try:
            run_id = await run_in_threadpool(go)
        except ValueError:
            raise HTTPException(422, f"{day!r} is not a day (YYYY-MM-DD)") from None
        await run_in_threadpool(
            audit.record,
            who.username,
            "run.launch",
            dataset,
            None,
            kind=kind,
            day=day,
            run_id=run_id,
        )
        return RedirectResponse(f"/runs?dataset={dataset}&run_id={run_id}", status_code=303)

    # -- audit and policy --------------------------------------------------------------------

    @app.get("/audit", response_class=HTMLResponse)
    async def audit_page(request: Request, who: Admin) -> Response:
        events = await run_in_threadpool(audit.events)
        return render(request, "audit.html", who, events=events)

    @app.get("/policy/{dataset}", response_class=HTMLResponse)
    async def policy_page(request: Request, dataset: str, who: Admin) -> Response:
        _known(dataset, datasets())
        current = await run_in_threadpool(policies.current, dataset)
        return render(
            request,
            "policy.html",
            who,
            dataset=dataset,
            policy=current,
            bounds=json.dumps(current.bounds, indent=2),
        )

    @app.post("/policy/{dataset}")
    async def set_policy(
        request: Request,
        who: Admin,
        dataset: str,
        bounds: Annotated[str, Form()],
        reason: Annotated[str, Form()],
        csrf_token: Annotated[str, Form()] = "",
    ) -> Response:
        check_csrf(who, csrf_token)
        _known(dataset, datasets())
        try:
            values = json.loads(bounds)
        except ValueError:
            raise HTTPException(422, "the bounds are not JSON") from None
        await run_in_threadpool(policies.set, dataset, values, by=who.username, reason=reason)
        return RedirectResponse(f"/policy/{dataset}", status_code=303)

    # -- Dagster behind the login --------------------------------------------------------------

    if dagster is not None:

        async def authenticate(scope: Scope) -> Principal | None:
            headers = {k.decode().lower(): v.decode() for k, v in scope.get("headers", [])}
            cookies = {}
            for part in headers.get("cookie", "").split(";"):
                name, _, value = part.strip().partition("=")
                cookies[name] = value
            return await run_in_threadpool(
                principal_of, access, cookies.get(SESSION_COOKIE), headers.get("authorization")
            )

        # Before routing: Dagster's app knows its prefix and wants the whole path, which a
        # Starlette mount would strip.
        app.add_middleware(
            PathDispatch,
            prefix=DAGSTER_PATH,
            other=DagsterGate(dagster.app, authenticate, "/login"),
        )
    return app


class PathDispatch:
    """Send requests under ``prefix`` to ``other``, the rest to the wrapped app."""

    def __init__(self, app: ASGIApp, prefix: str, other: ASGIApp) -> None:
        self.app, self.prefix, self.other = app, prefix, other

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        path = scope.get("path", "")
        if scope["type"] != "lifespan" and (
            path == self.prefix or path.startswith(f"{self.prefix}/")
        ):
            await self.other(scope, receive, send)
            return
        await self.app(scope, receive, send)


def _lang(request: Request) -> str:
    return language(request.cookies.get("lang"), request.headers.get("accept-language"))


def _local(path: str) -> str:
    """Only paths on this site: never redirect a login to another host."""
    return path if path.startswith("/") and not path.startswith("//") else "/"


def _known(dataset: str, names: list[str]) -> None:
    if dataset not in names:
        raise HTTPException(404, f"no dataset {dataset!r}")


@dataclass(frozen=True)
class ChampionStatus:
    version: str
    gates: str  # passed | failed | forced: the champion's own gate results
    fairness: str  # the one-line fairness summary the gates recorded


def _champion(settings: Settings, dataset: str) -> ChampionStatus | None:
    from credit_assets.core.registry_names import CHAMPION, FAIRNESS_TAG

    try:
        registry = settings.registry(dataset)
        version = registry.alias_version(CHAMPION)
        if version is None:
            return None
        tags = registry.version_info(version).tags
    except Exception:  # a registry that does not answer leaves the cell empty
        return None
    gates = {"true": "passed", "false": "failed"}.get(tags.get("gates_passed", ""), "not evaluated")
    return ChampionStatus(version, gates, tags.get(FAIRNESS_TAG, "fairness: not evaluated"))
