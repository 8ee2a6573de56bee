"""Resources: the platform's datasets, asset storage and the model registry.

Resources describe the platform, not one dataset: each dataset's assets know their dataset's
name (``defs/scope.py``) and ask the resources for what belongs to it, so several datasets
share one code location and one instance without sharing any state.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

import dagster as dg

from credit_assets.core.catalog import Catalog, DatasetEntry, model_name, storage_location
from credit_assets.core.contract import DatasetContract
from credit_assets.core.dataset import DataDir
from credit_assets.core.expectations import LoadedSuite, load_suite
from credit_assets.core.locks import WriterLocks
from credit_assets.core.storage import Store, open_store
from credit_assets.settings import Settings

# A step that finds its dataset being written by another run waits this long, then fails
# naming the other writer.
LOCK_WAIT_S = 600.0

if TYPE_CHECKING:  # MLflow is imported by the steps that use the registry, not at load
    from credit_assets.core.decision_log import DecisionLog
    from credit_assets.core.registry import ModelRegistry


@dataclass(frozen=True)
class Dataset:
    """One dataset as its steps see it: contract, data directory, GX suites, writer lock."""

    entry: DatasetEntry
    expectations_dir: Path | None
    locks: WriterLocks | None = None

    @property
    def name(self) -> str:
        return self.entry.name

    @cached_property
    def _contract(self) -> DatasetContract:
        return self.entry.contract()

    def contract(self) -> DatasetContract:
        return self._contract

    def data(self) -> DataDir:
        return DataDir(self.entry.data_dir)

    def suite(self, asset: str) -> LoadedSuite:
        """``<expectations_dir>/<contract>/<asset>.json``, or derived from the contract."""
        return load_suite(self.contract(), asset, self.expectations_dir)

    @contextmanager
    def writing(self, context: dg.AssetExecutionContext) -> Iterator[None]:
        """Hold the dataset's writer lock while a step writes shared state (waiting up to
        ``LOCK_WAIT_S`` for another writer to finish)."""
        if self.locks is None:
            yield
            return
        what = f"dagster run {context.run_id[:8]} step {context.op_def.name}"
        with self.locks.hold(self.name, what, wait=LOCK_WAIT_S):
            yield


class DatasetsResource(dg.ConfigurableResource):
    """The datasets known to the platform (``core/catalog.py``), where their suites are and
    where their writer locks live (``core/locks.py``)."""

    datasets_file: str
    default_name: str
    default_data_dir: str
    default_contract_path: str | None = None
    expectations_dir: str | None = None
    locks: str | None = None

    def catalog(self) -> Catalog:
        default = DatasetEntry(
            self.default_name,
            Path(self.default_contract_path) if self.default_contract_path else None,
            Path(self.default_data_dir),
        )
        return Catalog(Path(self.datasets_file), default)

    def get(self, name: str) -> Dataset:
        root = Path(self.expectations_dir) if self.expectations_dir else None
        locks = WriterLocks(self.locks) if self.locks else None
        return Dataset(self.catalog().get(name), root, locks)


class StorageResource(dg.ConfigurableResource):
    """Where asset files live: a path every worker sees, or ``s3://bucket/prefix``; each
    dataset has its own folder (prefix) below it."""

    root: str
    chunk_rows: int | None = None  # rows a streaming step reads at a time (CREDIT_CHUNK_ROWS)

    def store(self, dataset: str) -> Store:
        return open_store(storage_location(self.root, dataset))


class MlflowResource(dg.ConfigurableResource):
    """MLflow tracking and model registry; the registered model is named after the dataset."""

    tracking_uri: str
    artifact_location: str | None = None

    def registry(self, contract: DatasetContract) -> "ModelRegistry":
        from credit_assets.core.registry import ModelRegistry

        return ModelRegistry(
            tracking_uri=self.tracking_uri,
            model_name=model_name(contract.name),
            experiment=model_name(contract.name),
            artifact_location=self.artifact_location,
        )


class DecisionLogResource(dg.ConfigurableResource):
    """The platform's one record of decisions (``core/decision_log.py``): every decision of
    every dataset and source is appended, never overwritten."""

    url: str
    redact_protected: bool = False

    def log(self) -> "DecisionLog":
        from credit_assets.core.decision_log import DecisionLog

        return DecisionLog(self.url, redact_protected=self.redact_protected)


def build_resources(settings: Settings) -> dict[str, dg.ConfigurableResource]:
    default, log = settings.catalog().default, settings.decision_log()
    return {
        "datasets": DatasetsResource(
            datasets_file=str(settings.catalog().path),
            default_name=default.name,
            default_data_dir=str(default.data_dir),
            default_contract_path=str(default.contract_path) if default.contract_path else None,
            expectations_dir=str(settings.expectations_dir),
            locks=settings.writer_locks().where,
        ),
        "storage": StorageResource(root=settings.storage_location, chunk_rows=settings.chunk_rows),
        "mlflow": MlflowResource(
            tracking_uri=settings.mlflow_tracking_uri,
            artifact_location=settings.mlflow_artifact_location,
        ),
        "decision_log": DecisionLogResource(url=log.url, redact_protected=log.redact_protected),
    }
