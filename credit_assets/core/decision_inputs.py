"""A decision's inputs as the decision log records them.

A decision of the API keeps its inputs as one JSON object in its row. A batch keeps them
once: the chunk's input frame (redacted as the JSON would be) in blobs of at most
``BLOB_ROWS`` rows (``decision_log``) in ``decision_inputs``, each row pointing at its
position in one. JSON per row made the database compress 60,000 objects of ~200 floats a
day, which cost it four times the CPU of the rows themselves (bench/decision_log.py).

Readers see the same thing either way: :func:`json_values` turns a stored table into the
values ``orjson.loads`` gives of the row's JSON object (:func:`input_records`), and the
fingerprint is always the sha256 of that JSON text, so a batch decision and an API decision
of the same inputs have the same fingerprint.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import orjson
import pandas as pd

from credit_assets.core.contract import DatasetContract

if TYPE_CHECKING:
    import pyarrow as pa

REDACTED = "[redacted]"
FORMAT = "arrow"  # Arrow IPC stream; blobs written before say "parquet"


def redacted(
    frame: pd.DataFrame, contract: DatasetContract, redact_protected: bool
) -> pd.DataFrame:
    """``frame`` with its protected attributes replaced by ``"[redacted]"`` when asked."""
    protected = contract.resolve_protected(list(frame.columns)) if redact_protected else []
    return frame.assign(**dict.fromkeys(protected, REDACTED)) if protected else frame


def input_records(
    inputs: pd.DataFrame | Sequence[Mapping[str, Any]],
    contract: DatasetContract,
    redact_protected: bool,
) -> list[str]:
    """Each input row (a frame's, or an application's values by column) as a JSON object
    (missing values as ``null``), protected attributes replaced by ``"[redacted]"`` when
    asked."""
    if not isinstance(inputs, pd.DataFrame):
        return [_record(row, contract, redact_protected) for row in inputs]
    return frame_records(redacted(inputs, contract, redact_protected))


def frame_records(frame: pd.DataFrame) -> list[str]:
    """Each row of ``frame`` as a JSON object, as it is (redacted or not)."""
    columns = list(frame.columns)
    # One conversion for the whole table: per-column access costs more than the row itself
    # for the API's one-row frames.
    values = frame.to_numpy(dtype=object)
    missing = pd.isna(values)
    if missing.any():
        values[missing] = None  # JSON has no NaN
    return [_json(dict(zip(columns, row, strict=True))) for row in values.tolist()]


def _record(row: Mapping[str, Any], contract: DatasetContract, redact_protected: bool) -> str:
    """:func:`input_records` of one application's values, without a frame."""
    record = {c: v if v == v else None for c, v in row.items()}  # NaN is not itself: null
    if redact_protected:
        record.update(dict.fromkeys(contract.resolve_protected(list(row)), REDACTED))
    return _json(record)


def _json(record: Any) -> str:
    # orjson: a third of json's time on a day of float rows; dates and timestamps (a
    # contract's date column) as ISO text
    return orjson.dumps(record, default=_iso).decode()


def _iso(value: Any) -> str:
    if hasattr(value, "isoformat"):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def fingerprint(record: str) -> str:
    return hashlib.sha256(record.encode()).hexdigest()


def encode(frame: pd.DataFrame) -> bytes:
    """A blob's (already redacted) input frame as an Arrow IPC stream, LZ4-compressed: its
    dtypes, categories and dates come back as they were, so :func:`json_values` gives what
    its JSON would.

    Not Parquet (the format before): reading one decision decodes its whole blob, and
    Parquet spends ~9 ms setting up 200 column readers whatever the rows; an LZ4 stream of
    1,000 rows reads in ~1.5 ms, for about a third more bytes on four-decimal data
    (bench/README.md, decision_log)."""
    import pyarrow as pa

    table = pa.Table.from_pandas(frame.reset_index(drop=True), preserve_index=False)
    sink = pa.BufferOutputStream()
    options = pa.ipc.IpcWriteOptions(compression="lz4")
    with pa.ipc.new_stream(sink, table.schema, options=options) as writer:
        writer.write_table(table)
    return sink.getvalue().to_pybytes()


def decode(data: bytes, format_: str) -> pa.Table:
    """A blob as :func:`encode` wrote it (``format_`` ``arrow``), or as it was before
    (``parquet``)."""
    import pyarrow as pa

    if format_ == "parquet":
        import pyarrow.parquet as pq

        return pq.read_table(pa.BufferReader(data))
    if format_ != FORMAT:
        raise ValueError(f"unknown decision inputs format {format_!r}")
    return pa.ipc.open_stream(data).read_all()


def json_values(table: pa.Table) -> np.ndarray:
    """The table's values as ``orjson.loads`` gives them back from :func:`input_records`'
    JSON (one object array, rows by columns), column by column on Arrow: no pandas frame,
    whose set-up per column cost more than one row's values."""
    import pyarrow as pa

    out = np.empty((table.num_rows, table.num_columns), dtype=object)
    floats = [j for j, f in enumerate(table.schema) if pa.types.is_floating(f.type)]
    if floats:  # as one block: a call per column would cost more than a row's values
        block = np.column_stack([table.column(j).to_numpy() for j in floats])  # null: NaN
        values = block.astype(object)
        # floats come back as they were (orjson writes the shortest exact text), but JSON
        # has neither NaN nor infinity: orjson writes null
        values[~np.isfinite(block)] = None
        out[:, floats] = values
    for j, column in enumerate(table.itercolumns()):
        if pa.types.is_integer(column.type) or pa.types.is_boolean(column.type):
            out[:, j] = column.to_pylist()
        elif j not in floats:  # text, dates, categories: as the JSON has them
            out[:, j] = orjson.loads(_json(column.to_pylist()))
    return out
