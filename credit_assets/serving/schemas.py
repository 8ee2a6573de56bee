"""Request and response schemas of the decision API, generated from the dataset contract.

An application's fields are the model's feature columns (a contract pattern such as
``var_[0-9]+`` is resolved to the columns the champion was trained on), the contract's named
protected attributes and date column, and the id. Types, ranges, levels and nullability come
from the contract, so a new dataset needs a contract and a model, never code.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, create_model

from credit_assets.core.contract import ColumnSpec, DatasetContract

_STRICT = ConfigDict(extra="forbid", allow_inf_nan=False, strict=True, populate_by_name=False)


def _field(spec: ColumnSpec | None, column: str, required: bool) -> tuple[Any, Any]:
    if spec is None:  # the date column: text, as in the files
        return (str | None, Field(None, alias=column, max_length=64))
    if spec.type == "numeric":
        kind: Any = float
        bounds = {"ge": spec.min, "le": spec.max}
    else:
        kind = Literal[tuple(spec.levels)] if spec.levels else str
        bounds = {} if spec.levels else {"max_length": 256}
    if spec.nullable or not required:
        return (kind | None, Field(None, alias=column, **bounds))
    return (kind, Field(..., alias=column, **bounds))


def application_model(
    contract: DatasetContract, feature_columns: list[str], name: str
) -> type[BaseModel]:
    """The pydantic model of one application for ``contract`` and a model's features.

    Fields are named ``f0, f1, ...`` with the column as alias: a column may be called
    anything, even ``model_config``.
    """
    columns: dict[str, tuple[Any, Any]] = {
        contract.id_column: (
            str,
            Field(..., alias=contract.id_column, min_length=1, max_length=128),
        )
    }
    for column in feature_columns:
        columns[column] = _field(contract.feature_spec(column), column, required=True)
    for spec in contract.protected:
        if spec.name is not None:
            columns[spec.name] = _field(spec, spec.name, required=spec.required)
    if contract.date_column:
        columns[contract.date_column] = _field(None, contract.date_column, required=False)
    fields = {f"f{i}": definition for i, definition in enumerate(columns.values())}
    return create_model(f"{name}_application", __config__=_STRICT, **fields)  # type: ignore[call-overload]


def batch_model(application: type[BaseModel], max_items: int, name: str) -> type[BaseModel]:
    return create_model(
        f"{name}_batch",
        __config__=ConfigDict(extra="forbid", strict=True),
        applications=(list[application], Field(..., min_length=1, max_length=max_items)),  # type: ignore[valid-type]
    )


class Reason(BaseModel):
    code: str
    text: str
    contribution: float | None = Field(description="push towards the decision (risk scale)")


class Decision(BaseModel):
    """One decision, as recorded in the decision log before it was sent."""

    decision_id: str
    dataset: str
    application_id: str
    decision: Literal["rule_reject", "approve", "reject", "review"]
    score: float | None = Field(description="risk, P(bad outcome); none for a rule reject")
    reasons: list[Reason]
    rule_id: str | None
    rule_reason: str | None
    model_version: str | None
    thresholds_version: str | None
    rules_version: str | None
    approve_below: float | None
    reject_above: float | None
    source: str
    actor: str
    decided_at: str
    request_id: str | None
    latency_ms: float | None


class Decisions(BaseModel):
    decisions: list[Decision]


class FieldError(BaseModel):
    field: str = Field(description="the field, e.g. var_3 or applications[2].var_3")
    message: str


class Problem(BaseModel):
    """Every 4xx / 5xx body: what went wrong and, for bad input, each bad field."""

    detail: str
    errors: list[FieldError] = Field(default_factory=list)


class Health(BaseModel):
    status: str
    models: dict[str, str | None] = Field(default_factory=dict)
    problems: dict[str, str] = Field(default_factory=dict)
