"""The dataset contract: which columns a dataset has, what they mean, and its hard rules.

No dataset is hard-coded in the platform. Everything that differs between datasets (id and
target names, feature columns and their types, protected attributes, business rules) is read
from a YAML contract such as ``credit_assets/contracts/santander.yaml``.
"""

from __future__ import annotations

import hashlib
import json
import re
from functools import cached_property
from importlib import resources
from itertools import pairwise
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    ValidationError,
    model_serializer,
    model_validator,
)

from credit_assets.core.errors import ContractError

# Suffix of the frequency-of-value feature built from a contract feature (``frequency: true``)
FREQ_SUFFIX = "__freq"

ColumnType = Literal["numeric", "categorical"]
RuleOp = Literal["<", "<=", ">", ">=", "==", "!=", "in", "not_in", "is_null"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ColumnSpec(_Strict):
    """One column, or every column whose name matches ``pattern`` (a full-match regex)."""

    name: str | None = None
    pattern: str | None = None
    type: ColumnType = "numeric"
    min: float | None = Field(default=None, description="smallest allowed value (numeric)")
    max: float | None = Field(default=None, description="largest allowed value (numeric)")
    levels: list[str] | None = Field(default=None, description="allowed levels (categorical)")
    nullable: bool = Field(default=False, description="whether missing values are allowed")
    required: bool = Field(default=True, description="whether the column must be present")
    frequency: bool = Field(
        default=False, description="add a feature: the value's frequency among training rows"
    )
    bands: list[float] | None = Field(
        default=None,
        description="numeric protected attribute: increasing band edges, e.g. [18, 30, 45, 60] "
        "gives the groups <18, 18-29, 30-44, 45-59, 60+",
    )

    @model_validator(mode="after")
    def _name_or_pattern(self) -> ColumnSpec:
        if (self.name is None) == (self.pattern is None):
            raise ValueError("a column spec needs exactly one of 'name' or 'pattern'")
        if self.pattern is not None:
            re.compile(self.pattern)
        if self.bands is not None:
            if self.type != "numeric":
                raise ValueError(f"{self.label}: only a numeric column can have 'bands'")
            if not self.bands or any(a >= b for a, b in pairwise(self.bands)):
                raise ValueError(f"{self.label}: 'bands' must be increasing, got {self.bands}")
        return self

    @model_serializer(mode="wrap")
    def _dump(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        # Contracts without bands dump (and so hash) as they did before bands existed.
        dumped = handler(self)
        if dumped.get("bands") is None:
            dumped.pop("bands", None)
        return dumped

    def band_labels(self) -> list[str]:
        """Group labels of a banded attribute, lowest first: ``<18``, ``18-29``, ..., ``60+``
        (a band holds its lower edge, not its upper one)."""
        edges = [f"{e:g}" for e in self.bands or []]
        if not edges:
            return []
        inner = [f"{lo}-{_below(hi)}" for lo, hi in pairwise(edges)]
        return [f"<{edges[0]}", *inner, f"{edges[-1]}+"]

    def matches(self, column: str) -> bool:
        if self.name is not None:
            return column == self.name
        return re.fullmatch(self.pattern or "", column) is not None

    @property
    def label(self) -> str:
        return self.name or f"/{self.pattern}/"


class TargetSpec(_Strict):
    """The label. A file's target holds ``positive_class`` or ``negative_class``, written
    exactly so (``1`` is not ``1.0``); once validated it holds 1 for the positive class and 0
    for the negative one."""

    column: str
    positive_class: int | str = 1
    negative_class: int | str | None = Field(
        default=None, description="the other value; for a positive class 1 (or 0), 0 (or 1)"
    )
    positive_means: Literal["default", "approve"] = Field(
        description="'default': the positive class is a bad outcome; 'approve': a good one"
    )

    @model_validator(mode="after")
    def _two_classes(self) -> TargetSpec:
        if self.negative_class is None and self.positive_class not in (0, 1):
            raise ValueError("negative_class is needed when positive_class is not 0 or 1")
        if str(self.negative_class) == str(self.positive_class):
            raise ValueError("negative_class must differ from positive_class")
        return self

    @property
    def labels(self) -> tuple[str, str]:
        """(positive, negative) as they are written in a file."""
        negative = self.negative_class
        return str(self.positive_class), str(
            _other(self.positive_class) if negative is None else negative
        )


def _other(positive: int | str) -> int | None:
    """The class a 0/1 target has besides ``positive``."""
    return 1 - positive if positive in (0, 1) else None  # type: ignore[operator]


class Rule(_Strict):
    """A hard business rule: an application matching it is rejected without scoring."""

    id: str
    column: str
    op: RuleOp
    value: Any = None
    reason: str


class ReasonText(_Strict):
    """How to word a reason code for one feature, or every feature matching ``pattern``.

    Templates are Python format strings with ``{feature}`` (the column), ``{value}`` (the
    applicant's value), ``{median}`` (the training median) and ``{direction}`` (``high``,
    ``low`` or ``missing``, the value against the training median). ``text`` is used for every
    direction that has no template of its own.
    """

    name: str | None = None
    pattern: str | None = None
    text: str | None = None
    high: str | None = None
    low: str | None = None
    missing: str | None = None

    @model_validator(mode="after")
    def _complete(self) -> ReasonText:
        if (self.name is None) == (self.pattern is None):
            raise ValueError("a reason text needs exactly one of 'name' or 'pattern'")
        if self.pattern is not None:
            re.compile(self.pattern)
        if not any((self.text, self.high, self.low, self.missing)):
            raise ValueError("a reason text needs 'text' or a 'high' / 'low' / 'missing' template")
        return self

    def matches(self, column: str) -> bool:
        if self.name is not None:
            return column == self.name
        return re.fullmatch(self.pattern or "", column) is not None

    def template(self, direction: str) -> str | None:
        return {"high": self.high, "low": self.low, "missing": self.missing}.get(
            direction
        ) or self.text


class SplitSpec(_Strict):
    """Time-ordered split: the newest rows are holdout, the ones before them validation."""

    validation_fraction: float = Field(default=0.15, gt=0, lt=0.5)
    holdout_fraction: float = Field(default=0.15, gt=0, lt=0.5)


class DatasetContract(_Strict):
    # the dataset's name: a prefix of Dagster asset keys and job names, so an identifier
    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    description: str = ""
    id_column: str
    target: TargetSpec
    date_column: str | None = Field(
        default=None, description="event date; without it, file order is time order"
    )
    features: list[ColumnSpec]
    protected: list[ColumnSpec] = Field(default_factory=list)
    post_outcome: list[str] = Field(
        default_factory=list, description="columns only known after the outcome"
    )
    rules: list[Rule] = Field(default_factory=list)
    split: SplitSpec = Field(default_factory=SplitSpec)
    min_history_rows: int = Field(
        default=200, ge=1, description="fewest labelled history rows a model is trained on"
    )
    min_rows_per_class: int = Field(
        default=20, ge=1, description="fewest history rows of each target class"
    )
    reason_texts: list[ReasonText] = Field(
        default_factory=list,
        description="readable reason-code texts per feature; exact names win over patterns",
    )

    @model_validator(mode="after")
    def _consistent(self) -> DatasetContract:
        ids = [r.id for r in self.rules]
        if len(ids) != len(set(ids)):
            raise ValueError(f"rule ids must be unique, got {ids}")
        reserved = {self.id_column, self.target.column, *self.post_outcome}
        if self.date_column:
            reserved.add(self.date_column)
        for spec in [*self.features, *self.protected]:
            if spec.name in reserved:
                raise ValueError(f"column {spec.name!r} cannot be a feature or protected attribute")
        for rule in self.rules:
            if any(p.matches(rule.column) for p in self.protected):
                raise ValueError(f"rule {rule.id} uses protected attribute {rule.column!r}")
        for spec in self.features:
            if spec.bands is not None:
                raise ValueError(f"{spec.label}: 'bands' are for protected attributes only")
        for spec in self.protected:
            if spec.type == "numeric" and spec.bands is None:
                raise ValueError(
                    f"protected attribute {spec.label} is numeric: give its 'bands' "
                    "(fairness figures compare groups)"
                )
        return self

    @cached_property
    def version(self) -> str:
        """Content hash: changes whenever anything in the contract (rules included) changes."""
        dumped = self.model_dump(mode="json")
        if not dumped["reason_texts"]:  # unchanged versions for contracts that have none
            del dumped["reason_texts"]
        # and for contracts that keep the defaults of the strict-reading fields
        if self.target.negative_class in (None, _other(self.target.positive_class)):
            del dumped["target"]["negative_class"]
        for key in ("min_history_rows", "min_rows_per_class"):
            if dumped[key] == type(self).model_fields[key].default:
                del dumped[key]
        canonical = json.dumps(dumped, sort_keys=True)
        return hashlib.sha256(canonical.encode()).hexdigest()[:12]

    def reason_template(self, column: str, direction: str) -> str | None:
        """The wording of a reason for a feature and direction (``high``, ``low``,
        ``missing``): an exact name's template first, else the first matching pattern's."""
        key = (column, direction)
        if key not in self._templates:  # asked for every reason worded: patterns matched once
            specs = [r for r in self.reason_texts if r.name == column] + [
                r for r in self.reason_texts if r.pattern is not None and r.matches(column)
            ]
            self._templates[key] = next((t for r in specs if (t := r.template(direction))), None)
        return self._templates[key]

    @cached_property
    def _templates(self) -> dict[tuple[str, str], str | None]:
        return {}

    @cached_property
    def rules_version(self) -> str:
        canonical = json.dumps([r.model_dump(mode="json") for r in self.rules], sort_keys=True)
        return hashlib.sha256(canonical.encode()).hexdigest()[:12]

    def feature_spec(self, column: str) -> ColumnSpec | None:
        return next((s for s in self.features if s.matches(column)), None)

    def protected_spec(self, column: str) -> ColumnSpec | None:
        return next((s for s in self.protected if s.matches(column)), None)

    def spec_for(self, column: str) -> ColumnSpec | None:
        return self.feature_spec(column) or self.protected_spec(column)

    def resolve_features(self, columns: list[str]) -> list[str]:
        """The model's feature columns among ``columns``, in file order."""
        return [c for c in columns if self.feature_spec(c) is not None and c not in self._reserved]

    def resolve_protected(self, columns: list[str]) -> list[str]:
        key = tuple(columns)
        if key not in self._protected:  # asked for every decision, with the same columns
            self._protected[key] = [c for c in columns if self.protected_spec(c) is not None]
        return list(self._protected[key])

    @cached_property
    def _protected(self) -> dict[tuple[str, ...], list[str]]:
        return {}

    @cached_property
    def _reserved(self) -> frozenset[str]:
        names = {self.id_column, self.target.column, *self.post_outcome}
        if self.date_column:
            names.add(self.date_column)
        return frozenset(names)


def _below(edge: str) -> str:
    """The label of a band's upper end: one less than an integer edge (30 -> 29), else
    the edge itself (a band of reals holds values up to, not including, it)."""
    value = float(edge)
    return f"{value - 1:g}" if value.is_integer() else f"<{edge}"


def load_contract(path: str | Path | None = None) -> DatasetContract:
    """Read a contract from YAML; without a path, the packaged Santander contract."""
    if path is None:
        text = resources.files("credit_assets.contracts").joinpath("santander.yaml").read_text()
        source = "santander.yaml (packaged)"
    else:
        p = Path(path)
        if not p.is_file():
            raise ContractError(f"contract file not found: {p}")
        text = p.read_text()
        source = str(p)
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ContractError(f"{source}: not valid YAML: {exc}") from exc
    if not isinstance(raw, dict):
        raise ContractError(f"{source}: a contract is a YAML mapping")
    try:
        return DatasetContract.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "(top level)"
        raise ContractError(f"{source}: {where}: {first['msg']}") from exc
