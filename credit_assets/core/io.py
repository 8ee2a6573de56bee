"""File I/O with atomic writes and readable errors.

Files are the interface between blocks, so a reader must never see half a file: every write
goes to a temporary file in the same directory and is renamed into place.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

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


def write_parquet_atomic(frame: pd.DataFrame, target: str | Path) -> Path:
    return _write_atomic(target, lambda tmp: frame.to_parquet(tmp, index=False))


def write_bytes_atomic(data: bytes, target: str | Path) -> Path:
    return _write_atomic(target, lambda tmp: tmp.write_bytes(data))


def read_csv(path: str | Path) -> pd.DataFrame:
    """Read a CSV as strings-or-numbers, turning parser failures into a named error."""
    path = Path(path)
    if not path.is_file():
        raise DataValidationError(str(path), "file not found")
    if path.stat().st_size == 0:
        raise DataValidationError(str(path), "file is empty")
    try:
        return pd.read_csv(path, engine="pyarrow")
    except (pa.ArrowInvalid, ValueError, UnicodeDecodeError) as exc:
        raise DataValidationError(str(path), "not a readable CSV", detail=str(exc)) from exc
