"""The fitted decision pipeline: rules -> features -> model -> review band, as one object.

This is what the registry stores and what every scorer loads (batch decisions, the offline
``score`` command and, later, the real-time API), so all of them decide the same way.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from credit_assets.core.contract import DatasetContract
from credit_assets.core.reasons import TOP_REASONS, empty_reasons, explain, reason_columns
from credit_assets.core.rules import RULE_ID, RULE_REASON, apply_rules
from credit_assets.core.thresholds import RULE_REJECT, Thresholds
from credit_assets.core.training import TrainedModel

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
    model: TrainedModel
    thresholds: Thresholds
    feature_columns: list[str]
    trained_at: str = field(default_factory=lambda: dt.datetime.now(dt.UTC).isoformat())
    # Training medians of the built features: reason texts say "high" / "low" against them.
    feature_medians: dict[str, float] | None = None
    top_reasons: int = TOP_REASONS

    def risk(self, frame: pd.DataFrame) -> np.ndarray:
        """Probability of a bad outcome, whatever the contract's positive class means."""
        p_positive = self.model.predict_positive(frame[self.feature_columns])
        return p_positive if self.contract.target.positive_means == "default" else 1 - p_positive

    def decide(self, frame: pd.DataFrame, model_version: str) -> pd.DataFrame:
        """One decision per input row, in input order; none is dropped.

        Rule rejects are not scored (score is NaN); every other row gets a risk score and
        ``approve``, ``reject`` or ``review``. Protected attributes ride along for fairness
        monitoring but never reach the model. Every decision carries its top reasons
        (``reason_i``, ``reason_text_i``, ``contribution_i``, see :mod:`.reasons`); a rule
        reject's only reason is its rule.
        """
        contract = self.contract
        ruled = apply_rules(frame, contract)
        passed = ruled[RULE_ID].isna().to_numpy()
        score = np.full(len(frame), np.nan)
        decision = np.full(len(frame), RULE_REJECT, dtype=object)
        if passed.any():
            score[passed] = self.risk(frame.loc[passed])
            decision[passed] = self.thresholds.decide(score[passed])
        keep = [contract.id_column, *contract.resolve_protected(list(frame.columns))]
        out = frame[keep].reset_index(drop=True).copy()
        out["decision"] = decision
        out["score"] = score
        out[RULE_ID] = ruled[RULE_ID].to_numpy()
        out[RULE_REASON] = ruled[RULE_REASON].to_numpy()
        out["model_version"] = str(model_version)
        out["thresholds_version"] = self.thresholds.version
        out["rules_version"] = contract.rules_version
        reasons = empty_reasons(len(frame), self.top_reasons)
        if passed.any():
            explained = explain(
                self.model,
                contract,
                frame.loc[passed],
                decision[passed],
                self.feature_medians,
                self.top_reasons,
            )
            for column in reasons.columns:
                reasons.loc[passed, column] = explained[column].to_numpy()
        rejected = ~passed
        reasons.loc[rejected, "reason_1"] = out.loc[rejected, RULE_ID].to_numpy()
        reasons.loc[rejected, "reason_text_1"] = out.loc[rejected, RULE_REASON].to_numpy()
        return pd.concat([out, reasons], axis=1)
