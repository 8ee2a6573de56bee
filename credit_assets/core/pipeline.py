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
]


@dataclass
class DecisionPipeline:
    contract: DatasetContract
    model: TrainedModel
    thresholds: Thresholds
    feature_columns: list[str]
    trained_at: str = field(default_factory=lambda: dt.datetime.now(dt.UTC).isoformat())

    def risk(self, frame: pd.DataFrame) -> np.ndarray:
        """Probability of a bad outcome, whatever the contract's positive class means."""
        p_positive = self.model.predict_positive(frame[self.feature_columns])
        return p_positive if self.contract.target.positive_means == "default" else 1 - p_positive

    def decide(self, frame: pd.DataFrame, model_version: str) -> pd.DataFrame:
        """One decision per input row, in input order; none is dropped.

        Rule rejects are not scored (score is NaN); every other row gets a risk score and
        ``approve``, ``reject`` or ``review``. Protected attributes ride along for fairness
        monitoring but never reach the model.
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
        return out
