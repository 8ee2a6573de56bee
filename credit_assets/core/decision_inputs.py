"""A decision's inputs as the decision log records them.

A decision of the API keeps its inputs as one JSON object in its row. A batch keeps them
once per chunk: the chunk's input frame (redacted as the JSON would be) as one Parquet blob
in ``decision_inputs``, each row pointing at its position in it. JSON per row made the
database compress 60,000 objects of ~200 floats a day, which cost it four times the CPU of
the rows themselves (bench/decision_log.py).

Readers see the same thing either way: :func:`json_values` turns a stored frame into the
values ``orjson.loads`` gives of the row's JSON object (:func:`input_records`), and the
fingerprint is always the sha256 of that JSON text, so a batch decision and an API decision
of the same inputs have the same fingerprint.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import orjson
import pandas as pd

from credit_assets.core.contract import DatasetContract

REDACTED = "[redacted]"
FORMAT = "parquet"


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
    """A chunk's (already redacted) input frame as Parquet bytes: its dtypes, categories and
    dates come back as they were, so :func:`json_values` gives what its JSON would."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.Table.from_pandas(frame.reset_index(drop=True), preserve_index=False)
    # zstd without dictionaries for floats: values of four decimals (Santander's) take half
    # the bytes for 0.1 s a 20,000-row chunk; a dictionary of distinct floats only costs time
    text = [f.name for f in table.schema if not pa.types.is_floating(f.type)]
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink, compression="zstd", use_dictionary=text)
    return sink.getvalue().to_pybytes()


def decode(data: bytes) -> pd.DataFrame:
    import pyarrow as pa
    import pyarrow.parquet as pq

    return pq.read_table(pa.BufferReader(data)).to_pandas()


def json_values(frame: pd.DataFrame) -> np.ndarray:
    """The frame's values as ``orjson.loads`` gives them back from :func:`input_records`'
    JSON (one object array, rows by columns), column by column rather than row by row."""
    out = np.empty(frame.shape, dtype=object)
    for j, (_, column) in enumerate(frame.items()):
        values = column.to_numpy(dtype=object)
        missing = pd.isna(values)
        if column.dtype.kind == "f":
            # floats come back as they were (orjson writes the shortest exact text), but
            # JSON has no infinity: orjson writes null
            missing |= ~np.isfinite(column.to_numpy(dtype=float, na_value=np.nan))
        values[missing] = None
        if column.dtype.kind not in "fiub":  # text, dates, categories: as the JSON has them
            values = orjson.loads(_json(values.tolist()))
        out[:, j] = values
    return out
