"""Drift benchmark: how often the batch-level drift decision fires, with and without drift.

Daily batches of generated Santander-format applications are compared with a reference of
training rows (``credit_assets.core.drift``). Scenarios, each over ``--batches`` batches:

* ``none``: no drift (every alarm is a false alarm);
* ``shift``: the mean of 5% of the features moves by 0.2 sigma;
* ``variance``: the spread of 5% of the features grows by 20% (variance x1.44);
* ``concept``: what 5% of the features say about the outcome flips while the features keep
  their distribution; judged once the outcomes are in (``concept_drift``), and the data-drift
  decision must stay silent;
* the detection rate against the shift size (``--sweep-batches`` batches per size).

The non-drifted batches and the drifted ones are the same draws (the shift is applied to the
base batch), so the scenarios differ only by the drift. References on the same batches: a PSI
> 0.25 rule (any feature, decile bins) and Evidently's default ``DataDriftPreset`` decision
(``bench/drift_evidently.py``, run in ``.venv-evidently`` at the same time on the first
``--evidently-batches`` batches of each data scenario; its pins clash with the project's).

The champion is a logistic regression on the reference rows (cheap to score 2,000 times);
hard rule R01 of the packaged contract rejects rows as in production.

    python bench/drift.py [--batches 200] [--rows 10000] [--reference-rows 50000]
                          [--sweep-batches 100] [--evidently-batches 10] [--features 200]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from credit_assets.core.contract import load_contract  # noqa: E402
from credit_assets.core.drift import (  # noqa: E402
    DataDriftReport,
    DriftRule,
    HoldoutReference,
    build_reference,
    concept_drift,
    data_drift,
)
from credit_assets.core.rules import RULE_ID, apply_rules  # noqa: E402
from credit_assets.core.synthetic import SyntheticSpec, draw, make_shapes, shift_features  # noqa: E402
from credit_assets.core.thresholds import choose_thresholds  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "drift.json"
EVIDENTLY_VENV = ROOT / ".venv-evidently"
EVIDENTLY_PYTHON = EVIDENTLY_VENV / "bin" / "python"
SHARE = 0.05  # of the features that drift
SHIFT = 0.2  # sigma, the goal's scenario
SPREAD = 1.2  # the variance scenario's factor on sigma
SWEEP = (0.05, 0.1, 0.15, 0.2, 0.3)
PSI_RULE = 0.25
GOAL_DETECTION, GOAL_FALSE_ALARMS = 0.95, 0.01
DATA_SCENARIOS = ("none", "shift", "variance")


def wilson(k: int, n: int) -> tuple[float, float]:
    from scipy.stats import binomtest

    if n == 0:
        return float("nan"), float("nan")
    ci = binomtest(k, n).proportion_ci(method="wilson")
    return float(ci.low), float(ci.high)


class Champion:
    """Logistic regression on standardized features; risk is NaN where a hard rule rejects."""

    def __init__(self, frame: pd.DataFrame, bad: np.ndarray, columns: list[str]) -> None:
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler

        self.contract, self.columns = load_contract(), columns
        passed = ~self.rejected(frame)
        self.model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=500))
        self.model.fit(frame.loc[passed, columns], bad[passed])

    def rejected(self, frame: pd.DataFrame) -> np.ndarray:
        return apply_rules(frame[self.columns], self.contract)[RULE_ID].notna().to_numpy()

    def risk(self, frame: pd.DataFrame) -> np.ndarray:
        risk = self.model.predict_proba(frame[self.columns])[:, 1]
        risk[self.rejected(frame)] = np.nan
        return risk


def to_frame(x: np.ndarray, columns: list[str], y: np.ndarray | None = None) -> pd.DataFrame:
    frame = pd.DataFrame(x.round(4), columns=columns)  # as `generate` writes them
    if y is not None:
        frame["target"] = y
    return frame


def smallest_q(report: DataDriftReport) -> float:
    """The decision at any alpha: the batch drifts at alpha iff this is below it."""
    return float(min([report.features["q_value"].min(), *[s.q_value for s in report.signals]]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=200)
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--reference-rows", type=int, default=50_000)
    parser.add_argument("--holdout-rows", type=int, default=20_000)
    parser.add_argument("--features", type=int, default=200)
    parser.add_argument("--sweep-batches", type=int, default=100)
    parser.add_argument("--evidently-batches", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rule = DriftRule()
    started = time.perf_counter()
    load_before = os.getloadavg()

    spec = SyntheticSpec(n_features=args.features, seed=args.seed, drift_share=SHARE)
    shapes = make_shapes(spec)
    columns = [f"var_{j}" for j in range(args.features)]
    drifted_columns = {columns[j] for j in spec.drifting_features()}

    def batch_rng(b: int, stream: int = 0) -> np.random.Generator:
        """Streams: 0 the batches, 1 the concept batches, 2 the reference, 3 the holdout."""
        return np.random.default_rng([args.seed, b, stream])

    def scenario_x(base: np.ndarray) -> dict[str, np.ndarray]:
        return {
            "none": base,
            "shift": shift_features(base, shapes, replace(spec, feature_drift_shift=SHIFT)),
            "variance": shift_features(
                base, shapes, replace(spec, feature_drift_shift=0.0, feature_drift_scale=SPREAD)
            ),
        }

    # Reference: training rows, the champion, its holdout figures.
    train = draw(args.reference_rows, shapes, spec, batch_rng(0, stream=2))
    holdout = draw(args.holdout_rows, shapes, spec, batch_rng(0, stream=3))
    train_frame, holdout_frame = to_frame(train.x, columns, train.y), to_frame(holdout.x, columns)
    champion = Champion(train_frame, train.y == 1, columns)
    train_risk, holdout_risk = champion.risk(train_frame), champion.risk(holdout_frame)
    scored = ~np.isnan(holdout_risk)
    thresholds = choose_thresholds(
        train_risk[~np.isnan(train_risk)], train.y[~np.isnan(train_risk)] == 1
    )
    figures = HoldoutReference.compute(holdout.y[scored] == 1, holdout_risk[scored], thresholds)
    reference = build_reference(train_frame, load_contract(), train_risk, holdout=figures)
    reference_kb = len(json.dumps(reference.to_dict())) / 1024
    print(
        f"reference: {args.reference_rows} rows, {len(columns)} features, {reference_kb:.0f} KB "
        f"as JSON; champion holdout AUC {figures.auc:.3f}, auto-decision accuracy "
        f"{figures.accuracy:.3f}; rule {rule}",
        flush=True,
    )

    # Evidently, in its own environment, on the first batches, while the rest runs here.
    evidently = None
    workdir = Path(tempfile.mkdtemp(prefix="drift-bench-"))
    if args.evidently_batches and (EVIDENTLY_VENV / ".installed").exists():
        train_frame[columns].to_parquet(workdir / "reference.parquet")
        for b in range(min(args.evidently_batches, args.batches)):
            base = draw(args.rows, shapes, spec, batch_rng(b)).x
            for name, x in scenario_x(base).items():
                to_frame(x, columns).to_parquet(workdir / f"{name}__{b:04d}.parquet")
        evidently = subprocess.Popen(
            [str(EVIDENTLY_PYTHON), str(ROOT / "bench" / "drift_evidently.py"), str(workdir)]
        )
    elif args.evidently_batches:
        print(
            f"Evidently not run: {EVIDENTLY_VENV} is not installed (make bench-drift does it)",
            flush=True,
        )

    rows: list[dict] = []
    seconds = {"data_drift": [], "concept_drift": []}
    for b in range(args.batches):
        base = draw(args.rows, shapes, spec, batch_rng(b))
        xs = scenario_x(base.x)
        if b < args.sweep_batches:
            xs |= {
                f"shift {s}": shift_features(base.x, shapes, replace(spec, feature_drift_shift=s))
                for s in SWEEP
                if s != SHIFT
            }
        concept = draw(args.rows, shapes, spec, batch_rng(b, 1), concept_change=True)
        xs["concept"] = concept.x
        labels = {"none": base.y, "concept": concept.y}
        for name, x in xs.items():
            frame = to_frame(x, columns, labels.get(name))
            risk = champion.risk(frame)
            t0 = time.perf_counter()
            report = data_drift(reference, frame, risk, rule)
            seconds["data_drift"].append(time.perf_counter() - t0)
            row = {
                "batch": b,
                "scenario": name,
                "ours": report.drifted,
                "smallest_q": smallest_q(report),
                "psi_rule": bool((report.features["psi"] > PSI_RULE).any()),
                "max_psi": float(report.features["psi"].max()),
                "top_are_drifted": set(report.top(len(drifted_columns))["feature"])
                == drifted_columns,
            }
            if name in labels:
                t0 = time.perf_counter()
                row["concept_ours"] = concept_drift(reference, frame, risk, rule).drifted
                seconds["concept_drift"].append(time.perf_counter() - t0)
            rows.append(row)
        if (b + 1) % 20 == 0:
            print(
                f"  {b + 1}/{args.batches} batches, {time.perf_counter() - started:.0f} s",
                flush=True,
            )
    results = pd.DataFrame(rows)

    evidently_results: dict[str, dict] = {}
    if evidently is not None:
        evidently.wait()
        path = workdir / "evidently.json"
        if evidently.returncode == 0 and path.exists():
            evidently_results = json.loads(path.read_text())
        else:
            print(f"Evidently failed (exit {evidently.returncode}); its column is left empty")

    def rate(hits: pd.Series | list[bool]) -> dict:
        hits = list(hits)
        k, n = int(sum(hits)), len(hits)
        low, high = wilson(k, n)
        return {
            "rate": k / n if n else float("nan"),
            "alarms": k,
            "batches": n,
            "ci95": [low, high],
        }

    def evidently_rate(name: str) -> dict | None:
        hits = [v["drifted"] for k, v in evidently_results.items() if k.startswith(f"{name}__")]
        return rate(hits) if hits else None

    summary: dict = {"scenarios": {}, "sweep": {}}
    for name in [*DATA_SCENARIOS, "concept"]:
        part = results[results["scenario"] == name]
        entry = {
            "ours": rate(part["ours"]),
            "ours_alpha_0.01": rate(part["smallest_q"] < 0.01),
            "psi_rule": rate(part["psi_rule"]),
            "evidently": evidently_rate(name),
            "median_max_psi": float(part["max_psi"].median()),
        }
        if name in ("shift", "variance"):
            entry["drifted_features_ranked_first"] = rate(part["top_are_drifted"])
        if name in ("none", "concept"):
            entry["concept_ours"] = rate(part["concept_ours"].dropna().astype(bool))
        summary["scenarios"][name] = entry
    for size in SWEEP:
        name = "shift" if size == SHIFT else f"shift {size}"
        part = results[(results["scenario"] == name) & (results["batch"] < args.sweep_batches)]
        summary["sweep"][str(size)] = {
            "ours": rate(part["ours"]),
            "psi_rule": rate(part["psi_rule"]),
        }
    evidently_seconds = [v["seconds"] for v in evidently_results.values()]
    summary["seconds"] = {
        "data_drift_per_batch": float(np.median(seconds["data_drift"])),
        "concept_drift_per_batch": float(np.median(seconds["concept_drift"])),
        "evidently_per_batch": float(np.median(evidently_seconds)) if evidently_seconds else None,
        "total": time.perf_counter() - started,
    }
    summary["run"] = {
        **vars(args),
        "rule": {"alpha": rule.alpha, "min_share": rule.min_share},
        "reference_json_kb": reference_kb,
        "champion_holdout_auc": figures.auc,
        "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "machine": f"{platform.node()} {os.cpu_count()} cores",
        "load_before_after": [load_before[0], os.getloadavg()[0]],
    }
    print_summary(summary)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(summary, indent=2))
    print(f"\nwritten to {RESULTS.relative_to(ROOT)}")


def print_summary(summary: dict) -> None:
    def cell(entry: dict | None) -> str:
        if entry is None:
            return "not run"
        low, high = entry["ci95"]
        return f"{entry['rate']:6.1%} ({entry['alarms']}/{entry['batches']}; {low:.1%}-{high:.1%})"

    s = summary["scenarios"]
    labels = {
        "none": "no drift: false alarms",
        "shift": f"mean +{SHIFT} sigma in {SHARE:.0%} of features",
        "variance": f"sigma x{SPREAD} in {SHARE:.0%} of features",
        "concept": "label-feature change, features unchanged",
    }
    print(f"\n{'data-drift alarm rate':44} {'ours':28} {'PSI > 0.25':28} Evidently preset")
    for name, label in labels.items():
        e = s[name]
        print(f"{label:44} {cell(e['ours']):28} {cell(e['psi_rule']):28} {cell(e['evidently'])}")
    print(f"\n{'concept-drift alarm rate (outcomes in)':44} ours")
    print(f"{'no drift: false alarms':44} {cell(s['none']['concept_ours'])}")
    print(f"{'label-feature change, features unchanged':44} {cell(s['concept']['concept_ours'])}")
    print(f"\n{'detection vs shift size (5% of features)':44} {'ours':28} PSI > 0.25")
    for size, e in summary["sweep"].items():
        print(f"{'mean +' + size + ' sigma':44} {cell(e['ours']):28} {cell(e['psi_rule'])}")
    shift, none = s["shift"]["ours"]["rate"], s["none"]["ours"]["rate"]
    met = shift >= GOAL_DETECTION and none <= GOAL_FALSE_ALARMS
    print(
        f"\ngoal (>= {GOAL_DETECTION:.0%} detection of the {SHIFT} sigma shift, <= "
        f"{GOAL_FALSE_ALARMS:.0%} false alarms): {'met' if met else 'NOT met'}"
    )
    t = summary["seconds"]
    evidently = f"{t['evidently_per_batch']:.2f} s" if t["evidently_per_batch"] else "not run"
    print(
        f"seconds per batch: data_drift {t['data_drift_per_batch']:.2f}, concept_drift "
        f"{t['concept_drift_per_batch']:.2f}, Evidently {evidently}; total {t['total']:.0f} s"
    )


if __name__ == "__main__":
    main()
