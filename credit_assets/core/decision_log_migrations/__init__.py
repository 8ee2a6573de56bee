"""Alembic migrations of the decision log, applied by ``DecisionLog`` on first use."""
