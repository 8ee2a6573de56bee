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


# -- model report -------------------------------------------------------------------------
# Each takes risk scores (P(bad outcome)) and bad-outcome flags; ``models`` maps a label
# (e.g. "challenger v2", "champion v1") to its risk scores on the same rows.


def roc_compare_png(bad: np.ndarray, models: dict[str, np.ndarray]) -> bytes:
    from sklearn.metrics import roc_auc_score

    fig, ax = plt.subplots(figsize=(4.5, 4.5))
    for label, risk in models.items():
        fpr, tpr, _ = roc_curve(bad, risk)
        ax.plot(fpr, tpr, label=f"{label} (AUC {roc_auc_score(bad, risk):.3f})")
    ax.plot([0, 1], [0, 1], linestyle="--", color="grey", label="chance")
    ax.set_xlabel("false positive rate")
    ax.set_ylabel("true positive rate (bad outcomes caught)")
    ax.set_title("ROC, holdout")
    ax.legend(loc="lower right", fontsize=8)
    return _png(fig)


def precision_recall_png(bad: np.ndarray, models: dict[str, np.ndarray]) -> bytes:
    from sklearn.metrics import average_precision_score, precision_recall_curve

    fig, ax = plt.subplots(figsize=(4.5, 4.5))
    for label, risk in models.items():
        precision, recall, _ = precision_recall_curve(bad, risk)
        ap = average_precision_score(bad, risk)
        ax.plot(recall, precision, label=f"{label} (AP {ap:.3f})")
    ax.axhline(float(np.mean(bad)), linestyle="--", color="grey", label="base rate")
    ax.set_xlabel("recall (share of bad outcomes caught)")
    ax.set_ylabel("precision")
    ax.set_title("Precision-recall, holdout")
    ax.legend(loc="upper right", fontsize=8)
    return _png(fig)


def calibration_png(bad: np.ndarray, models: dict[str, np.ndarray], bins: int = 10) -> bytes:
    from credit_assets.core.metrics import calibration_bins, expected_calibration_error

    fig, ax = plt.subplots(figsize=(4.5, 4.5))
    top = 0.0
    for label, risk in models.items():
        predicted, observed, _ = calibration_bins(bad, risk, bins)
        ece = expected_calibration_error(bad, risk, bins)
        ax.plot(predicted, observed, marker="o", markersize=3, label=f"{label} (ECE {ece:.3f})")
        top = max(top, float(np.max(predicted)), float(np.max(observed)))
    top = min(1.0, top * 1.05 + 1e-3)
    ax.plot([0, top], [0, top], linestyle="--", color="grey", label="perfect")
    ax.set_xlabel("predicted risk (bin mean)")
    ax.set_ylabel("observed bad rate")
    ax.set_title("Calibration, holdout")
    ax.legend(loc="upper left", fontsize=8)
    return _png(fig)


def score_distribution_png(
    bad: np.ndarray, risk: np.ndarray, approve_below: float, reject_above: float
) -> bytes:
    fig, ax = plt.subplots(figsize=(6, 3.5))
    bins = np.linspace(0, max(float(np.max(risk)), reject_above) * 1.02 + 1e-9, 60)
    ax.hist(
        risk[~bad], bins=bins, alpha=0.6, density=True, histtype="stepfilled", label="good outcome"
    )
    ax.hist(
        risk[bad], bins=bins, alpha=0.6, density=True, histtype="stepfilled", label="bad outcome"
    )
    ax.axvspan(approve_below, reject_above, color="orange", alpha=0.15, label="review band")
    ax.axvline(approve_below, color="green", linestyle="--", linewidth=1)
    ax.axvline(reject_above, color="red", linestyle="--", linewidth=1)
    ax.set_xlabel("risk score")
    ax.set_ylabel("density")
    ax.set_title("Score distribution by class, holdout")
    ax.legend(fontsize=8)
    return _png(fig)


def coverage_compare_png(
    curves: dict[str, pd.DataFrame],
    chosen_target: float | None,
    chosen: tuple[float, float] | None,
) -> bytes:
    """Automation rate per target accuracy for each model; ``chosen`` marks the review band
    in use (its automation rate and accuracy); ``chosen_target`` is None for a band chosen by
    cost."""
    fig, ax = plt.subplots(figsize=(5.5, 3.8))
    for label, curve in curves.items():
        ax.plot(curve["target_accuracy"], curve["coverage"], marker="o", markersize=2, label=label)
    if chosen_target is not None:
        ax.axvline(chosen_target, linestyle="--", color="grey", label=f"target {chosen_target:.2f}")
    if chosen is not None:
        coverage, accuracy = chosen
        ax.scatter([accuracy], [coverage], color="black", zorder=5, label="chosen review band")
    ax.set_xlabel("required accuracy of automatic decisions")
    ax.set_ylabel("automation rate (coverage)")
    ax.set_title("Coverage vs accuracy, holdout")
    ax.legend(fontsize=8)
    return _png(fig)


def cost_curve_png(curve: pd.DataFrame, chosen: tuple[float, float]) -> bytes:
    """Lowest expected cost per scored application at each automation rate (from
    ``thresholds.cost_curve``); ``chosen`` is the band in use: its automation rate and cost."""
    fig, ax = plt.subplots(figsize=(5.5, 3.8))
    ax.plot(curve["coverage"], curve["cost"], label="lowest cost at this automation rate")
    ax.scatter([chosen[0]], [chosen[1]], color="black", zorder=5, label="chosen review band")
    ax.set_xlabel("automation rate (share of scored applications)")
    ax.set_ylabel("expected cost per scored application")
    ax.set_title("Cost vs automation, holdout")
    ax.legend(fontsize=8)
    return _png(fig)


def importance_png(importance: pd.Series, top: int = 20) -> bytes:
    shown = importance.sort_values(ascending=False).head(top)[::-1]
    fig, ax = plt.subplots(figsize=(5.5, 0.25 * len(shown) + 1))
    ax.barh(list(shown.index), shown.to_numpy())
    ax.set_xlabel("total gain")
    ax.set_title(f"Feature importance (top {len(shown)})")
    ax.tick_params(axis="y", labelsize=8)
    return _png(fig)


def group_rates_png(groups: pd.DataFrame, title: str) -> bytes:
    """Approval rate per protected group with its confidence interval, one panel per
    attribute; ``groups`` is a fairness group table (:mod:`.fairness`) for one stage. Groups
    too small to compare are grey; the dotted line is four fifths of the highest rate."""
    attributes = list(dict.fromkeys(groups["attribute"]))
    heights = [len(groups[groups["attribute"] == a]) for a in attributes]
    fig, axes = plt.subplots(
        len(attributes),
        1,
        figsize=(5.5, 0.3 * sum(heights) + 0.6 * len(attributes) + 0.6),
        gridspec_kw={"height_ratios": heights},
        sharex=True,
        squeeze=False,
        layout="constrained",
    )
    for ax, attribute in zip(axes[:, 0], attributes, strict=True):
        rows = groups[groups["attribute"] == attribute]
        rate = rows["approval_rate"].to_numpy()
        errors = [rate - rows["approval_rate_low"], rows["approval_rate_high"] - rate]
        colors = np.where(rows["small"], "lightgrey", "tab:blue")
        ax.barh(rows["group"].astype(str), rate, xerr=errors, color=colors, capsize=3)
        compared = rows.loc[~rows["small"], "approval_rate"]
        if len(compared):
            ax.axvline(0.8 * compared.max(), color="black", linestyle=":", linewidth=1)
        ax.set_xlim(0, 1)
        ax.invert_yaxis()  # groups top to bottom in the table's order
        ax.set_title(attribute, fontsize=9, loc="left")
        ax.tick_params(axis="y", labelsize=8)
    axes[-1, 0].set_xlabel("approval rate (confidence interval); dotted: 4/5 of the highest")
    fig.suptitle(title, fontsize=10)
    return _png(fig)


def png_base64(png: bytes) -> str:
    return base64.b64encode(png).decode()


def drift_png(features: pd.DataFrame, top: int = 15) -> bytes:
    """PSI of the most drifted features (a data-drift report's ``top(n)``), with the 0.1 and
    0.25 bands; features the test flags are drawn in red."""
    shown = features.head(top)[::-1]
    fig, ax = plt.subplots(figsize=(5.5, 0.28 * len(shown) + 1.2))
    colors = np.where(shown["drifted"], "tab:red", "tab:grey")
    ax.barh(shown["feature"].tolist(), shown["psi"].to_numpy(), color=colors)
    for bound, style in ((0.1, ":"), (0.25, "--")):
        ax.axvline(bound, color="black", linestyle=style, linewidth=1, label=f"PSI {bound}")
    ax.set_xlabel("population stability index (red: drifted, q < alpha)")
    ax.set_title(f"Most drifted features (top {len(shown)})")
    ax.tick_params(axis="y", labelsize=8)
    ax.legend(fontsize=8, loc="lower right")
    return _png(fig)


def replay_png(days: list[dict]) -> bytes:
    """A replay's timeline (``cli/simulate.py``): the share of drifted features, the realised
    AUC and the automation rate per day, with a line at each retraining (green: promoted,
    red: refused by the gates)."""
    frame = pd.DataFrame(days)
    x = pd.to_datetime(frame["day"])
    fig, axes = plt.subplots(3, 1, figsize=(8, 6.5), sharex=True)
    panels = (
        ("drifted_share", "features drifted", "tab:orange"),
        ("realised_auc", "realised AUC", "tab:blue"),
        ("automation_rate", "automated", "tab:green"),
    )
    for ax, (column, label, color) in zip(axes, panels, strict=True):
        values = frame[column].astype(float)
        ax.plot(x, values, marker=".", color=color)
        ax.set_ylabel(label, fontsize=8)
        for day, promoted in frame.loc[frame["retraining"].notna(), ["day", "promoted"]].values:
            ax.axvline(pd.Timestamp(day), color="tab:green" if promoted else "tab:red", ls="--")
    axes[0].set_title("Replay: drift, retraining (dashed: green promoted, red refused)")
    fig.autofmt_xdate()
    return _png(fig)
