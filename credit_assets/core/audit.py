"""The audit log: every login, review decision and privileged action, append-only.

Rows live in the platform's own database (the decision log's), not in tags anyone with
registry access can edit; the database refuses UPDATE and DELETE on the table.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from credit_assets.core.decision_log import DecisionLog
from credit_assets.core.decision_log_schema import audit_log


@dataclass(frozen=True)
class AuditEvent:
    seq: int
    at: dt.datetime
    actor: str
    action: str
    target: str
    detail: dict[str, Any]


def audit_row(actor: str, action: str, target: str, **detail: Any) -> dict[str, Any]:
    return {
        "at": dt.datetime.now(dt.UTC),
        "actor": actor,
        "action": action,
        "target": target,
        "detail": json.dumps(detail, sort_keys=True, default=str),
    }


class AuditLog:
    def __init__(self, log: DecisionLog) -> None:
        self.log = log

    def record(
        self, actor: str, action: str, target: str, conn: Connection | None = None, **detail: Any
    ) -> None:
        """Append one event; inside ``conn``'s transaction when given, so the event and
        what it records commit together."""
        row = audit_row(actor, action, target, **detail)
        if conn is not None:
            conn.execute(audit_log.insert(), row)
            return
        with self.log.transaction() as own:
            own.execute(audit_log.insert(), row)

    def events(
        self, *, action: str | None = None, target: str | None = None, limit: int = 200
    ) -> list[AuditEvent]:
        """The newest events first."""
        query = sa.select(audit_log).order_by(audit_log.c.seq.desc()).limit(limit)
        if action is not None:
            query = query.where(audit_log.c.action == action)
        if target is not None:
            query = query.where(audit_log.c.target == target)
        with self.log.transaction() as conn:
            rows = conn.execute(query).all()
        return [
            AuditEvent(
                r.seq,
                r.at if r.at.tzinfo else r.at.replace(tzinfo=dt.UTC),
                r.actor,
                r.action,
                r.target,
                json.loads(r.detail),
            )
            for r in rows
        ]
