"""Alerts: one line appended to a log file, and the same line POSTed to a webhook if set."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import httpx

WEBHOOK_TIMEOUT_S = 5.0


def raise_alert(message: str, log: Path, webhook: str | None = None) -> str:
    """Record ``message`` (one line) in ``log`` and POST ``{"text": line}`` to ``webhook``.

    A webhook that cannot be reached is noted in the log line instead of failing: the alert
    must at least reach the file. Returns the line written.
    """
    line = f"{dt.datetime.now(dt.UTC).isoformat(timespec='seconds')} {' '.join(message.split())}"
    if webhook:
        try:
            httpx.post(webhook, json={"text": line}, timeout=WEBHOOK_TIMEOUT_S).raise_for_status()
        except httpx.HTTPError as error:
            line += f" (webhook {webhook} failed: {error})"
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("a", encoding="utf-8") as f:
        f.write(line + "\n")
    return line
