"""Model quality figures: discrimination (AUC, KS) and calibration (Brier, ECE)."""

from __future__ import annotations

import numpy as np


def ks_statistic(y: np.ndarray, score: np.ndarray) -> float:
    """Kolmogorov-Smirnov: the largest gap between the classes' score distributions."""
    from sklearn.metrics import roc_curve  # scikit-learn only when a figure is computed

    fpr, tpr, _ = roc_curve(y, score)
    return float(np.max(tpr - fpr))


def calibration_bins(
    y: np.ndarray, score: np.ndarray, bins: int = 10
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean predicted probability, observed rate and row count in equal-count score bins."""
    y = np.asarray(y, dtype=float)
    score = np.asarray(score, dtype=float)
    order = np.argsort(score, kind="stable")
    groups = [g for g in np.array_split(order, min(bins, len(score))) if len(g)]
    predicted = np.array([score[g].mean() for g in groups])
    observed = np.array([y[g].mean() for g in groups])
    counts = np.array([len(g) for g in groups])
    return predicted, observed, counts


def expected_calibration_error(y: np.ndarray, score: np.ndarray, bins: int = 10) -> float:
    """Row-weighted mean gap between predicted probability and observed rate, over
    equal-count score bins (0 is perfectly calibrated)."""
    if len(score) == 0:
        return float("nan")
    predicted, observed, counts = calibration_bins(y, score, bins)
    return float(np.sum(counts * np.abs(predicted - observed)) / counts.sum())


def ece_noise_floor(score: np.ndarray, bins: int = 10, draws: int = 20, seed: int = 0) -> float:
    """The ECE a *perfectly calibrated* model with these scores shows on this many rows, on
    average: sampling noise alone. On a few hundred rows it is a few points; on 100,000 rows
    it is negligible. Gates add it to their bound so small holdouts do not fail by chance."""
    score = np.clip(np.asarray(score, dtype=float), 0.0, 1.0)
    if len(score) == 0:
        return 0.0
    rng = np.random.default_rng(seed)
    return float(
        np.mean(
            [
                expected_calibration_error(rng.random(len(score)) < score, score, bins)
                for _ in range(draws)
            ]
        )
    )


def no_skill_brier(y: np.ndarray) -> float:
    """Brier score of always predicting the base rate: a useful model must do better."""
    rate = float(np.mean(y))
    return rate * (1 - rate)


def quality(y: np.ndarray, score: np.ndarray) -> dict[str, float]:
    from sklearn.metrics import brier_score_loss, roc_auc_score

    return {
        "auc": float(roc_auc_score(y, score)),
        "ks": ks_statistic(y, score),
        "brier": float(brier_score_loss(y, score)),
        "ece": expected_calibration_error(y, score),
        "positive_rate": float(np.mean(y)),
        "rows": float(len(y)),
    }
