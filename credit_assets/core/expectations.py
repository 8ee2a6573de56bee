"""Great Expectations suites: derived from the dataset contract, extended by hand, run on an
asset's table, failures summarised for whoever has to fix the data.

One suite per checked asset, stored as a GX 1.x ``ExpectationSuite`` serialization in
``expectations/<contract name>/<asset>.json``. Three keys in an expectation's ``meta`` (GX
keeps ``meta`` as it is) carry what GX itself cannot say:

- ``generated_from_contract: true``: written from the contract by
  ``credit-assets expectations generate``; regenerating replaces exactly these and keeps every
  hand-written expectation.
- ``column_pattern: true``: ``kwargs.column`` is a full-match regex (a contract pattern such as
  ``var_[0-9]+``); the expectation is applied to every matching column of the table.
- ``optional_column: true``: skipped when the column is absent (``required: false``).

GX's own ``severity`` decides what a failure does: ``critical`` blocks (the Dagster check fails
with ERROR severity and nothing downstream runs), ``warning`` and ``info`` only warn.

No Dagster here. GX is imported on first use: its import takes seconds, and loading the code
location or the CLI should not pay for it.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import re
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from credit_assets.core.collector import paused
from credit_assets.core.contract import FREQ_SUFFIX, ColumnSpec, DatasetContract
from credit_assets.core.dataset import HOLDOUT, SPLIT, TRAIN, VALIDATION
from credit_assets.core.errors import CreditAssetsError
from credit_assets.core.io import write_bytes_atomic
from credit_assets.core.thresholds import DECISIONS

ASSETS = (
    "raw_history",
    "raw_applications",
    "raw_outcomes",
    "training_data",
    "features",
    "decisions",
)
GENERATED = "generated_from_contract"
PATTERN = "column_pattern"
OPTIONAL = "optional_column"
CRITICAL, WARNING, INFO = "critical", "warning", "info"

SPLIT_COLUMN, SPLITS = SPLIT, (TRAIN, VALIDATION, HOLDOUT)
SAMPLE_IDS = 5


class SuiteError(CreditAssetsError):
    """A suite file is not a valid GX suite or does not belong here."""


# --------------------------------------------------------------------------- derivation


def _exp(
    kind: str, description: str, column: str | None = None, *, meta=None, **kwargs
) -> dict[str, Any]:
    kw = {"column": column, **kwargs} if column is not None else kwargs
    return {
        "type": kind,
        "kwargs": kw,
        "description": description,
        "meta": {GENERATED: True, **(meta or {})},
        "severity": CRITICAL,
    }


def _id_expectations(contract: DatasetContract) -> list[dict]:
    c = contract.id_column
    return [
        _exp("expect_column_to_exist", "id column is missing", c),
        _exp("expect_column_values_to_not_be_null", "id must not be empty", c),
        _exp("expect_column_values_to_be_unique", "id must be unique", c),
    ]


def _target_expectations(contract: DatasetContract) -> list[dict]:
    c = contract.target.column
    return [
        _exp("expect_column_to_exist", "target column is missing", c),
        _exp("expect_column_values_to_not_be_null", "target must not be empty", c),
        _exp(
            "expect_column_values_to_be_in_set",
            "target must be 1 (positive class) or 0",
            c,
            value_set=[0, 1],
        ),
    ]


def _split_expectations() -> list[dict]:
    return [
        _exp("expect_column_values_to_not_be_null", "every row has a split", SPLIT_COLUMN),
        _exp(
            "expect_column_distinct_values_to_equal_set",
            "train, validation and holdout all have rows",
            SPLIT_COLUMN,
            value_set=list(SPLITS),
        ),
    ]


def _spec_meta(spec: ColumnSpec) -> dict[str, bool]:
    if spec.pattern is not None:
        return {PATTERN: True}
    return {} if spec.required else {OPTIONAL: True}


def _not_empty(description: str) -> dict:
    return _exp("expect_table_row_count_to_be_between", description, min_value=1)


def _feature_expectations(contract: DatasetContract) -> list[dict]:
    """The built feature table: float32 columns, named as the fitted builder names them."""
    out = []
    for spec in contract.features:
        column, meta = spec.name or spec.pattern, _spec_meta(spec)
        if spec.name is not None and spec.required:
            out.append(_exp("expect_column_to_exist", "feature column is missing", column))
        out.append(
            _exp(
                "expect_column_values_to_be_of_type",
                "features are float32",
                column,
                meta=meta,
                type_="float32",
            )
        )
        if spec.type == "numeric" and not spec.nullable:
            out.append(
                _exp(
                    "expect_column_values_to_not_be_null",
                    "feature is missing (column is not nullable)",
                    column,
                    meta=meta,
                )
            )
        if spec.type == "categorical" and spec.levels:
            out.append(
                _exp(
                    "expect_column_values_to_be_between",
                    "category code out of range",
                    column,
                    meta=meta,
                    min_value=0,
                    max_value=len(spec.levels) - 1,
                )
            )
        if spec.frequency:
            freq = f"{spec.name}{FREQ_SUFFIX}" if spec.name else f"(?:{spec.pattern}){FREQ_SUFFIX}"
            freq_meta = {PATTERN: True} if spec.pattern else meta
            out += [
                _exp(
                    "expect_column_values_to_not_be_null",
                    "frequency feature is missing",
                    freq,
                    meta=freq_meta,
                ),
                _exp(
                    "expect_column_values_to_be_between",
                    "frequency must be in [0, 1]",
                    freq,
                    meta=freq_meta,
                    min_value=0,
                    max_value=1,
                ),
            ]
    return out


def derive_expectations(contract: DatasetContract, asset: str) -> list[dict]:
    """The contract-derived expectations of one asset's suite, as GX JSON dicts.

    Each rule is checked in one place. Contract validation refuses a raw file before it is
    written (columns, ids, target, every value's type, range and level), so the raw tables'
    suites derive nothing: they hold what only GX says (distributions, hand-written business
    rules). The training table only selects validated rows and adds the split, so its suite
    checks what that step makes (ids and targets of the combined rows, the split), not every
    value again. The built tables (features, decisions) are checked for what they add.
    """
    match asset:
        case "raw_applications" | "raw_history" | "raw_outcomes":
            return []
        case "training_data":
            return [
                _not_empty("training data has no rows"),
                *_id_expectations(contract),
                *_target_expectations(contract),
                *_split_expectations(),
            ]
        case "features":
            return [
                _not_empty("feature table has no rows"),
                *_id_expectations(contract),
                *_target_expectations(contract),
                *_split_expectations(),
                *_feature_expectations(contract),
            ]
        case "decisions":
            out = [
                _not_empty("no decisions"),
                *_id_expectations(contract),
                _exp("expect_column_values_to_not_be_null", "every row has a decision", "decision"),
                _exp(
                    "expect_column_values_to_be_in_set",
                    f"decision must be one of {list(DECISIONS)}",
                    "decision",
                    value_set=list(DECISIONS),
                ),
                _exp(
                    "expect_column_values_to_be_between",
                    "score is a probability in [0, 1]",
                    "score",
                    min_value=0,
                    max_value=1,
                ),
            ]
            if contract.rules:
                out.append(
                    _exp(
                        "expect_column_values_to_be_in_set",
                        "rule_id must name a rule of the contract",
                        "rule_id",
                        value_set=[r.id for r in contract.rules],
                    )
                )
            out += [
                _exp(
                    "expect_column_values_to_not_be_null",
                    f"every decision records its {what}",
                    what,
                )
                for what in ("model_version", "thresholds_version", "rules_version")
            ]
            return out
    raise ValueError(f"no suite for asset {asset!r}; known: {list(ASSETS)}")


# --------------------------------------------------------------------------- files


def _gx():
    _wait_for_warm_up()
    return _import_gx()


@cache
def _import_gx():
    import logging
    import os

    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    import great_expectations as gx

    logging.getLogger("great_expectations").setLevel(logging.ERROR)
    return gx


def suite_name(contract: DatasetContract, asset: str) -> str:
    return f"{contract.name}.{asset}"


def suite_path(root: Path, contract: DatasetContract, asset: str) -> Path:
    return Path(root) / contract.name / f"{asset}.json"


def canonical(suite: dict) -> dict:
    """The suite as GX 1.x serializes it; raises :class:`SuiteError` if GX refuses it."""
    if not suite.get("expectations") and isinstance(suite.get("name"), str):
        # Nothing for GX to check (a raw table's suite with no hand-written expectation):
        # the same dict, without paying GX's import in the step.
        meta = dict(suite.get("meta") or {})
        return {
            "name": suite["name"],
            "expectations": [],
            "meta": meta,
            "notes": suite.get("notes"),
        }
    gx = _gx()
    try:
        loaded = gx.ExpectationSuite(**suite)
    except Exception as exc:
        raise SuiteError(f"suite {suite.get('name')!r} is not a valid GX suite: {exc}") from exc
    data = loaded.to_json_dict()
    data.pop("id", None)
    for e in data["expectations"]:
        e.pop("id", None)
        e.pop("rendered_content", None)
        if e.get("description") is None:
            e.pop("description", None)
    return data


def derive_suite(contract: DatasetContract, asset: str) -> dict:
    """The contract-derived part of an asset's suite, as a GX 1.x suite dict."""
    return canonical(
        {
            "name": suite_name(contract, asset),
            "expectations": derive_expectations(contract, asset),
            "meta": {"contract": contract.name, "asset": asset},
        }
    )


def merge(existing: dict | None, generated: dict) -> dict:
    """Regenerated expectations first, then every hand-written one of ``existing``."""
    if existing is None:
        return generated
    kept = [e for e in existing.get("expectations", []) if not e.get("meta", {}).get(GENERATED)]
    meta = {**existing.get("meta", {}), **generated.get("meta", {})}
    out = {**existing, **generated, "meta": meta}
    out["expectations"] = [*generated["expectations"], *kept]
    return canonical(out)


def _dumps(suite: dict) -> str:
    data = copy.deepcopy(suite)
    data.get("meta", {}).pop("great_expectations_version", None)
    return json.dumps(data, indent=2, sort_keys=True) + "\n"


def generate_suites(
    contract: DatasetContract, root: Path, assets: Iterable[str] = ASSETS, write: bool = True
) -> dict[Path, bool]:
    """Regenerate the contract-derived part of each suite under ``root/<contract name>/``,
    keeping hand-written expectations. Returns each file and whether its content changed."""
    changed: dict[Path, bool] = {}
    for asset in assets:
        path = suite_path(root, contract, asset)
        existing = _read(path) if path.is_file() else None
        text = _dumps(merge(existing, derive_suite(contract, asset)))
        changed[path] = not path.is_file() or path.read_text() != text
        if write and changed[path]:
            write_bytes_atomic(text.encode(), path)
    return changed


def _read(path: Path) -> dict:
    try:
        data = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise SuiteError(f"{path}: not a readable suite file: {exc}") from exc
    if not isinstance(data, dict) or not isinstance(data.get("expectations"), list):
        raise SuiteError(f"{path}: a suite file is a JSON object with an 'expectations' list")
    return data


@dataclass(frozen=True)
class LoadedSuite:
    data: dict
    source: str  # the file, or how it was made


def load_suite(contract: DatasetContract, asset: str, root: Path | None) -> LoadedSuite:
    """The asset's suite from ``root/<contract>/<asset>.json``; without that file, derived
    from the contract in memory (so a new contract is checked before anyone writes suites)."""
    path = suite_path(root, contract, asset) if root is not None else None
    if path is not None and path.is_file():
        data = canonical(_read(path))
        expected = suite_name(contract, asset)
        if data["name"] != expected:
            raise SuiteError(f"{path}: suite is named {data['name']!r}, expected {expected!r}")
        return LoadedSuite(data, str(path))
    return LoadedSuite(
        derive_suite(contract, asset), f"derived from contract {contract.name!r} in memory"
    )


# --------------------------------------------------------------------------- running


@dataclass(frozen=True)
class Failure:
    """One failed expectation, said so that whoever supplied the data can fix it."""

    expectation: str
    rule: str
    column: str | None
    severity: str
    bad_rows: int | None = None
    bad_percent: float | None = None
    sample_ids: tuple[str, ...] = ()
    observed: str | None = None

    @property
    def blocking(self) -> bool:
        return self.severity == CRITICAL

    def describe(self, id_label: str = "ids") -> str:
        where = f"column {self.column!r}: " if self.column else ""
        text = f"{where}{self.rule} ({self.expectation})"
        if self.bad_rows is not None:
            rows = "row" if self.bad_rows == 1 else "rows"
            text += f": {self.bad_rows} {rows} ({self.bad_percent:.2f}%)"
            if self.sample_ids:
                text += f", e.g. {id_label} " + ", ".join(repr(i) for i in self.sample_ids)
        elif self.observed is not None:
            text += f": observed {self.observed}"
        return text

    def to_dict(self) -> dict[str, Any]:
        return {
            "expectation": self.expectation,
            "rule": self.rule,
            "column": self.column,
            "severity": self.severity,
            "bad_rows": self.bad_rows,
            "bad_percent": None if self.bad_percent is None else round(self.bad_percent, 4),
            "sample_ids": list(self.sample_ids),
            "observed": self.observed,
        }


@dataclass(frozen=True)
class SuiteReport:
    suite: str
    source: str
    rows: int
    evaluated: int
    failures: tuple[Failure, ...]
    seconds: float
    id_label: str = "ids"

    @property
    def errors(self) -> list[Failure]:
        return [f for f in self.failures if f.blocking]

    @property
    def warnings(self) -> list[Failure]:
        return [f for f in self.failures if not f.blocking]

    def message(self, file: str, failures: list[Failure] | None = None, limit: int = 3) -> str:
        """One line: the file, then each failed expectation (the first ``limit``)."""
        shown = self.failures if failures is None else failures
        parts = [f.describe(self.id_label) for f in shown[:limit]]
        more = f"; and {len(shown) - limit} more" if len(shown) > limit else ""
        return f"{file}: " + "; ".join(parts) + more

    def markdown(self) -> str:
        rows = [
            "| severity | column | rule | bad rows | % | sample ids / observed |",
            "|---" * 6 + "|",
        ]
        for f in self.failures:
            sample = ", ".join(f.sample_ids) if f.sample_ids else (f.observed or "")
            pct = "" if f.bad_percent is None else f"{f.bad_percent:.2f}"
            bad = "" if f.bad_rows is None else str(f.bad_rows)
            rows.append(
                f"| {f.severity} | {f.column or ''} | {f.rule} | {bad} | {pct} | {sample} |"
            )
        return "\n".join(rows)


@dataclass
class _Plan:
    runnable: list[dict] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)


def expand(expectations: list[dict], columns: list[str], reserved: Iterable[str]) -> _Plan:
    """Apply pattern expectations to each matching column, skip absent optional columns, and
    turn an expectation on an absent column into a failure (GX would only raise)."""
    plan, present, reserved = _Plan(), set(columns), set(reserved)
    for k, e in enumerate(expectations):
        meta, kwargs = e.get("meta") or {}, e.get("kwargs") or {}
        column = kwargs.get("column")
        severity = e.get("severity", CRITICAL)
        rule = _rule(e)
        if column is None or e["type"] == "expect_column_to_exist":
            plan.runnable.append(e)
        elif meta.get(PATTERN):
            matched = [
                c for c in columns if c not in reserved and re.fullmatch(column, c) is not None
            ]
            if not matched:
                plan.failures.append(
                    Failure(e["type"], f"no column matches /{column}/ ({rule})", column, severity)
                )
            for c in matched:
                expanded_meta = {**meta, _PATTERN_OF: k}
                plan.runnable.append(
                    {**e, "meta": expanded_meta, "kwargs": {**kwargs, "column": c}}
                )
        elif column in present:
            plan.runnable.append(e)
        elif not meta.get(OPTIONAL):
            plan.failures.append(
                Failure(e["type"], f"column is missing ({rule})", column, severity)
            )
    return plan


def _rule(e: dict) -> str:
    if e.get("description"):
        return e["description"]
    args = ", ".join(f"{k}={v!r}" for k, v in (e.get("kwargs") or {}).items() if k != "column")
    return f"{e['type']}({args})"


_warming: threading.Thread | None = None


def warm_up() -> None:
    """Import GX and build its context in a background thread, once per process: a step
    calls this before work of its own that needs no GX (reading, building and writing its
    table), so the seconds GX takes overlap it. Call it after the step's own imports: two
    threads importing modules that import each other could deadlock."""
    global _warming
    if _warming is None:
        _warming = threading.Thread(target=_build_context, name="gx-warm-up", daemon=True)
        _warming.start()


def validation_context():
    """GX's in-memory context and the batch definition every suite validates through (built
    once per process: importing GX and building it take seconds)."""
    _wait_for_warm_up()
    return _build_context()


def _wait_for_warm_up() -> None:
    """Let the warm-up finish (a failure there, logged by the thread, is met again here)."""
    if _warming is not None and _warming is not threading.current_thread():
        _warming.join()


@cache
def _build_context():
    with paused():
        gx = _import_gx()
        from great_expectations.data_context.types.base import ProgressBarsConfig
        from great_expectations.execution_engine import pandas_execution_engine

    # GX fingerprints every in-memory batch under 1 GB (MD5 over pandas' row hashes) into
    # batch markers that nothing reads: 0.6 s of a 1.5 s suite on 200,000 x 200.
    pandas_execution_engine.HASH_THRESHOLD = 0
    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    source = context.data_sources.add_pandas("credit_assets")
    return source.add_dataframe_asset("table").add_batch_definition_whole_dataframe("all")


_INDEX = "_credit_assets_index"


def _validate(frame: pd.DataFrame, expectations: list[dict], result_format: Any) -> list:
    """GX results in the order of ``expectations`` (GX orders them its own way)."""
    gx = _gx()
    tagged = [
        {**copy.deepcopy(e), "meta": {**(e.get("meta") or {}), _INDEX: i}}
        for i, e in enumerate(expectations)
    ]
    suite = gx.ExpectationSuite(name="run", expectations=tagged)
    batch = validation_context().get_batch(batch_parameters={"dataframe": frame})
    results = batch.validate(suite, result_format=result_format).results
    ordered: list = [None] * len(expectations)
    for r in results:
        ordered[int(r.expectation_config.meta[_INDEX])] = r
    if any(r is None for r in ordered):  # pragma: no cover - GX contract
        raise RuntimeError("GX returned no result for some expectations")
    return ordered


def run_suite(
    frame: pd.DataFrame,
    suite: LoadedSuite,
    id_column: str | None = None,
    reserved: Iterable[str] = (),
) -> SuiteReport:
    """Validate ``frame`` against ``suite``: a fast pass for every expectation, then a
    detailed pass (bad-row counts, sample ids) only for those that failed."""
    run = ChunkedSuiteRun(suite, id_column, reserved, whole=True)
    run.add(frame)
    return run.report()


# Expectations whose result on a table is the sum of their results on its chunks: each row is
# judged alone, or the table's columns are (the same in every chunk). The others (uniqueness,
# aggregates such as a mean, row counts, an order) need every row at once.
_ROW_BY_ROW = frozenset(
    {
        "expect_column_to_exist",
        "expect_column_type_to_be",
        "expect_table_columns_to_match_set",
        "expect_table_columns_to_match_ordered_list",
        "expect_table_column_count_to_equal",
        "expect_table_column_count_to_be_between",
        *(
            f"expect_column_values_to_{rule}"
            for rule in (
                "be_null",
                "not_be_null",
                "be_in_set",
                "not_be_in_set",
                "be_between",
                "be_of_type",
                "be_in_type_list",
                "match_regex",
                "not_match_regex",
                "match_regex_list",
                "not_match_regex_list",
                "match_like_pattern",
                "not_match_like_pattern",
                "match_like_pattern_list",
                "not_match_like_pattern_list",
                "match_strftime_format",
                "be_dateutil_parseable",
                "be_json_parseable",
                "match_json_schema",
            )
        ),
        "expect_column_value_lengths_to_be_between",
        "expect_column_value_lengths_to_equal",
        "expect_column_pair_values_to_be_equal",
        "expect_column_pair_values_a_to_be_greater_than_b",
        "expect_column_pair_values_to_be_in_set",
        "expect_multicolumn_sum_to_equal",
        "expect_multicolumn_values_to_be_equal",
        "expect_select_column_values_to_be_unique_within_record",
    }
)
_COLUMN_KWARGS = ("column", "column_A", "column_B")


class ChunkedSuiteRun:
    """:func:`run_suite` on a table given a chunk at a time (:meth:`add`), with the report a
    run on the whole table gives (:meth:`report`).

    Row-by-row expectations run on each chunk and their failures add up (bad rows, sample
    ids); the others (uniqueness, aggregates, the row count) run once at the end on the
    columns they read, kept from every chunk: memory follows the chunk plus those columns.
    ``whole``: the one chunk given is the whole table, and every expectation runs on it.
    """

    def __init__(
        self,
        suite: LoadedSuite,
        id_column: str | None = None,
        reserved: Iterable[str] = (),
        *,
        whole: bool = False,
    ) -> None:
        self.suite, self.id_column, self.reserved = suite, id_column, list(reserved)
        self.whole = whole
        self._plan: _Plan | None = None
        self._has_id = False
        self._by_chunk: list[int] = []  # indexes in the plan's runnable expectations
        self._at_end: list[int] = []
        self._kept_columns: list[str] = []
        self._kept: list[pd.DataFrame] = []
        self._failed: dict[int, list[Failure]] = {}
        self._rows, self._seconds = 0, 0.0

    def add(self, frame: pd.DataFrame) -> None:
        started = time.perf_counter()
        plan = self._plan
        if plan is None:  # every chunk has the first one's columns
            plan = self._plan = expand(
                self.suite.data["expectations"], [str(c) for c in frame.columns], self.reserved
            )
            self._has_id = self.id_column is not None and self.id_column in frame.columns
            for i, e in enumerate(plan.runnable):
                by_chunk = self.whole or e["type"] in _ROW_BY_ROW
                (self._by_chunk if by_chunk else self._at_end).append(i)
            read = [self.id_column] if self._has_id else []
            for i in self._at_end:
                kwargs = plan.runnable[i].get("kwargs") or {}
                read += [kwargs[k] for k in _COLUMN_KWARGS if k in kwargs]
                read += kwargs.get("column_list") or []
            self._kept_columns = [c for c in dict.fromkeys(read) if c in frame.columns]
        self._check(frame, self._by_chunk)
        if self._at_end:
            self._kept.append(frame[self._kept_columns].copy())
        self._rows += len(frame)
        self._seconds += time.perf_counter() - started

    def report(self) -> SuiteReport:
        if self._plan is None:
            raise ValueError("no chunk was given")
        started = time.perf_counter()
        if self._at_end:
            kept = (
                pd.concat(self._kept, ignore_index=True)
                if self._kept_columns
                else pd.DataFrame(index=pd.RangeIndex(self._rows))
            )
            self._kept = []
            self._check(kept, self._at_end)
        failures = [*self._plan.failures]
        failures += [_merged(self._failed[i], self._rows) for i in sorted(self._failed)]
        return SuiteReport(
            suite=self.suite.data["name"],
            source=self.suite.source,
            rows=self._rows,
            evaluated=len(self._plan.runnable) + len(self._plan.failures),
            failures=tuple(failures),
            seconds=self._seconds + time.perf_counter() - started,
            id_label=self.id_column if self._has_id and self.id_column else "rows",
        )

    def _check(self, frame: pd.DataFrame, which: list[int]) -> None:
        """Run the plan's expectations ``which`` on ``frame``; note what failed."""
        if not which or self._plan is None:
            return
        runnable = [self._plan.runnable[i] for i in which]
        passed = _passed(frame, runnable)
        failed = [(i, e) for i, e, ok in zip(which, runnable, passed, strict=True) if not ok]
        if not failed:
            return
        id_column = self.id_column if self._has_id else None
        detail_format: dict[str, Any] = {
            "result_format": "SUMMARY",
            "partial_unexpected_count": SAMPLE_IDS,
        }
        if id_column:
            detail_format["unexpected_index_column_names"] = [id_column]
        detailed = _validate(frame, [e for _, e in failed], detail_format)
        for (i, e), r in zip(failed, detailed, strict=True):
            self._failed.setdefault(i, []).append(_failure(e, r, len(frame), id_column))


# Row-by-row expectations that a pattern applies to many columns (the features' float32 type
# and not-null, 400 for Santander) run in the quick pass as one expectation on the matching
# columns stacked end to end: GX's cost is per expectation (2-3 ms each, 0.9 s of 1.0 s for the
# feature table), not per value. The verdict is the same (every value passes in its column or
# not); a group that fails is run again column by column, to name the columns.
_STACKABLE = frozenset(
    f"expect_column_values_to_{rule}"
    for rule in (
        "be_null",
        "not_be_null",
        "be_of_type",
        "be_in_type_list",
        "be_between",
        "be_in_set",
        "not_be_in_set",
    )
)
# kwargs that judge each value alone (``mostly``, a row condition, ... do not stack)
_STACKABLE_KWARGS = frozenset(
    {
        "column",
        "type_",
        "type_list",
        "min_value",
        "max_value",
        "strict_min",
        "strict_max",
        "value_set",
    }
)
_PATTERN_OF = "_credit_assets_pattern_of"
_STACKED = "_credit_assets_stacked"


def _passed(frame: pd.DataFrame, expectations: list[dict]) -> list[bool]:
    """The quick pass: whether each expectation holds on ``frame`` (stacking pattern groups)."""
    groups: dict[tuple, list[int]] = {}
    for i, e in enumerate(expectations):
        key = _stack_key(frame, e)
        if key is not None:
            groups.setdefault(key, []).append(i)
    stacked = [members for members in groups.values() if len(members) > 1]
    in_groups = {i for members in stacked for i in members}
    alone = [i for i in range(len(expectations)) if i not in in_groups]
    passed = [False] * len(expectations)
    if alone:
        results = _validate(frame, [expectations[i] for i in alone], "BOOLEAN_ONLY")
        for i, r in zip(alone, results, strict=True):
            passed[i] = bool(r.success)
    for members in stacked:
        columns = [expectations[i]["kwargs"]["column"] for i in members]
        values = pd.DataFrame({_STACKED: np.concatenate([frame[c].to_numpy() for c in columns])})
        first = expectations[members[0]]
        one = {**first, "kwargs": {**first["kwargs"], "column": _STACKED}}
        (result,) = _validate(values, [one], "BOOLEAN_ONLY")
        if result.success:
            for i in members:
                passed[i] = True
        else:  # which columns: each alone
            results = _validate(frame, [expectations[i] for i in members], "BOOLEAN_ONLY")
            for i, r in zip(members, results, strict=True):
                passed[i] = bool(r.success)
    return passed


def _stack_key(frame: pd.DataFrame, e: dict) -> tuple | None:
    """Expectations with the same key can run stacked: expanded from one pattern expectation,
    judging each value alone, on numeric columns of one dtype (a column of another dtype runs
    alone, so a type expectation still sees it)."""
    group = (e.get("meta") or {}).get(_PATTERN_OF)
    kwargs = e.get("kwargs") or {}
    if group is None or e["type"] not in _STACKABLE or not set(kwargs) <= _STACKABLE_KWARGS:
        return None
    dtype = frame[kwargs["column"]].dtype
    if not isinstance(dtype, np.dtype) or dtype.kind not in "biuf":
        return None
    return (group, dtype.str)


def _merged(failures: list[Failure], rows: int) -> Failure:
    """One expectation's failures on several chunks as its failure on the table they make."""
    first = failures[0]
    if first.bad_rows is None:  # an observation (a missing column, an error): the first one
        return first
    bad = sum(f.bad_rows or 0 for f in failures)
    samples = dict.fromkeys(s for f in failures for s in f.sample_ids)
    return dataclasses.replace(
        first,
        bad_rows=bad,
        bad_percent=100.0 * bad / rows if rows else 0.0,
        sample_ids=tuple(samples)[:SAMPLE_IDS],
    )


def _failure(e: dict, result, rows: int, id_column: str | None) -> Failure:
    info = result.exception_info or {}
    raised = info.get("raised_exception") if isinstance(info, dict) else False
    column = (e.get("kwargs") or {}).get("column")
    severity = e.get("severity", CRITICAL)
    if raised:
        message = str(info.get("exception_message", "")).strip().splitlines()[:1]
        return Failure(e["type"], _rule(e), column, severity, observed=f"error: {message}")
    res = result.result or {}
    bad = res.get("unexpected_count")
    if bad is not None and "observed_value" not in res:
        samples = []
        for item in res.get("partial_unexpected_index_list") or []:
            value = item.get(id_column) if isinstance(item, dict) and id_column else item
            if str(value) not in samples:
                samples.append(str(value))
        pct = 100.0 * bad / rows if rows else 0.0
        return Failure(
            e["type"], _rule(e), column, severity, int(bad), pct, tuple(samples[:SAMPLE_IDS])
        )
    parts = []
    if res.get("observed_value") is not None:
        parts.append(_short(res["observed_value"]))
    if res.get("details"):
        parts.append(_short(res["details"]))
    if bad:
        parts.append(f"unexpected {_short(res.get('partial_unexpected_list'))}")
    return Failure(e["type"], _rule(e), column, severity, observed=" ".join(parts) or None)


def _short(value: Any, limit: int = 200) -> str:
    text = json.dumps(value, default=str) if not isinstance(value, str) else value
    return text if len(text) <= limit else text[: limit - 3] + "..."
