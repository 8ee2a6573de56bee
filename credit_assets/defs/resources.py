"""Resources: the dataset (contract + data directory), asset storage and the model registry."""

from pathlib import Path
from typing import TYPE_CHECKING

import dagster as dg

from credit_assets.core.contract import DatasetContract, load_contract
from credit_assets.core.dataset import DataDir
from credit_assets.core.expectations import LoadedSuite, load_suite
from credit_assets.core.storage import Store, open_store
from credit_assets.settings import Settings

if TYPE_CHECKING:  # MLflow is imported by the steps that use the registry, not at load
    from credit_assets.core.registry import ModelRegistry


class DatasetResource(dg.ConfigurableResource):
    """The data directory, the contract that describes its files, and the GX suites that
    check the assets built from them."""

    data_dir: str
    contract_path: str | None = None
    expectations_dir: str | None = None

    def contract(self) -> DatasetContract:
        return load_contract(self.contract_path)

    def data(self) -> DataDir:
        return DataDir(Path(self.data_dir))

    def suite(self, asset: str) -> LoadedSuite:
        """``<expectations_dir>/<contract>/<asset>.json``, or derived from the contract."""
        root = Path(self.expectations_dir) if self.expectations_dir else None
        return load_suite(self.contract(), asset, root)


class StorageResource(dg.ConfigurableResource):
    """Where asset files live: a path every worker sees, or ``s3://bucket/prefix``."""

    root: str

    def store(self) -> Store:
        return open_store(self.root)


class MlflowResource(dg.ConfigurableResource):
    """MLflow tracking and model registry; the registered model is named after the contract."""

    tracking_uri: str
    artifact_location: str | None = None

    def registry(self, contract: DatasetContract) -> "ModelRegistry":
        from credit_assets.core.registry import ModelRegistry

        return ModelRegistry(
            tracking_uri=self.tracking_uri,
            model_name=f"credit-{contract.name}",
            experiment=f"credit-{contract.name}",
            artifact_location=self.artifact_location,
        )


def build_resources(settings: Settings) -> dict[str, dg.ConfigurableResource]:
    return {
        "dataset": DatasetResource(
            data_dir=str(settings.data_dir),
            contract_path=str(settings.contract_path) if settings.contract_path else None,
            expectations_dir=str(settings.expectations_dir),
        ),
        "storage": StorageResource(root=settings.storage_location),
        "mlflow": MlflowResource(
            tracking_uri=settings.mlflow_tracking_uri,
            artifact_location=settings.mlflow_artifact_location,
        ),
    }
