"""``credit-assets apikeys create|list|revoke``: keys of the decision API."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from credit_assets.cli.common import configure, console, fail
from credit_assets.core.errors import CreditAssetsError

app = typer.Typer(no_args_is_help=True, help="API keys of the decision API (stored hashed).")


def _keys():
    from credit_assets.core.api_keys import ApiKeys
    from credit_assets.settings import Settings

    configure()
    return ApiKeys(Settings.from_env().decision_log())


@app.command()
def create(
    name: Annotated[str, typer.Option(help="who or what uses the key")],
    scope: Annotated[
        list[str],
        typer.Option(help="DATASET:decide or DATASET:read, repeatable; '*' for every dataset"),
    ],
) -> None:
    """Create a key and print it once: it is stored only hashed."""
    from credit_assets.core.api_keys import parse_scopes

    try:
        key, token = _keys().create(name, parse_scopes(scope))
    except CreditAssetsError as exc:
        raise fail(str(exc)) from None
    console.print(f"key {key.key_id} for {name}; keep it now, it cannot be shown again:")
    print(token)


@app.command("list")
def list_keys() -> None:
    """Every key: id, name, scopes, created, revoked."""
    try:
        keys = _keys().keys()
    except CreditAssetsError as exc:
        raise fail(str(exc)) from None
    table = Table(title="API keys")
    for column in ("id", "name", "scopes", "created", "revoked"):
        table.add_column(column)
    for key in keys:
        scopes = ", ".join(f"{d}:{s}" for d, granted in key.scopes.items() for s in granted)
        revoked = key.revoked_at.isoformat(timespec="seconds") if key.revoked_at else ""
        table.add_row(
            key.key_id, key.name, scopes, key.created_at.isoformat(timespec="seconds"), revoked
        )
    console.print(table)


@app.command()
def revoke(key_id: Annotated[str, typer.Argument(help="the key's id (see 'list')")]) -> None:
    """Revoke a key; the service refuses it within seconds."""
    try:
        key = _keys().revoke(key_id)
    except CreditAssetsError as exc:
        raise fail(str(exc)) from None
    console.print(f"revoked key {key.key_id} ({key.name})")
