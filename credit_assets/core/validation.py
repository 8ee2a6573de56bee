"""Check a data file against the dataset contract before anything is built from it.

Every problem is found, not only the first: each is recorded in a :class:`Findings` (rule,
column, count, first rows) and the file is refused once, with all of them. Errors name the
file, the column, the physical CSV line and the rule broken.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum

import numpy as np
import pandas as pd

from credit_assets.core.contract import ColumnSpec, DatasetContract
from credit_assets.core.errors import DataValidationError, Findings
from credit_assets.core.reading import NULL_TOKENS


class FileKind(StrEnum):
    HISTORY = "history"
    APPLICATIONS = "applications"
    OUTCOMES = "outcomes"


NO_ROWS = "file has a header but no rows"


def validate_frame(
    frame: pd.DataFrame,
    contract: DatasetContract,
    kind: FileKind,
    file: str,
    expected_features: list[str] | None = None,
    line_of: Callable[[list[int]], dict[int, int]] | None = None,
) -> pd.DataFrame:
    """Return the frame with typed columns, or raise one :class:`DataValidationError` that
    lists every broken rule.

    ``expected_features`` (applications only): the columns the history has that the contract
    makes features. A batch must have exactly those, so a pattern such as ``var_[0-9]+``
    cannot silently lose or gain a model feature. ``line_of`` maps row positions to the
    file's physical lines (default: the row under a one-line header).
    """
    if frame.empty:
        raise DataValidationError(file, NO_ROWS)
    findings = Findings()
    check_columns(list(frame.columns), contract, kind, findings, expected_features)
    out = check_rows(frame, contract, kind, findings)
    if findings:
        raise findings.error(file, line_of) if line_of else findings.error(file)
    return out


def check_columns(
    columns: list[str],
    contract: DatasetContract,
    kind: FileKind,
    findings: Findings,
    expected_features: list[str] | None = None,
) -> None:
    """The header's problems: missing, repeated, unknown, leaking columns."""
    for col in dict.fromkeys(c for c in columns if columns.count(c) > 1):
        findings.add("column appears twice", col)
    id_col, target = contract.id_column, contract.target.column
    required = [id_col]
    if kind is not FileKind.APPLICATIONS:
        required.append(target)
    if kind is not FileKind.OUTCOMES:
        required += [
            s.name
            for s in [*contract.features, *contract.protected]
            if s.name is not None and s.required
        ]
    for col in required:
        if col not in columns:
            findings.add("required column is missing", col)
    if kind is FileKind.APPLICATIONS:
        for col in [target, *contract.post_outcome]:
            if col in columns:
                findings.add(
                    "application data must not contain the target or a post-outcome "
                    "column (leakage)",
                    col,
                )
    for col in columns:
        if kind is FileKind.OUTCOMES:
            known = col in {id_col, target}
        else:
            known = (
                col in {id_col, target, contract.date_column, *contract.post_outcome}
                or contract.spec_for(col) is not None
            )
        if not known:
            findings.add("column is not in the dataset contract", col)
    if kind is FileKind.OUTCOMES:
        return
    for rule in contract.rules:
        if rule.column not in columns:
            findings.add(f"rule {rule.id} needs this column, which is missing", rule.column)
    for spec in contract.features:
        if spec.pattern is not None and not any(spec.matches(c) for c in columns):
            findings.add(f"no column matches feature pattern {spec.label}")
    if kind is FileKind.APPLICATIONS and expected_features is not None:
        _check_feature_set(columns, contract, expected_features, findings)


def _check_feature_set(
    columns: list[str], contract: DatasetContract, expected: list[str], findings: Findings
) -> None:
    have, want = contract.resolve_features(columns), contract.resolve_features(expected)
    missing = [c for c in want if c not in have]
    if missing:
        findings.add(
            "feature column is in the history files but missing here",
            missing[0],
            detail=f"{len(missing)} missing" if len(missing) > 1 else "",
        )
    extra = [c for c in have if c not in want]
    if extra:
        findings.add(
            "feature column is not in the history files (the model has no such feature)",
            extra[0],
            detail=f"{len(extra)} such columns" if len(extra) > 1 else "",
        )


def check_rows(
    frame: pd.DataFrame,
    contract: DatasetContract,
    kind: FileKind,
    findings: Findings,
    first_row: int = 0,
) -> pd.DataFrame:
    """Every cell's problems; the frame with its columns typed as the contract says.

    ``first_row``: the position in the file of the frame's first row (a chunk's offset).
    Columns the header check refused are left as they are.
    """

    def add(rule: str, column: str, mask: pd.Series | np.ndarray, example: object = None) -> None:
        rows = np.flatnonzero(np.asarray(mask))
        if not rows.size:
            return
        detail = "" if example is None else f"e.g. {example!r}"
        findings.add(rule, column, rows=rows[:5] + first_row, count=int(rows.size), detail=detail)

    out = frame.copy(deep=False)  # copy-on-write: columns replaced below, none copied
    id_col = contract.id_column
    if id_col in frame.columns:
        ids = _text(frame[id_col])
        add("id must not be empty", id_col, ids.isna())
        dup = ids.duplicated(keep="first") & ids.notna()
        if dup.any():
            add("id must be unique", id_col, dup, ids[dup].iloc[0])
        out[id_col] = ids
    target = contract.target.column
    if kind is not FileKind.APPLICATIONS and target in frame.columns:
        out[target] = _check_target(frame[target], contract, add)
    if kind is FileKind.OUTCOMES:
        return out
    for col in frame.columns:
        spec = contract.spec_for(col)
        if spec is not None and col not in (id_col, target):
            out[col] = (
                _check_number(frame[col], spec, col, add)
                if spec.type == "numeric"
                else _check_text(frame[col], spec, col, add)
            )
    return out


_Add = Callable[[str, str, "pd.Series | np.ndarray", object], None]


def _text(values: pd.Series) -> pd.Series:
    """Values as text, an empty cell as missing."""
    text = values.astype(str)
    return text.where(text != "")


def _check_target(values: pd.Series, contract: DatasetContract, add: _Add) -> pd.Series:
    col = contract.target.column
    text = _text(values)
    add("target must not be empty", col, text.isna(), None)
    positive, negative = contract.target.labels
    other = text.notna() & ~text.isin([positive, negative])
    if other.any():
        add(
            f"target must be {positive!r} or {negative!r} (the contract's classes)",
            col,
            other,
            text[other].iloc[0],
        )
    return (text == positive).astype(np.int8)


def _check_number(values: pd.Series, spec: ColumnSpec, col: str, add: _Add) -> pd.Series:
    refused = np.zeros(len(values), dtype=bool)  # cells already refused as no number
    if pd.api.types.is_bool_dtype(values):
        refused = values.notna().to_numpy()
        add("value is true/false, not a number", col, refused, None)
        numeric = values.astype("float64")
    elif pd.api.types.is_numeric_dtype(values):
        numeric = values.astype("float64")
    else:  # read as text: a cell of the column was no number, or a frame of objects
        missing = values.isna() | values.isin(NULL_TOKENS)
        numeric = pd.to_numeric(values.where(~missing), errors="coerce").astype("float64")
        if values.dtype == object:  # a frame built in Python, not a file
            boolean = values.map(lambda v: isinstance(v, bool | np.bool_)).to_numpy(bool)
            add("value is true/false, not a number", col, boolean, None)
            refused |= boolean
        bad = (numeric.isna() & ~missing).to_numpy() & ~refused
        if bad.any():
            add("value is not a number", col, bad, values[bad].iloc[0])
        refused |= bad
    add("value is infinite", col, np.isinf(numeric), None)
    if not spec.nullable:
        add("value is missing (column is not nullable)", col, numeric.isna() & ~refused, None)
    low = numeric < spec.min if spec.min is not None else False
    high = numeric > spec.max if spec.max is not None else False
    add(f"value outside the allowed range [{spec.min}, {spec.max}]", col, low | high, None)
    return numeric


def _check_text(values: pd.Series, spec: ColumnSpec, col: str, add: _Add) -> pd.Series:
    text = _text(values)
    if not spec.nullable:
        add("value is missing (column is not nullable)", col, text.isna(), None)
    if spec.levels is not None:
        unknown = text.notna() & ~text.isin(spec.levels)
        if unknown.any():
            add(
                f"value is not one of the levels {spec.levels}", col, unknown, text[unknown].iloc[0]
            )
    return text.astype(object).where(text.notna(), None)
