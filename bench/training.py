"""Benchmark: training through the asset graph versus the same training in a plain script.

Both variants train on the same generated data (default 200,000 history rows x 200 features),
each in a fresh Python process:

* ``plain``: load and validate the CSV, apply the rules, split, build features, train with
  ``core.training.train``, choose the review band: the model and nothing else;
* ``graph``: the training job of the Dagster asset graph (``raw_history`` ->
  ``training_data`` -> ``features`` -> ``model`` -> ``decision_thresholds`` ->
  ``registered_model`` -> ``champion_model``, and the quality checks of each) on a scratch
  home, with the Dagster instance, Parquet storage, MLflow tracking and registry, gates and
  model report. The home's databases (Dagster instance, MLflow) are created beforehand in a
  process of their own, as an installed platform has them; that set-up time is reported
  apart;
* ``retrain``: the same training job again on that home, as the weekly retraining runs it
  when no new data arrived: the history is unchanged, so ``raw_history`` keeps its stored
  table and suite result, and the new challenger is compared with the champion.

Wall time is the whole process (interpreter start and imports included) and, separately, the
work after the imports; peak memory is the process's peak RSS. The goal is a graph / plain
(and retrain / plain) ratio of at most 1.35.

    python bench/training.py                 # full size, several minutes
    python bench/training.py --rows 20000    # quick check
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

from check_seconds import check_seconds

ROOT = Path(__file__).resolve().parent.parent
GOAL = 1.35  # issue 18


def _peak_rss_mib() -> float:
    """Peak RSS of this process and any child it waited for (ru_maxrss is KiB on Linux)."""
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return max(own, children) / 1024


def _generate(data: Path, rows: int, features: int) -> None:
    if (data / "history" / "train.csv").exists():
        return
    import datetime as dt

    from credit_assets.core.synthetic import SyntheticSpec, generate

    spec = SyntheticSpec(
        n_features=features,
        history_rows=rows,
        days=1,
        rows_per_day=100,
        start=dt.date(2026, 11, 1),
        seed=0,
    )
    generate(data, spec)


# -- the two variants, each run in its own process ------------------------------------------


def plain(data: Path) -> dict:
    """The training alone, in-process, no platform."""
    t0 = time.perf_counter()
    import pandas as pd

    from credit_assets.core.contract import load_contract
    from credit_assets.core.dataset import (
        HOLDOUT,
        TRAIN,
        VALIDATION,
        DataDir,
        build_training_table,
        load_history,
    )
    from credit_assets.core.features import FeatureBuilder
    from credit_assets.core.figures import band_on_holdout
    from credit_assets.core.thresholds import choose_thresholds
    from credit_assets.core.training import TrainConfig, train

    imported = time.perf_counter()
    contract = load_contract(None)
    history = load_history(DataDir(data), contract)  # read CSV + validate against contract
    labelled = pd.DataFrame(columns=[contract.id_column, contract.target.column])
    table = build_training_table(history, labelled, contract)  # rules + time-ordered split
    target = contract.target.column
    parts = {s: table.part(s) for s in (TRAIN, VALIDATION, HOLDOUT)}
    y = {s: p[target].to_numpy().astype(int) for s, p in parts.items()}
    builder = FeatureBuilder.from_contract(contract, list(table.frame.columns))
    fit_start = time.perf_counter()
    trained = train(
        builder, parts[TRAIN], y[TRAIN], parts[VALIDATION], y[VALIDATION], TrainConfig()
    )
    fit_s = time.perf_counter() - fit_start
    bad = {s: y[s] == 1 for s in y}
    val_risk = trained.predict_positive(parts[VALIDATION])
    thresholds = choose_thresholds(val_risk, bad[VALIDATION], 0.90, "balanced")
    holdout_risk = trained.predict_positive(parts[HOLDOUT])
    holdout = band_on_holdout(thresholds, holdout_risk, bad[HOLDOUT])
    from sklearn.metrics import roc_auc_score

    auc = float(roc_auc_score(bad[HOLDOUT], holdout_risk))
    done = time.perf_counter()
    return {
        "import_s": imported - t0,
        "work_s": done - imported,
        "fit_s": fit_s,  # features + LightGBM fit
        "best_iteration": trained.best_iteration,
        "holdout_auc": auc,
        "holdout_automation": holdout.automation.value,
        "rows": len(table.frame),
    }


def _graph_environment(data: Path, home: Path) -> None:
    os.environ.update(
        {
            "CREDIT_HOME": str(home),
            "CREDIT_DATA_DIR": str(data),
            "DAGSTER_HOME": str(home / "dagster_home"),
            "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false",
        }
    )
    for key in ("CREDIT_STORAGE_DIR", "MLFLOW_TRACKING_URI", "CREDIT_CONTRACT"):
        os.environ.pop(key, None)
    (home / "dagster_home").mkdir(parents=True, exist_ok=True)
    (home / "dagster_home" / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")


def setup(data: Path, home: Path) -> dict:
    """What an installed platform already has: the Dagster instance's and MLflow's databases
    (created once per installation, not per training)."""
    t0 = time.perf_counter()
    _graph_environment(data, home)
    import dagster as dg
    from mlflow import MlflowClient

    from credit_assets.settings import Settings

    with dg.DagsterInstance.get() as instance:
        instance.get_runs(limit=1)
    MlflowClient(Settings.from_env().mlflow_tracking_uri).search_experiments()
    return {"setup_s": time.perf_counter() - t0}


def graph(data: Path, home: Path) -> dict:
    """The training job of the asset graph, on a home set up by ``setup``."""
    t0 = time.perf_counter()
    _graph_environment(data, home)
    import logging

    import dagster as dg

    from credit_assets.cli.runner import QUIET
    from credit_assets.definitions import defs

    logging.getLogger("mlflow").setLevel(logging.WARNING)
    imported = time.perf_counter()
    definitions = defs()
    job = definitions.resolve_job_def("santander__training_job")
    with dg.DagsterInstance.get() as instance:
        result = job.execute_in_process(
            run_config=QUIET, instance=instance, tags={"launched_by": "bench/training.py"}
        )
        if not result.success:
            raise SystemExit("the training job failed")
        done = time.perf_counter()
        steps = {
            s.step_key: s.end_time - s.start_time
            for s in instance.get_run_step_stats(result.run_id)
            if s.end_time and s.start_time
        }
    from credit_assets.core.storage import LocalStore

    store = LocalStore(home / "storage" / "santander")
    summary = store.read_json("model", "summary")
    promotion = store.read_json("champion_model")
    return {
        "import_s": imported - t0,
        "work_s": done - imported,
        "steps_s": steps,
        # the quality gates (GX suites and guards), timed inside their assets' steps
        "checks_s": sum(check_seconds(instance, [result.run_id]).values()),
        "best_iteration": summary["best_iteration"],
        "holdout_auc": summary["holdout"]["auc"],
        "holdout_automation": store.read_json("decision_thresholds")["holdout"]["automation"][
            "value"
        ],
        "promoted": promotion["promoted"],
    }


def _child(variant: str, data: Path, home: Path) -> None:
    out = {"plain": plain, "setup": setup, "graph": graph}[variant](
        *((data,) if variant == "plain" else (data, home))
    )
    out["peak_rss_mib"] = _peak_rss_mib()
    print("RESULT " + json.dumps(out))


def _run(variant: str, data: Path, home: Path) -> dict:
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, __file__, "--child", variant, "--data", str(data), "--home", str(home)],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        sys.stderr.write(proc.stderr[-4000:])
        raise SystemExit(f"{variant} failed (exit {proc.returncode})")
    line = next(x for x in reversed(proc.stdout.splitlines()) if x.startswith("RESULT "))
    return {**json.loads(line[len("RESULT ") :]), "wall_s": wall}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=200_000, help="history rows")
    parser.add_argument("--features", type=int, default=200, help="var_* features")
    parser.add_argument("--workdir", type=Path, default=ROOT / ".credit" / "bench", help="scratch")
    parser.add_argument("--repeat", type=int, default=1, help="runs of each variant (best kept)")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "training.json")
    parser.add_argument("--child", choices=["plain", "setup", "graph"], help=argparse.SUPPRESS)
    parser.add_argument("--data", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--home", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(args.child, args.data, args.home)
        return

    import shutil

    data = args.workdir / f"data-{args.rows}x{args.features}"
    print(f"data: {data}", flush=True)
    t = time.perf_counter()
    _generate(data, args.rows, args.features)
    print(f"  ready in {time.perf_counter() - t:.0f}s", flush=True)
    runs: dict[str, list[dict]] = {"plain": [], "graph": [], "retrain": []}
    home = args.workdir / "home-graph"

    def record(i: int, variant: str, result: dict) -> None:
        runs[variant].append(result)
        print(
            f"  [{i + 1}/{args.repeat}] {variant:7s} wall {result['wall_s']:7.1f}s "
            f"(work {result['work_s']:7.1f}s) peak RSS {result['peak_rss_mib']:7.0f} MiB "
            f"AUC {result['holdout_auc']:.4f} rounds {result['best_iteration']}",
            flush=True,
        )

    for i in range(args.repeat):  # alternate, so load drifts hit every variant alike
        record(i, "plain", _run("plain", data, home))
        shutil.rmtree(home, ignore_errors=True)
        prepared = _run("setup", data, home)
        record(i, "graph", {**_run("graph", data, home), "setup_s": prepared["setup_s"]})
        record(i, "retrain", _run("graph", data, home))
    best = {v: min(r, key=lambda x: x["wall_s"]) for v, r in runs.items()}
    ratios = {}
    for variant, prefix in (("graph", ""), ("retrain", "retrain_")):
        ratios[f"{prefix}wall"] = best[variant]["wall_s"] / best["plain"]["wall_s"]
        ratios[f"{prefix}work"] = best[variant]["work_s"] / best["plain"]["work_s"]
        ratios[f"{prefix}peak_rss"] = best[variant]["peak_rss_mib"] / best["plain"]["peak_rss_mib"]
    # what the platform adds, in seconds of the same run: it barely depends on the fit, so it
    # says how long a plain training must be for the ratio to reach the goal
    added_s = {v: best[v]["wall_s"] - best["plain"]["wall_s"] for v in ("graph", "retrain")}
    # The LightGBM fit dominates and its time varies with the machine's load more than the
    # platform costs: also compare with the fit time equalised (the graph's `model` step,
    # which holds its fit, replaced by the plain fit), i.e. the platform's own overhead.
    plain_fit = best["plain"]["fit_s"]
    model_step = best["graph"]["steps_s"].get("model", plain_fit)
    ratios["work_fit_equalised"] = (best["graph"]["work_s"] - model_step + plain_fit) / best[
        "plain"
    ]["work_s"]
    # Without the quality checks' own time (each result's ``seconds``) the rest is
    # orchestration, files between steps, the registry and the report.
    check_s = best["graph"]["checks_s"]
    ratios["wall_without_checks"] = (best["graph"]["wall_s"] - check_s) / best["plain"]["wall_s"]
    report = {
        "benchmark": "training",
        "checks_s": check_s,
        "rows": args.rows,
        "features": args.features,
        "goal_ratio": GOAL,
        "plain": best["plain"],
        "graph": best["graph"],
        "retrain": best["retrain"],
        "ratios": ratios,
        "added_s": added_s,
        "plain_s_for_goal": {v: a / (GOAL - 1) for v, a in added_s.items()},
        "meets_goal": {k: v <= GOAL for k, v in ratios.items()},
        "runs": runs,
        "machine": {
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
        },
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(
        "  graph steps: "
        + ", ".join(f"{k} {v:.1f}s" for k, v in best["graph"]["steps_s"].items())
        + f"; plain fit {plain_fit:.1f}s of {best['plain']['work_s']:.1f}s"
    )
    print(
        "  retrain steps: "
        + ", ".join(f"{k} {v:.1f}s" for k, v in best["retrain"]["steps_s"].items())
    )
    print(
        f"graph / plain: wall {ratios['wall']:.3f}, work after imports {ratios['work']:.3f}, "
        f"work with the fit time equalised {ratios['work_fit_equalised']:.3f}, "
        f"wall without the {check_s:.1f}s of checks {ratios['wall_without_checks']:.3f}, "
        f"peak RSS {ratios['peak_rss']:.3f}\n"
        f"retrain / plain: wall {ratios['retrain_wall']:.3f}, "
        f"work after imports {ratios['retrain_work']:.3f}, "
        f"peak RSS {ratios['retrain_peak_rss']:.3f} (goal <= {GOAL}) -> {args.out}\n"
        f"the platform adds {added_s['graph']:.1f}s (first training), "
        f"{added_s['retrain']:.1f}s (retrain): both ratios would reach {GOAL} with a plain "
        f"training of {max(added_s.values()) / (GOAL - 1):.0f}s or more"
    )


if __name__ == "__main__":
    main()
