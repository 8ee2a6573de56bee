"""Evidently's part of bench/drift.py, run in its own environment (.venv-evidently: its pins
clash with the project's pandas), so it imports nothing from credit_assets.

    .venv-evidently/bin/python bench/drift_evidently.py DIR

DIR holds ``reference.parquet`` and batches ``<scenario>__<n>.parquet``. For each batch it
runs the dataset-level metric of Evidently's default ``DataDriftPreset``,
``DriftedColumnsCount`` with the preset's defaults (per column: Wasserstein distance normed,
threshold 0.1, on more than 1,000 rows; dataset drift when at least half the columns drift).
The preset's per-column ``ValueDrift`` widgets decide nothing and cost 5x more, so they are
left out. Writes ``DIR/evidently.json``: {batch file: {share, drifted, seconds}}.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import pandas as pd
from evidently import DataDefinition, Dataset, Report
from evidently.metrics import DriftedColumnsCount

DRIFT_SHARE = 0.5  # DataDriftPreset's default


def main(folder: Path) -> None:
    reference = pd.read_parquet(folder / "reference.parquet")
    definition = DataDefinition(numerical_columns=list(reference.columns))
    ref = Dataset.from_pandas(reference, data_definition=definition)
    results = {}
    for path in sorted(folder.glob("*__*.parquet")):
        start = time.perf_counter()
        current = Dataset.from_pandas(pd.read_parquet(path), data_definition=definition)
        snapshot = Report([DriftedColumnsCount(drift_share=DRIFT_SHARE)]).run(current, ref)
        share = float(snapshot.dict()["metrics"][0]["value"]["share"])
        results[path.name] = {
            "share": share,
            "drifted": share >= DRIFT_SHARE,
            "seconds": time.perf_counter() - start,
        }
    (folder / "evidently.json").write_text(json.dumps(results))


if __name__ == "__main__":
    main(Path(sys.argv[1]))
