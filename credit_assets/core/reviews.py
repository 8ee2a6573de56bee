"""Reviewers' decisions on the review queue.

A reviewer's approve or reject is a new ``decisions`` row (``source='review'``, the reviewer
as actor) plus a ``reviews`` row keyed by the queued decision it settles, written in one
transaction with its audit event. The key makes two reviewers racing on one case safe: the
second insert fails and that reviewer is told the case was decided. The model's decision
stays as it was; the reviewer's is the application's final decision and a label for the next
training run (:func:`review_labels`).
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from dataclasses import dataclass

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from credit_assets.core.audit import audit_row
from credit_assets.core.decision_log import DecisionLog, RecordedDecision
from credit_assets.core.decision_log_schema import audit_log, decisions, reviews
from credit_assets.core.errors import CreditAssetsError

OUTCOMES = ("approve", "reject")


class ReviewError(CreditAssetsError):
    """A review that cannot be recorded: no such case, a bad outcome, no comment."""


class AlreadyDecidedError(ReviewError):
    """Another reviewer decided this case first."""


@dataclass(frozen=True)
class QueueEntry:
    case: RecordedDecision
    age: dt.timedelta


def queue(log: DecisionLog, dataset: str, now: dt.datetime | None = None) -> list[QueueEntry]:
    """The dataset's open cases, oldest first, each with how long it has waited."""
    now = now or dt.datetime.now(dt.UTC)
    return [QueueEntry(c, now - c.decided_at) for c in log.review_queue(dataset)]


def open_case(log: DecisionLog, dataset: str, application_id: str) -> RecordedDecision | None:
    """The queued model decision of an application, None when it is not in the queue."""
    latest = log.latest(dataset, application_id)
    if latest is None or latest.decision != "review" or latest.source == "review":
        return None
    return latest


def decide_case(
    log: DecisionLog,
    dataset: str,
    application_id: str,
    reviewed_decision_id: str,
    outcome: str,
    comment: str,
    reviewer: str,
) -> RecordedDecision:
    """Record a reviewer's ``outcome`` on the queued decision ``reviewed_decision_id``."""
    if outcome not in OUTCOMES:
        raise ReviewError(f"a review decides {' or '.join(OUTCOMES)}, not {outcome!r}")
    if not comment.strip():
        raise ReviewError("a review needs a comment")
    case = log.get(dataset, reviewed_decision_id)
    if case is None or case.application_id != application_id or case.decision != "review":
        raise ReviewError(f"no review case {reviewed_decision_id!r} for {application_id!r}")
    now = dt.datetime.now(dt.UTC)
    row = {
        **{f: getattr(case, f) for f in case.__dataclass_fields__},
        "decision_id": str(uuid.uuid4()),
        "source": "review",
        "actor": reviewer,
        "decided_at": now,
        "partition_day": case.partition_day,
        "request_id": None,
        "idempotency_key": None,
        "inputs": json.dumps(case.inputs, separators=(",", ":")),
        "decision": outcome,
        "reasons": json.dumps([r.__dict__ for r in case.reasons]),
        "latency_ms": None,
    }
    try:
        with log.transaction() as conn:
            conn.execute(
                reviews.insert(),
                {
                    "reviewed_decision_id": reviewed_decision_id,
                    "decision_id": row["decision_id"],
                    "dataset": dataset,
                    "application_id": application_id,
                    "reviewer": reviewer,
                    "decision": outcome,
                    "comment": comment.strip(),
                    "decided_at": now,
                },
            )
            conn.execute(decisions.insert(), row)
            conn.execute(
                audit_log.insert(),
                audit_row(
                    reviewer,
                    "review.decide",
                    f"{dataset}/{application_id}",
                    decision=outcome,
                    comment=comment.strip(),
                    decision_id=row["decision_id"],
                ),
            )
    except IntegrityError:
        raise AlreadyDecidedError(
            f"application {application_id} was already decided by another reviewer"
        ) from None
    recorded = log.get(dataset, row["decision_id"])
    assert recorded is not None
    return recorded


def review_labels(log: DecisionLog, dataset: str) -> pd.DataFrame:
    """Reviewers' decisions as labels: ``application_id``, ``bad`` (1 for a reject),
    ``reviewer``, ``decided_at``; the latest review of an application wins."""
    query = (
        sa.select(
            reviews.c.application_id, reviews.c.decision, reviews.c.reviewer, reviews.c.decided_at
        )
        .where(reviews.c.dataset == dataset)
        .order_by(reviews.c.decided_at)
    )
    with log.transaction() as conn:
        table = pd.DataFrame(
            conn.execute(query).mappings().all(),
            columns=["application_id", "decision", "reviewer", "decided_at"],
        )
    table = table.drop_duplicates("application_id", keep="last")
    table["bad"] = (table.pop("decision") == "reject").astype(int)
    return table.reset_index(drop=True)
