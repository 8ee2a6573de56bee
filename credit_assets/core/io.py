"""File I/O with atomic writes and readable errors.

Files are the interface between blocks, so a reader must never see half a file: every write
goes to a temporary file in the same directory and is renamed into place.
"""

from __future__ import annotations

import csv
import os
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv

from credit_assets.core.errors import DataValidationError


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


# Rows per Parquet row group: readers that want some rows (a split, say) skip whole groups,
# and a group's columns decode in parallel.
ROW_GROUP_ROWS = 65_536


def to_parquet(frame: pd.DataFrame, where: str | Path | BinaryIO) -> None:
    """Parquet as every asset file is written.

    Dictionary encoding only for non-numeric columns: on continuous numbers it finds few
    repeats, and trying it (then decoding it on read) made the 200,000 x 200 training tables
    several times slower to write and to read.
    """
    dictionary = [str(c) for c in frame.columns if frame[c].dtype.kind not in "biufc"]
    frame.to_parquet(where, index=False, use_dictionary=dictionary, row_group_size=ROW_GROUP_ROWS)


def write_parquet_atomic(frame: pd.DataFrame, target: str | Path) -> Path:
    return _write_atomic(target, lambda tmp: to_parquet(frame, tmp))


def write_bytes_atomic(data: bytes, target: str | Path) -> Path:
    return _write_atomic(target, lambda tmp: tmp.write_bytes(data))


_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")
_OTHER_DELIMITERS = (";", "\t", "|")


def read_csv(path: str | Path) -> pd.DataFrame:
    """Read a comma-separated UTF-8 file as strings-or-numbers.

    Whatever goes wrong is a :class:`DataValidationError` naming the file, and where it can,
    the line and the rule: empty file, wrong encoding, wrong delimiter, a row with too few or
    too many fields (a truncated file).
    """
    path = Path(path)
    if not path.is_file():
        raise DataValidationError(str(path), "file not found")
    if path.stat().st_size == 0:
        raise DataValidationError(str(path), "file is empty")
    with path.open("rb") as fh:
        head = fh.read(4096)
    if head.startswith(_UTF16_BOMS) or b"\x00" in head:
        raise DataValidationError(
            str(path), "file must be UTF-8 text", detail="it looks UTF-16 or binary"
        )
    try:
        frame = pd.read_csv(path, engine="pyarrow")
    except (pa.ArrowInvalid, ValueError, UnicodeDecodeError) as exc:
        line = _first_ragged_line(path)
        if line is not None:
            number, expected, found = line
            hint = " (truncated file?)" if found < expected else ""
            raise DataValidationError(
                str(path),
                f"row has {found} fields but the header has {expected}{hint}",
                lines=[number],
            ) from exc
        raise DataValidationError(str(path), "not a readable CSV", detail=str(exc)) from exc
    _check_delimiter(frame, str(path))
    _check_utf8(frame, str(path))
    return frame


def _first_ragged_line(path: Path) -> tuple[int, int, int] | None:
    """(line, fields in the header, fields found) of the first row whose width differs."""
    try:
        with path.open(newline="", encoding="utf-8", errors="replace") as fh:
            rows = csv.reader(fh)
            header = next(rows, None)
            if header is None:
                return None
            for row in rows:
                if row and len(row) != len(header):
                    return rows.line_num, len(header), len(row)
    except csv.Error:
        return None
    return None


def _check_delimiter(frame: pd.DataFrame, file: str) -> None:
    if len(frame.columns) != 1:
        return
    header = str(frame.columns[0])
    for sep in _OTHER_DELIMITERS:
        if sep in header:
            raise DataValidationError(
                file,
                "values must be separated by commas",
                detail=f"the header looks {sep!r}-separated: {header[:60]!r}",
            )


def _check_utf8(frame: pd.DataFrame, file: str) -> None:
    """pyarrow reads text that is not UTF-8 as raw bytes: refuse it, naming the line."""
    for col in frame.columns:
        values = frame[col]
        if values.dtype != object:
            continue
        bad = values.map(_not_utf8).to_numpy(dtype=bool)
        if bad.any():
            first = values[bad].iloc[0]
            raise DataValidationError(
                file,
                "text is not UTF-8 (save the file as UTF-8)",
                column=str(col),
                lines=[int(i) + 2 for i in np.flatnonzero(bad)],
                detail=f"e.g. {first!r}",
            )


def _not_utf8(value: object) -> bool:
    if not isinstance(value, bytes):
        return False
    try:
        value.decode("utf-8")
    except UnicodeDecodeError:
        return True
    return False
