"""PostgreSQL ``COPY``: rows given column by column in, binary fields out.

An ``INSERT`` through psycopg2 sends every row's parameters as text the server parses one
statement at a time; ``COPY`` streams the rows for one statement (bench/decision_log.py:
the server's CPU for a day's 60,000 decision rows). Rows of text and numbers go as CSV
written by Arrow, without a Python loop per field: every non-null value is quoted, so NULL
is the only unquoted empty field, ``""`` stays an empty string, and a quoted ``\\.`` is
data, not the end marker. Binary values (a few large blobs) go in COPY's binary format:
their bytes as they are, where an ``INSERT`` or CSV would send them as hex text.

Reading large ``bytea`` values, ``COPY (SELECT ...) TO STDOUT`` in the binary format gets
their bytes without psycopg2's hex text (:func:`copy_out`).

All run on the caller's connection, inside its transaction: a failed ``COPY`` raises as
SQLAlchemy raises a failed statement, and the transaction keeps nothing of it.
"""

from __future__ import annotations

import datetime as dt
import io
import struct
from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

_PG_EPOCH = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)  # binary timestamps count from here
_SIGNATURE = b"PGCOPY\n\xff\r\n\x00" + struct.pack("!ii", 0, 0)  # no flags, no extension


def copy_columns(conn: Connection, table: sa.Table, columns: Mapping[str, Sequence[Any]]) -> None:
    """Append the rows of ``columns`` (name -> values in row order, None or NaN for NULL)
    to ``table`` with one CSV ``COPY``."""
    import pyarrow as pa
    import pyarrow.csv as csv

    # NaN as NULL, as pandas' missing text and SQLite's executemany have it
    rows = pa.table(
        {
            name: pa.array(values, _arrow_type(table.c[name]), from_pandas=True)
            for name, values in columns.items()
        }
    )
    data = io.BytesIO()
    options = csv.WriteOptions(include_header=False, quoting_style="all_valid")
    csv.write_csv(rows, data, options)
    _copy_in(conn, table, list(columns), "FORMAT csv", data)


def copy_binary(conn: Connection, table: sa.Table, rows: Sequence[Mapping[str, Any]]) -> None:
    """Append ``rows`` (all with the same keys) to ``table`` with one binary ``COPY``; for a
    few rows of large binary values (a loop per field)."""
    if not rows:
        return
    names = list(rows[0])
    data = io.BytesIO()
    data.write(_SIGNATURE)
    for row in rows:
        data.write(struct.pack("!h", len(names)))
        for name in names:
            value = row[name]
            if value is None:
                data.write(struct.pack("!i", -1))
                continue
            field = _binary(value, table.c[name])
            data.write(struct.pack("!i", len(field)))
            data.write(field)
    data.write(struct.pack("!h", -1))
    _copy_in(conn, table, names, "FORMAT binary", data)


def copy_out(conn: Connection, query: sa.Select) -> list[list[bytes | None]]:
    """The rows ``query`` selects, each field's bytes as the binary format has them (text
    as UTF-8, ``bytea`` as it is): a ``SELECT`` through psycopg2 gets ``bytea`` as hex
    text, six times slower for a 1.6 MB blob."""
    select = query.compile(dialect=conn.dialect, compile_kwargs={"literal_binds": True})
    data = io.BytesIO()
    _copy(conn, f"COPY ({select}) TO STDOUT WITH (FORMAT binary)", data)
    view = memoryview(data.getvalue())
    (extension,) = struct.unpack_from("!i", view, len(_SIGNATURE) - 4)
    at, rows = len(_SIGNATURE) + extension, []
    while (count := struct.unpack_from("!h", view, at)[0]) != -1:
        at += 2
        row: list[bytes | None] = []
        for _ in range(count):
            (length,) = struct.unpack_from("!i", view, at)
            at += 4
            row.append(None if length == -1 else bytes(view[at : at + length]))
            at += max(length, 0)
        rows.append(row)
    return rows


def _copy_in(
    conn: Connection, table: sa.Table, names: list[str], options: str, data: io.BytesIO
) -> None:
    quote = conn.dialect.identifier_preparer
    into = f"{quote.format_table(table)} ({', '.join(quote.quote(n) for n in names)})"
    data.seek(0)
    _copy(conn, f"COPY {into} FROM STDIN WITH ({options}, ENCODING 'UTF8')", data)


def _copy(conn: Connection, sql: str, data: io.BytesIO) -> None:
    dbapi = conn.dialect.loaded_dbapi
    try:
        with conn.connection.cursor() as cursor:
            cursor.copy_expert(sql, data)
    except dbapi.Error as exc:
        # the error SQLAlchemy raises for a failed statement (IntegrityError, DataError, ...),
        # so callers treat a COPY as they treat an INSERT or a SELECT
        raise sa.exc.DBAPIError.instance(sql, None, exc, dbapi.Error) from exc


def _arrow_type(column: sa.Column) -> Any:
    import pyarrow as pa

    kind = column.type
    if isinstance(kind, sa.DateTime):
        return pa.timestamp("us", tz="UTC" if kind.timezone else None)
    if isinstance(kind, sa.Float):
        return pa.float64()
    if isinstance(kind, sa.Integer):
        return pa.int64()
    if isinstance(kind, sa.String):
        return pa.string()
    raise TypeError(f"no CSV COPY for {column.name} ({kind})")


def _binary(value: Any, column: sa.Column) -> bytes:
    kind = column.type
    if isinstance(kind, sa.LargeBinary):
        return bytes(value)
    if isinstance(kind, sa.DateTime) and kind.timezone:
        return struct.pack("!q", (value - _PG_EPOCH) // dt.timedelta(microseconds=1))
    if isinstance(kind, sa.Integer):  # a 32-bit ``integer`` column
        return struct.pack("!i", value)
    if isinstance(kind, sa.String):
        return value.encode()
    raise TypeError(f"no binary COPY for {column.name} ({kind})")
