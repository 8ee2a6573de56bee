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
| CREDIT_LOCKS          | ``$CREDIT_HOME/locks``; scaled out, PostgreSQL (``DAGSTER_PG_*``) |
| CREDIT_DECISION_LOG_URL | ``sqlite:///$CREDIT_HOME/decisions.db`` (every decision on record) |
| CREDIT_DECISION_LOG_REDACT_PROTECTED | ``false``: store protected attributes with inputs |
| CREDIT_ALERT_WEBHOOK  | unset: alerts only go to ``$CREDIT_HOME/alerts.log``    |
| CREDIT_CHUNK_ROWS     | 20,000: rows ``score`` and the daily decisions hold at a time |

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

from pathlib import Path
from typing import TYPE_CHECKING, Literal

from pydantic import AliasChoices, Field, ValidationError, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from credit_assets.core.catalog import Catalog, DatasetEntry, model_name, storage_location
from credit_assets.core.contract import load_contract
from credit_assets.core.errors import CreditAssetsError
from credit_assets.core.locks import WriterLocks

if TYPE_CHECKING:
    from credit_assets.core.decision_log import DecisionLog
    from credit_assets.core.registry import ModelRegistry

Profile = Literal["embedded", "scaleout"]
PROFILES: tuple[Profile, ...] = ("embedded", "scaleout")
# Suites are reviewed like code, so they live with it: ``expectations/`` beside the package.
DEFAULT_EXPECTATIONS_DIR = Path(__file__).resolve().parent.parent / "expectations"


class SettingsError(CreditAssetsError):
    """An environment variable holds a value the platform cannot use."""


def _named(variable: str, default: object = None) -> object:
    """A field read from exactly this variable (MLflow's own, or ours under another name);
    its default goes through the validators too, since it depends on fields before it."""
    return Field(default, validation_alias=AliasChoices(variable), validate_default=True)


class Settings(BaseSettings):
    """The environment, read when :meth:`from_env` is called (never at import)."""

    # An empty variable counts as unset, as ``${X:-}`` in compose files leaves them.
    model_config = SettingsConfigDict(env_prefix="CREDIT_", env_ignore_empty=True, frozen=True)

    profile: Profile = "embedded"
    home: Path = Path(".credit")
    data_dir: Path = Path("data")
    contract_path: Path | None = _named("CREDIT_CONTRACT")
    storage_dir: Path = Field(None, validate_default=True)
    mlflow_tracking_uri: str = _named("MLFLOW_TRACKING_URI")
    partitions_start: str | None = None  # None: each dataset's first dated file
    expectations_dir: Path = DEFAULT_EXPECTATIONS_DIR
    datasets_file: Path = _named("CREDIT_DATASETS")
    storage_url: str | None = None
    celery_broker: str = "pyamqp://guest:guest@localhost:5672//"
    celery_backend: str = "redis://localhost:6379/0"
    locks: str | None = None
    # the decision log (every decision on record): a SQLAlchemy URL; SQLite in the home if unset
    decision_log_url: str = Field(None, validate_default=True)
    decision_log_redact_protected: bool = False  # store no protected attribute with inputs
    alert_webhook: str | None = None  # alerts are POSTed here as well as logged
    # rows a streaming step holds at a time; None: ``core.dataset.CHUNK_ROWS``
    chunk_rows: int | None = Field(None, gt=0)
    # the scale-out instance's database, where the writer locks live too
    dagster_pg_host: str | None = _named("DAGSTER_PG_HOST")
    dagster_pg_port: str = _named("DAGSTER_PG_PORT", "5432")
    dagster_pg_user: str = _named("DAGSTER_PG_USER", "postgres")
    dagster_pg_password: str = _named("DAGSTER_PG_PASSWORD", "")
    dagster_pg_db: str = _named("DAGSTER_PG_DB", "dagster")

    @field_validator("home", "data_dir", "contract_path", "expectations_dir")
    @classmethod
    def _absolute(cls, path: Path | None) -> Path | None:
        return None if path is None else path.absolute()

    @field_validator("storage_dir", mode="before")
    @classmethod
    def _storage_dir(cls, path: str | None, info: ValidationInfo) -> Path:
        return Path(path or info.data["home"] / "storage").absolute()

    @field_validator("datasets_file", mode="before")
    @classmethod
    def _datasets_file(cls, path: str | None, info: ValidationInfo) -> Path:
        return Path(path or info.data["home"] / "datasets.yaml").absolute()

    @field_validator("decision_log_url", mode="before")
    @classmethod
    def _decision_log_url(cls, url: str | None, info: ValidationInfo) -> str:
        return url or f"sqlite:///{info.data['home'] / 'decisions.db'}"

    @field_validator("mlflow_tracking_uri", mode="before")
    @classmethod
    def _tracking_uri(cls, uri: str | None, info: ValidationInfo) -> str:
        if uri:
            return uri
        if info.data.get("profile") == "scaleout":
            return "http://localhost:5000"  # the tracking server, on PostgreSQL
        return f"sqlite:///{info.data['home'] / 'mlflow.db'}"

    @property
    def mlflow_artifact_location(self) -> str | None:
        """A tracking server stores artifacts where it was told to; only the embedded
        profile chooses a local folder itself."""
        return None if self.profile == "scaleout" else (self.home / "mlartifacts").as_uri()

    @property
    def storage_location(self) -> str:
        """What the storage resource opens: an object-store URL if set, else the local dir."""
        return self.storage_url or str(self.storage_dir)

    def require_suites(self) -> None:
        """The scale-out profile runs only with its reviewed expectation suites: without the
        folder every check would quietly fall back to suites derived in memory, dropping the
        hand-written expectations. Raises :class:`SettingsError` (one line) when it is missing."""
        if self.profile == "scaleout" and not self.expectations_dir.is_dir():
            raise SettingsError(
                f"CREDIT_EXPECTATIONS_DIR: no expectation suites at {self.expectations_dir}; "
                "the scale-out profile needs the reviewed suites (the image ships them, see "
                "deploy/Dockerfile)"
            )

    def catalog(self) -> Catalog:
        """The datasets known to this platform; the environment's dataset when none was added."""
        default = DatasetEntry(
            load_contract(self.contract_path).name, self.contract_path, self.data_dir
        )
        return Catalog(self.datasets_file, default)

    def dataset_storage(self, name: str) -> str:
        """Where one dataset's asset files live."""
        return storage_location(self.storage_location, name)

    def registry(self, dataset: str) -> ModelRegistry:
        """The MLflow registry of one dataset (MLflow is imported only when asked for)."""
        from credit_assets.core.registry import ModelRegistry

        name = model_name(dataset)
        return ModelRegistry(self.mlflow_tracking_uri, name, name)

    def writer_locks(self) -> WriterLocks:
        """Where datasets' writer locks live: the instance's PostgreSQL database when scaled
        out (``DAGSTER_PG_*``), else ``$CREDIT_HOME/locks``; ``CREDIT_LOCKS`` overrides."""
        where = self.locks
        if not where and self.profile == "scaleout" and self.dagster_pg_host:
            where = (
                f"postgresql://{self.dagster_pg_user}:{self.dagster_pg_password}@"
                f"{self.dagster_pg_host}:{self.dagster_pg_port}/{self.dagster_pg_db}"
            )
        return WriterLocks(where or str(self.home / "locks"))

    def decision_log(self) -> DecisionLog:
        """The platform's one record of decisions (``core/decision_log.py``)."""
        from credit_assets.core.decision_log import DecisionLog

        return DecisionLog(
            self.decision_log_url, redact_protected=self.decision_log_redact_protected
        )

    @classmethod
    def from_env(cls) -> Settings:
        try:
            return cls()
        except ValidationError as exc:
            raise SettingsError(_one_line(exc)) from None


def _one_line(exc: ValidationError) -> str:
    """The first refused variable, named as the user set it."""
    error = exc.errors()[0]
    where = str(error["loc"][0]) if error["loc"] else ""
    # a field read under its own variable is reported by that variable's name already
    variable = f"CREDIT_{where.upper()}" if where in Settings.model_fields else where
    return f"{variable}: {error['msg']} (got {error.get('input')!r})"
