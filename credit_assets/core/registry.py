"""The model registry, over MLflow: log a decision pipeline as one model, load it by alias.

Scorers always load by alias (``champion``) or explicit version, so a promotion or rollback
changes what is scored without a code change. The alias is resolved on every load; the loaded
pipeline of a version is kept per process (a registered version never changes), so a worker
scoring many partitions downloads and unpickles it once.

A newly registered version becomes ``challenger``; it becomes ``champion`` only through
:meth:`ModelRegistry.move_alias` (the promotion gates, or an operator). Every alias change is
recorded in MLflow: a registered-model tag ``alias_event.NNNNNN`` (JSON: action, alias,
version, previous, by, at, reason), tags on the version itself, and the registered-model tag
``champion_history`` (JSON list of versions, the last being the champion) that rollback
follows back.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import pickle
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Any

import joblib
import mlflow
import pandas as pd
from mlflow import MlflowClient
from mlflow.entities import Metric, Param, RunTag
from mlflow.exceptions import MlflowException
from mlflow.models import infer_signature

from credit_assets.core.compiled import compile_booster
from credit_assets.core.errors import CreditAssetsError
from credit_assets.core.pipeline import DecisionPipeline
from credit_assets.core.registry_names import CHALLENGER, CHAMPION
from credit_assets.core.registry_view import (
    COMPILED_ARTIFACT,
    EVENT_PREFIX,
    HISTORY_TAG,
    PIPELINE_ARTIFACT,
    AliasChange,
    ModelRecord,
    RegistryReader,
    RunRecord,
    VersionRecord,
)

_HISTORY_KEEP = 100
_ARTIFACT = "decision_pipeline.joblib"
_COMPILED = "compiled_pipeline.pickle"
_MODEL_CODE = Path(__file__).with_name("mlflow_model.py")
# Loaded pipelines kept per process: the champion, the challenger and the champion before.
_LOADED_KEEP = 4


class DecisionPipelineModel(mlflow.pyfunc.PythonModel):
    """pyfunc wrapper: ``predict`` returns one decision row per input row. Registered as code
    (``mlflow_model.py``); MLflow hands it the pipeline artifact in ``load_context``."""

    def load_context(self, context: Any) -> None:
        self.pipeline: DecisionPipeline = joblib.load(context.artifacts[PIPELINE_ARTIFACT])
        model = self.pipeline.model
        if model.compiled is None:  # registered before models were compiled (or not additive)
            model.compiled = compile_booster(model.pipeline.named_steps["model"].booster_)

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


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


@dataclass(frozen=True)
class ModelRegistry(RegistryReader):
    tracking_uri: str
    model_name: str
    experiment: str
    artifact_location: str | None = None

    @cached_property  # one per registry object: each client builds its stores anew
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
        # one call, one transaction: a call per key cost a commit each (about a second for
        # a training run's parameters and metrics on SQLite)
        now = int(time.time() * 1000)
        self.client.log_batch(
            run_id,
            metrics=[Metric(k, float(v), now, 0) for k, v in (metrics or {}).items()],
            params=[Param(k, str(v)) for k, v in (params or {}).items()],
            tags=[RunTag(k, str(v)) for k, v in (tags or {}).items()],
        )

    def log_text(self, run_id: str, text: str, artifact_file: str) -> None:
        """A text artifact straight from memory (asset files may be on object storage)."""
        self.client.log_text(run_id, text, artifact_file)

    def register(
        self,
        run_id: str,
        pipeline: DecisionPipeline,
        example: pd.DataFrame,
        alias: str | None = CHALLENGER,
        by: str = "training",
    ) -> RegisteredVersion:
        """Log ``pipeline`` as one pyfunc model in ``run_id``, register it, set ``alias``
        (``challenger``: a new version never becomes champion without the gates)."""
        signature = infer_signature(example, pipeline.decide(example, model_version="0"))
        with _tracking(self.tracking_uri), tempfile.TemporaryDirectory() as tmp:
            artifacts = {PIPELINE_ARTIFACT: str(Path(tmp) / _ARTIFACT)}
            joblib.dump(pipeline, artifacts[PIPELINE_ARTIFACT])
            compiled = pipeline.compiled_only()
            if compiled is not None:  # what `score` loads: no scikit-learn or LightGBM
                artifacts[COMPILED_ARTIFACT] = str(Path(tmp) / _COMPILED)
                with open(artifacts[COMPILED_ARTIFACT], "wb") as file:
                    pickle.dump(compiled, file, protocol=pickle.HIGHEST_PROTOCOL)
            with mlflow.start_run(run_id=run_id):
                info = mlflow.pyfunc.log_model(
                    name="decision_pipeline",
                    python_model=str(_MODEL_CODE),
                    artifacts=artifacts,
                    signature=signature,
                    input_example=example,
                    pip_requirements=_requirements(),
                    registered_model_name=self.model_name,
                )
        version = str(info.registered_model_version)
        if alias:
            self.move_alias(alias, version, by=by, reason="newly trained", action=alias)
        return RegisteredVersion(self.model_name, version, run_id)

    # -- aliases and their history ---------------------------------------------------------

    def alias_version(self, alias: str) -> str | None:
        try:
            return str(self.client.get_model_version_by_alias(self.model_name, alias).version)
        except MlflowException:
            return None

    def model_record(self) -> ModelRecord | None:
        try:
            model = self.client.get_registered_model(self.model_name)
        except MlflowException:
            return None
        aliases = {alias: str(version) for alias, version in (model.aliases or {}).items()}
        return ModelRecord(dict(model.tags), aliases)

    def version_records(self) -> list[VersionRecord]:
        try:
            found = self.client.search_model_versions(f"name = '{self.model_name}'")
        except MlflowException:
            return []
        return [
            VersionRecord(str(mv.version), mv.run_id, mv.creation_timestamp, dict(mv.tags or {}))
            for mv in found
        ]

    def run(self, run_id: str) -> RunRecord | None:
        try:
            data = self.client.get_run(run_id).data
        except MlflowException:
            return None
        return RunRecord(dict(data.metrics), dict(data.tags))

    def model_tags(self) -> dict[str, str]:
        model = self.model_record()
        return model.tags if model else {}

    def _record(self, change: AliasChange) -> None:
        client = self.client
        tags = self.model_tags()
        seq = 1 + max(
            (int(k[len(EVENT_PREFIX) :]) for k in tags if k.startswith(EVENT_PREFIX)), default=0
        )
        client.set_registered_model_tag(
            self.model_name, f"{EVENT_PREFIX}{seq:06d}", change.to_json()
        )
        client.set_registered_model_tag(self.model_name, "last_alias_change", change.to_json())
        prefix = {"promote": "promoted", "rollback": "restored"}.get(change.action, change.action)
        for key, value in (("at", change.at), ("by", change.by), ("reason", change.reason)):
            client.set_model_version_tag(self.model_name, change.version, f"{prefix}_{key}", value)
        if change.action == "rollback" and change.previous:
            for key, value in (("at", change.at), ("by", change.by), ("reason", change.reason)):
                client.set_model_version_tag(
                    self.model_name, change.previous, f"rolled_back_{key}", value
                )

    def move_alias(
        self, alias: str, version: str, *, by: str, reason: str, action: str | None = None
    ) -> AliasChange:
        """Point ``alias`` at ``version`` and record who, when and why."""
        version = self.resolve(str(version)).version
        previous = self.alias_version(alias)
        client = self.client
        client.set_registered_model_alias(self.model_name, alias, version)
        change = AliasChange(
            action=action or ("promote" if alias == CHAMPION else alias),
            alias=alias,
            version=version,
            previous=previous,
            by=by,
            at=_now(),
            reason=reason,
        )
        self._record(change)
        return change

    def promote(self, version: str, *, by: str, reason: str) -> AliasChange:
        """Make ``version`` the champion; the old champion stays in the history for rollback."""
        version = self.resolve(str(version)).version
        if self.alias_version(CHAMPION) == version:
            raise CreditAssetsError(f"version {version} is already the champion")
        change = self.move_alias(CHAMPION, version, by=by, reason=reason, action="promote")
        history = [*self.champion_history(), version][-_HISTORY_KEEP:]
        self.client.set_registered_model_tag(self.model_name, HISTORY_TAG, json.dumps(history))
        if self.alias_version(CHALLENGER) == version:
            self.client.delete_registered_model_alias(self.model_name, CHALLENGER)
        return change

    def rollback(self, *, by: str, reason: str) -> AliasChange:
        """Move ``champion`` back to the champion before the current one."""
        current = self.alias_version(CHAMPION)
        if current is None:
            raise CreditAssetsError(f"model {self.model_name!r} has no champion to roll back")
        history = self.champion_history()
        while history and history[-1] == current:
            history.pop()
        if not history:
            raise CreditAssetsError(
                f"no previous champion to roll back to: version {current} is the only one "
                "recorded as champion (use 'credit-assets model promote VERSION' to choose one)"
            )
        target = history[-1]
        change = self.move_alias(CHAMPION, target, by=by, reason=reason, action="rollback")
        self.client.set_registered_model_tag(self.model_name, HISTORY_TAG, json.dumps(history))
        return change

    def set_version_tags(self, version: str, tags: dict[str, str]) -> None:
        for key, value in tags.items():
            self.client.set_model_version_tag(self.model_name, str(version), key, value)

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
            raise self.missing(ref) from exc
        return RegisteredVersion(self.model_name, str(mv.version), mv.run_id)

    def registered_models(self) -> dict[str, dict[str, str]]:
        return {
            model.name: {alias: str(v) for alias, v in (model.aliases or {}).items()}
            for model in self.client.search_registered_models()
        }

    def load(self, ref: str = CHAMPION) -> tuple[DecisionPipeline, RegisteredVersion]:
        """The pipeline of a version or alias; the alias is looked up on every call, the
        pipeline comes from this process's cache when loaded before. It is shared: read it,
        never modify it."""
        found = self.resolve(ref)
        return _load_pipeline(self.tracking_uri, found.name, found.version, found.run_id), found


@lru_cache(maxsize=_LOADED_KEEP)
def _load_pipeline(
    tracking_uri: str, model_name: str, version: str, run_id: str
) -> DecisionPipeline:
    """Download and unpickle one registered version. The run id is in the key so that a
    registry recreated at the same URI (its numbering restarting) is never served stale."""
    with _tracking(tracking_uri):
        model = mlflow.pyfunc.load_model(f"models:/{model_name}/{version}")
    return model.unwrap_python_model().pipeline


@contextmanager
def _tracking(uri: str) -> Iterator[None]:
    """MLflow's fluent API at ``uri`` for the block only: ``mlflow.set_tracking_uri`` also
    sets ``MLFLOW_TRACKING_URI`` in the environment, which would point every later reader of
    the settings in this process (and its subprocesses) at this registry."""
    saved = {k: os.environ.get(k) for k in ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI")}
    tracking, registry = mlflow.get_tracking_uri(), mlflow.get_registry_uri()
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    try:
        yield
    finally:
        mlflow.set_tracking_uri(tracking)
        mlflow.set_registry_uri(registry)
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
