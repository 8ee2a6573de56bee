"""What the quality checks cost: a 10,000-row daily partition and the 200,000-row history,
each as a ratio to the asset's own materialization, timed in the same Dagster runs.

    python bench/quality_checks.py                      # 200 features, 200,000 + 2 x 10,000 rows
    python bench/quality_checks.py --history-rows 20000 --rows-per-day 2000   # a quick look

It generates Santander-format data in a scratch directory, materializes the whole graph with
``credit-assets run``'s runner (a short model: the model's own time is not the subject), then
reads every step's duration and every check's own time (checks run inside their asset's step,
each result carries its ``seconds``) from the Dagster event log; an asset's time is its step
less its checks. The daily figures are those of the
second day, so the row-count check has a recent average to compare with. Great Expectations
is imported before the runs: its import (seconds, once per process) is reported apart.
Results go to ``bench/results/quality_checks.json`` and a table is printed.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shutil
import tempfile
import time
from collections import defaultdict
from pathlib import Path

from check_seconds import check_seconds

DAILY = {"raw_applications", "raw_outcomes", "decisions"}
# A short model: its own time is not the subject. Its calibration is not either, so the
# calibration gate is opened for it to become champion (decisions need one).
CHEAP_MODEL = {
    "ops": {
        "model": {"config": {"max_rounds": 60, "early_stopping_rounds": 20}},
        "champion_model": {"config": {"max_ece": 1.0}},
    }
}


def _args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--history-rows", type=int, default=200_000)
    p.add_argument("--rows-per-day", type=int, default=10_000)
    p.add_argument("--features", type=int, default=200)
    p.add_argument("--workdir", type=Path, default=None, help="keep the data and home here")
    p.add_argument(
        "--out", type=Path, default=Path(__file__).parent / "results" / "quality_checks.json"
    )
    return p.parse_args()


def _step_times(instance, run_ids: list[str]) -> dict[tuple[str, str | None], float]:
    """Seconds per (step key, partition) over the given runs, from STEP_START to the end."""
    from dagster._core.events import DagsterEventType

    times: dict[tuple[str, str | None], float] = defaultdict(float)
    for run_id in run_ids:
        run = instance.get_run_by_id(run_id)
        partition = run.tags.get("dagster/partition")
        started: dict[str, float] = {}
        for record in instance.all_logs(run_id):
            event = record.dagster_event
            if event is None or event.step_key is None:
                continue
            if event.event_type == DagsterEventType.STEP_START:
                started[event.step_key] = record.timestamp
            elif event.event_type in (DagsterEventType.STEP_SUCCESS, DagsterEventType.STEP_FAILURE):
                times[(event.step_key, partition)] += record.timestamp - started[event.step_key]
    return times


def main() -> None:
    args = _args()
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="bench-quality-"))
    start = dt.date.today() - dt.timedelta(days=2)
    os.environ["CREDIT_PARTITIONS_START"] = start.isoformat()
    for key in ("CREDIT_CONTRACT", "CREDIT_STORAGE_DIR", "MLFLOW_TRACKING_URI"):
        os.environ.pop(key, None)
    os.environ["CREDIT_HOME"] = str(workdir / "home")
    os.environ["CREDIT_DATA_DIR"] = str(workdir / "data")
    os.environ["DAGSTER_HOME"] = str(workdir / "home" / "dagster_home")
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    (workdir / "home" / "dagster_home").mkdir(parents=True, exist_ok=True)
    (workdir / "home" / "dagster_home" / "dagster.yaml").write_text(
        "telemetry:\n  enabled: false\n"
    )

    from credit_assets.core.synthetic import SyntheticSpec, generate

    t0 = time.perf_counter()
    spec = SyntheticSpec(
        n_features=args.features,
        history_rows=args.history_rows,
        days=2,
        rows_per_day=args.rows_per_day,
        start=start,
        seed=0,
        outcome_lag_days=1,
    )
    generate(workdir / "data", spec)
    generated = time.perf_counter() - t0

    t0 = time.perf_counter()
    from credit_assets.core import expectations

    expectations.validation_context()  # GX import and its ephemeral context
    gx_import = time.perf_counter() - t0

    import dagster as dg

    from credit_assets.cli.runner import run_all

    t0 = time.perf_counter()
    summary = run_all(run_config=CHEAP_MODEL)
    total = time.perf_counter() - t0
    with dg.DagsterInstance.get() as instance:
        run_ids = [r.run_id for r in instance.get_runs()]
        times = _step_times(instance, run_ids)
        checked = check_seconds(instance, run_ids)

    day = (start + dt.timedelta(days=1)).isoformat()
    rows = {
        "raw_history": args.history_rows,
        "raw_applications": args.rows_per_day,
        "raw_outcomes": args.rows_per_day,
        "decisions": args.rows_per_day,
    }
    from credit_assets.core.expectations import ASSETS  # the assets that have a GX suite

    def checks_of(asset: str, partition: str | None) -> dict[str, float]:
        return {c: s for (a, c, p), s in checked.items() if a == asset and p == partition}

    def own_time(asset: str, partition: str | None) -> float:
        return times[(asset, partition)] - sum(checks_of(asset, partition).values())

    table = []
    for asset in ASSETS:
        partition = day if asset in DAILY else None
        own = own_time(asset, partition)
        checks = checks_of(asset, partition)
        suite = checks.get("expectations", 0.0)
        all_checks = sum(checks.values())
        table.append(
            {
                "asset": asset,
                "partition": partition,
                "rows": rows.get(asset),
                "materialization_s": round(own, 3),
                "gx_suite_s": round(suite, 3),
                "all_checks_s": round(all_checks, 3),
                "checks": {k: round(v, 3) for k, v in sorted(checks.items())},
                "ratio_gx_suite": round(suite / own, 2) if own else None,
                "ratio_all_checks": round(all_checks / own, 2) if own else None,
            }
        )
    groups = {
        f"daily partition {day} (ingest, rules, decisions)": [
            ("raw_applications", day),
            ("raw_outcomes", day),
            ("rule_filtered_applications", day),
            ("decisions", day),
        ],
        "history to features (training run, before the model)": [
            ("raw_history", None),
            ("training_data", None),
            ("features", None),
        ],
    }
    totals = []
    for name, members in groups.items():
        own = sum(own_time(*m) for m in members)
        checks = sum(sum(checks_of(*m).values()) for m in members)
        totals.append(
            {
                "what": name,
                "materialization_s": round(own, 3),
                "all_checks_s": round(checks, 3),
                "ratio_all_checks": round(checks / own, 2) if own else None,
            }
        )
    result = {
        "when": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}",
        "features": args.features,
        "history_rows": args.history_rows,
        "rows_per_day": args.rows_per_day,
        "generate_s": round(generated, 1),
        "gx_import_and_context_s": round(gx_import, 1),
        "run_all_s": round(total, 1),
        "load_average_1_5_15": [round(x, 1) for x in os.getloadavg()],
        "warnings": summary["warnings"],
        "assets": table,
        "totals": totals,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")

    print(
        f"\n{args.features} features; history {args.history_rows:,} rows; "
        f"{args.rows_per_day:,} rows a day; figures for {day}"
    )
    print(
        "| asset | rows | materialization s | GX suite s | all checks s "
        "| suite / asset | checks / asset |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|")
    for r in table:
        n = f"{r['rows']:,}" if r["rows"] else "–"
        print(
            f"| {r['asset']} | {n} | {r['materialization_s']:.2f} | {r['gx_suite_s']:.2f} | "
            f"{r['all_checks_s']:.2f} | {r['ratio_gx_suite']:.2f} | {r['ratio_all_checks']:.2f} |"
        )
    print("\n| together | materialization s | all checks s | checks / assets |")
    print("|---|---:|---:|---:|")
    for t in totals:
        print(
            f"| {t['what']} | {t['materialization_s']:.2f} | {t['all_checks_s']:.2f} | "
            f"{t['ratio_all_checks']:.2f} |"
        )
    print(f"\nGX import + context (once per process): {gx_import:.1f} s; whole run {total:.0f} s")
    print(f"load average at the end (1, 5, 15 min): {result['load_average_1_5_15']}")
    print(f"results: {args.out}")
    if args.workdir is None:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
