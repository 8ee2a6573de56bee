"""Check a data file against the dataset contract before anything is built from it.

Errors name the file, the column, the CSV line (header = line 1) and the rule broken.
"""

from __future__ import annotations

from enum import StrEnum

import numpy as np
import pandas as pd

from credit_assets.core.contract import ColumnSpec, DatasetContract
from credit_assets.core.errors import DataValidationError


class FileKind(StrEnum):
    HISTORY = "history"
    APPLICATIONS = "applications"
    OUTCOMES = "outcomes"


def csv_lines(mask: np.ndarray | pd.Series) -> list[int]:
    """CSV line numbers (header = 1) of the rows where ``mask`` holds."""
    return [int(i) + 2 for i in np.flatnonzero(np.asarray(mask))]


def validate_frame(
    frame: pd.DataFrame,
    contract: DatasetContract,
    kind: FileKind,
    file: str,
    expected_features: list[str] | None = None,
) -> pd.DataFrame:
    """Raise :class:`DataValidationError` on the first broken rule; return typed columns.

    ``expected_features`` (applications only): the columns the history has that the contract
    makes features. A batch must have exactly those, so a pattern such as ``var_[0-9]+``
    cannot silently lose or gain a model feature.
    """
    if frame.empty:
        raise DataValidationError(file, "file has a header but no rows")
    columns = list(frame.columns)
    _check_columns(columns, contract, kind, file)
    if kind is FileKind.APPLICATIONS and expected_features is not None:
        _check_feature_set(columns, contract, expected_features, file)
    ids = frame[contract.id_column]
    if ids.isna().any():
        raise DataValidationError(
            file, "id must not be empty", column=contract.id_column, lines=csv_lines(ids.isna())
        )
    dup = ids.duplicated(keep="first")
    if dup.any():
        raise DataValidationError(
            file,
            "id must be unique",
            column=contract.id_column,
            lines=csv_lines(dup),
            detail=f"{int(dup.sum())} repeated, e.g. {ids[dup].iloc[0]!r}",
        )
    out = frame.copy()
    out[contract.id_column] = ids.astype(str)
    if kind in (FileKind.HISTORY, FileKind.OUTCOMES):
        out[contract.target.column] = _check_target(frame[contract.target.column], contract, file)
    if kind is FileKind.OUTCOMES:
        return out
    for col in columns:
        spec = contract.spec_for(col)
        if spec is not None:
            out[col] = _check_column(frame[col], spec, col, file)
    return out


def _check_columns(
    columns: list[str], contract: DatasetContract, kind: FileKind, file: str
) -> None:
    dupes = {c for c in columns if columns.count(c) > 1}
    if dupes:
        raise DataValidationError(file, "column appears twice", column=sorted(dupes)[0])
    id_col, target = contract.id_column, contract.target.column
    required = [id_col]
    if kind is not FileKind.APPLICATIONS:
        required.append(target)
    if kind is FileKind.OUTCOMES:
        allowed = {id_col, target}
    else:
        required += [
            s.name
            for s in [*contract.features, *contract.protected]
            if s.name is not None and s.required
        ]
        allowed = None
    for col in required:
        if col not in columns:
            raise DataValidationError(file, "required column is missing", column=col)
    if kind is FileKind.APPLICATIONS:
        for col in [target, *contract.post_outcome]:
            if col in columns:
                raise DataValidationError(
                    file,
                    "application data must not contain the target or a post-outcome "
                    "column (leakage)",
                    column=col,
                )
    for col in columns:
        known = (
            col in allowed
            if allowed is not None
            else (
                col in {id_col, target, contract.date_column, *contract.post_outcome}
                or contract.spec_for(col) is not None
            )
        )
        if not known:
            raise DataValidationError(file, "column is not in the dataset contract", column=col)
    if kind is not FileKind.OUTCOMES:
        for rule in contract.rules:
            if rule.column not in columns:
                raise DataValidationError(
                    file, f"rule {rule.id} needs this column, which is missing", column=rule.column
                )
        for spec in contract.features:
            if spec.pattern is not None and not any(spec.matches(c) for c in columns):
                raise DataValidationError(file, f"no column matches feature pattern {spec.label}")


def _check_feature_set(
    columns: list[str], contract: DatasetContract, expected: list[str], file: str
) -> None:
    have, want = contract.resolve_features(columns), contract.resolve_features(expected)
    missing = [c for c in want if c not in have]
    if missing:
        raise DataValidationError(
            file,
            "feature column is in the history files but missing here",
            column=missing[0],
            detail=f"{len(missing)} missing" if len(missing) > 1 else "",
        )
    extra = [c for c in have if c not in want]
    if extra:
        raise DataValidationError(
            file,
            "feature column is not in the history files (the model has no such feature)",
            column=extra[0],
            detail=f"{len(extra)} such columns" if len(extra) > 1 else "",
        )


def _check_target(values: pd.Series, contract: DatasetContract, file: str) -> pd.Series:
    col = contract.target.column
    if values.isna().any():
        raise DataValidationError(
            file, "target must not be empty", column=col, lines=csv_lines(values.isna())
        )
    positive = contract.target.positive_class
    normalized = values.astype(str)
    classes = set(normalized.unique())
    if len(classes) > 2:
        raise DataValidationError(
            file, "target must be binary", column=col, detail=f"found {sorted(classes)[:5]}"
        )
    return pd.Series(normalized == str(positive), index=values.index).astype(np.int8)


def _check_column(values: pd.Series, spec: ColumnSpec, col: str, file: str) -> pd.Series:
    if spec.type == "numeric":
        numeric = pd.to_numeric(values, errors="coerce")
        bad_text = numeric.isna() & values.notna()
        if bad_text.any():
            raise DataValidationError(
                file,
                "value is not a number",
                column=col,
                lines=csv_lines(bad_text),
                detail=f"e.g. {values[bad_text].iloc[0]!r}",
            )
        numeric = numeric.astype("float64")
        inf = np.isinf(numeric)
        if inf.any():
            raise DataValidationError(file, "value is infinite", column=col, lines=csv_lines(inf))
        if not spec.nullable and numeric.isna().any():
            raise DataValidationError(
                file,
                "value is missing (column is not nullable)",
                column=col,
                lines=csv_lines(numeric.isna()),
            )
        low = numeric < spec.min if spec.min is not None else pd.Series(False, index=values.index)
        high = numeric > spec.max if spec.max is not None else pd.Series(False, index=values.index)
        out_of_range = low | high
        if out_of_range.any():
            raise DataValidationError(
                file,
                f"value outside the allowed range [{spec.min}, {spec.max}]",
                column=col,
                lines=csv_lines(out_of_range),
            )
        return numeric
    text = values.astype("string")
    if not spec.nullable and text.isna().any():
        raise DataValidationError(
            file,
            "value is missing (column is not nullable)",
            column=col,
            lines=csv_lines(text.isna()),
        )
    if spec.levels is not None:
        unknown = text.notna() & ~text.isin(spec.levels)
        if unknown.any():
            raise DataValidationError(
                file,
                f"value is not one of the levels {spec.levels}",
                column=col,
                lines=csv_lines(unknown),
                detail=f"e.g. {text[unknown].iloc[0]!r}",
            )
    return text.astype(object).where(text.notna(), None)
