"""What the registry holds, read without importing MLflow (about a second of start-up).

``credit-assets model list`` and ``model show`` only read: versions, aliases, tags and a run's
metrics. Those come from MLflow's documented REST API when the tracking URI is a server
(``http(s)://``), or from its tables when it is a database (the embedded profile's SQLite).
Any other URI is read through MLflow itself (:class:`~credit_assets.core.registry.ModelRegistry`
is a reader too). Writes always go through MLflow.

A test reads one registry through each reader and through MLflow and compares, so a schema
change in an MLflow upgrade shows up as a failing test, not as a wrong table.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import os
from abc import ABC, abstractmethod
from contextlib import closing
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlparse
from urllib.request import url2pathname

from credit_assets.core.errors import CreditAssetsError

if TYPE_CHECKING:
    from credit_assets.core.pipeline import DecisionPipeline

HISTORY_TAG = "champion_history"
EVENT_PREFIX = "alias_event."
# The pyfunc artifact that holds the pickled DecisionPipeline (named in the MLmodel file).
PIPELINE_ARTIFACT = "pipeline"
# Beside it for a compiled model: the same pipeline reduced to what deciding needs (plain
# pickle, no scikit-learn or LightGBM objects; see core/lean.py).
COMPILED_ARTIFACT = "compiled_pipeline"


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


@dataclass(frozen=True)
class ModelRecord:
    """A registered model's tags and aliases (alias -> version)."""

    tags: dict[str, str]
    aliases: dict[str, str]


@dataclass(frozen=True)
class VersionRecord:
    version: str
    run_id: str
    created_ms: int
    tags: dict[str, str]


@dataclass(frozen=True)
class RunRecord:
    metrics: dict[str, float]
    tags: dict[str, str]


class RegistryReader(ABC):
    """Read access to one registered model; subclasses fetch records, this class shapes them."""

    tracking_uri: str
    model_name: str

    @abstractmethod
    def model_record(self) -> ModelRecord | None:
        """The model's tags and aliases; None if it is not registered."""

    @abstractmethod
    def version_records(self) -> list[VersionRecord]:
        """Every registered version, in any order."""

    @abstractmethod
    def run(self, run_id: str) -> RunRecord | None:
        """A run's latest metrics and its tags; None if the run is gone."""

    @abstractmethod
    def registered_models(self) -> dict[str, dict[str, str]]:
        """Every model in the registry, by name, with its aliases (alias -> version)."""

    def missing(self, ref: str) -> CreditAssetsError:
        """The error for a version or alias the registry does not have, saying what it has."""
        what = f"version {ref}" if ref.isdigit() else f"alias {ref!r}"
        models = self.registered_models()
        described = [
            f"{name} ({', '.join(f'{a} v{v}' for a, v in sorted(aliases.items())) or 'no alias'})"
            for name, aliases in sorted(models.items())
        ]
        exists = (
            "registered: " + "; ".join(described) if models else "no model is registered there yet"
        )
        return CreditAssetsError(
            f"model {self.model_name!r} has no {what} in the registry at {self.tracking_uri}; "
            f"{exists} (train one with 'credit-assets run')"
        )

    def pipeline_files(self, version: str) -> dict[str, Path]:
        """The pickled pipelines of ``version`` by artifact name (:data:`PIPELINE_ARTIFACT`,
        and :data:`COMPILED_ARTIFACT` for a compiled model) when its artifacts are on this
        machine's filesystem; empty when only MLflow can fetch them."""
        return {}

    def versions(self) -> list[VersionInfo]:
        """Every registered version, newest first, with its aliases and tags."""
        aliases: dict[str, list[str]] = {}
        model = self.model_record()
        for alias, version in sorted((model.aliases if model else {}).items()):
            aliases.setdefault(str(version), []).append(alias)
        infos = [
            VersionInfo(
                version=r.version,
                run_id=r.run_id,
                aliases=aliases.get(r.version, []),
                created=dt.datetime.fromtimestamp(r.created_ms / 1000, dt.UTC),
                tags=r.tags,
            )
            for r in self.version_records()
        ]
        return sorted(infos, key=lambda v: int(v.version), reverse=True)

    def version_info(self, ref: str) -> VersionInfo:
        """A version number or an alias, checked against the registry."""
        model = self.model_record()
        version = ref if ref.isdigit() else (model.aliases.get(ref) if model else None)
        found = next((v for v in self.versions() if v.version == version), None)
        if found is None:
            raise self.missing(ref)
        return found

    def champion_history(self) -> list[str]:
        model = self.model_record()
        raw = model.tags.get(HISTORY_TAG) if model else None
        return [str(v) for v in json.loads(raw)] if raw else []

    def alias_events(self, version: str | None = None) -> list[AliasChange]:
        """Every recorded alias change, oldest first; with ``version``, those that moved an
        alias to or away from it."""
        model = self.model_record()
        tags = model.tags if model else {}
        events = [
            AliasChange(**json.loads(tags[k])) for k in sorted(tags) if k.startswith(EVENT_PREFIX)
        ]
        if version is None:
            return events
        return [e for e in events if str(version) in (e.version, e.previous)]


def _pairs(items: list[dict] | None) -> dict[str, str]:
    return {i["key"]: i.get("value", "") for i in items or []}


@dataclass(frozen=True)
class RestRegistryReader(RegistryReader):
    """A tracking server, through MLflow's REST API (``/api/2.0/mlflow``)."""

    tracking_uri: str
    model_name: str

    def _get(self, endpoint: str, **params: str) -> dict | None:
        import httpx

        url = f"{self.tracking_uri.rstrip('/')}/api/2.0/mlflow/{endpoint}"
        try:
            response = httpx.get(url, params=params, headers=_server_auth(), timeout=30)
        except httpx.HTTPError as exc:
            raise CreditAssetsError(f"MLflow tracking server {self.tracking_uri}: {exc}") from None
        if response.status_code == 404:
            return None
        if response.is_error:
            raise CreditAssetsError(
                f"MLflow tracking server {self.tracking_uri}: {endpoint} answered "
                f"{response.status_code} {response.text[:200]}"
            )
        return response.json()

    def model_record(self) -> ModelRecord | None:
        body = self._get("registered-models/get", name=self.model_name)
        if body is None:
            return None
        model = body["registered_model"]
        aliases = {a["alias"]: str(a["version"]) for a in model.get("aliases", [])}
        return ModelRecord(_pairs(model.get("tags")), aliases)

    def version_records(self) -> list[VersionRecord]:
        records, token = [], ""
        while True:
            params = {"filter": f"name = '{self.model_name}'", "max_results": "1000"}
            body = self._get(
                "model-versions/search", **params, **({"page_token": token} if token else {})
            )
            for mv in (body or {}).get("model_versions", []):
                records.append(
                    VersionRecord(
                        str(mv["version"]),
                        mv.get("run_id", ""),
                        int(mv["creation_timestamp"]),
                        _pairs(mv.get("tags")),
                    )
                )
            token = (body or {}).get("next_page_token", "")
            if not token:
                return records

    def registered_models(self) -> dict[str, dict[str, str]]:
        models, token = {}, ""
        while True:
            params = {"max_results": "1000", **({"page_token": token} if token else {})}
            body = self._get("registered-models/search", **params) or {}
            for model in body.get("registered_models", []):
                aliases = model.get("aliases", [])
                models[model["name"]] = {a["alias"]: str(a["version"]) for a in aliases}
            token = body.get("next_page_token", "")
            if not token:
                return models

    def run(self, run_id: str) -> RunRecord | None:
        body = self._get("runs/get", run_id=run_id)
        if body is None:
            return None
        data = body["run"].get("data", {})
        metrics = {m["key"]: float(m["value"]) for m in data.get("metrics", [])}
        return RunRecord(metrics, _pairs(data.get("tags")))


def _server_auth() -> dict[str, str]:
    """The credentials MLflow's own client would send: a token, or its auth app's user."""
    token = os.environ.get("MLFLOW_TRACKING_TOKEN")
    if token:
        return {"Authorization": f"Bearer {token}"}
    user = os.environ.get("MLFLOW_TRACKING_USERNAME")
    password = os.environ.get("MLFLOW_TRACKING_PASSWORD")
    if user and password:
        pair = base64.b64encode(f"{user}:{password}".encode()).decode()
        return {"Authorization": f"Basic {pair}"}
    return {}


@dataclass(frozen=True)
class SqlRegistryReader(RegistryReader):
    """A tracking database (SQLite, PostgreSQL, MySQL), through MLflow's registry tables."""

    tracking_uri: str
    model_name: str

    def _rows(self, query: str, **params: str) -> list[tuple]:
        sqlite_file = self.tracking_uri.removeprefix("sqlite:///")
        if sqlite_file != self.tracking_uri:
            # a registry never written has no file: do not create an empty one by reading
            return (
                _sqlite_rows(Path(sqlite_file), query, params)
                if Path(sqlite_file).is_file()
                else []
            )
        import sqlalchemy as sa

        engine = sa.create_engine(self.tracking_uri)
        try:
            with engine.connect() as connection:
                return [tuple(r) for r in connection.execute(sa.text(query), params)]
        except sa.exc.OperationalError:  # tables not created yet: nothing registered
            return []
        except sa.exc.SQLAlchemyError as exc:
            raise CreditAssetsError(f"MLflow registry {self.tracking_uri}: {exc}") from None
        finally:
            engine.dispose()

    def model_record(self) -> ModelRecord | None:
        name = {"name": self.model_name}
        if not self._rows("SELECT 1 FROM registered_models WHERE name = :name", **name):
            return None
        tags = self._rows("SELECT key, value FROM registered_model_tags WHERE name = :name", **name)
        aliases = self._rows(
            "SELECT alias, version FROM registered_model_aliases WHERE name = :name", **name
        )
        return ModelRecord(
            {k: v or "" for k, v in tags}, {alias: str(version) for alias, version in aliases}
        )

    def version_records(self) -> list[VersionRecord]:
        name = {"name": self.model_name}
        tags: dict[str, dict[str, str]] = {}
        for version, key, value in self._rows(
            "SELECT version, key, value FROM model_version_tags WHERE name = :name", **name
        ):
            tags.setdefault(str(version), {})[key] = value or ""
        rows = self._rows(
            "SELECT version, run_id, creation_time FROM model_versions "
            "WHERE name = :name AND current_stage != 'Deleted_Internal'",
            **name,
        )
        return [
            VersionRecord(str(v), run_id or "", int(created or 0), tags.get(str(v), {}))
            for v, run_id, created in rows
        ]

    def run(self, run_id: str) -> RunRecord | None:
        metrics = self._rows(
            "SELECT key, value FROM latest_metrics WHERE run_uuid = :run", run=run_id
        )
        tags = self._rows("SELECT key, value FROM tags WHERE run_uuid = :run", run=run_id)
        if not metrics and not tags:
            return None
        return RunRecord({k: float(v) for k, v in metrics}, {k: v or "" for k, v in tags})

    def registered_models(self) -> dict[str, dict[str, str]]:
        models: dict[str, dict[str, str]] = {
            name: {} for (name,) in self._rows("SELECT name FROM registered_models")
        }
        for name, alias, version in self._rows(
            "SELECT name, alias, version FROM registered_model_aliases"
        ):
            models.setdefault(name, {})[alias] = str(version)
        return models

    def pipeline_files(self, version: str) -> dict[str, Path]:
        rows = self._rows(
            "SELECT storage_location FROM model_versions WHERE name = :name AND version = :v",
            name=self.model_name,
            v=version,
        )
        location = rows[0][0] if rows else None
        if not location or not location.startswith("file://"):
            return {}
        root = Path(url2pathname(urlparse(location).path))
        if not (root / "MLmodel").is_file():
            return {}
        import yaml

        flavor = yaml.safe_load((root / "MLmodel").read_text())["flavors"]["python_function"]
        return {name: root / artifact["path"] for name, artifact in flavor["artifacts"].items()}


def _sqlite_rows(path: Path, query: str, params: dict[str, str]) -> list[tuple]:
    """A query on a SQLite registry through the standard library's driver: importing
    SQLAlchemy alone takes about a second of a command's start."""
    import sqlite3

    try:
        with closing(sqlite3.connect(path, timeout=30)) as connection:
            return [tuple(r) for r in connection.execute(query, params)]
    except sqlite3.OperationalError as exc:
        if "no such table" in str(exc):  # tables not created yet: nothing registered
            return []
        raise CreditAssetsError(f"MLflow registry sqlite:///{path}: {exc}") from None


_SQL_SCHEMES = ("sqlite", "postgresql", "mysql", "mssql")


def open_reader(tracking_uri: str, model_name: str) -> RegistryReader:
    """The lightest reader that understands ``tracking_uri``."""
    scheme = tracking_uri.split(":", 1)[0].split("+", 1)[0].lower()
    if scheme in ("http", "https"):
        return RestRegistryReader(tracking_uri, model_name)
    if scheme in _SQL_SCHEMES:
        return SqlRegistryReader(tracking_uri, model_name)
    from credit_assets.core.registry import ModelRegistry

    return ModelRegistry(tracking_uri, model_name, model_name)


def load_decision_pipeline(
    tracking_uri: str, model_name: str, ref: str
) -> tuple[DecisionPipeline, VersionInfo]:
    """The pipeline of a version or alias, unpickled straight from a local artifact store
    (MLflow's pyfunc loader does the same, after importing MLflow); through MLflow otherwise.

    A compiled model's decision-only form (:mod:`credit_assets.core.lean`) is preferred when
    the version has one: it decides identically without importing scikit-learn or LightGBM.
    """
    reader = open_reader(tracking_uri, model_name)
    info = reader.version_info(ref)
    local = reader.pipeline_files(info.version)
    if COMPILED_ARTIFACT in local:
        import pickle

        with local[COMPILED_ARTIFACT].open("rb") as file:
            return pickle.load(file), info
    if PIPELINE_ARTIFACT in local:
        import joblib

        return joblib.load(local[PIPELINE_ARTIFACT]), info
    from credit_assets.core.registry import ModelRegistry

    pipeline, _ = ModelRegistry(tracking_uri, model_name, model_name).load(info.version)
    return pipeline, info
