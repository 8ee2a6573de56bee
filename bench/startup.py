"""Benchmark: how long each command takes to start, against ``python -c "import pandas"``.

Every command runs as a user runs it (the ``credit-assets`` script, a fresh process) on a
scratch home that holds one registered champion (trained once, beforehand, by
``credit-assets run`` on small generated data; that set-up is not timed). The reference
and the commands are interleaved, round after round, so a busy machine slows them alike;
each figure is the median wall time, and the ratio is to the reference's median in the
same run. Goals: ``--help`` at most 1.5x, ``model list`` and ``score`` of 2,000 rows at
most 3x.

    python bench/startup.py              # 7 rounds
    python bench/startup.py --repeat 3   # quick check
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BIN = Path(sys.executable).parent
GOALS = {"--help": 1.5, "model list": 3.0, "model show champion": 3.0, "score 2,000 rows": 3.0}


def _setup(home: Path) -> tuple[dict[str, str], Path]:
    """A scratch platform with one champion, and a 2,000-row applications file."""
    from credit_assets.core.synthetic import SyntheticSpec, generate

    data = home / "data"
    spec = SyntheticSpec(history_rows=6000, days=1, rows_per_day=2000, start=dt.date(2026, 11, 1))
    generate(data, spec)
    env = {
        **os.environ,
        "CREDIT_HOME": str(home / "credit"),
        "CREDIT_DATA_DIR": str(data),
        "DAGSTER_HOME": str(home / "credit" / "dagster_home"),
    }
    for key in ("MLFLOW_TRACKING_URI", "CREDIT_STORAGE_DIR", "CREDIT_CONTRACT", "CREDIT_PROFILE"):
        env.pop(key, None)
    subprocess.run(
        [BIN / "credit-assets", "run"], env=env, cwd=home, check=True, stdout=subprocess.DEVNULL
    )
    return env, data / "applications" / "2026-11-01.csv"


def _seconds(argv: list[str], env: dict[str, str], cwd: Path) -> float:
    start = time.perf_counter()
    subprocess.run(argv, env=env, cwd=cwd, check=True, capture_output=True)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7, help="rounds (median of each)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        print("setting up: generate data, train one champion ...", flush=True)
        env, applications = _setup(home)
        cli = str(BIN / "credit-assets")
        out = str(home / "out.csv")
        commands = {
            'python -c "import pandas"': [sys.executable, "-c", "import pandas"],
            "--help": [cli, "--help"],
            "model list": [cli, "model", "list"],
            "model show champion": [cli, "model", "show", "champion"],
            "score 2,000 rows": [cli, "score", "--in", str(applications), "--out", out],
        }
        times: dict[str, list[float]] = {name: [] for name in commands}
        for _ in range(args.repeat):
            for name, argv in commands.items():
                times[name].append(_seconds(argv, env, home))
    medians = {name: statistics.median(t) for name, t in times.items()}
    reference = medians['python -c "import pandas"']
    load = os.getloadavg()[0]
    print(f"\n{args.repeat} rounds, load average {load:.1f}, Python {sys.version.split()[0]}")
    print(f"{'command':<28} {'median s':>9} {'x pandas':>9} {'goal':>6}")
    for name, median in medians.items():
        goal = GOALS.get(name)
        ratio = median / reference
        verdict = "" if goal is None else f"<= {goal:.1f} {'ok' if ratio <= goal else 'MISSED'}"
        print(f"{name:<28} {median:>9.2f} {ratio:>9.2f} {verdict:>6}")


if __name__ == "__main__":
    main()
