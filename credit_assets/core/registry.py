"""The model registry, over MLflow: log a decision pipeline as one model, load it by alias.

Scorers always load by alias (``champion``) or explicit version, so a promotion or rollback
changes what is scored without a code change.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import joblib
import mlflow
import pandas as pd
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException
from mlflow.models import infer_signature

from credit_assets.core.errors import CreditAssetsError
from credit_assets.core.pipeline import DecisionPipeline

CHAMPION = "champion"
_ARTIFACT = "decision_pipeline.joblib"


class DecisionPipelineModel(mlflow.pyfunc.PythonModel):
    """pyfunc wrapper: ``predict`` returns one decision row per input row."""

    def load_context(self, context: Any) -> None:
        self.pipeline: DecisionPipeline = joblib.load(context.artifacts["pipeline"])

    def predict(
        self, context: Any, model_input: pd.DataFrame, params: dict[str, Any] | None = None
    ) -> pd.DataFrame:
        version = (params or {}).get("model_version", "unregistered")
        return self.pipeline.decide(model_input, model_version=version)


def _requirements() -> list[str]:
    """The serving environment, stated instead of inferred (inference exports the lock file
    on every registration, which is slow and lists build tools)."""
    from importlib.metadata import version

    return [
        f"{name}=={version(name)}"
        for name in (
            "credit-assets",
            "lightgbm",
            "scikit-learn",
            "pandas",
            "numpy",
            "mlflow",
            "pydantic",
            "pyyaml",
            "joblib",
        )
    ]


@dataclass(frozen=True)
class RegisteredVersion:
    name: str
    version: str
    run_id: str


@dataclass(frozen=True)
class ModelRegistry:
    tracking_uri: str
    model_name: str
    experiment: str
    artifact_location: str | None = None

    @property
    def client(self) -> MlflowClient:
        return MlflowClient(tracking_uri=self.tracking_uri, registry_uri=self.tracking_uri)

    def experiment_id(self) -> str:
        client = self.client
        found = client.get_experiment_by_name(self.experiment)
        if found is not None:
            return found.experiment_id
        return client.create_experiment(self.experiment, artifact_location=self.artifact_location)

    def start_run(self, run_name: str, tags: dict[str, str]) -> str:
        run = self.client.create_run(self.experiment_id(), run_name=run_name, tags=tags)
        return run.info.run_id

    def log(
        self,
        run_id: str,
        *,
        params: dict[str, Any] | None = None,
        metrics: dict[str, float] | None = None,
        tags: dict[str, str] | None = None,
    ) -> None:
        client = self.client
        for key, value in (params or {}).items():
            client.log_param(run_id, key, value)
        for key, value in (metrics or {}).items():
            client.log_metric(run_id, key, float(value))
        for key, value in (tags or {}).items():
            client.set_tag(run_id, key, value)

    def log_artifact(self, run_id: str, path: Path, artifact_path: str | None = None) -> None:
        self.client.log_artifact(run_id, str(path), artifact_path)

    def register(
        self,
        run_id: str,
        pipeline: DecisionPipeline,
        example: pd.DataFrame,
        alias: str | None = CHAMPION,
    ) -> RegisteredVersion:
        """Log ``pipeline`` as one pyfunc model in ``run_id``, register it, set ``alias``."""
        mlflow.set_tracking_uri(self.tracking_uri)
        mlflow.set_registry_uri(self.tracking_uri)
        signature = infer_signature(example, pipeline.decide(example, model_version="0"))
        with tempfile.TemporaryDirectory() as tmp:
            artifact = Path(tmp) / _ARTIFACT
            joblib.dump(pipeline, artifact)
            with mlflow.start_run(run_id=run_id):
                info = mlflow.pyfunc.log_model(
                    name="decision_pipeline",
                    python_model=DecisionPipelineModel(),
                    artifacts={"pipeline": str(artifact)},
                    signature=signature,
                    input_example=example,
                    pip_requirements=_requirements(),
                    registered_model_name=self.model_name,
                )
        version = str(info.registered_model_version)
        if alias:
            self.client.set_registered_model_alias(self.model_name, alias, version)
        return RegisteredVersion(self.model_name, version, run_id)

    def resolve(self, ref: str = CHAMPION) -> RegisteredVersion:
        """A version number or an alias, checked against the registry."""
        client = self.client
        try:
            mv = (
                client.get_model_version(self.model_name, ref)
                if ref.isdigit()
                else client.get_model_version_by_alias(self.model_name, ref)
            )
        except MlflowException as exc:
            what = f"version {ref}" if ref.isdigit() else f"alias {ref!r}"
            raise CreditAssetsError(
                f"model {self.model_name!r} has no {what} in the registry at "
                f"{self.tracking_uri} (train one with 'credit-assets run')"
            ) from exc
        return RegisteredVersion(self.model_name, str(mv.version), mv.run_id)

    def load(self, ref: str = CHAMPION) -> tuple[DecisionPipeline, RegisteredVersion]:
        found = self.resolve(ref)
        uri = f"models:/{self.model_name}/{found.version}"
        mlflow.set_registry_uri(self.tracking_uri)
        mlflow.set_tracking_uri(self.tracking_uri)
        model = mlflow.pyfunc.load_model(uri)
        return model.unwrap_python_model().pipeline, found
