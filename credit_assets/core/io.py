"""File I/O with atomic writes and readable errors.

Files are the interface between blocks, so a reader must never see half a file: every write
goes to a temporary file in the same directory and is renamed into place.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any, BinaryIO, TypeVar

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

T = TypeVar("T")


@contextmanager
def alongside(work: Callable[..., T], *args: Any) -> Iterator[Future[T]]:
    """Run ``work(*args)`` in a thread while the block runs, and wait for it when the block
    ends (its error is raised then). Writing a table spends most of its time in Arrow, which
    releases the GIL, so the step's own numpy work (fingerprints, medians) overlaps it. Nothing
    in the block may change what ``work`` is given, nor read what it writes."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        done = pool.submit(work, *args)
        yield done
    done.result()


@contextmanager
def atomic_path(target: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``target``; rename it onto ``target`` only on success."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _write_atomic(target: str | Path, write: Callable[[Path], None]) -> Path:
    with atomic_path(target) as tmp:
        write(tmp)
    return Path(target)


def write_csv_atomic(frame: pd.DataFrame, target: str | Path) -> Path:
    table = pa.Table.from_pandas(frame, preserve_index=False)
    return _write_atomic(target, lambda tmp: pacsv.write_csv(table, tmp))


def chunk_schema(frame: pd.DataFrame) -> pa.Schema:
    """The schema of a table written a chunk at a time, from its first chunk: a column all
    missing there is text (it may hold text in the next)."""
    return pa.schema(
        f.with_type(pa.string()) if pa.types.is_null(f.type) else f
        for f in pa.Schema.from_pandas(frame, preserve_index=False)
    )


def write_csv_chunks_atomic(frames: Iterable[pd.DataFrame], target: str | Path) -> int:
    """Write frames with the same columns as one CSV, one at a time; return the row count.

    The file appears only once the last frame is written: if ``frames`` raises (a bad row in
    the fifth chunk), there is no file, not five chunks of one.
    """
    rows = 0
    with atomic_path(target) as tmp:
        writer: pacsv.CSVWriter | None = None
        schema: pa.Schema | None = None
        try:
            for frame in frames:
                if schema is None:
                    schema = chunk_schema(frame)
                    writer = pacsv.CSVWriter(tmp, schema)
                table = pa.Table.from_pandas(frame, schema=schema, preserve_index=False)
                writer.write_table(table)  # type: ignore[union-attr]
                rows += len(frame)
        finally:
            if writer is not None:
                writer.close()
    return rows


# Rows per Parquet row group: readers that want some rows (a split, say) skip whole groups,
# and a group's columns decode in parallel.
ROW_GROUP_ROWS = 65_536


def _encoding(frame: pd.DataFrame) -> dict[str, Any]:
    """How each column is stored (see :func:`to_parquet`)."""
    kinds = {str(c): frame[c].dtype.kind for c in frame.columns}
    return {
        "use_dictionary": [c for c, kind in kinds.items() if kind not in "biufc"],
        "compression": {c: "NONE" if kind == "f" else "SNAPPY" for c, kind in kinds.items()},
    }


def to_parquet(frame: pd.DataFrame, where: str | Path | BinaryIO) -> None:
    """Parquet as every asset file is written.

    Dictionary encoding only for non-numeric columns: on continuous numbers it finds few
    repeats, and trying it (then decoding it on read) made the 200,000 x 200 training tables
    several times slower to write and to read. Floating-point columns are not compressed
    either: Snappy took about half the write time of a 200,000 x 200 table (the file grows by
    about half); the values read back are the same, bit for bit, either way.
    """
    frame.to_parquet(where, index=False, row_group_size=ROW_GROUP_ROWS, **_encoding(frame))


@contextmanager
def parquet_chunks(path: Path) -> Iterator[Callable[[pd.DataFrame], None]]:
    """A function that appends a frame to the Parquet file ``path`` (as :func:`to_parquet`
    writes, one row group per frame); the file is complete when the block ends. A block that
    gives no frame is an error: a Parquet file needs the schema of a first frame."""
    writer: pq.ParquetWriter | None = None
    schema: pa.Schema | None = None

    def write(frame: pd.DataFrame) -> None:
        nonlocal writer, schema
        if writer is None or schema is None:
            schema = chunk_schema(frame)
            writer = pq.ParquetWriter(path, schema, **_encoding(frame))
        table = pa.Table.from_pandas(frame, schema=schema, preserve_index=False)
        writer.write_table(table, row_group_size=ROW_GROUP_ROWS)

    try:
        yield write
    finally:
        if writer is not None:
            writer.close()
    if writer is None:
        raise ValueError(f"no frame was written to {path}")


def write_parquet_atomic(frame: pd.DataFrame, target: str | Path) -> Path:
    return _write_atomic(target, lambda tmp: to_parquet(frame, tmp))


def write_bytes_atomic(data: bytes, target: str | Path) -> Path:
    return _write_atomic(target, lambda tmp: tmp.write_bytes(data))
