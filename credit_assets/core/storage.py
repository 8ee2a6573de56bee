"""Asset files on a path every step can see: one folder per asset, one file per partition.

Writes are atomic (temporary file, then rename), so a failed step leaves the previous file
as it was and a reader never sees half a file.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import joblib
import pandas as pd

from credit_assets.core.errors import CreditAssetsError
from credit_assets.core.io import write_bytes_atomic, write_parquet_atomic


@dataclass(frozen=True)
class LocalStore:
    root: Path

    def path(self, asset: str, partition: str | None = None, suffix: str = "parquet") -> Path:
        name = partition or asset
        return self.root / asset / f"{name}.{suffix}"

    def write_frame(self, frame: pd.DataFrame, asset: str, partition: str | None = None) -> Path:
        return write_parquet_atomic(frame, self.path(asset, partition))

    def read_frame(self, asset: str, partition: str | None = None) -> pd.DataFrame:
        path = self.path(asset, partition)
        if not path.is_file():
            what = f"{asset} for {partition}" if partition else asset
            raise CreditAssetsError(f"{what} has not been materialized yet ({path} is missing)")
        return pd.read_parquet(path)

    def partitions(self, asset: str) -> list[str]:
        """Partitions of ``asset`` that have a file, oldest first."""
        return sorted(p.stem for p in (self.root / asset).glob("*.parquet") if p.stem != asset)

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
