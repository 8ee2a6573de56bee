"""The promotion decision: does the newly registered challenger replace the champion?

Both models are scored on the current holdout (the champion is re-scored, since the holdout
moves as outcomes arrive) and every gate of ``gates.py`` is evaluated. The decision, its
reason in words and what the record of it holds are worked out here; the ``champion_model``
asset only loads the models, runs this and moves the alias.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from credit_assets.core.fairness import FairnessReport, assess_holdout
from credit_assets.core.gates import (
    Evaluation,
    GateConfig,
    GateResult,
    all_passed,
    evaluate_gates,
    evaluate_model,
    failures,
)

if TYPE_CHECKING:
    from credit_assets.core.pipeline import DecisionPipeline


@dataclass(frozen=True)
class Promotion:
    challenger_version: str
    previous: str | None  # the champion before the decision
    challenger: Evaluation
    challenger_risk: np.ndarray
    champion: Evaluation | None
    champion_risk: np.ndarray | None
    results: list[GateResult]
    fairness: FairnessReport  # the challenger's, on the holdout (what the fairness gates read)

    @property
    def passed(self) -> bool:
        return all_passed(self.results)

    @property
    def failed(self) -> list[str]:
        return failures(self.results)

    @property
    def already(self) -> bool:
        """The challenger is the champion already (e.g. the same version re-gated)."""
        return self.previous == self.challenger_version

    @property
    def promote(self) -> bool:
        return self.passed and not self.already

    @property
    def reason(self) -> str:
        """Why the alias moves or stays, in words (recorded with the alias change)."""
        if self.promote:
            against = f" against champion v{self.previous}" if self.previous else " (first model)"
            return (
                f"passed every promotion gate{against}: holdout AUC {self.challenger.auc:.4f}, "
                f"automation {self.challenger.automation_rate:.1%}"
            )
        if self.already:
            return f"version {self.challenger_version} is already the champion"
        return "; ".join(self.failed)

    def gates_json(self) -> str:
        """The gate results as the registry's version tag stores them."""
        keys = ("gate", "passed", "applied", "value", "bound", "direction")
        return json.dumps([{k: r.to_dict()[k] for k in keys} for r in self.results])

    def record(self, champion: str | None, report_path: str, by: str) -> dict[str, Any]:
        """What ``champion_model`` stores: the decision, the figures and who made it."""
        return {
            "promoted": self.promote,
            "challenger_version": self.challenger_version,
            "champion_version": champion,
            "previous_champion": self.previous,
            "failed": self.failed,
            "gates": [r.to_dict() for r in self.results],
            "challenger": self.challenger.to_dict(),
            "champion": self.champion.to_dict() if self.champion else None,
            "report_path": report_path,
            "by": by,
            "reason": self.reason,
        }


def decide_promotion(
    challenger: DecisionPipeline,
    challenger_version: str,
    champion: DecisionPipeline | None,
    previous: str | None,
    holdout: pd.DataFrame,
    bad: np.ndarray,
    config: GateConfig,
) -> Promotion:
    """Gate ``challenger`` against ``champion`` (version ``previous``; None: no champion yet)
    on the same labelled holdout rows (``bad``: the bad-outcome flags)."""
    challenger_risk = challenger.risk(holdout)
    fairness = assess_holdout(
        holdout, challenger_risk, bad, challenger.thresholds, challenger.contract
    )
    # each model is judged with its own review band, as it would decide
    challenger_eval = evaluate_model(challenger_risk, bad, challenger.thresholds, fairness)
    champion_eval, champion_risk = None, None
    extra: list[GateResult] = []
    if champion is not None and previous != challenger_version:
        try:
            champion_risk = champion.risk(holdout)
            champion_eval = evaluate_model(champion_risk, bad, champion.thresholds)
        except (KeyError, ValueError) as exc:  # e.g. the contract changed its columns
            why = f"champion v{previous} cannot score the current holdout: {exc}"
            extra.append(GateResult("comparable", False, None, None, ">=", why))
    results = [*evaluate_gates(challenger_eval, champion_eval, config), *extra]
    return Promotion(
        challenger_version=challenger_version,
        previous=previous,
        challenger=challenger_eval,
        challenger_risk=challenger_risk,
        champion=champion_eval,
        champion_risk=champion_risk,
        results=results,
        fairness=fairness,
    )
