"""The web app over real HTTP (uvicorn on a free loopback port) on a copy of the session's
trained environment, with the Dagster webserver mounted behind its login: every protected
route and every GraphQL mutation for every role, CSRF, lockout, the audit log read back, two
reviewers racing on one case, logout."""

import re
import socket
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager

import dagster as dg
import httpx
import pytest
import uvicorn
from typer.testing import CliRunner

from credit_assets.cli.app import app as cli
from credit_assets.cli.common import console
from credit_assets.cli.graphql_client import CreditClient
from credit_assets.cli.web import WORKSPACE, _dagster_app
from credit_assets.core.access import MAX_FAILED_LOGINS, Access, Role
from credit_assets.core.registry_names import LAUNCHED_BY_TAG
from credit_assets.settings import Settings
from credit_assets.web.app import DAGSTER_PATH, SESSION_COOKIE, WebOptions, create_web_app
from tests.conftest import START, copy_env

DATASET = "santander"
PASSWORD = "correct-horse-battery"
ROLES = [None, *Role]  # None: not logged in


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def web_server(with_dagster: bool = True) -> Iterator[str]:
    """The web app (and Dagster behind it) in a uvicorn thread; yields its URL."""
    with ExitStack() as stack:
        dagster = (
            stack.enter_context(_dagster_app(WORKSPACE, DAGSTER_PATH)) if with_dagster else None
        )
        app = create_web_app(Settings.from_env(), WebOptions(secure_cookies=True), dagster)
        port = _free_port()
        server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")
        )
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        deadline = time.monotonic() + 60
        while not server.started:
            assert time.monotonic() < deadline, "the web app did not start"
            time.sleep(0.05)
        try:
            yield f"http://127.0.0.1:{port}"
        finally:
            server.should_exit = True
            thread.join(timeout=10)


@pytest.fixture(scope="module")
def env(trained, tmp_path_factory):
    with copy_env(trained[0], tmp_path_factory.mktemp("web")) as private:
        yield private


@pytest.fixture(scope="module")
def access(env) -> Access:
    made = Access(Settings.from_env().decision_log())
    for role in Role:
        made.create_user(role.value, role, PASSWORD, by="test")
    made.create_user("reviewer2", Role.reviewer, PASSWORD, by="test")
    made.create_user("locked", Role.viewer, PASSWORD, by="test")
    return made


@pytest.fixture(scope="module")
def url(env, access) -> Iterator[str]:
    with web_server() as running:
        yield running


def _csrf(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


class Session:
    """One person's browser: the Secure session cookie is sent by hand (httpx keeps Secure
    cookies to HTTPS, and the test server is plain HTTP on loopback)."""

    def __init__(self, url: str, username: str | None) -> None:
        self.http = httpx.Client(base_url=url, timeout=60, follow_redirects=False)
        self.cookie = ""
        self.csrf = ""
        if username is not None:
            assert self.login(username).status_code == 303

    def login(self, username: str, password: str = PASSWORD) -> httpx.Response:
        page = self.http.get("/login")
        login_cookie = page.cookies.get("credit_login_csrf") or re.search(
            r"credit_login_csrf=([^;]+)", page.headers["set-cookie"]
        ).group(1)
        reply = self.http.post(
            "/login",
            data={"username": username, "password": password, "csrf_token": _csrf(page.text)},
            headers={"Cookie": f"credit_login_csrf={login_cookie}"},
        )
        if reply.status_code == 303:
            set_cookie = reply.headers["set-cookie"]
            self.cookie = re.search(rf"{SESSION_COOKIE}=([^;]+)", set_cookie).group(1)
            self.csrf = _csrf(self.get("/").text)
        return reply

    def get(self, path: str, **kw) -> httpx.Response:
        return self.http.get(path, headers={"Cookie": f"{SESSION_COOKIE}={self.cookie}"}, **kw)

    def post(self, path: str, data: dict | None = None, csrf: bool = True, **kw) -> httpx.Response:
        form = {**(data or {}), **({"csrf_token": self.csrf} if csrf else {})}
        headers = {"Cookie": f"{SESSION_COOKIE}={self.cookie}"}
        return self.http.post(path, data=form, headers=headers, **kw)

    def graphql(self, query: str) -> httpx.Response:
        headers = {"Cookie": f"{SESSION_COOKIE}={self.cookie}"}
        return self.http.post(f"{DAGSTER_PATH}/graphql", json={"query": query}, headers=headers)


@pytest.fixture(scope="module")
def sessions(url) -> dict:
    return {role: Session(url, role.value if role else None) for role in ROLES}


def _case(access) -> tuple[str, str]:
    from credit_assets.core.reviews import queue

    entry = queue(access.log, DATASET)[0]
    return entry.case.application_id, entry.case.decision_id


# (method, path, form, the least role that may) — POST forms carry values the handler refuses
# after the role check (a bad day, bad JSON), so an allowed role gets a 4xx that is not 401/403.
ROUTES = [
    ("GET", "/", None, Role.viewer),
    ("GET", f"/queue/{DATASET}", None, Role.reviewer),
    ("GET", "/cases/{dataset}/{app}", None, Role.reviewer),
    (
        "POST",
        "/cases/{dataset}/{app}",
        {"decision_id": "nope", "outcome": "approve", "comment": "x"},
        Role.reviewer,
    ),
    ("GET", "/runs", None, Role.data_scientist),
    ("POST", "/runs", {"dataset": DATASET, "kind": "day", "day": "not-a-day"}, Role.data_scientist),
    ("GET", "/audit", None, Role.admin),
    ("GET", f"/policy/{DATASET}", None, Role.admin),
    ("POST", f"/policy/{DATASET}", {"bounds": "{", "reason": "x"}, Role.admin),
    ("GET", f"{DAGSTER_PATH}/", None, Role.viewer),
]


@pytest.mark.parametrize("role", ROLES, ids=lambda r: r.value if r else "anonymous")
def test_every_route_admits_exactly_the_roles_that_may(sessions, access, role):
    app_id, _ = _case(access)
    session = sessions[role]
    for method, path, form, least in ROUTES:
        path = path.format(dataset=DATASET, app=app_id)
        reply = session.get(path) if method == "GET" else session.post(path, form)
        where = f"{method} {path} as {role}"
        if role is None:
            assert reply.status_code in (303, 401), where
            if reply.status_code == 303:
                assert reply.headers["location"].startswith("/login"), where
        elif role.at_least(least):
            assert reply.status_code not in (401, 403), where
        else:
            assert reply.status_code == 403, where


# Aimed at things that do not exist: an allowed role's mutation reaches Dagster, which answers
# with an error instead of launching or wiping anything.
_SELECTOR = (
    '{repositoryLocationName: "credit_assets", repositoryName: "__repository__", '
    'jobName: "no_such_job"}'
)
MUTATIONS = {
    "launch": f"mutation {{ launchRun(executionParams: {{selector: {_SELECTOR}}}) "
    "{ __typename } }",
    "reexecute": "mutation { launchRunReexecution(reexecutionParams: "
    '{parentRunId: "x", strategy: FROM_FAILURE}) { __typename } }',
    "terminate": 'mutation { terminateRun(runId: "x") { __typename } }',
    "wipe": "mutation { wipeAssets(assetPartitionRanges: "
    '[{assetKey: {path: ["no", "such_asset"]}}]) { __typename } }',
    "sensor": 'mutation { stopSensor(id: "x", jobOriginId: "x") { __typename } }',
    "schedule": 'mutation { stopRunningSchedule(id: "x", scheduleOriginId: "x") { __typename } }',
    "named_among_queries": "query Q { version } "
    'mutation M { terminateRun(runId: "x") { __typename } }',
}


@pytest.mark.parametrize("role", ROLES, ids=lambda r: r.value if r else "anonymous")
def test_graphql_queries_for_every_role_mutations_only_for_data_scientists_and_admins(
    sessions, role
):
    session = sessions[role]
    query = session.graphql("{ version }")
    if role is None:
        assert query.status_code == 401
    else:
        assert query.status_code == 200 and query.json()["data"]["version"]
    for name, mutation in MUTATIONS.items():
        reply = session.graphql(mutation)
        if role is None:
            assert reply.status_code == 401, name
        elif role.at_least(Role.data_scientist):
            # past the gate: Dagster answers, with an error for the ids that do not exist
            assert reply.status_code not in (401, 403), name
        else:
            assert reply.status_code == 403, name
            assert "queries only" in reply.json()["errors"][0]["message"]


def test_a_get_with_a_mutation_and_a_raw_graphql_body_are_refused_too(sessions):
    reviewer = sessions[Role.reviewer]
    headers = {"Cookie": f"{SESSION_COOKIE}={reviewer.cookie}"}
    reply = reviewer.http.get(
        f"{DAGSTER_PATH}/graphql", params={"query": MUTATIONS["terminate"]}, headers=headers
    )
    assert reply.status_code == 403
    raw = reviewer.http.post(
        f"{DAGSTER_PATH}/graphql",
        content=MUTATIONS["wipe"],
        headers={**headers, "Content-Type": "application/graphql"},
    )
    assert raw.status_code == 403


def test_a_token_carries_its_role_and_trigger_sends_it(url, access, env):
    reviewer_token = access.create_token("reviewer", by="test")
    scientist_token = access.create_token("data_scientist", by="test")
    port = url.rsplit(":", 1)[1]
    runner = CliRunner()

    def trigger(token: str):
        # the instance queues runs for the daemon (not running here): launch, do not wait
        return runner.invoke(
            cli,
            [
                "trigger",
                "--port",
                port,
                "--path",
                DAGSTER_PATH,
                "--token",
                token,
                "--dataset",
                DATASET,
                "score",
                "--partition",
                START.isoformat(),
            ],
        )

    refused = trigger(reviewer_token)
    assert refused.exit_code == 1
    assert "role reviewer may run GraphQL queries only" in refused.output
    done = trigger(scientist_token)
    assert done.exit_code == 0, done.output
    launched = [re.search(r"launched run (\S+):", done.output).group(1)]
    # a launcher that names someone else as the launcher
    client = CreditClient(DATASET, "127.0.0.1", int(port), path=DAGSTER_PATH, token=scientist_token)
    launched.append(client.launch(client.training_job, {LAUNCHED_BY_TAG: "chief.risk.officer"}))
    with dg.DagsterInstance.get() as instance:
        for run_id in launched:
            instance.report_run_canceled(instance.get_run_by_id(run_id))  # no daemon here
            # the gate stamped the token's user: what a promotion records as who promoted
            assert instance.get_run_by_id(run_id).tags[LAUNCHED_BY_TAG] == "data_scientist"


def test_forms_without_the_csrf_token_are_refused(sessions, access):
    admin = sessions[Role.admin]
    app_id, decision_id = _case(access)
    for path, form in [
        (
            f"/cases/{DATASET}/{app_id}",
            {"decision_id": decision_id, "outcome": "approve", "comment": "x"},
        ),
        (f"/policy/{DATASET}", {"bounds": "{}", "reason": "x"}),
        ("/logout", {}),
    ]:
        assert admin.post(path, form, csrf=False).status_code == 403, path
        assert admin.post(path, {**form, "csrf_token": "forged"}, csrf=False).status_code == 403
    assert _case(access)[0] == app_id, "nothing was decided"
    login_without_cookie = admin.http.post(
        "/login", data={"username": "admin", "password": PASSWORD, "csrf_token": "x"}
    )
    assert login_without_cookie.status_code == 403


def test_the_session_cookie_is_secure_httponly_and_strict(url, access):
    session = Session(url, None)
    page = session.http.get("/login")
    reply = session.http.post(
        "/login",
        data={"username": "viewer", "password": PASSWORD, "csrf_token": _csrf(page.text)},
        headers={"Cookie": page.headers["set-cookie"].split(";")[0]},
    )
    flags = reply.headers["set-cookie"].lower()
    assert "secure" in flags and "httponly" in flags and "samesite=strict" in flags


def test_repeated_failed_logins_lock_the_account(url, access):
    session = Session(url, None)
    for _ in range(MAX_FAILED_LOGINS):
        assert session.login("locked", "wrong-password-123").status_code == 401
    locked = session.login("locked", PASSWORD)
    assert locked.status_code == 401 and "locked" in locked.text


def test_a_review_leaves_the_queue_and_is_in_the_audit_log(sessions, access):
    reviewer, admin = sessions[Role.reviewer], sessions[Role.admin]
    app_id, decision_id = _case(access)
    queue_page = reviewer.get(f"/queue/{DATASET}")
    size = int(re.search(r'id="queue-size">(\d+)<', queue_page.text).group(1))
    case_page = reviewer.get(f"/cases/{DATASET}/{app_id}")
    assert "Reasons" in case_page.text and decision_id in case_page.text
    done = reviewer.post(
        f"/cases/{DATASET}/{app_id}",
        {"decision_id": decision_id, "outcome": "reject", "comment": "income not verified"},
    )
    assert done.status_code == 303
    after = reviewer.get(f"/queue/{DATASET}").text
    assert f'id="queue-size">{size - 1}<' in after and f">{app_id}<" not in after
    audit = admin.get("/audit").text
    assert "review.decide" in audit and "income not verified" in audit
    console.width = 400  # no wrapping in the table
    printed = CliRunner().invoke(cli, ["audit", "--action", "review.decide"])
    assert printed.exit_code == 0 and app_id in printed.output


def test_two_reviewers_racing_on_one_case_one_decides_the_other_is_told(sessions, url, access):
    first, second = sessions[Role.reviewer], Session(url, "reviewer2")
    app_id, decision_id = _case(access)
    form = {"decision_id": decision_id, "outcome": "approve", "comment": "looks fine"}
    with ThreadPoolExecutor(2) as pool:
        replies = list(
            pool.map(lambda s: s.post(f"/cases/{DATASET}/{app_id}", form), [first, second])
        )
    codes = sorted(r.status_code for r in replies)
    assert codes == [303, 409]
    told = next(r for r in replies if r.status_code == 409)
    assert "already decided" in told.text


def test_a_viewer_can_read_the_dashboard_in_japanese(sessions):
    viewer = sessions[Role.viewer]
    page = viewer.http.get("/", headers={"Cookie": f"{SESSION_COOKIE}={viewer.cookie}; lang=ja"})
    assert "自動判定率" in page.text and "審査キュー" not in page.text  # no queue link for viewers


def test_logging_out_ends_the_session(url, access):
    session = Session(url, "reviewer")
    assert session.get(f"/queue/{DATASET}").status_code == 200
    old = session.cookie
    assert session.post("/logout").status_code == 303
    session.cookie = old  # a copied cookie is worth nothing after logout
    assert session.get(f"/queue/{DATASET}").status_code == 303
    assert session.graphql("{ version }").status_code == 401
