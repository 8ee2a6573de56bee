"""Read a CSV as its dataset contract says, never by inference.

Ids, the target, categorical and unknown columns are read as text (an id ``0000002`` stays
``0000002``; a target ``1.0`` or ``yes`` stays what it is, for the contract to refuse);
numeric columns as 64-bit floats. When a numeric cell is no number (``true``, ``oops``) the
typed read fails; the file is then read again all as text, so that validation can list every
bad cell. A file that cannot be read even as text (a row of the wrong width, text that is not
UTF-8, a cell over :data:`CELL_LIMIT`) is diagnosed with Python's csv module and refused with
its lines and columns. A number cell over the limit does parse (a long run of digits as an
infinite number, ``0.000…1`` as a finite one), so when a line of the file is longer than the
limit its number cells are measured in the file. Line numbers are
physical (the header and blank lines count); they are worked out only when there is something
to report.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator
from functools import cached_property
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from credit_assets.core.contract import DatasetContract
from credit_assets.core.errors import DataValidationError, Findings

# The largest cell accepted, whatever the contract: no real value is near it, and a file with
# one is broken (a missing closing quote swallows the rest of the file into one cell).
CELL_LIMIT = 64 * 1024
_TOO_LONG = f"cell is longer than {CELL_LIMIT // 1024} KiB"
# Tokens read as a missing number (Arrow's defaults); text columns keep them as text.
NULL_TOKENS: tuple[str, ...] = tuple(pacsv.ConvertOptions().null_values)
# Bytes per block of the streaming reader: about 2,000 Santander rows.
_STREAM_BLOCK = 4 << 20
# csv's default field limit (128 KiB) would stop the diagnosis at the first big cell.
_CSV_FIELD_LIMIT = 1 << 30

_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")
_OTHER_DELIMITERS = (";", "\t", "|")
_NOT_UTF8 = re.compile("[\udc80-\udcff]")  # what surrogateescape makes of a non-UTF-8 byte


class CsvFile:
    """One comma-separated UTF-8 file, checked up to its header, to be read by ``contract``.

    Refused at once: a missing, empty or UTF-16 file, another delimiter, a repeated column.
    """

    def __init__(self, path: str | Path, contract: DatasetContract) -> None:
        self.path = Path(path)
        self.name = str(path)
        self.columns = self._header()
        self.numeric = {
            c
            for c in [
                *contract.resolve_features(self.columns),
                *contract.resolve_protected(self.columns),
            ]
            if (spec := contract.spec_for(c)) is not None and spec.type == "numeric"
        }

    def _header(self) -> list[str]:
        if not self.path.is_file():
            raise DataValidationError(self.name, "file not found")
        if self.path.stat().st_size == 0:
            raise DataValidationError(self.name, "file is empty")
        with self.path.open("rb") as fh:
            head = fh.read(4096)
        if head.startswith(_UTF16_BOMS) or b"\x00" in head:
            raise DataValidationError(
                self.name, "file must be UTF-8 text", detail="it looks UTF-16 or binary"
            )
        header = next((row for _, row in self._records()), [])
        if len(header) == 1:
            for sep in _OTHER_DELIMITERS:
                if sep in header[0]:
                    raise DataValidationError(
                        self.name,
                        "values must be separated by commas",
                        detail=f"the header looks {sep!r}-separated: {header[0][:60]!r}",
                    )
        findings = Findings()
        for column in dict.fromkeys(c for c in header if header.count(c) > 1):
            findings.add("column appears twice", column, lines=[self._header_line()])
        if findings:
            raise findings.error(self.name)
        return header

    def _header_line(self) -> int:
        return next(line for line, _ in self._records())

    def _records(self) -> Iterator[tuple[int, list[str]]]:
        """(physical line where it starts, fields) of every non-blank record, header first."""
        csv.field_size_limit(_CSV_FIELD_LIMIT)
        with self.path.open(newline="", encoding="utf-8-sig", errors="surrogateescape") as fh:
            rows = csv.reader(fh)
            start = 1
            for row in rows:
                if row:
                    yield start, row
                start = rows.line_num + 1

    def lines(self, rows: list[int]) -> dict[int, int]:
        """Physical line of each data row (0 = the first row under the header)."""
        wanted, found = set(rows), {}
        last = max(rows, default=-1)
        for index, (line, _) in enumerate(self._records(), start=-1):
            if index in wanted:
                found[index] = line
            if index >= last:
                break
        return found

    def _options(self, typed: bool) -> pacsv.ConvertOptions:
        types = {
            c: pa.float64() if typed and c in self.numeric else pa.string() for c in self.columns
        }
        return pacsv.ConvertOptions(column_types=types)

    def read(self) -> pd.DataFrame:
        """The whole file; numeric columns as floats, or, if a cell is no number, as text."""
        try:
            table = pacsv.read_csv(self.path, convert_options=self._options(typed=True))
        except pa.ArrowInvalid:
            try:
                table = pacsv.read_csv(self.path, convert_options=self._options(typed=False))
            except pa.ArrowInvalid as exc:
                raise self._unreadable(exc) from exc
        return self._frame(table, 0)

    def chunks(self, rows: int) -> Iterator[tuple[int, pd.DataFrame]]:
        """(position of its first row, frame) for chunks of about ``rows`` rows, read one at a
        time. After a cell that is no number, the rest is read as text, as :meth:`read` does."""
        done, typed = 0, True
        while True:
            try:
                for frame in self._stream(typed, skip=done, rows=rows):
                    yield done, frame
                    done += len(frame)
                return
            except pa.ArrowInvalid as exc:
                if not typed:
                    raise self._unreadable(exc) from exc
                typed = False

    def _stream(self, typed: bool, skip: int, rows: int) -> Iterator[pd.DataFrame]:
        reader = pacsv.open_csv(
            self.path,
            read_options=pacsv.ReadOptions(block_size=_STREAM_BLOCK),
            convert_options=self._options(typed),
        )
        pending: pa.Table | None = None
        first, seen = skip, 0
        for batch in reader:
            seen += batch.num_rows
            if seen <= skip:
                continue
            if seen - batch.num_rows < skip:
                batch = batch.slice(skip - (seen - batch.num_rows))
            fresh = pa.Table.from_batches([batch])
            pending = fresh if pending is None else pa.concat_tables([pending, fresh])
            while pending.num_rows >= rows:
                yield self._frame(pending.slice(0, rows), first)
                pending, first = pending.slice(rows), first + rows
        if pending is not None and pending.num_rows:
            yield self._frame(pending, first)

    def _frame(self, table: pa.Table, first_row: int) -> pd.DataFrame:
        """The table as pandas, once no cell is over :data:`CELL_LIMIT`."""
        findings = Findings()
        for name, column in zip(table.column_names, table.columns, strict=True):
            if not pa.types.is_string(column.type):
                continue
            too_long = pc.fill_null(pc.greater(pc.binary_length(column), CELL_LIMIT), False)
            where = np.flatnonzero(too_long.to_numpy(zero_copy_only=False))
            if where.size:
                findings.add(_TOO_LONG, name, rows=list(where + first_row), count=int(where.size))
        last = first_row + table.num_rows
        for name, rows in self._oversized_numbers.items():
            if here := [r for r in rows if first_row <= r < last]:
                findings.add(_TOO_LONG, name, rows=here)
        if findings:
            raise findings.error(self.name, self.lines)
        return table.to_pandas(split_blocks=True, self_destruct=True)

    @cached_property
    def _oversized_numbers(self) -> dict[str, list[int]]:
        """Data rows of each numeric column whose cell as written is over :data:`CELL_LIMIT`.
        Such a cell still parses as a number (a long run of digits as infinite, ``0.000…1``
        as a finite one), so it is measured in the file, cell by cell, but only when a line
        of the file is longer than the limit: one pass over its bytes tells."""
        if not self._has_long_line():
            return {}
        where = {self.columns.index(c): c for c in self.numeric if c in self.columns}
        found: dict[str, list[int]] = {}
        for index, (_, row) in enumerate(self._records(), start=-1):
            for at, name in where.items():
                if index >= 0 and at < len(row) and len(row[at]) > CELL_LIMIT:
                    found.setdefault(name, []).append(index)
        return found

    def _has_long_line(self) -> bool:
        run = 0  # bytes since the last line end
        with self.path.open("rb") as fh:
            while block := fh.read(_STREAM_BLOCK):
                ends = np.flatnonzero(np.frombuffer(block, np.uint8) == ord("\n"))
                if ends.size == 0:
                    run += len(block)
                else:
                    if run + ends[0] > CELL_LIMIT or np.any(np.diff(ends) > CELL_LIMIT + 1):
                        return True
                    run = len(block) - int(ends[-1]) - 1
                if run > CELL_LIMIT:
                    return True
        return False

    def _unreadable(self, exc: pa.ArrowInvalid) -> DataValidationError:
        """What makes the file unreadable, with lines and columns, from one pass of csv."""
        findings = Findings()
        header: list[str] = []
        for line, row in self._records():
            if not header:
                header = row
            elif len(row) != len(header):
                hint = " (truncated file?)" if len(row) < len(header) else ""
                findings.add(
                    f"row has {len(row)} fields but the header has {len(header)}{hint}",
                    lines=[line],
                )
            for column, value in zip(header, row, strict=False):
                if len(value) > CELL_LIMIT:
                    findings.add(_TOO_LONG, column, lines=[line])
            if _NOT_UTF8.search("".join(row)):
                for column, value in zip(header, row, strict=False):
                    if _NOT_UTF8.search(value):
                        findings.add(
                            "text is not UTF-8 (save the file as UTF-8)",
                            column,
                            lines=[line],
                            detail=f"e.g. {value.encode('utf-8', 'surrogateescape')!r}",
                        )
        if findings:
            return findings.error(self.name)
        return DataValidationError(self.name, "not a readable CSV", detail=str(exc))


def read_csv(path: str | Path, contract: DatasetContract) -> pd.DataFrame:
    """The whole file, read as ``contract`` says (see :class:`CsvFile`)."""
    return CsvFile(path, contract).read()
