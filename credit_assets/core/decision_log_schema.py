"""The decision log's tables: every decision on record, the review queue, the API keys.

``decisions`` is append-only: re-deciding an application (a new champion, a re-run, a
reviewer) adds a row and never changes an earlier one, so what an applicant was told stays
readable. ``review_queue`` is a view: the applications whose latest decision is a model's
``review``. ``decision_inputs`` holds a batch's inputs, a blob per chunk. Migrations
(``decision_log_migrations/``) create these; this module only describes them for queries.
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
    # JSON object (protected attributes redactable), or NULL when the row's inputs are row
    # ``inputs_row`` of a batch chunk's blob in ``decision_inputs``
    sa.Column("inputs", sa.Text),
    sa.Column("inputs_id", sa.String(36)),
    sa.Column("inputs_row", sa.Integer),
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
    sa.CheckConstraint(
        "inputs IS NOT NULL OR (inputs_id IS NOT NULL AND inputs_row IS NOT NULL)",
        name="ck_decisions_inputs",
    ),
    sa.Index("ix_decisions_application", "dataset", "application_id"),
    sa.Index("ix_decisions_time", "dataset", "decided_at"),
)

# A batch chunk's inputs, stored once (``decision_inputs.encode``), not as JSON per row.
# No foreign key from ``decisions.inputs_id``: its check would cost the database a lookup
# per inserted row, and rows and their blob are written in one transaction.
decision_inputs = sa.Table(
    "decision_inputs",
    metadata,
    sa.Column("inputs_id", sa.String(36), primary_key=True),  # uuid4
    sa.Column("dataset", sa.String(64), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("row_count", sa.Integer, nullable=False),
    sa.Column("format", sa.String(16), nullable=False),  # arrow (parquet: written before)
    sa.Column("sha256", sa.String(64), nullable=False),  # of data
    sa.Column("data", sa.LargeBinary, nullable=False),
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

# -- the web app: people, sessions, tokens, reviews, the audit log, governed gate policy ---

users = sa.Table(
    "users",
    metadata,
    sa.Column("username", sa.String(64), primary_key=True),
    sa.Column("role", sa.String(32), nullable=False),
    sa.Column("password_hash", sa.Text, nullable=False),  # argon2
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("failed_logins", sa.Integer, nullable=False, server_default="0"),
    sa.Column("locked_until", sa.DateTime(timezone=True)),
)

sessions = sa.Table(
    "sessions",
    metadata,
    sa.Column("session_hash", sa.String(64), primary_key=True),  # SHA-256 of the cookie's id
    sa.Column("username", sa.String(64), sa.ForeignKey("users.username"), nullable=False),
    sa.Column("csrf_token", sa.String(64), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("ended_at", sa.DateTime(timezone=True)),
)

access_tokens = sa.Table(
    "access_tokens",
    metadata,
    sa.Column("token_id", sa.String(32), primary_key=True),
    sa.Column("username", sa.String(64), sa.ForeignKey("users.username"), nullable=False),
    sa.Column("secret_hash", sa.Text, nullable=False),  # argon2
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("revoked_at", sa.DateTime(timezone=True)),
)

# One row per reviewed queue entry: the primary key is what makes a second reviewer lose.
reviews = sa.Table(
    "reviews",
    metadata,
    sa.Column("reviewed_decision_id", sa.String(36), primary_key=True),
    sa.Column("decision_id", sa.String(36), nullable=False, unique=True),  # the review's row
    sa.Column("dataset", sa.String(64), nullable=False),
    sa.Column("application_id", sa.String(128), nullable=False),
    sa.Column("reviewer", sa.String(64), nullable=False),
    sa.Column("decision", sa.String(16), nullable=False),
    sa.Column("comment", sa.Text, nullable=False),
    sa.Column("decided_at", sa.DateTime(timezone=True), nullable=False),
    sa.Index("ix_reviews_application", "dataset", "application_id"),
)

audit_log = sa.Table(
    "audit_log",
    metadata,
    sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("actor", sa.String(128), nullable=False),
    sa.Column("action", sa.String(64), nullable=False),
    sa.Column("target", sa.String(256), nullable=False),
    sa.Column("detail", sa.Text, nullable=False),  # JSON object
    sa.Index("ix_audit_target", "action", "target"),
)

gate_policy = sa.Table(
    "gate_policy",
    metadata,
    sa.Column("version", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("dataset", sa.String(64), nullable=False),
    sa.Column("bounds", sa.Text, nullable=False),  # JSON: GateConfig's fields
    sa.Column("set_by", sa.String(64), nullable=False),
    sa.Column("set_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
)

# Rows of these tables are never changed or removed: the database refuses it.
APPEND_ONLY = ("audit_log", "gate_policy", "reviews")


def append_only_sql(table: str, dialect: str) -> list[str]:
    """Triggers that make ``table`` refuse UPDATE and DELETE on ``dialect``."""
    if dialect == "sqlite":
        return [
            f"CREATE TRIGGER {table}_no_{op.lower()} BEFORE {op} ON {table} "
            f"BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END"
            for op in ("UPDATE", "DELETE")
        ]
    return [
        f"CREATE OR REPLACE FUNCTION {table}_append_only() RETURNS trigger AS $$ "
        f"BEGIN RAISE EXCEPTION '{table} is append-only'; END $$ LANGUAGE plpgsql",
        f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
        f"FOR EACH ROW EXECUTE FUNCTION {table}_append_only()",
    ]
