"""Where things live, from the environment: the one place that decides the profile.

Every default is local and embedded (project-local files, SQLite, no server), so a fresh
checkout runs with no configuration at all.

| variable              | default                                 |
|-----------------------|-----------------------------------------|
| CREDIT_PROFILE        | ``embedded``                            |
| CREDIT_HOME           | ``./.credit`` (state of the embedded profile) |
| CREDIT_DATA_DIR       | ``./data``                              |
| CREDIT_CONTRACT       | the packaged Santander contract         |
| CREDIT_STORAGE_DIR    | ``$CREDIT_HOME/storage``                |
| MLFLOW_TRACKING_URI   | ``sqlite:///$CREDIT_HOME/mlflow.db``    |
| CREDIT_PARTITIONS_START | each dataset's earliest dated file    |
| CREDIT_EXPECTATIONS_DIR | ``expectations/`` of this checkout (GX suites) |
| CREDIT_DATASETS       | ``$CREDIT_HOME/datasets.yaml`` (the datasets known) |

The ``scaleout`` profile (see ``deploy/`` and ``docs/operations.md``) runs steps on Celery
workers; it adds:

| variable              | default                                                |
|-----------------------|--------------------------------------------------------|
| CREDIT_STORAGE_URL    | unset (= CREDIT_STORAGE_DIR); ``s3://bucket/prefix``   |
| CREDIT_CELERY_BROKER  | ``pyamqp://guest:guest@localhost:5672//`` (RabbitMQ)   |
| CREDIT_CELERY_BACKEND | ``redis://localhost:6379/0``                           |
| MLFLOW_TRACKING_URI   | ``http://localhost:5000`` (tracking server, PostgreSQL) |
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from credit_assets.core.catalog import Catalog, DatasetEntry, model_name, storage_location
from credit_assets.core.contract import load_contract
from credit_assets.core.locks import WriterLocks

if TYPE_CHECKING:
    from credit_assets.core.decision_log import DecisionLog
    from credit_assets.core.registry import ModelRegistry

PROFILES = ("embedded", "scaleout")
# Suites are reviewed like code, so they live with it: ``expectations/`` beside the package.
DEFAULT_EXPECTATIONS_DIR = Path(__file__).resolve().parent.parent / "expectations"


@dataclass(frozen=True)
class Settings:
    profile: str
    home: Path
    data_dir: Path
    contract_path: Path | None
    storage_dir: Path
    mlflow_tracking_uri: str
    mlflow_artifact_location: str | None
    partitions_start: str | None  # None: each dataset's first dated file
    expectations_dir: Path
    datasets_file: Path | None = None
    storage_url: str | None = None
    celery_broker: str = "pyamqp://guest:guest@localhost:5672//"
    celery_backend: str = "redis://localhost:6379/0"

    @property
    def storage_location(self) -> str:
        """What the storage resource opens: an object-store URL if set, else the local dir."""
        return self.storage_url or str(self.storage_dir)

    def catalog(self) -> Catalog:
        """The datasets known to this platform; the environment's dataset when none was added."""
        default = DatasetEntry(
            load_contract(self.contract_path).name, self.contract_path, self.data_dir
        )
        return Catalog(self.datasets_file or self.home / "datasets.yaml", default)

    def registry(self, dataset: str) -> ModelRegistry:
        """The MLflow registry of one dataset (MLflow is imported only when asked for)."""
        from credit_assets.core.registry import ModelRegistry

        name = model_name(dataset)
        return ModelRegistry(self.mlflow_tracking_uri, name, name)

    def writer_locks(self) -> WriterLocks:
        """Where datasets' writer locks live: the instance's PostgreSQL database when scaled
        out (``DAGSTER_PG_*``), else ``$CREDIT_HOME/locks``; ``CREDIT_LOCKS`` overrides."""
        where = os.environ.get("CREDIT_LOCKS")
        if not where and self.profile == "scaleout" and os.environ.get("DAGSTER_PG_HOST"):
            env = os.environ
            where = (
                f"postgresql://{env.get('DAGSTER_PG_USER', 'postgres')}:"
                f"{env.get('DAGSTER_PG_PASSWORD', '')}@{env['DAGSTER_PG_HOST']}:"
                f"{env.get('DAGSTER_PG_PORT', '5432')}/{env.get('DAGSTER_PG_DB', 'dagster')}"
            )
        return WriterLocks(where or str(self.home / "locks"))

    def decision_log(self) -> DecisionLog:
        """The platform's one record of decisions (``core/decision_log.py``):
        ``CREDIT_DECISION_LOG_URL``, else SQLite in ``$CREDIT_HOME/decisions.db``; protected
        attributes are left out of the stored inputs when
        ``CREDIT_DECISION_LOG_REDACT_PROTECTED`` is true."""
        from credit_assets.core.decision_log import DecisionLog

        url = os.environ.get("CREDIT_DECISION_LOG_URL") or f"sqlite:///{self.home / 'decisions.db'}"
        redact = os.environ.get("CREDIT_DECISION_LOG_REDACT_PROTECTED", "").lower()
        return DecisionLog(url, redact_protected=redact in ("1", "true", "yes"))

    def dataset_storage(self, name: str) -> str:
        """Where one dataset's asset files live."""
        return storage_location(self.storage_location, name)

    @classmethod
    def from_env(cls) -> Settings:
        profile = os.environ.get("CREDIT_PROFILE", "embedded")
        if profile not in PROFILES:
            raise ValueError(f"CREDIT_PROFILE must be one of {PROFILES}, got {profile!r}")
        home = Path(os.environ.get("CREDIT_HOME", ".credit")).absolute()
        data_dir = Path(os.environ.get("CREDIT_DATA_DIR", "data")).absolute()
        contract = os.environ.get("CREDIT_CONTRACT")
        scaleout = profile == "scaleout"
        local_tracking = f"sqlite:///{home / 'mlflow.db'}"
        default_tracking = "http://localhost:5000" if scaleout else local_tracking
        return cls(
            profile=profile,
            home=home,
            data_dir=data_dir,
            contract_path=Path(contract).absolute() if contract else None,
            storage_dir=Path(os.environ.get("CREDIT_STORAGE_DIR", home / "storage")).absolute(),
            mlflow_tracking_uri=os.environ.get("MLFLOW_TRACKING_URI", default_tracking),
            # A tracking server stores artifacts where it was told to; only the embedded
            # profile chooses a local folder itself.
            mlflow_artifact_location=None if scaleout else (home / "mlartifacts").as_uri(),
            partitions_start=os.environ.get("CREDIT_PARTITIONS_START") or None,
            expectations_dir=Path(
                os.environ.get("CREDIT_EXPECTATIONS_DIR", DEFAULT_EXPECTATIONS_DIR)
            ).absolute(),
            datasets_file=Path(
                os.environ.get("CREDIT_DATASETS") or home / "datasets.yaml"
            ).absolute(),
            storage_url=os.environ.get("CREDIT_STORAGE_URL") or None,
            celery_broker=os.environ.get("CREDIT_CELERY_BROKER", cls.celery_broker),
            celery_backend=os.environ.get("CREDIT_CELERY_BACKEND", cls.celery_backend),
        )
