"""Errors that name what the user has to fix: the file, the row or column, and the rule."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

# Line numbers shown per problem; the rest is a count.
SHOWN_LINES = 5
# Problems (rule and column) listed in one message; the rest is a count.
SHOWN_PROBLEMS = 20


class CreditAssetsError(Exception):
    """A user-facing error: printed as one line by the CLI, never as a traceback."""


class ContractError(CreditAssetsError):
    """The dataset contract itself is invalid."""


@dataclass(frozen=True)
class Problem:
    """One broken rule in one column: how many rows break it and the first few lines."""

    rule: str
    column: str | None = None
    lines: tuple[int, ...] = ()
    count: int = 0  # rows or cells that break it; 0 for a file or column problem
    detail: str = ""

    def _place(self, shown_lines: int = SHOWN_LINES) -> list[str]:
        """``["column 'x'", "line 6, 8 (+3 more)"]``, or the part of it that applies."""
        place = [] if self.column is None else [f"column {self.column!r}"]
        if self.lines:
            shown = ", ".join(str(n) for n in self.lines[:shown_lines])
            more = max(self.count, len(self.lines)) - min(len(self.lines), shown_lines)
            counted = shown_lines == SHOWN_LINES and more > 0
            place.append(f"line {shown}" + (f" (+{more} more)" if counted else ""))
        return place

    def describe(self, file: str) -> str:
        message = f"{': '.join([file, *self._place()])}: {self.rule}"
        return message + (f" ({self.detail})" if self.detail else "")

    def first_place(self) -> str:
        """Where the rule is first broken: ``column 'x', line 6``."""
        return ", ".join(self._place(shown_lines=1))


class DataValidationError(CreditAssetsError):
    """A data file breaks the dataset contract.

    It lists every problem found, as a compiler does: one line per rule and column (at most
    :data:`SHOWN_PROBLEMS`), then a last line that sums them up, which is the line a person
    reads first (and the one a caller that keeps one line keeps). With a single problem the
    message is that problem's line alone. ``rule``, ``column``, ``lines`` and ``detail`` are
    the first problem's.
    """

    def __init__(
        self,
        file: str,
        rule: str,
        *,
        column: str | None = None,
        lines: list[int] | None = None,
        detail: str = "",
        count: int = 0,
    ) -> None:
        self._init(file, [Problem(rule, column, tuple(lines or []), count, detail)])

    @classmethod
    def listing(cls, file: str, problems: list[Problem]) -> DataValidationError:
        error = cls.__new__(cls)
        error._init(file, problems)
        return error

    def _init(self, file: str, problems: list[Problem]) -> None:
        first = problems[0]
        self.file, self.problems = file, list(problems)
        self.rule, self.column, self.lines, self.detail = (
            first.rule,
            first.column,
            list(first.lines),
            first.detail,
        )
        if len(problems) == 1:
            super().__init__(first.describe(file))
            return
        shown = [p.describe(file) for p in problems[:SHOWN_PROBLEMS]]
        hidden = len(problems) - SHOWN_PROBLEMS
        if hidden > 0:
            shown.append(f"{file}: ... and {hidden} more problems")
        super().__init__("\n".join([*shown, self.summary()]))

    def summary(self) -> str:
        """One line that stands alone: the file, how many problems, and each rule with where
        it is first broken and how many more times."""
        per_rule: dict[str, list[Problem]] = {}
        for p in self.problems:
            per_rule.setdefault(p.rule, []).append(p)
        total, parts = 0, []
        for rule, problems in per_rule.items():
            n = sum(max(p.count, 1) for p in problems)
            total += n
            where = problems[0].first_place()
            more = f"and {n - 1} more" if n > 1 else ""
            said = ", ".join(x for x in (where, more) if x)
            parts.append(f"{rule} ({said})" if said else rule)
        return f"{self.file}: {total} problems: {'; '.join(parts)}"


@dataclass
class _Group:
    rule: str
    column: str | None
    detail: str
    rows: list[int]  # data-row positions (0 = first row after the header), first few only
    lines: list[int]  # physical lines, when the finder knew them, first few only
    count: int = 0


def _after_header(rows: list[int]) -> dict[int, int]:
    """A frame that is no file: row 0 is line 2, under a header line."""
    return {r: r + 2 for r in rows}


class Findings:
    """Problems found so far in one file, grouped by rule and column.

    Memory stays bounded however many rows break a rule: a group keeps its count and its first
    few rows. Rows become physical lines only when the error is built, so a reader that maps
    rows to lines by scanning the file pays for it only when there is something to report.
    """

    def __init__(self) -> None:
        self._groups: dict[tuple[str, str | None], _Group] = {}

    def __bool__(self) -> bool:
        return bool(self._groups)

    def add(
        self,
        rule: str,
        column: str | None = None,
        *,
        rows: Sequence[int] = (),
        lines: Sequence[int] = (),
        count: int | None = None,
        detail: str = "",
    ) -> None:
        group = self._groups.setdefault((rule, column), _Group(rule, column, detail, [], []))
        group.rows += [int(r) for r in rows[: max(0, SHOWN_LINES - len(group.rows))]]
        group.lines += [int(n) for n in lines[: max(0, SHOWN_LINES - len(group.lines))]]
        group.count += len(rows) + len(lines) if count is None else count

    def error(
        self, file: str, line_of: Callable[[list[int]], dict[int, int]] = _after_header
    ) -> DataValidationError:
        wanted = sorted({r for g in self._groups.values() for r in g.rows})
        mapped = line_of(wanted) if wanted else {}
        problems = [
            Problem(
                g.rule,
                g.column,
                tuple(sorted([*g.lines, *(mapped[r] for r in g.rows)])),
                g.count,
                g.detail,
            )
            for g in self._groups.values()
        ]
        return DataValidationError.listing(file, problems)


class DriftError(CreditAssetsError):
    """A drift check cannot run on what it was given (a missing column, no outcomes)."""
