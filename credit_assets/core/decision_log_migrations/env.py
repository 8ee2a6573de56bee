"""Alembic environment: runs on the connection ``DecisionLog`` hands over."""

from alembic import context

from credit_assets.core.decision_log_schema import metadata

context.configure(
    connection=context.config.attributes["connection"],
    target_metadata=metadata,
    render_as_batch=True,  # SQLite alters tables by copying them
)
with context.begin_transaction():
    context.run_migrations()
