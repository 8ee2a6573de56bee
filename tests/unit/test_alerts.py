"""Alerts reach the log file, and a webhook when one is set (a real HTTP server on loopback)."""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from credit_assets.core.alerts import raise_alert


@pytest.fixture
def webhook():
    received: list[dict] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            length = int(self.headers["Content-Length"])
            received.append(json.loads(self.rfile.read(length)))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hook", received
    server.shutdown()
    server.server_close()


def test_an_alert_is_one_line_in_the_log_and_posted_to_the_webhook(tmp_path, webhook):
    url, received = webhook
    log = tmp_path / "home" / "alerts.log"
    raise_alert("santander: run 1234 failed:\n  no applications file", log, url)
    raise_alert("santander: data drift since 2026-11-20", log)
    lines = log.read_text().splitlines()
    assert len(lines) == 2
    assert lines[0].endswith("santander: run 1234 failed: no applications file")
    assert received == [{"text": lines[0]}]


def test_an_unreachable_webhook_still_leaves_the_alert_in_the_log(tmp_path):
    log = tmp_path / "alerts.log"
    line = raise_alert("santander: fairness breach", log, "http://127.0.0.1:9/hook")
    assert "santander: fairness breach (webhook http://127.0.0.1:9/hook failed" in line
    assert log.read_text() == line + "\n"
