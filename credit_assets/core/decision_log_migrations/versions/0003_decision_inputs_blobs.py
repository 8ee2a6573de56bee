"""decision_inputs: a batch's inputs as a blob per chunk, referenced by its decisions' rows

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

from credit_assets.core.decision_log_schema import REVIEW_QUEUE_SQL

revision = "0003"
down_revision = "0002"
_CHECK = "ck_decisions_inputs"


def upgrade() -> None:
    op.create_table(
        "decision_inputs",
        sa.Column("inputs_id", sa.String(36), primary_key=True),
        sa.Column("dataset", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("row_count", sa.Integer, nullable=False),
        sa.Column("format", sa.String(16), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("data", sa.LargeBinary, nullable=False),
    )
    # The view is ``SELECT d.*``, expanded when it is created: made again for the new columns.
    op.execute("DROP VIEW review_queue")
    with op.batch_alter_table("decisions") as batch:
        batch.add_column(sa.Column("inputs_id", sa.String(36)))
        batch.add_column(sa.Column("inputs_row", sa.Integer))
        batch.alter_column("inputs", existing_type=sa.Text, nullable=True)
        batch.create_check_constraint(
            _CHECK, "inputs IS NOT NULL OR (inputs_id IS NOT NULL AND inputs_row IS NOT NULL)"
        )
    op.execute(REVIEW_QUEUE_SQL)
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        # The blobs are compressed already: pglz would spend CPU on every one for nothing.
        op.execute("ALTER TABLE decision_inputs ALTER COLUMN data SET STORAGE EXTERNAL")
        if bind.dialect.server_version_info >= (14,):
            # the API's rows keep JSON: lz4 compresses them for half of pglz's CPU
            for column in ("inputs", "reasons"):
                op.execute(f"ALTER TABLE decisions ALTER COLUMN {column} SET COMPRESSION lz4")


def downgrade() -> None:
    _inputs_back_into_rows()
    bind = op.get_bind()
    if bind.dialect.name == "postgresql" and bind.dialect.server_version_info >= (14,):
        for column in ("inputs", "reasons"):
            op.execute(f"ALTER TABLE decisions ALTER COLUMN {column} SET COMPRESSION default")
    op.execute("DROP VIEW review_queue")
    with op.batch_alter_table("decisions") as batch:
        batch.drop_constraint(_CHECK, type_="check")
        batch.alter_column("inputs", existing_type=sa.Text, nullable=False)
        batch.drop_column("inputs_row")
        batch.drop_column("inputs_id")
    op.execute(REVIEW_QUEUE_SQL)
    op.drop_table("decision_inputs")


def _inputs_back_into_rows() -> None:
    """Each row stored by reference gets its JSON object back, as the revision before has
    it: going down loses no inputs."""
    from credit_assets.core.decision_inputs import decode, frame_records

    bind = op.get_bind()
    blobs = sa.table(
        "decision_inputs", sa.column("inputs_id"), sa.column("format"), sa.column("data")
    )
    rows = sa.table(
        "decisions", sa.column("seq"), sa.column("inputs"), sa.column("inputs_id"),
        sa.column("inputs_row"),
    )  # fmt: skip
    for inputs_id, format_, data in bind.execute(
        sa.select(blobs.c.inputs_id, blobs.c.format, blobs.c.data)
    ):
        referenced = bind.execute(
            sa.select(rows.c.seq, rows.c.inputs_row).where(rows.c.inputs_id == inputs_id)
        ).all()
        if not referenced:
            continue
        # already redacted when it was stored: nothing protected is left to redact
        records = frame_records(decode(data, format_).to_pandas())
        back = rows.update().where(rows.c.seq == sa.bindparam("at"))
        bind.execute(
            back.values(inputs=sa.bindparam("json")),
            [{"at": seq, "json": records[position]} for seq, position in referenced],
        )
