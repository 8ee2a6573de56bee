"""Decision benchmark: deciding with reasons against LightGBM predicting without them.

Every scorer (the ``decisions`` asset, ``credit-assets score``, the real-time API to come) calls
``DecisionPipeline.decide``: rules, the model's score, the review band and the top four reasons
with their texts. The ``additive`` model is compiled into per-feature tables, so ``decide``
reads scores and reasons from them. This measures, on one thread (as a one-core Celery worker
scores), in one run on the same generated Santander-format applications:

* ``lightgbm_predict``: the same model's LightGBM ``predict_proba`` on the built features,
  no rules, no band, no reasons (the features are built beforehand, outside the clock);
* ``lightgbm_default_2000``: a plain LightGBM with its default parameters and 2,000 trees,
  trained on the same history, predicting the same built rows: a bank's ordinary scoring job;
* ``decide``: the whole decision with four worded reasons, from the raw rows;
* ``decide_lightgbm_path``: the same decision through LightGBM's own path (``pred_contrib``),
  as every model was decided before it was compiled;

each the best of ``--repeat`` runs, the variants taking turns. Then one application at a time:
``decide`` on a one-row frame against the same model's LightGBM ``predict_proba`` on the
row's built features (and, for reference, the bare ``Booster.predict`` of a NumPy row), p50
and p99 over ``--single`` applications.

    python bench/decisions.py [--rows 60000] [--features 90] [--history 20000]
                              [--max-rounds 2000] [--repeat 3] [--single 2000]
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")  # before LightGBM loads: one core, like a worker

import argparse
import json
import sys
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import lightgbm as lgb
import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from credit_assets.core.contract import load_contract  # noqa: E402
from credit_assets.core.features import FeatureBuilder  # noqa: E402
from credit_assets.core.pipeline import DecisionPipeline  # noqa: E402
from credit_assets.core.reasons import training_medians  # noqa: E402
from credit_assets.core.synthetic import SyntheticSpec, draw, make_shapes  # noqa: E402
from credit_assets.core.thresholds import choose_thresholds  # noqa: E402
from credit_assets.core.training import TrainConfig, train  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "decisions.json"
DEFAULT_TREES = 2_000


def make_frame(rows: int, features: int, seed: int) -> tuple[pd.DataFrame, np.ndarray]:
    """Applications in the packaged contract's layout (values rounded as files hold them)."""
    spec = SyntheticSpec(n_features=features, seed=seed)
    rng = np.random.default_rng(seed)
    sample = draw(rows, make_shapes(spec), spec, rng)
    frame = pd.DataFrame(sample.x.round(4), columns=[f"var_{j}" for j in range(features)])
    frame.insert(0, "ID_code", [f"id_{i}" for i in range(rows)])
    frame["gender"] = rng.choice(["F", "M"], size=rows)
    return frame, sample.y


def fitted_pipeline(history: pd.DataFrame, y: np.ndarray, max_rounds: int) -> DecisionPipeline:
    """The production design (``additive``, compiled) trained on ``history``."""
    contract = load_contract()
    builder = FeatureBuilder.from_contract(contract, list(history.columns))
    cut = int(len(history) * 0.8)
    model = train(
        builder,
        history.iloc[:cut],
        y[:cut],
        history.iloc[cut:],
        y[cut:],
        TrainConfig(candidates=("additive",), max_rounds=max_rounds, n_jobs=1),
    )
    columns = [*builder.numeric, *builder.categorical]
    risk = model.predict_positive(history.iloc[cut:][columns])
    thresholds = choose_thresholds(risk, y[cut:] == 1, 0.90, "balanced")
    medians = training_medians(builder.transform(history.iloc[:cut]), builder.feature_names_out_)
    return DecisionPipeline(contract, model, thresholds, columns, feature_medians=medians)


def lightgbm_defaults(pipeline: DecisionPipeline, history: pd.DataFrame, y: np.ndarray):
    """LightGBM with its default parameters and 2,000 trees on the same built history."""
    built = pipeline.model.builder.transform(history)
    return lgb.LGBMClassifier(n_estimators=DEFAULT_TREES, n_jobs=1, verbose=-1).fit(built, y)


def best_of_turns(work: dict[str, Callable[[], object]], repeat: int) -> dict[str, float]:
    """Best wall time of each variant; the variants take turns, so load drift hits all."""
    times: dict[str, list[float]] = {name: [] for name in work}
    for _ in range(repeat):
        for name, run in work.items():
            started = time.perf_counter()
            run()
            times[name].append(time.perf_counter() - started)
    return {name: min(t) for name, t in times.items()}


def percentiles_ms(work: Callable[[int], object], count: int) -> dict[str, float]:
    times = []
    for i in range(count):
        started = time.perf_counter()
        work(i)
        times.append(time.perf_counter() - started)
    p50, p99 = np.percentile(times, [50, 99]) * 1e3
    return {"p50_ms": round(float(p50), 4), "p99_ms": round(float(p99), 4)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=60_000, help="applications in the batch")
    parser.add_argument("--features", type=int, default=90)
    parser.add_argument("--history", type=int, default=20_000, help="labelled rows to train on")
    parser.add_argument("--max-rounds", type=int, default=2_000, help="boosting rounds at most")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--single", type=int, default=2_000, help="one-row decisions timed")
    args = parser.parse_args()

    history, y = make_frame(args.history, args.features, seed=0)
    pipeline = fitted_pipeline(history, y, args.max_rounds)
    assert pipeline.model.compiled is not None, "the additive design compiles"
    lightgbm_path = replace(pipeline, model=replace(pipeline.model, compiled=None))
    clf = pipeline.model.pipeline.named_steps["model"]
    plain = lightgbm_defaults(pipeline, history, y)
    apps, _ = make_frame(args.rows, args.features, seed=1)
    built = pipeline.model.builder.transform(apps)

    # the compiled decision scores exactly as LightGBM does
    decided = pipeline.decide(apps, "bench")
    scored = decided["decision"].to_numpy() != "rule_reject"
    lightgbm_p = clf.predict_proba(built)[:, 1]
    score_gap = float(np.abs(decided["score"].to_numpy() - lightgbm_p)[scored].max())

    seconds = best_of_turns(
        {
            "lightgbm_predict": lambda: clf.predict_proba(built),
            "lightgbm_default_2000": lambda: plain.predict_proba(built),
            "decide": lambda: pipeline.decide(apps, "bench"),
            "decide_lightgbm_path": lambda: lightgbm_path.decide(apps, "bench"),
        },
        args.repeat,
    )

    count = min(args.single, args.rows)
    one_rows = [apps.iloc[[i]] for i in range(count)]
    one_built = [built.iloc[[i]] for i in range(count)]
    one_arrays = [built.iloc[[i]].to_numpy() for i in range(count)]
    booster = clf.booster_
    for i in range(min(count, 50)):  # warm up every path
        pipeline.decide(one_rows[i], "bench")
        clf.predict_proba(one_built[i])
        booster.predict(one_arrays[i])
    single = {
        "decide": percentiles_ms(lambda i: pipeline.decide(one_rows[i], "bench"), count),
        "lightgbm_predict": percentiles_ms(lambda i: clf.predict_proba(one_built[i]), count),
        "booster_predict_numpy": percentiles_ms(lambda i: booster.predict(one_arrays[i]), count),
    }

    result = {
        "rows": args.rows,
        "features": args.features,
        "boosting_rounds": pipeline.model.best_iteration,
        "threads": os.environ["OMP_NUM_THREADS"],
        "load_average": os.getloadavg(),
        "max_score_gap_to_lightgbm": score_gap,
        "seconds": {k: round(v, 4) for k, v in seconds.items()},
        "decide_ratio_to": {
            k: round(seconds["decide"] / v, 3) for k, v in seconds.items() if k != "decide"
        },
        "decisions_per_second": round(args.rows / seconds["decide"]),
        "single_row": single,
        "single_row_ratio_p50": {
            k: round(single["decide"]["p50_ms"] / v["p50_ms"], 2)
            for k, v in single.items()
            if k != "decide"
        },
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2))
    print(
        f"{args.rows} applications x {args.features} features, additive model of "
        f"{result['boosting_rounds']} rounds, {result['threads']} thread(s), load average "
        f"{result['load_average'][0]:.1f}; decide's scores are LightGBM's to {score_gap:.1e}"
    )
    for name, value in seconds.items():
        ratio = "" if name == "decide" else f"  decide is {result['decide_ratio_to'][name]:.2f}x"
        print(f"  {name:<22}{value:>8.3f} s{ratio}")
    print(f"  {result['decisions_per_second']} decisions a second")
    print(f"one application at a time ({count} rows):")
    for name, figures in single.items():
        ratio = (
            ""
            if name == "decide"
            else f"  decide p50 is {result['single_row_ratio_p50'][name]:.2f}x"
        )
        print(f"  {name:<22}p50 {figures['p50_ms']:.3f} ms  p99 {figures['p99_ms']:.3f} ms{ratio}")
    print(f"-> {RESULTS}")


if __name__ == "__main__":
    main()
