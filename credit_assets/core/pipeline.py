"""The fitted decision pipeline: rules -> features -> model -> review band, as one object.

This is what the registry stores and what every scorer loads (batch decisions, the offline
``score`` command and, later, the real-time API), so all of them decide the same way.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from pandas.api.extensions import ExtensionArray

from credit_assets.core.compiled import row_sums
from credit_assets.core.contract import DatasetContract
from credit_assets.core.lean import CompiledModel, DecisionModel
from credit_assets.core.reasons import TOP_REASONS, Columns, reason_arrays, reason_columns
from credit_assets.core.rules import RULE_ID, RULE_REASON, first_broken_rules
from credit_assets.core.thresholds import RULE_REJECT, Thresholds
from credit_assets.core.training import positive_probability

ArrayLike = np.ndarray | ExtensionArray

DECISION_COLUMNS = [
    "decision",
    "score",
    RULE_ID,
    RULE_REASON,
    "model_version",
    "thresholds_version",
    "rules_version",
    *reason_columns(TOP_REASONS),
]


@dataclass
class DecisionPipeline:
    contract: DatasetContract
    model: DecisionModel
    thresholds: Thresholds
    feature_columns: list[str]
    trained_at: str = field(default_factory=lambda: dt.datetime.now(dt.UTC).isoformat())
    # Training medians of the built features: reason texts say "high" / "low" against them.
    feature_medians: dict[str, float] | None = None
    top_reasons: int = TOP_REASONS

    def compiled_only(self) -> DecisionPipeline | None:
        """This pipeline with the model reduced to its compiled tables and its transforms'
        parameters (:mod:`.lean`): the same decisions without scikit-learn or LightGBM.
        None when the model is not compiled (it decides through LightGBM)."""
        model = self.model
        if isinstance(model, CompiledModel):
            return self
        if model.compiled is None:
            return None
        lean = CompiledModel(model.builder.fitted(), model.compiled, model.candidate)
        return dataclasses.replace(self, model=lean)

    def risk(self, frame: pd.DataFrame) -> np.ndarray:
        """Probability of a bad outcome, whatever the contract's positive class means."""
        p_positive = self.model.predict_positive(frame[self.feature_columns])
        return p_positive if self.contract.target.positive_means == "default" else 1 - p_positive

    def decide(self, frame: pd.DataFrame, model_version: str) -> pd.DataFrame:
        """One decision per input row, in input order; none is dropped (see
        :meth:`decision_columns`)."""
        return pd.DataFrame(self.decision_columns(frame, model_version))

    def decision_columns(self, frame: pd.DataFrame, model_version: str) -> dict[str, ArrayLike]:
        """:meth:`decide`'s columns, before they are made a frame: the real-time API records
        them as they are (for one application the frame would cost a third of the decision).

        Rule rejects are not scored (score is NaN); every other row gets a risk score and
        ``approve``, ``reject`` or ``review``. Protected attributes ride along for fairness
        monitoring but never reach the model. Every decision carries its top reasons
        (``reason_i``, ``reason_text_i``, ``contribution_i``, see :mod:`.reasons`); a rule
        reject's only reason is its rule.

        The score and the reasons come from one set of per-feature contributions (table
        look-ups for an additive model), and the output is built once, column by column.
        """
        rule_id, rule_reason = first_broken_rules(frame, self.contract)
        # Every row goes through the model in one pass (cheaper than taking the rule rejects
        # out of the frame); a rule reject's score and model reasons are then left out.
        built = self.model.build(frame)
        keep = [self.contract.id_column, *self.contract.resolve_protected(list(frame.columns))]
        kept = {c: frame[c].array for c in keep}  # as they are: no conversion
        return self.columns_of(frame, kept, rule_id, rule_reason, built, model_version)

    def columns_of(
        self,
        values: Columns,
        kept: dict[str, ArrayLike],
        rule_id: np.ndarray,
        rule_reason: np.ndarray,
        built: np.ndarray,
        model_version: str,
    ) -> dict[str, ArrayLike]:
        """The decision columns from the rows' broken rules and built features: what the
        batch and the one-application path (:mod:`.onerow`) share. ``values`` are the
        applicants' own values (reasons quote them), ``kept`` the columns carried as they
        are (id, protected attributes)."""
        contract, n = self.contract, len(built)
        passed = np.equal(rule_id, None)
        contrib = self.model.raw_contributions(built)
        p_positive = positive_probability(row_sums(contrib))
        risk = p_positive if contract.target.positive_means == "default" else 1 - p_positive
        score = np.where(passed, risk, np.nan)
        decision = np.where(passed, self.thresholds.decide(risk), RULE_REJECT).astype(object)
        reasons = reason_arrays(
            self.model,
            contract,
            values,
            built,
            contrib,
            decision,
            self.feature_medians,
            self.top_reasons,
        )
        reasons["reason_1"][~passed] = rule_id[~passed]
        reasons["reason_text_1"][~passed] = rule_reason[~passed]
        columns = {
            **kept,
            "decision": decision,
            "score": score,
            RULE_ID: rule_id,
            RULE_REASON: rule_reason,
            "model_version": np.full(n, str(model_version), dtype=object),
            "thresholds_version": np.full(n, self.thresholds.version, dtype=object),
            "rules_version": np.full(n, contract.rules_version, dtype=object),
        }
        return {**columns, **reasons}
