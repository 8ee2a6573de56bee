"""Small PNG charts for materialization metadata and model reports."""

from __future__ import annotations

import base64
import io

import matplotlib

matplotlib.use("Agg")  # no display on servers and workers
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from sklearn.metrics import roc_curve


def _png(fig: plt.Figure) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=80, bbox_inches="tight")
    plt.close(fig)
    return buffer.getvalue()


def roc_png(y: np.ndarray, score: np.ndarray, auc: float) -> bytes:
    fpr, tpr, _ = roc_curve(y, score)
    fig, ax = plt.subplots(figsize=(4, 4))
    ax.plot(fpr, tpr, label=f"model (AUC {auc:.3f})")
    ax.plot([0, 1], [0, 1], linestyle="--", color="grey", label="chance")
    ax.set_xlabel("false positive rate")
    ax.set_ylabel("true positive rate")
    ax.set_title("ROC, holdout")
    ax.legend(loc="lower right")
    return _png(fig)


def coverage_png(curve: pd.DataFrame, chosen_target: float) -> bytes:
    fig, ax = plt.subplots(figsize=(5, 3.5))
    ax.plot(curve["target_accuracy"], curve["coverage"], marker="o", markersize=3)
    ax.axvline(chosen_target, linestyle="--", color="grey", label=f"target {chosen_target:.2f}")
    ax.set_xlabel("required accuracy of automatic decisions")
    ax.set_ylabel("automation rate (coverage)")
    ax.set_title("Coverage vs accuracy, validation")
    ax.legend()
    return _png(fig)


def markdown_image(png: bytes, alt: str) -> str:
    return f"![{alt}](data:image/png;base64,{base64.b64encode(png).decode()})"
