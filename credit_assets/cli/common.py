"""What every sub-command shares: options, output, the one-line error, the environment."""

from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from credit_assets.core.catalog import DatasetEntry

# The embedded profile's instance settings (telemetry off, one training per dataset), from
# the checkout the package is installed from, whatever the working directory.
INSTANCE_TEMPLATE = Path(__file__).resolve().parents[2] / "dagster.yaml"
console = Console()
err = Console(stderr=True)

DataOpt = Annotated[
    Path | None, typer.Option("--data", help="data directory [env CREDIT_DATA_DIR, default ./data]")
]
ContractOpt = Annotated[
    Path | None,
    typer.Option(
        "--contract", help="dataset contract YAML [env CREDIT_CONTRACT, default Santander]"
    ),
]


DatasetOpt = Annotated[
    str | None,
    typer.Option(
        "--dataset", help="the dataset (its contract's name); needed when several are known"
    ),
]


def fail(message: str) -> typer.Exit:
    err.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    return typer.Exit(code=1)


def configure() -> None:
    """The environment every command shares (and the Dagster code location sees)."""
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    # MLflow sets its logger's level when imported (later, in a step): tell it by environment
    os.environ.setdefault("MLFLOW_LOGGING_LEVEL", "WARNING")
    logging.getLogger("alembic").setLevel(logging.WARNING)
    from credit_assets.settings import Settings

    settings = Settings.from_env()
    if "DAGSTER_HOME" not in os.environ:
        os.environ["DAGSTER_HOME"] = str(settings.home / "dagster_home")
    home = Path(os.environ["DAGSTER_HOME"])
    home.mkdir(parents=True, exist_ok=True)
    if not (home / "dagster.yaml").exists() and INSTANCE_TEMPLATE.is_file():
        shutil.copyfile(INSTANCE_TEMPLATE, home / "dagster.yaml")


def resolve_dataset(
    dataset: str | None,
    contract: Path | None = None,
    data: Path | None = None,
    remember: bool = False,
) -> DatasetEntry:
    """The dataset a command acts on (see ``Catalog.resolve``); ``remember`` records a new
    dataset, or a known one's new contract or data folder, in the platform's catalog."""
    from credit_assets.settings import Settings

    configure()
    catalog = Settings.from_env().catalog()
    entry = catalog.resolve(dataset, contract, data)
    if remember:
        from credit_assets.core.dataset import DataDir

        DataDir(entry.data_dir).check()  # a folder that is no dataset is not recorded
        catalog.add(entry)
    return entry
