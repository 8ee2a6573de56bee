"""One application decided without pandas: the real-time path of a compiled champion.

A decision of one row through :meth:`~.pipeline.DecisionPipeline.decision_columns` is a
pandas operation per step (rules, features, reasons) on a one-row frame: most of a real-time
decision's time. :class:`OneRow` takes the application as the API validated it (field ->
value) and runs the same steps on plain values: the rules through
:func:`~.rules.first_broken_rule` (the batch's operators), the features through
:meth:`~.lean.FittedFeatures.transform_one` (float32 as the batch builds them), then the
batch's own code (:meth:`~.pipeline.DecisionPipeline.columns_of`) for the score from the
compiled tables, the band, the worded reasons and the versions. Its columns are the batch's
for the same application, to the last bit of the score (``tests/unit/test_onerow.py``).

Only a compiled champion (additive or linear) has this path; any other keeps the batch's.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from credit_assets.core.contract import DatasetContract
from credit_assets.core.lean import CompiledModel
from credit_assets.core.pipeline import ArrayLike, DecisionPipeline
from credit_assets.core.rules import first_broken_rule


@dataclass(frozen=True, eq=False)
class OneRow:
    """A compiled pipeline's one-application decision. ``numeric`` names the columns a
    day's file holds as numbers (the contract's numeric features and protected attributes):
    they are read as float, a missing one NaN, as the batch's float columns hold them."""

    pipeline: DecisionPipeline
    numeric: frozenset[str]

    @classmethod
    def of(cls, pipeline: DecisionPipeline, columns: list[str]) -> OneRow | None:
        """The one-row path of ``pipeline`` for applications with ``columns``; None when
        its model is not compiled."""
        lean = pipeline.compiled_only()
        return None if lean is None else cls(lean, numeric_columns(lean.contract, columns))

    def values(self, application: Mapping[str, Any]) -> dict[str, Any]:
        """The application's values as a day's file holds them: numbers as float, every
        missing value NaN."""
        numeric = self.numeric
        return {
            c: np.nan if v is None else float(v) if c in numeric else v
            for c, v in application.items()
        }

    def decision_columns(self, values: dict[str, Any], model_version: str) -> dict[str, ArrayLike]:
        """:meth:`~.pipeline.DecisionPipeline.decision_columns` of one application, each
        column an array of one; ``values`` as :meth:`values` gives them."""
        pipeline = self.pipeline
        contract = pipeline.contract
        rule_id, rule_reason = first_broken_rule(values, contract)
        model = pipeline.model
        assert isinstance(model, CompiledModel)  # compiled_only's
        built = model.builder.transform_one(values, self.numeric)
        keep = [contract.id_column, *contract.resolve_protected(list(values))]
        kept = {c: _one(values[c]) for c in keep}
        return pipeline.columns_of(
            _Row(values),
            kept,
            np.array([rule_id], dtype=object),
            np.array([rule_reason], dtype=object),
            built,
            model_version,
        )


def numeric_columns(contract: DatasetContract, columns: list[str]) -> frozenset[str]:
    """The columns of ``columns`` that the contract reads as numbers."""
    return frozenset(
        c for c in columns if (spec := contract.spec_for(c)) is not None and spec.type == "numeric"
    )


def _one(value: Any) -> np.ndarray:
    """One value as a column of one: float64 for a number, else object (as in a frame)."""
    return np.array([value], dtype=np.float64 if isinstance(value, float) else object)


class _Row(Mapping[str, np.ndarray]):
    """One application's values as one-row columns, made when read (reasons read four)."""

    def __init__(self, values: dict[str, Any]) -> None:
        self._values = values

    def __getitem__(self, column: str) -> np.ndarray:
        return _one(self._values[column])

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)
