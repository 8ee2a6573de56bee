"""Decision benchmark: what a batch of decisions costs against scoring alone.

Every scorer (the ``decisions`` asset, ``credit-assets score``, later the real-time API) calls
``DecisionPipeline.decide``: rules, the model's score, the review band and the top reasons with
their texts. This measures, on one thread (as a one-core Celery worker scores), for a batch of
generated Santander-format applications and a model trained on generated history:

* ``score``: the model's probabilities alone (``pipeline.risk``), the baseline;
* ``contributions``: LightGBM's per-feature contributions (``reasons.contributions``);
* ``decide``: the whole decision, with the reasons worded;

and reports each as a ratio to ``score`` from the same run, the best of ``--repeat`` runs.

    python bench/decisions.py [--rows 60000] [--features 90] [--history 20000]
                              [--max-rounds 2000] [--repeat 3]
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")  # before LightGBM loads: one core, like a worker

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from credit_assets.core.contract import load_contract  # noqa: E402
from credit_assets.core.features import FeatureBuilder  # noqa: E402
from credit_assets.core.pipeline import DecisionPipeline  # noqa: E402
from credit_assets.core.reasons import contributions, training_medians  # noqa: E402
from credit_assets.core.synthetic import SyntheticSpec, draw, make_shapes  # noqa: E402
from credit_assets.core.thresholds import choose_thresholds  # noqa: E402
from credit_assets.core.training import TrainConfig, train  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "decisions.json"


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
    contract = load_contract()
    builder = FeatureBuilder.from_contract(contract, list(history.columns))
    cut = int(len(history) * 0.8)
    model = train(
        builder,
        history.iloc[:cut],
        y[:cut],
        history.iloc[cut:],
        y[cut:],
        TrainConfig(max_rounds=max_rounds, n_jobs=1),
    )
    columns = [*builder.numeric, *builder.categorical]
    risk = model.predict_positive(history.iloc[cut:][columns])
    thresholds = choose_thresholds(risk, y[cut:] == 1, 0.90, "balanced")
    medians = training_medians(builder.transform(history.iloc[:cut]), builder.feature_names_out_)
    return DecisionPipeline(contract, model, thresholds, columns, feature_medians=medians)


def best_seconds(work, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        work()
        times.append(time.perf_counter() - started)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=60_000, help="applications in the batch")
    parser.add_argument("--features", type=int, default=90)
    parser.add_argument("--history", type=int, default=20_000, help="labelled rows to train on")
    parser.add_argument("--max-rounds", type=int, default=2_000, help="boosting rounds at most")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    history, y = make_frame(args.history, args.features, seed=0)
    pipeline = fitted_pipeline(history, y, args.max_rounds)
    apps, _ = make_frame(args.rows, args.features, seed=1)
    columns = pipeline.feature_columns
    seconds = {
        "score": best_seconds(lambda: pipeline.risk(apps), args.repeat),
        "contributions": best_seconds(
            lambda: contributions(pipeline.model, apps[columns]), args.repeat
        ),
        "decide": best_seconds(lambda: pipeline.decide(apps, "bench"), args.repeat),
    }
    result = {
        "rows": args.rows,
        "features": args.features,
        "boosting_rounds": pipeline.model.best_iteration,
        "threads": os.environ["OMP_NUM_THREADS"],
        "load_average": os.getloadavg(),
        "seconds": {k: round(v, 3) for k, v in seconds.items()},
        "ratio_to_score": {k: round(v / seconds["score"], 2) for k, v in seconds.items()},
        "decisions_per_second": round(args.rows / seconds["decide"]),
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2))
    print(
        f"{args.rows} applications x {args.features} features, "
        f"{result['boosting_rounds']} rounds, {result['threads']} thread(s)"
    )
    for name, value in seconds.items():
        print(f"  {name:<14}{value:>7.2f} s  {result['ratio_to_score'][name]:>5.2f}x score")
    print(f"  {result['decisions_per_second']} decisions a second -> {RESULTS}")


if __name__ == "__main__":
    main()
