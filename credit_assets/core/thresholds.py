"""The review band: which scores are decided automatically and which go to a reviewer.

Scores are *risk*: the model's probability of a bad outcome. Applications with risk below
``approve_below`` are approved, above ``reject_above`` rejected, and the band in between goes to
human review. The band is chosen on validation rows to automate as many applications as
possible while each automatic decision (approve, reject) is right at least ``target_accuracy``
of the time, as in the seed's error analysis.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

APPROVE, REJECT, REVIEW, RULE_REJECT = "approve", "reject", "review", "rule_reject"
DECISIONS = (RULE_REJECT, APPROVE, REJECT, REVIEW)


@dataclass(frozen=True)
class Thresholds:
    approve_below: float
    reject_above: float
    target_accuracy: float
    validation_coverage: float
    validation_accuracy: float

    @property
    def version(self) -> str:
        payload = json.dumps([self.approve_below, self.reject_above, self.target_accuracy])
        return "thr-" + hashlib.sha256(payload.encode()).hexdigest()[:10]

    def decide(self, risk: np.ndarray) -> np.ndarray:
        return np.where(risk < self.approve_below, APPROVE,
                        np.where(risk > self.reject_above, REJECT, REVIEW))

    def to_dict(self) -> dict[str, float | str]:
        return {**asdict(self), "version": self.version}


def _largest_prefix(correct_sorted: np.ndarray, target: float) -> int:
    """Largest k such that the first k rows are at least ``target`` correct."""
    if len(correct_sorted) == 0:
        return 0
    accuracy = np.cumsum(correct_sorted) / np.arange(1, len(correct_sorted) + 1)
    ok = np.flatnonzero(accuracy >= target)
    return int(ok[-1]) + 1 if len(ok) else 0


def _approve_cut(sorted_risk: np.ndarray, k: int) -> float:
    """Threshold that approves the k lowest-risk rows (``risk < cut``); ties stay out."""
    if k == 0:
        return 0.0
    if k == len(sorted_risk):
        return float(np.nextafter(sorted_risk[-1], np.inf))
    return float((sorted_risk[k - 1] + sorted_risk[k]) / 2)


def _reject_cut(sorted_risk: np.ndarray, m: int) -> float:
    """Threshold that rejects the m highest-risk rows (``risk > cut``); ties stay out."""
    n = len(sorted_risk)
    if m == 0:
        return 1.0
    if m == n:
        return float(np.nextafter(sorted_risk[0], -np.inf))
    return float((sorted_risk[n - m - 1] + sorted_risk[n - m]) / 2)


def choose_thresholds(risk: np.ndarray, bad: np.ndarray, target_accuracy: float = 0.90
                      ) -> Thresholds:
    """Widest automation with each automatic decision at least ``target_accuracy`` correct."""
    if not 0.5 < target_accuracy < 1.0:
        raise ValueError(f"target accuracy must lie in (0.5, 1), got {target_accuracy}")
    order = np.argsort(risk, kind="stable")
    sorted_risk, sorted_bad = np.asarray(risk)[order], np.asarray(bad, dtype=bool)[order]
    n_approve = _largest_prefix(~sorted_bad, target_accuracy)
    n_reject = _largest_prefix(sorted_bad[::-1], target_accuracy)
    n_reject = min(n_reject, len(risk) - n_approve)
    approve_below = _approve_cut(sorted_risk, n_approve)
    reject_above = max(_reject_cut(sorted_risk, n_reject), approve_below)
    auto = n_approve + n_reject
    correct = (~sorted_bad[:n_approve]).sum() + sorted_bad[len(risk) - n_reject:].sum()
    return Thresholds(
        approve_below=approve_below,
        reject_above=reject_above,
        target_accuracy=target_accuracy,
        validation_coverage=auto / len(risk) if len(risk) else 0.0,
        validation_accuracy=float(correct / auto) if auto else float("nan"),
    )


def coverage_accuracy_curve(risk: np.ndarray, bad: np.ndarray,
                            targets: np.ndarray | None = None) -> pd.DataFrame:
    """Automation rate reached for each target accuracy (the trade-off a reviewer sees)."""
    targets = np.round(np.arange(0.80, 0.995, 0.01), 2) if targets is None else targets
    rows = []
    for t in targets:
        th = choose_thresholds(risk, bad, float(t))
        rows.append({"target_accuracy": float(t), "coverage": th.validation_coverage,
                     "accuracy": th.validation_accuracy})
    return pd.DataFrame(rows)
