"""What the review department's dashboard shows, read from the decision log."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import sqlalchemy as sa

from credit_assets.core.decision_log import DecisionLog
from credit_assets.core.decision_log_schema import decisions
from credit_assets.core.figures import Estimate, automation_of_decisions
from credit_assets.core.reviews import queue


@dataclass(frozen=True)
class DatasetStatus:
    dataset: str
    automation: Estimate  # the models' decisions (batch and API), reviewers' not counted
    queue_size: int
    oldest_wait: dt.timedelta | None
    per_day: dict[str, dict[str, int]]  # day -> decision -> count, every source


def status(log: DecisionLog, dataset: str, days: int = 14) -> DatasetStatus:
    since = dt.datetime.now(dt.UTC) - dt.timedelta(days=days)
    by_model = (
        sa.select(decisions.c.decision, sa.func.count())
        .where(decisions.c.dataset == dataset, decisions.c.source != "review")
        .group_by(decisions.c.decision)
    )
    day = sa.func.substr(sa.cast(decisions.c.decided_at, sa.String), 1, 10)
    per_day = (
        sa.select(day, decisions.c.decision, sa.func.count())
        .where(decisions.c.dataset == dataset, decisions.c.decided_at >= since)
        .group_by(day, decisions.c.decision)
        .order_by(day)
    )
    with log.transaction() as conn:
        counts = {d: int(n) for d, n in conn.execute(by_model)}
        table: dict[str, dict[str, int]] = {}
        for d, decision, n in conn.execute(per_day):
            table.setdefault(d, {})[decision] = int(n)
    waiting = queue(log, dataset)
    return DatasetStatus(
        dataset,
        automation_of_decisions(counts),
        len(waiting),
        waiting[0].age if waiting else None,
        table,
    )
