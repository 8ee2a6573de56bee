"""Model quality figures: discrimination (AUC, KS) and calibration (Brier)."""

from __future__ import annotations

import numpy as np
from sklearn.metrics import brier_score_loss, roc_auc_score, roc_curve


def ks_statistic(y: np.ndarray, score: np.ndarray) -> float:
    """Kolmogorov-Smirnov: the largest gap between the classes' score distributions."""
    fpr, tpr, _ = roc_curve(y, score)
    return float(np.max(tpr - fpr))


def quality(y: np.ndarray, score: np.ndarray) -> dict[str, float]:
    return {
        "auc": float(roc_auc_score(y, score)),
        "ks": ks_statistic(y, score),
        "brier": float(brier_score_loss(y, score)),
        "positive_rate": float(np.mean(y)),
        "rows": float(len(y)),
    }
