"""What every sub-command shares: options, output, the one-line error, the environment."""

from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

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


def fail(message: str) -> typer.Exit:
    err.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    return typer.Exit(code=1)


def configure(data: Path | None, contract: Path | None) -> None:
    """Options become environment variables, so the Dagster code location sees the same."""
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    # MLflow sets its logger's level when imported (later, in a step): tell it by environment
    os.environ.setdefault("MLFLOW_LOGGING_LEVEL", "WARNING")
    logging.getLogger("alembic").setLevel(logging.WARNING)
    if data is not None:
        os.environ["CREDIT_DATA_DIR"] = str(data.absolute())
    if contract is not None:
        os.environ["CREDIT_CONTRACT"] = str(contract.absolute())
    from credit_assets.core.errors import CreditAssetsError
    from credit_assets.settings import Settings

    try:
        settings = Settings.from_env()
    except CreditAssetsError as exc:
        raise fail(str(exc)) from None
    if "DAGSTER_HOME" not in os.environ:
        os.environ["DAGSTER_HOME"] = str(settings.home / "dagster_home")
    home = Path(os.environ["DAGSTER_HOME"])
    home.mkdir(parents=True, exist_ok=True)
    template = Path("dagster.yaml")
    if not (home / "dagster.yaml").exists() and template.is_file():
        shutil.copyfile(template, home / "dagster.yaml")
