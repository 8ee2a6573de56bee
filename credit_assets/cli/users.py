"""``credit-assets users create|list|token`` and ``credit-assets audit``: who may use the
web app and Dagster, and what they did."""

from __future__ import annotations

import getpass
import json
from typing import Annotated

import typer
from rich.table import Table

from credit_assets.cli.common import configure, console, fail
from credit_assets.core.errors import CreditAssetsError
from credit_assets.core.roles import Role

app = typer.Typer(no_args_is_help=True, help="Users of the web app and of Dagster, with roles.")


def operator() -> str:
    """Who runs a command on this machine: the audit log's actor for CLI actions."""
    return f"cli:{getpass.getuser()}"


def _access():
    from credit_assets.core.access import Access
    from credit_assets.settings import Settings

    configure()
    return Access(Settings.from_env().decision_log())


@app.command()
def create(
    username: Annotated[str, typer.Argument(help="the login name")],
    role: Annotated[Role, typer.Option(help="what the user may do (docs/webapp.md)")],
    password: Annotated[
        str,
        typer.Option(
            prompt=True,
            hide_input=True,
            confirmation_prompt=True,
            envvar="CREDIT_NEW_PASSWORD",
            help="asked for when not given [env CREDIT_NEW_PASSWORD]",
        ),
    ],
) -> None:
    """Create a user (the password is stored as an argon2 hash)."""
    try:
        _access().create_user(username, role, password, by=operator())
    except CreditAssetsError as exc:
        raise fail(str(exc)) from None
    console.print(f"user {username} created with role {role.value}")


@app.command("list")
def list_users() -> None:
    """Every user and role."""
    table = Table("user", "role")
    for name, role in _access().users():
        table.add_row(name, role.value)
    console.print(table)


@app.command()
def token(username: Annotated[str, typer.Argument(help="the user the token acts as")]) -> None:
    """An access token for a system (e.g. 'credit-assets trigger --token'); it acts with the
    user's role. Printed once: it is stored only hashed."""
    try:
        secret = _access().create_token(username, by=operator())
    except CreditAssetsError as exc:
        raise fail(str(exc)) from None
    console.print(f"token for {username}; keep it now, it cannot be shown again:")
    print(secret)


def audit(
    action: Annotated[str | None, typer.Option(help="only this action, e.g. review.decide")] = None,
    limit: Annotated[int, typer.Option(help="newest events to show")] = 50,
) -> None:
    """Read back the audit log: logins, reviews, policy changes, alias moves, run launches."""
    from credit_assets.core.audit import AuditLog
    from credit_assets.settings import Settings

    configure()
    table = Table("when", "who", "action", "target", "detail")
    for e in AuditLog(Settings.from_env().decision_log()).events(action=action, limit=limit):
        table.add_row(
            e.at.strftime("%Y-%m-%d %H:%M:%S"), e.actor, e.action, e.target, json.dumps(e.detail)
        )
    console.print(table)
