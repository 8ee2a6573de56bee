"""Errors that name what the user has to fix: the file, the row or column, and the rule."""

from __future__ import annotations


class CreditAssetsError(Exception):
    """A user-facing error: printed as one line by the CLI, never as a traceback."""


class ContractError(CreditAssetsError):
    """The dataset contract itself is invalid."""


class DataValidationError(CreditAssetsError):
    """A data file breaks the dataset contract."""

    def __init__(
        self,
        file: str,
        rule: str,
        *,
        column: str | None = None,
        lines: list[int] | None = None,
        detail: str = "",
    ) -> None:
        self.file = file
        self.rule = rule
        self.column = column
        self.lines = lines or []
        self.detail = detail
        where = [file]
        if column is not None:
            where.append(f"column {column!r}")
        if self.lines:
            shown = ", ".join(str(n) for n in self.lines[:5])
            more = f" (+{len(self.lines) - 5} more)" if len(self.lines) > 5 else ""
            where.append(f"line {shown}{more}")
        message = f"{': '.join(where)}: {rule}"
        if detail:
            message += f" ({detail})"
        super().__init__(message)


class DriftError(CreditAssetsError):
    """A drift check cannot run on what it was given (a missing column, no outcomes)."""
