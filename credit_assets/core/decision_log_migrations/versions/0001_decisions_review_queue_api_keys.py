"""decisions (append-only), the review_queue view, api_keys

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

from credit_assets.core.decision_log_schema import REVIEW_QUEUE_SQL

revision = "0001"
down_revision = None


def upgrade() -> None:
    op.create_table(
        "decisions",
        sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("decision_id", sa.String(36), nullable=False, unique=True),
        sa.Column("dataset", sa.String(64), nullable=False),
        sa.Column("application_id", sa.String(128), nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("actor", sa.String(128), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("partition_day", sa.String(10)),
        sa.Column("request_id", sa.String(64)),
        sa.Column("idempotency_key", sa.String(128)),
        sa.Column("input_fingerprint", sa.String(64), nullable=False),
        sa.Column("inputs", sa.Text, nullable=False),
        sa.Column("decision", sa.String(16), nullable=False),
        sa.Column("score", sa.Float),
        sa.Column("reasons", sa.Text, nullable=False),
        sa.Column("rule_id", sa.String(32)),
        sa.Column("rule_reason", sa.Text),
        sa.Column("model_version", sa.String(32)),
        sa.Column("thresholds_version", sa.String(32)),
        sa.Column("rules_version", sa.String(32)),
        sa.Column("approve_below", sa.Float),
        sa.Column("reject_above", sa.Float),
        sa.Column("latency_ms", sa.Float),
        sa.UniqueConstraint("dataset", "idempotency_key", name="uq_decisions_idempotency"),
    )
    op.create_index("ix_decisions_application", "decisions", ["dataset", "application_id"])
    op.create_index("ix_decisions_time", "decisions", ["dataset", "decided_at"])
    op.execute(REVIEW_QUEUE_SQL)
    op.create_table(
        "api_keys",
        sa.Column("key_id", sa.String(32), primary_key=True),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("secret_hash", sa.Text, nullable=False),
        sa.Column("scopes", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True)),
    )


def downgrade() -> None:
    op.drop_table("api_keys")
    op.execute("DROP VIEW review_queue")
    op.drop_index("ix_decisions_time", "decisions")
    op.drop_index("ix_decisions_application", "decisions")
    op.drop_table("decisions")
