"""Reading benchmark: reading a CSV by its contract against reading it by inference.

Until issue 13 a file was read with ``pandas.read_csv(engine="pyarrow")``, which infers each
column's type from its values (ids with leading zeros became numbers, ``true`` a boolean).
Now ``credit_assets.core.reading.read_csv`` gives Arrow each column's type from the contract.
This times, on a generated history file of ``--rows`` x ``--features`` (Santander layout):

* ``inference``: ``pandas.read_csv(path, engine="pyarrow")``, the former reader, the baseline;
* ``contract``: ``read_csv(path, contract)``, the reader now;
* ``load_file``: the reader now and validation against the contract, what an asset does;

the best of ``--repeat`` runs each, and each as a ratio to ``inference`` from the same run.

    python bench/reading.py [--rows 200000] [--features 200] [--repeat 2]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

from decisions import make_frame  # noqa: E402

from credit_assets.core.contract import load_contract  # noqa: E402
from credit_assets.core.dataset import load_file  # noqa: E402
from credit_assets.core.reading import read_csv  # noqa: E402
from credit_assets.core.validation import FileKind  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "reading.json"


def best(run: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--features", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()
    contract = load_contract()
    with tempfile.TemporaryDirectory(prefix="bench-reading-") as tmp:
        path = Path(tmp) / "train.csv"
        frame, y = make_frame(args.rows, args.features, seed=0)
        frame.insert(1, "target", y)
        frame.to_csv(path, index=False)
        del frame
        seconds = {
            "inference": best(lambda: pd.read_csv(path, engine="pyarrow"), args.repeat),
            "contract": best(lambda: read_csv(path, contract), args.repeat),
            "load_file": best(lambda: load_file(path, contract, FileKind.HISTORY), args.repeat),
        }
        size = path.stat().st_size
    print(f"{args.rows:,} rows x {args.features} features, {size / (1 << 20):.0f} MB")
    for name, s in seconds.items():
        print(f"{name:>10}  {s:6.2f} s  {s / seconds['inference']:5.2f}x inference")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(
        json.dumps(
            {
                "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
                "rows": args.rows,
                "features": args.features,
                "file_bytes": size,
                "seconds": seconds,
                "load_average": os.getloadavg(),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
