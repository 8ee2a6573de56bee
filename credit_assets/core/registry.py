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
import tempfile
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import joblib
import mlflow
import pandas as pd
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException
from mlflow.models import infer_signature

from credit_assets.core.compiled import compile_booster
from credit_assets.core.errors import CreditAssetsError
from credit_assets.core.pipeline import DecisionPipeline
from credit_assets.core.registry_names import CHALLENGER, CHAMPION

HISTORY_TAG = "champion_history"
EVENT_PREFIX = "alias_event."
_HISTORY_KEEP = 100
_ARTIFACT = "decision_pipeline.joblib"
_MODEL_CODE = Path(__file__).with_name("mlflow_model.py")
# Loaded pipelines kept per process: the champion, the challenger and the champion before.
_LOADED_KEEP = 4


class DecisionPipelineModel(mlflow.pyfunc.PythonModel):
    """pyfunc wrapper: ``predict`` returns one decision row per input row. Registered as code
    (``mlflow_model.py``); MLflow hands it the pipeline artifact in ``load_context``."""

    def load_context(self, context: Any) -> None:
        self.pipeline: DecisionPipeline = joblib.load(context.artifacts["pipeline"])
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


@dataclass(frozen=True)
class AliasChange:
    """One move of an alias: who moved it, when and why."""

    action: str  # promote | rollback | challenger
    alias: str
    version: str
    previous: str | None
    by: str
    at: str
    reason: str

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)


@dataclass(frozen=True)
class VersionInfo:
    version: str
    run_id: str
    aliases: list[str]
    created: dt.datetime
    tags: dict[str, str]


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


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
        mlflow.set_tracking_uri(self.tracking_uri)
        mlflow.set_registry_uri(self.tracking_uri)
        signature = infer_signature(example, pipeline.decide(example, model_version="0"))
        with tempfile.TemporaryDirectory() as tmp:
            artifact = Path(tmp) / _ARTIFACT
            joblib.dump(pipeline, artifact)
            with mlflow.start_run(run_id=run_id):
                info = mlflow.pyfunc.log_model(
                    name="decision_pipeline",
                    python_model=str(_MODEL_CODE),
                    artifacts={"pipeline": str(artifact)},
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

    def model_tags(self) -> dict[str, str]:
        try:
            return dict(self.client.get_registered_model(self.model_name).tags)
        except MlflowException:
            return {}

    def champion_history(self) -> list[str]:
        raw = self.model_tags().get(HISTORY_TAG)
        return [str(v) for v in json.loads(raw)] if raw else []

    def alias_events(self, version: str | None = None) -> list[AliasChange]:
        """Every recorded alias change, oldest first; with ``version``, those that moved an
        alias to or away from it."""
        tags = self.model_tags()
        events = [
            AliasChange(**json.loads(tags[k])) for k in sorted(tags) if k.startswith(EVENT_PREFIX)
        ]
        if version is None:
            return events
        return [e for e in events if str(version) in (e.version, e.previous)]

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

    def _aliases_by_version(self) -> dict[str, list[str]]:
        """Aliases per version (version searches do not return them on every store)."""
        try:
            aliases = self.client.get_registered_model(self.model_name).aliases or {}
        except MlflowException:
            return {}
        out: dict[str, list[str]] = {}
        for alias, version in sorted(aliases.items()):
            out.setdefault(str(version), []).append(alias)
        return out

    def versions(self) -> list[VersionInfo]:
        """Every registered version, newest first, with its aliases and tags."""
        try:
            found = self.client.search_model_versions(f"name = '{self.model_name}'")
        except MlflowException:
            return []
        aliases = self._aliases_by_version()
        infos = [
            VersionInfo(
                version=str(mv.version),
                run_id=mv.run_id,
                aliases=aliases.get(str(mv.version), []),
                created=dt.datetime.fromtimestamp(mv.creation_timestamp / 1000, dt.UTC),
                tags=dict(mv.tags or {}),
            )
            for mv in found
        ]
        return sorted(infos, key=lambda v: int(v.version), reverse=True)

    def version_info(self, version: str) -> VersionInfo:
        found = self.resolve(str(version))
        mv = self.client.get_model_version(self.model_name, found.version)
        return VersionInfo(
            version=str(mv.version),
            run_id=mv.run_id,
            aliases=self._aliases_by_version().get(str(mv.version), []),
            created=dt.datetime.fromtimestamp(mv.creation_timestamp / 1000, dt.UTC),
            tags=dict(mv.tags or {}),
        )

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
                f"{self.tracking_uri}; {self._what_exists()} (train one with "
                "'credit-assets run')"
            ) from exc
        return RegisteredVersion(self.model_name, str(mv.version), mv.run_id)

    def _what_exists(self) -> str:
        """The registered models and their aliases, for a message about a missing one."""
        models = self.client.search_registered_models()
        if not models:
            return "no model is registered there yet"
        described = []
        for model in sorted(models, key=lambda m: m.name):
            aliases = ", ".join(f"{a} v{v}" for a, v in sorted(model.aliases.items()))
            described.append(f"{model.name} ({aliases or 'no alias'})")
        return "registered: " + "; ".join(described)

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
    mlflow.set_registry_uri(tracking_uri)
    mlflow.set_tracking_uri(tracking_uri)
    model = mlflow.pyfunc.load_model(f"models:/{model_name}/{version}")
    return model.unwrap_python_model().pipeline
