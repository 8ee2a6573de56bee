"""users, sessions, access tokens, reviews, the append-only audit log and gate policy

Revision ID: 0002
Revises: 0001
"""

from alembic import op

from credit_assets.core.decision_log_schema import (
    APPEND_ONLY,
    access_tokens,
    append_only_sql,
    audit_log,
    gate_policy,
    reviews,
    sessions,
    users,
)

revision = "0002"
down_revision = "0001"
_TABLES = (users, sessions, access_tokens, reviews, audit_log, gate_policy)


def upgrade() -> None:
    bind = op.get_bind()
    for table in _TABLES:
        table.create(bind)
    for name in APPEND_ONLY:
        for statement in append_only_sql(name, bind.dialect.name):
            op.execute(statement)


def downgrade() -> None:
    bind = op.get_bind()
    for table in reversed(_TABLES):
        table.drop(bind)
    if bind.dialect.name == "postgresql":
        for name in APPEND_ONLY:
            op.execute(f"DROP FUNCTION {name}_append_only()")
