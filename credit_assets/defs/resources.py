"""Resources: the platform's datasets, asset storage and the model registry.

Resources describe the platform, not one dataset: each dataset's assets know their dataset's
name (``defs/scope.py``) and ask the resources for what belongs to it, so several datasets
share one code location and one instance without sharing any state.
"""

from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

import dagster as dg

from credit_assets.core.catalog import Catalog, DatasetEntry, model_name, storage_location
from credit_assets.core.contract import DatasetContract
from credit_assets.core.dataset import DataDir
from credit_assets.core.expectations import LoadedSuite, load_suite
from credit_assets.core.locks import WriterLocks, day_lock
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
    def writing(self, context: dg.AssetExecutionContext, shared: bool = False) -> Iterator[None]:
        """Hold the dataset's writer lock while a step writes shared state (waiting up to
        ``LOCK_WAIT_S`` for another writer to finish); ``shared`` when the step only reads it
        (other such steps run beside it, training and promotion wait)."""
        with self._locked(context, [self.name], shared):
            yield

    @contextmanager
    def deciding(self, context: dg.AssetExecutionContext, days: Sequence[str]) -> Iterator[None]:
        """Decide ``days`` with the champion: the dataset's lock shared (days of other runs are
        decided beside these, the champion cannot change under them) and each day's own lock
        (the same day is never decided twice at once), taken in date order so that runs of
        overlapping ranges cannot wait for each other."""
        days_locks = [day_lock(self.name, day) for day in sorted(days)]
        with (
            self._locked(context, [self.name], shared=True),
            self._locked(context, days_locks, shared=False),
        ):
            yield

    @contextmanager
    def _locked(
        self, context: dg.AssetExecutionContext, names: list[str], shared: bool
    ) -> Iterator[None]:
        if self.locks is None:
            yield
            return
        what = f"dagster run {context.run_id[:8]} step {context.op_def.name}"
        with ExitStack() as stack:
            for name in names:
                stack.enter_context(self.locks.hold(name, what, wait=LOCK_WAIT_S, shared=shared))
            yield


class DatasetsResource(dg.ConfigurableResource):
    """The datasets known to the platform (``core/catalog.py``) and where their suites are.
    Their writer locks (``core/locks.py``) are found from the environment of the process that
    writes: scaled out, that is a database URL with its password, and a resource's config is
    stored with every run's job snapshot, which Dagster's UI and GraphQL show."""

    datasets_file: str
    default_name: str
    default_data_dir: str
    default_contract_path: str | None = None
    expectations_dir: str | None = None

    def catalog(self) -> Catalog:
        default = DatasetEntry(
            self.default_name,
            Path(self.default_contract_path) if self.default_contract_path else None,
            Path(self.default_data_dir),
        )
        return Catalog(Path(self.datasets_file), default)

    def get(self, name: str) -> Dataset:
        root = Path(self.expectations_dir) if self.expectations_dir else None
        return Dataset(self.catalog().get(name), root, Settings.from_env().writer_locks())


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
    every dataset and source is appended, never overwritten. Its URL (with a password) comes
    from the environment of the step that writes, for the reason given at ``DatasetsResource``."""

    redact_protected: bool = False

    def log(self) -> "DecisionLog":
        from credit_assets.core.decision_log import DecisionLog

        url = Settings.from_env().decision_log_url
        return DecisionLog(url, redact_protected=self.redact_protected)


def build_resources(settings: Settings) -> dict[str, dg.ConfigurableResource]:
    default = settings.catalog().default
    return {
        "datasets": DatasetsResource(
            datasets_file=str(settings.catalog().path),
            default_name=default.name,
            default_data_dir=str(default.data_dir),
            default_contract_path=str(default.contract_path) if default.contract_path else None,
            expectations_dir=str(settings.expectations_dir),
        ),
        "storage": StorageResource(root=settings.storage_location, chunk_rows=settings.chunk_rows),
        "mlflow": MlflowResource(
            tracking_uri=settings.mlflow_tracking_uri,
            artifact_location=settings.mlflow_artifact_location,
        ),
        "decision_log": DecisionLogResource(
            redact_protected=settings.decision_log_redact_protected
        ),
    }
