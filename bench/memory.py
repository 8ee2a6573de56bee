"""Memory benchmark: the peak memory of ``credit-assets score`` and of the daily ``decisions``
step follows the chunk, not the file.

``score`` reads, validates, decides and writes a file ``CHUNK_ROWS`` rows at a time
(``credit_assets/core/offline_scoring.py``); the ``decisions`` step does the same with a day's
``rule_filtered_applications`` (``credit_assets/defs/decisions.py``). This trains a champion on
generated history in a scratch home (``credit-assets generate`` and ``run``), writes application
files of ``--small`` and ``--large`` rows in the packaged contract's layout, scores each in its
own process, then makes each a day of its own and materializes that day's
``raw_applications``, ``rule_filtered_applications`` and ``decisions`` one step per process.
It reports each process's peak resident memory (``ru_maxrss``), against the file's size and
between the two files, as ratios measured in the same run.

    python bench/memory.py [--small 30000] [--large 300000] [--features 200]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from functools import partial
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results" / "memory.json"
MB = 1 << 20


def _cli(env: dict[str, str], *args: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "credit_assets", *args],
        env=env,
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    if result.returncode != 0:
        raise SystemExit(f"credit-assets {args[0]} failed:\n{result.stderr}")


def write_applications(path: Path, rows: int, features: int) -> None:
    """In a process of its own: a child's ``ru_maxrss`` counts what its parent held when it
    forked, so the parent stays small (it imports neither pandas nor the platform). Ids start
    with the row count: two files' ids differ, as two days' must."""
    code = (
        "import sys; sys.path[:0] = [sys.argv[1]]; from decisions import make_frame; "
        "f = make_frame(int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[2]))[0]; "
        "f['ID_code'] = 'n' + sys.argv[2] + '_' + f['ID_code']; f.to_csv(sys.argv[4], index=False)"
    )
    args = [str(ROOT / "bench"), str(rows), str(features), str(path)]
    subprocess.run([sys.executable, "-c", code, *args], check=True, cwd=ROOT)


# One daily step of one day, alone in its process (the in-process executor).
_STEP = (
    "import sys, dagster as dg; from credit_assets.definitions import defs; d = defs(); "
    "r = dg.materialize([d.get_assets_def(dg.AssetKey(['santander', sys.argv[1]]))], "
    "partition_key=sys.argv[2], resources=d.resources, raise_on_error=False); "
    "sys.exit(0 if r.success else 1)"
)
STEPS = ("raw_applications", "rule_filtered_applications", "decisions")


def peak_rss(env: dict[str, str], *args: str) -> tuple[int, float]:
    """(peak resident bytes, seconds) of one ``credit-assets`` process."""
    return _peak(env, "-m", "credit_assets", *args)


def step_peak_rss(env: dict[str, str], step: str, day: str) -> tuple[int, float]:
    """(peak resident bytes, seconds) of one daily step of one day."""
    return _peak(env, "-c", _STEP, step, day)


def _peak(env: dict[str, str], *args: str) -> tuple[int, float]:
    start = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, *args],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(
            f"{args} failed:\n{process.stderr.read().decode() if process.stderr else ''}"
        )
    return usage.ru_maxrss * 1024, seconds  # Linux reports KiB


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", type=int, default=30_000)
    parser.add_argument("--large", type=int, default=300_000)
    parser.add_argument("--features", type=int, default=200)
    parser.add_argument("--history", type=int, default=4_000)
    args = parser.parse_args()
    sizes = (args.small, args.large)

    with tempfile.TemporaryDirectory(prefix="bench-memory-") as tmp:
        root = Path(tmp)
        env = {
            **os.environ,
            "CREDIT_HOME": str(root / "home"),
            "DAGSTER_HOME": str(root / "home" / "dagster_home"),
            "CREDIT_DATA_DIR": str(root / "data"),
        }
        for key in ("CREDIT_STORAGE_DIR", "MLFLOW_TRACKING_URI", "CREDIT_CONTRACT"):
            env.pop(key, None)
        today = dt.date.today()
        # the trained day first, then a day for each file (today's is the last partition)
        days = {n: (today - dt.timedelta(days=i)).isoformat() for i, n in enumerate(sizes)}
        print(f"training a champion on {args.history} generated rows ...", flush=True)
        _cli(
            env,
            *("generate", str(root / "data"), "--history-rows", str(args.history)),
            *("--days", "1", "--rows-per-day", "200", "--features", str(args.features)),
            *("--start", (today - dt.timedelta(days=len(sizes))).isoformat()),
        )
        _cli(env, "run", "--data", str(root / "data"))
        rows: dict[int, dict[str, dict]] = {}
        for n in sizes:
            path = root / "data" / "applications" / f"{days[n]}.csv"
            write_applications(path, n, args.features)
            size = path.stat().st_size
            rows[n] = {}
            out = str(root / "out.csv")
            runs = {"score": partial(peak_rss, env, "score", "--in", str(path), "--out", out)}
            runs |= {step: partial(step_peak_rss, env, step, days[n]) for step in STEPS}
            for what, run in runs.items():
                peak, seconds = run()
                rows[n][what] = {
                    "file_bytes": size,
                    "peak_rss_bytes": peak,
                    "seconds": round(seconds, 1),
                }
                print(
                    f"{what:>26} {n:>9,} rows  file {size / MB:8.1f} MB  "
                    f"peak RSS {peak / MB:8.1f} MB  peak/file {peak / size:5.2f}  "
                    f"{seconds:6.1f} s",
                    flush=True,
                )
    from credit_assets.core.dataset import CHUNK_ROWS

    small, large = rows[args.small], rows[args.large]
    ratios = {
        what: round(large[what]["peak_rss_bytes"] / small[what]["peak_rss_bytes"], 3)
        for what in small
    }
    files = large["score"]["file_bytes"] / small["score"]["file_bytes"]
    for what, ratio in ratios.items():
        print(
            f"{what}: peak RSS, {args.large:,} rows against {args.small:,} rows: {ratio:.2f}x "
            f"(files {files:.1f}x)"
        )
    print(f"chunk {CHUNK_ROWS:,} rows; load average {os.getloadavg()}")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(
        json.dumps(
            {
                "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
                "machine": platform.platform(),
                "cpus": os.cpu_count(),
                "chunk_rows": CHUNK_ROWS,
                "features": args.features,
                "rows": rows,
                "large_over_small_peak": ratios,
                "load_average": os.getloadavg(),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
