"""The decision log's tables: every decision on record, the review queue, the API keys.

``decisions`` is append-only: re-deciding an application (a new champion, a re-run, a
reviewer) adds a row and never changes an earlier one, so what an applicant was told stays
readable. ``review_queue`` is a view: the applications whose latest decision is a model's
``review``. Migrations (``decision_log_migrations/``) create these; this module only
describes them for queries.
"""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()

decisions = sa.Table(
    "decisions",
    metadata,
    # Insertion order, so "latest" never depends on two clocks agreeing.
    sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("decision_id", sa.String(36), nullable=False, unique=True),
    sa.Column("dataset", sa.String(64), nullable=False),
    sa.Column("application_id", sa.String(128), nullable=False),
    sa.Column("source", sa.String(16), nullable=False),  # batch | api | review
    sa.Column("actor", sa.String(128), nullable=False),
    sa.Column("decided_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("partition_day", sa.String(10)),
    sa.Column("request_id", sa.String(64)),
    sa.Column("idempotency_key", sa.String(128)),
    sa.Column("input_fingerprint", sa.String(64), nullable=False),
    sa.Column("inputs", sa.Text, nullable=False),  # JSON object; protected attrs redactable
    sa.Column("decision", sa.String(16), nullable=False),
    sa.Column("score", sa.Float),
    sa.Column("reasons", sa.Text, nullable=False),  # JSON list of {code, text, contribution}
    sa.Column("rule_id", sa.String(32)),
    sa.Column("rule_reason", sa.Text),
    sa.Column("model_version", sa.String(32)),
    sa.Column("thresholds_version", sa.String(32)),
    sa.Column("rules_version", sa.String(32)),
    sa.Column("approve_below", sa.Float),
    sa.Column("reject_above", sa.Float),
    sa.Column("latency_ms", sa.Float),
    sa.UniqueConstraint("dataset", "idempotency_key", name="uq_decisions_idempotency"),
    sa.Index("ix_decisions_application", "dataset", "application_id"),
    sa.Index("ix_decisions_time", "dataset", "decided_at"),
)

api_keys = sa.Table(
    "api_keys",
    metadata,
    sa.Column("key_id", sa.String(32), primary_key=True),
    sa.Column("name", sa.String(128), nullable=False),
    sa.Column("secret_hash", sa.Text, nullable=False),  # argon2
    sa.Column("scopes", sa.Text, nullable=False),  # JSON {dataset: [decide, read]}, "*" = all
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("revoked_at", sa.DateTime(timezone=True)),
)

# Read-only mirror of the view the first migration creates.
review_queue = sa.Table(
    "review_queue", sa.MetaData(), *(sa.Column(c.name, c.type) for c in decisions.columns)
)

REVIEW_QUEUE_SQL = """
CREATE VIEW review_queue AS
SELECT d.* FROM decisions d
WHERE d.decision = 'review' AND d.source <> 'review'
  AND NOT EXISTS (
    SELECT 1 FROM decisions later
    WHERE later.dataset = d.dataset AND later.application_id = d.application_id
      AND later.seq > d.seq
  )
"""
