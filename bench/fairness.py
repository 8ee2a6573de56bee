"""Fairness benchmark: what the fairness figures add to judging a model on its holdout.

``champion_model`` already computes a challenger's gate figures on the holdout
(``evaluate_model``: AUC, Brier, ECE with its noise floor, the widest review band). Fairness
adds, on the same rows:

* ``assess``: the funnel figures (``fairness.assess``) for gender, an age banded by the
  contract and their intersection, with outcome labels: MetricFrame rates per group, Wilson
  intervals, every disparity;
* ``proxies``: each feature's power to predict each protected attribute
  (``fairness.proxy_strengths``), the model report's proxy list;
* ``metricframe``: for comparison, the per-group rates ``assess`` counts with a pandas
  group-by (applications, approval rate, TPR, FPR per stage and attribute) computed with
  fairlearn's ``MetricFrame`` instead;

reported as seconds and as ratios to ``evaluate_model`` from the same run, the best of
``--repeat`` runs (the first call of ``assess``, which imports scipy.stats and scikit-learn,
is reported apart). The scores are the generator's true probabilities: no model is trained.

    python bench/fairness.py [--rows 50000] [--features 200] [--bias 0.2] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from credit_assets.core.contract import DatasetContract, load_contract  # noqa: E402
from credit_assets.core.fairness import (  # noqa: E402
    BAD,
    assess,
    funnel_stages,
    holdout_decisions,
    protected_groups,
    proxy_strengths,
)
from credit_assets.core.gates import evaluate_model  # noqa: E402
from credit_assets.core.synthetic import SyntheticSpec, draw, make_shapes  # noqa: E402
from credit_assets.core.thresholds import choose_thresholds  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "fairness.json"


def aged_contract() -> DatasetContract:
    """The packaged contract with a second protected attribute, an age in four bands."""
    raw = load_contract().model_dump(mode="json")
    raw["protected"].append({"name": "age", "bands": [30, 45, 60]})
    return DatasetContract.model_validate(raw)


def holdout(rows: int, features: int, bias: float) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    spec = SyntheticSpec(n_features=features, bias=bias)
    rng = np.random.default_rng(0)
    sample = draw(rows, make_shapes(spec), spec, rng)
    frame = pd.DataFrame(sample.x.round(4), columns=[f"var_{j}" for j in range(features)])
    frame["gender"] = sample.gender if bias else rng.choice(["F", "M"], rows)
    frame["age"] = rng.integers(18, 80, rows)
    return frame, sample.p_true, sample.y == 1


def metricframe_rates(decisions: pd.DataFrame, contract: DatasetContract) -> None:
    """The per-group rates of every stage and attribute, with fairlearn's MetricFrame."""
    from fairlearn.metrics import (
        MetricFrame,
        count,
        false_positive_rate,
        selection_rate,
        true_positive_rate,
    )

    good = ~decisions[BAD].to_numpy(dtype=bool)
    groups = protected_groups(decisions, contract)
    for reached, approved in funnel_stages(decisions).values():
        for labels in groups.values():
            MetricFrame(
                metrics={
                    "n": count,
                    "approval_rate": selection_rate,
                    "tpr": true_positive_rate,
                    "fpr": false_positive_rate,
                },
                y_true=good[reached].astype(int),
                y_pred=approved[reached].astype(int),
                sensitive_features=labels[reached].to_numpy(),
            )


def best_seconds(work, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        work()
        times.append(time.perf_counter() - started)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=50_000, help="holdout rows")
    parser.add_argument("--features", type=int, default=200)
    parser.add_argument("--bias", type=float, default=0.2, help="injected bias (0: none)")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    contract = aged_contract()
    frame, risk, bad = holdout(args.rows, args.features, args.bias)
    thresholds = choose_thresholds(risk, bad, 0.90, "balanced")
    decisions = holdout_decisions(frame, risk, bad, thresholds, contract)
    load_before = os.getloadavg()
    started = time.perf_counter()
    report = assess(decisions, contract)  # the first call imports scipy.stats and scikit-learn
    first_call = time.perf_counter() - started
    seconds = {
        "evaluate_model": best_seconds(lambda: evaluate_model(risk, bad, 0.90), args.repeat),
        "assess": best_seconds(lambda: assess(decisions, contract), args.repeat),
        "proxies": best_seconds(lambda: proxy_strengths(frame, contract), args.repeat),
        "metricframe": best_seconds(lambda: metricframe_rates(decisions, contract), args.repeat),
    }
    proxies = proxy_strengths(frame, contract)
    result = {
        "rows": args.rows,
        "features": args.features,
        "bias": args.bias,
        "load_average_before_after": [load_before, os.getloadavg()],
        "first_assess_with_imports_seconds": round(first_call, 3),
        "seconds": {k: round(v, 3) for k, v in seconds.items()},
        "ratio_to_evaluate_model": {
            k: round(v / seconds["evaluate_model"], 2) for k, v in seconds.items()
        },
        "metricframe_over_assess": round(seconds["metricframe"] / seconds["assess"], 1),
        "disparities": len(report.disparities),
        "top_proxy": proxies.iloc[0].to_dict(),
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2, default=str))
    print(f"{args.rows} holdout rows x {args.features} features, bias {args.bias}")
    for name, value in seconds.items():
        ratio = result["ratio_to_evaluate_model"][name]
        print(f"  {name:<15}{value:>7.2f} s  {ratio:>5.2f}x evaluate_model")
    print(f"  first assess (imports scipy.stats, scikit-learn) {first_call:.2f} s")
    print(f"  MetricFrame / assess: {result['metricframe_over_assess']}x")
    top = result["top_proxy"]
    print(f"  strongest proxy: {top['feature']} for {top['attribute']} (AUC {top['auc']:.3f})")
    print(f"  -> {RESULTS}")


if __name__ == "__main__":
    main()
