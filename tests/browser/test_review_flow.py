"""The review flow in a real browser: Debian's headless Chromium driven by Playwright against
the web app (and Dagster behind it) on a copy of the session's trained environment. Saves
screenshots of the main pages to docs/screenshots/ (the README shows them)."""

import os
import re
import shutil
from pathlib import Path

import pytest
from playwright.sync_api import expect

from credit_assets.core.access import Access, Role
from credit_assets.settings import Settings
from tests.conftest import copy_env
from tests.integration.test_webapp import DATASET, PASSWORD, web_server

CHROMIUM = "/usr/bin/chromium"
SHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="module")
def browser():
    if not shutil.which("chromium") and not Path(CHROMIUM).exists():
        if os.environ.get("CI") == "true":
            pytest.fail("chromium is needed: run 'make browser'")
        pytest.skip("chromium is not installed ('make browser')")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield launched
        launched.close()


@pytest.fixture(scope="module")
def url(trained, tmp_path_factory):
    with copy_env(trained[0], tmp_path_factory.mktemp("browser")):
        access = Access(Settings.from_env().decision_log())
        access.create_user("rita", Role.reviewer, PASSWORD, by="test")
        access.create_user("ada", Role.admin, PASSWORD, by="test")
        with web_server() as running:
            yield running


def _login(page, url: str, username: str) -> None:
    """By keyboard only: the form is usable without a mouse."""
    page.goto(f"{url}/login")
    # the user name field has the focus (autofocus: Chromium may apply it after "load", and
    # keys typed before go nowhere)
    expect(page.locator("#username")).to_be_focused()
    page.keyboard.type(username)
    page.keyboard.press("Tab")
    page.keyboard.type(PASSWORD)
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert not page.url.startswith(f"{url}/login"), f"{username} could not log in"


def test_a_reviewer_decides_a_case_is_refused_runs_and_logs_out(browser, url):
    SHOTS.mkdir(parents=True, exist_ok=True)
    context = browser.new_context(viewport={"width": 1200, "height": 900}, locale="en-US")
    page = context.new_page()
    page.goto(f"{url}/")
    assert page.url.startswith(f"{url}/login"), "not logged in: the login page"
    page.screenshot(path=SHOTS / "login.png")

    _login(page, url, "rita")
    page.goto(f"{url}/queue/{DATASET}")
    size = int(page.locator("#queue-size").inner_text())
    assert size > 0
    first = page.locator("table a").first
    app_id = first.inner_text()
    page.screenshot(path=SHOTS / "queue.png", full_page=False)

    with page.expect_navigation():
        first.click()
    assert page.get_by_role("heading", name=re.compile(app_id)).is_visible()
    page.get_by_label("Comment (required)").fill("Income confirmed by phone")
    page.screenshot(path=SHOTS / "case.png")
    with page.expect_navigation():
        page.get_by_role("button", name="Approve").click()
    assert page.url.endswith(f"/queue/{DATASET}")
    assert int(page.locator("#queue-size").inner_text()) == size - 1
    assert page.locator("table a", has_text=re.compile(f"^{re.escape(app_id)}$")).count() == 0

    refused = page.goto(f"{url}/runs")
    assert refused.status == 403
    assert page.get_by_role("alert").inner_text() == "Your role may not do this."
    mutation = page.evaluate(
        """async () => (await fetch('/dagster/graphql', {method: 'POST',
             headers: {'Content-Type': 'application/json'},
             body: JSON.stringify({query: 'mutation { terminateRun(runId: "x") { __typename } }'})
           })).status"""
    )
    assert mutation == 403

    with page.expect_navigation():  # from the refusal page: its menu stays
        page.get_by_role("button", name="Log out").click()
    page.goto(f"{url}/queue/{DATASET}")
    assert page.url.startswith(f"{url}/login"), "the session ended with the logout"
    context.close()

    admin = browser.new_context(viewport={"width": 1200, "height": 900}, locale="ja-JP")
    page = admin.new_page()
    _login(page, url, "ada")
    page.screenshot(path=SHOTS / "dashboard-ja.png", full_page=True)
    page.goto(f"{url}/lang/en")
    page.goto(f"{url}/")
    page.screenshot(path=SHOTS / "dashboard.png", full_page=True)
    page.goto(f"{url}/audit")
    row = page.locator("#audit tr", has_text=f"{DATASET}/{app_id}")
    assert "review.decide" in row.first.inner_text() and "rita" in row.first.inner_text()
    page.screenshot(path=SHOTS / "audit.png")
    admin.close()
