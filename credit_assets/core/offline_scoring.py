"""Decide a CSV of applications offline (``credit-assets score``), a chunk at a time.

Peak memory follows the chunk, not the file: each chunk is read, validated, decided and
appended to a temporary output, which is renamed into place only when every row of the input
passed the contract. A file with a problem leaves no output at all.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from credit_assets.core.dataset import CHUNK_ROWS, iter_file_chunks
from credit_assets.core.io import write_csv_chunks_atomic
from credit_assets.core.validation import FileKind

if TYPE_CHECKING:
    from credit_assets.core.pipeline import DecisionPipeline


def decide_file(
    pipeline: DecisionPipeline,
    model_version: str,
    source: Path,
    target: Path,
    chunk_rows: int = CHUNK_ROWS,
) -> Counter[str]:
    """Write one decision per row of ``source`` to ``target``; return the decision counts."""
    counts: Counter[str] = Counter()
    chunks = iter_file_chunks(
        source,
        pipeline.contract,
        FileKind.APPLICATIONS,
        expected_features=pipeline.feature_columns,
        chunk_rows=chunk_rows,
    )

    def decided() -> Iterator[pd.DataFrame]:
        for chunk in chunks:
            out = pipeline.decide(chunk, model_version=model_version)
            del chunk  # not kept while the next chunk is read
            counts.update(out["decision"].tolist())
            yield out
            del out

    write_csv_chunks_atomic(decided(), target)
    return counts
