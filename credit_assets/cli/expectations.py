"""``credit-assets expectations``: the GX suites derived from a dataset contract."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="Great Expectations suites under expectations/<contract name>/, one per checked asset.",
)
console = Console()
err = Console(stderr=True)


@app.command()
def generate(
    contract: Annotated[
        Path | None,
        typer.Option(
            "--contract", help="dataset contract YAML (env CREDIT_CONTRACT, default Santander)"
        ),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option(
            "--out",
            help="suites root (env CREDIT_EXPECTATIONS_DIR, default expectations/ of this "
            "checkout); suites go to OUT/<contract name>/<asset>.json",
        ),
    ] = None,
    check: Annotated[
        bool, typer.Option("--check", help="write nothing; exit 1 if a suite is out of date")
    ] = False,
) -> None:
    """Regenerate the contract-derived expectations of every suite, keeping hand-written ones.

    Expectations marked ``generated_from_contract`` are replaced; every other expectation in
    an existing file is kept as it is, after the generated ones.
    """
    from credit_assets.core.contract import load_contract
    from credit_assets.core.errors import CreditAssetsError
    from credit_assets.core.expectations import generate_suites
    from credit_assets.settings import Settings

    if contract is not None:
        os.environ["CREDIT_CONTRACT"] = str(contract.absolute())
    settings = Settings.from_env()
    root = out.absolute() if out is not None else settings.expectations_dir
    try:
        dataset = load_contract(settings.contract_path)
        changed = generate_suites(dataset, root, write=not check)
    except CreditAssetsError as exc:
        err.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
        raise typer.Exit(code=1) from None
    for path, differs in changed.items():
        state = ("out of date" if check else "written") if differs else "up to date"
        console.print(f"{path}: {state}", highlight=False, soft_wrap=True)
    if check and any(changed.values()):
        err.print(
            "[bold red]error:[/] suites differ from the contract; run "
            "'credit-assets expectations generate'",
            highlight=False,
        )
        raise typer.Exit(code=1)
