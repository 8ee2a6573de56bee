"""Review-band benchmark: what the platform's figures say about a band, and whether they hold.

No model is trained: the synthetic generator knows the true P(bad | x), and those
Bayes-optimal scores stand in for a model's. On Santander-format rows it measures:

1. **Validation band vs holdout-chosen band.** The band is chosen on a validation sample and
   applied to holdout samples of the issue's size (3,000 rows). The old gate re-chose a band on
   the holdout itself; the figures in ``core/figures.py`` apply the validation band as it is.
   Reported: each one's automation rate and accuracy on the holdout, and how often the
   validation band is reported ``met`` / ``within noise`` / ``missed``.
2. **Interval coverage.** The band's true accuracy and automation rate are measured on one
   large sample; the share of small holdouts whose 95% interval contains them should be
   about 95%.
3. **Cost policy.** Expected cost per scored application on the holdout of the accuracy band
   and of the cost band (chosen on the same validation rows, same costs), and their
   automation.
4. **Time.** One ``choose_thresholds`` against one ``choose_thresholds_by_cost`` and one
   ``cost_curve`` on the validation rows (median of a few calls).

Usage::

    python bench/review_band.py [--validation 30000] [--holdout 3000] [--repeats 200] [--seed 0]

Figures go to the terminal and to ``bench/results/review_band.json``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from credit_assets.core.figures import band_on_holdout  # noqa: E402
from credit_assets.core.synthetic import SyntheticSpec, draw, make_shapes  # noqa: E402
from credit_assets.core.thresholds import (  # noqa: E402
    DEFAULT_COSTS,
    choose_thresholds,
    choose_thresholds_by_cost,
    cost_curve,
)

RESULTS = ROOT / "bench" / "results" / "review_band.json"
TARGET = 0.90
COSTS = DEFAULT_COSTS
CHUNK = 20_000  # rows drawn at a time: 200 features of 20,000 rows is 32 MB


def scores(rows: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Bayes-optimal risk and bad-outcome flags of ``rows`` Santander-format rows."""
    spec = SyntheticSpec(seed=0)  # the feature shapes of `credit-assets generate`
    shapes, rng = make_shapes(spec), np.random.default_rng(seed)
    risk, bad = [], []
    for start in range(0, rows, CHUNK):
        sample = draw(min(CHUNK, rows - start), shapes, spec, rng)
        risk.append(sample.p_true)
        bad.append(sample.y == 1)
    return np.concatenate(risk), np.concatenate(bad)


def _median_seconds(call, repeats: int = 5) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--validation", type=int, default=30_000)
    parser.add_argument("--holdout", type=int, default=3_000)
    parser.add_argument("--repeats", type=int, default=200)
    parser.add_argument("--reference", type=int, default=200_000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    val_risk, val_bad = scores(args.validation, args.seed)
    band = choose_thresholds(val_risk, val_bad, TARGET, costs=COSTS)
    by_cost = choose_thresholds_by_cost(val_risk, val_bad, *vars(COSTS).values())
    truth = band_on_holdout(band, *scores(args.reference, args.seed + 1))
    truth_cost = band_on_holdout(by_cost, *scores(args.reference, args.seed + 1))

    hold_risk, hold_bad = scores(args.holdout * args.repeats, args.seed + 2)
    status: Counter[str] = Counter()
    covered = Counter()
    rows = {"applied": [], "rechosen": [], "cost_band": []}
    for i in range(args.repeats):
        part = slice(i * args.holdout, (i + 1) * args.holdout)
        risk, bad = hold_risk[part], hold_bad[part]
        applied = band_on_holdout(band, risk, bad)
        rechosen = choose_thresholds(risk, bad, TARGET)
        cost_band = band_on_holdout(by_cost, risk, bad)
        status[applied.status] += 1
        for name, est, true in (
            ("accuracy", applied.accuracy, truth.accuracy.value),
            ("automation", applied.automation, truth.automation.value),
            ("cost", applied.cost, truth.cost.value),
        ):
            covered[name] += est.low <= true <= est.high
        rows["applied"].append((applied.automation.value, applied.accuracy.value))
        rows["rechosen"].append((rechosen.validation_coverage, rechosen.validation_accuracy))
        rows["cost_band"].append((applied.cost.value, cost_band.cost.value))

    def mean(name: str, i: int) -> float:
        return float(np.mean([r[i] for r in rows[name]]))

    def spread(name: str, i: int) -> float:
        return float(np.std([r[i] for r in rows[name]]))

    timing = {
        "choose_thresholds_s": _median_seconds(
            lambda: choose_thresholds(val_risk, val_bad, TARGET)
        ),
        "choose_thresholds_by_cost_s": _median_seconds(
            lambda: choose_thresholds_by_cost(val_risk, val_bad, *vars(COSTS).values())
        ),
        "cost_curve_s": _median_seconds(lambda: cost_curve(val_risk, val_bad, COSTS)),
    }
    result = {
        "args": vars(args),
        "target": TARGET,
        "costs": vars(COSTS),
        "validation_band": band.to_dict(),
        "true_band": truth.to_dict(),
        "applied_automation_mean_sd": [mean("applied", 0), spread("applied", 0)],
        "applied_accuracy_mean_sd": [mean("applied", 1), spread("applied", 1)],
        "rechosen_automation_mean_sd": [mean("rechosen", 0), spread("rechosen", 0)],
        "rechosen_accuracy_mean_sd": [mean("rechosen", 1), spread("rechosen", 1)],
        "status_shares": {k: v / args.repeats for k, v in status.items()},
        "interval_coverage": {k: v / args.repeats for k, v in covered.items()},
        "holdout_cost_accuracy_band": mean("cost_band", 0),
        "holdout_cost_cost_band": mean("cost_band", 1),
        "true_cost_accuracy_band": truth.cost.value,
        "true_cost_cost_band": truth_cost.cost.value,
        "cost_band_automation_true": truth_cost.automation.value,
        **timing,
        "cost_search_vs_accuracy_search": timing["choose_thresholds_by_cost_s"]
        / timing["choose_thresholds_s"],
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2, default=float))

    table = Table(title=f"review band, {args.repeats} holdouts of {args.holdout:,} rows")
    table.add_column("figure")
    table.add_column("value", justify="right")
    for label, value in (
        ("validation band: automation on validation", f"{band.validation_coverage:.1%}"),
        ("  on holdout (mean ± sd)", f"{mean('applied', 0):.1%} ± {spread('applied', 0):.1%}"),
        (
            "  accuracy on holdout (mean ± sd)",
            f"{mean('applied', 1):.4f} ± {spread('applied', 1):.4f}",
        ),
        (
            "  true automation / accuracy (large sample)",
            f"{truth.automation.value:.1%} / {truth.accuracy.value:.4f}",
        ),
        (
            "  met / within noise / missed",
            " / ".join(
                f"{status.get(s, 0) / args.repeats:.0%}" for s in ("met", "within noise", "missed")
            ),
        ),
        (
            "band re-chosen on each holdout: automation",
            f"{mean('rechosen', 0):.1%} ± {spread('rechosen', 0):.1%}",
        ),
        ("  its accuracy on that holdout", f"{mean('rechosen', 1):.4f}"),
        (
            "95% intervals containing the truth: accuracy / automation / cost",
            " / ".join(
                f"{covered[k] / args.repeats:.0%}" for k in ("accuracy", "automation", "cost")
            ),
        ),
        (
            "true cost per scored application: accuracy band / cost band",
            f"{truth.cost.value:.3f} / {truth_cost.cost.value:.3f}",
        ),
        ("cost band: true automation", f"{truth_cost.automation.value:.1%}"),
        (
            "search time: accuracy / cost / cost curve (ms)",
            " / ".join(f"{seconds * 1e3:.0f}" for seconds in timing.values()),
        ),
    ):
        table.add_row(label, value)
    Console().print(table)


if __name__ == "__main__":
    main()
