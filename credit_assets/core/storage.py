"""Asset files on a path every step can see: one folder per asset, one file per partition.

Writes are atomic (temporary file, then rename), so a failed step leaves the previous file
as it was and a reader never sees half a file.

A file that a blocking quality check rejected gets a marker beside it
(``<partition>.rejected.json``, with the reason): readers treat it as absent, so no later
run (a scheduled retraining, say) can build on it. Writing the asset again removes the
marker; its checks then run again.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import joblib
import pandas as pd
import pyarrow.parquet as pq

from credit_assets.core.errors import CreditAssetsError
from credit_assets.core.io import write_bytes_atomic, write_parquet_atomic


@dataclass(frozen=True)
class LocalStore:
    root: Path

    def path(self, asset: str, partition: str | None = None, suffix: str = "parquet") -> Path:
        name = partition or asset
        return self.root / asset / f"{name}.{suffix}"

    def write_frame(self, frame: pd.DataFrame, asset: str, partition: str | None = None) -> Path:
        path = write_parquet_atomic(frame, self.path(asset, partition))
        self._marker(asset, partition).unlink(missing_ok=True)
        return path

    def read_frame(
        self,
        asset: str,
        partition: str | None = None,
        columns: list[str] | None = None,
        include_rejected: bool = False,
    ) -> pd.DataFrame:
        """The asset's table; ``include_rejected`` is for the quality checks alone."""
        path = self.path(asset, partition)
        what = f"{asset} for {partition}" if partition else asset
        if not path.is_file():
            raise CreditAssetsError(f"{what} has not been materialized yet ({path} is missing)")
        if not include_rejected and (reason := self.rejected(asset, partition)) is not None:
            raise CreditAssetsError(
                f"{what} was rejected by a quality check: {reason} "
                "(fix the input and materialize it again)"
            )
        return pd.read_parquet(path, columns=columns)

    def partitions(self, asset: str) -> list[str]:
        """Partitions of ``asset`` that have a file not rejected by a check, oldest first."""
        return sorted(
            p.stem
            for p in (self.root / asset).glob("*.parquet")
            if p.stem != asset and not self._marker(asset, p.stem).exists()
        )

    def row_count(self, asset: str, partition: str | None = None) -> int:
        """Rows in the asset's file, from the Parquet footer (nothing else is read)."""
        return pq.ParquetFile(self.path(asset, partition)).metadata.num_rows

    def columns(self, asset: str, partition: str | None = None) -> list[str]:
        return list(pq.read_schema(self.path(asset, partition)).names)

    def _marker(self, asset: str, partition: str | None) -> Path:
        return self.path(asset, partition, "rejected.json")

    def reject(self, asset: str, partition: str | None, reason: str) -> Path:
        """Mark the asset's file as rejected by a blocking check; readers skip it."""
        text = json.dumps({"reason": reason}, indent=2)
        return write_bytes_atomic(text.encode(), self._marker(asset, partition))

    def rejected(self, asset: str, partition: str | None = None) -> str | None:
        """The reason the file was rejected, or None."""
        marker = self._marker(asset, partition)
        if not marker.is_file():
            return None
        return json.loads(marker.read_text())["reason"]

    def write_object(self, obj: Any, asset: str, name: str | None = None) -> Path:
        buffer = io.BytesIO()
        joblib.dump(obj, buffer)
        return write_bytes_atomic(buffer.getvalue(), self.path(asset, name, "joblib"))

    def read_object(self, asset: str, name: str | None = None) -> Any:
        path = self.path(asset, name, "joblib")
        if not path.is_file():
            raise CreditAssetsError(f"{asset} has not been materialized yet ({path} is missing)")
        return joblib.load(path)

    def write_bytes(self, data: bytes, asset: str, name: str, suffix: str) -> Path:
        return write_bytes_atomic(data, self.path(asset, name, suffix))

    def write_json(self, data: dict[str, Any], asset: str, name: str | None = None) -> Path:
        text = json.dumps(data, indent=2, sort_keys=True, default=str)
        return write_bytes_atomic(text.encode(), self.path(asset, name, "json"))

    def read_json(self, asset: str, name: str | None = None) -> dict[str, Any]:
        path = self.path(asset, name, "json")
        if not path.is_file():
            raise CreditAssetsError(f"{asset} has not been materialized yet ({path} is missing)")
        return json.loads(path.read_text())
