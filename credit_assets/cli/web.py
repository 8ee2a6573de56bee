"""``credit-assets web``: the review department's web app, with Dagster's UI and GraphQL
mounted behind its login at ``/dagster``."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from credit_assets.cli.common import configure, console, fail
from credit_assets.core.errors import CreditAssetsError

if TYPE_CHECKING:
    from credit_assets.web.app import DagsterMount

WORKSPACE = Path(__file__).resolve().parents[2] / "workspace.yaml"


def web(
    host: str = typer.Option("127.0.0.1", help="address to listen on"),
    port: int = typer.Option(8080, help="port to listen on"),
    dagster: Annotated[
        bool, typer.Option("--dagster/--no-dagster", help="mount Dagster's UI and GraphQL")
    ] = True,
    workspace: Annotated[Path, typer.Option(help="Dagster workspace file")] = WORKSPACE,
    insecure_cookies: Annotated[
        bool,
        typer.Option(
            help="send the session cookie over plain HTTP too (trials on 127.0.0.1 only; "
            "behind TLS leave it off)"
        ),
    ] = False,
) -> None:
    """Serve the web app: login, review queue, dashboard, run launches, audit log."""
    configure()
    import uvicorn

    from credit_assets.settings import Settings
    from credit_assets.web.app import DAGSTER_PATH, WebOptions, create_web_app

    options = WebOptions(secure_cookies=not insecure_cookies)
    with ExitStack() as stack:
        mounted = None
        if dagster:
            mounted = stack.enter_context(_dagster_app(workspace, DAGSTER_PATH))
        try:
            app = create_web_app(Settings.from_env(), options, mounted)
        except CreditAssetsError as exc:
            raise fail(str(exc)) from None
        console.print(f"web app on http://{host}:{port} (Dagster at {DAGSTER_PATH})")
        uvicorn.run(app, host=host, port=port, log_level="warning", access_log=False)


@contextmanager
def _dagster_app(workspace: Path, path_prefix: str) -> Iterator[DagsterMount]:
    """Dagster's webserver as an ASGI app over this instance and workspace."""
    from dagster import DagsterInstance
    from dagster._core.workspace.context import WorkspaceProcessContext
    from dagster._core.workspace.load_target import WorkspaceFileTarget
    from dagster_webserver.app import create_app_from_workspace_process_context
    from dagster_webserver.version import __version__

    from credit_assets.web.app import DagsterMount

    with (
        DagsterInstance.get() as instance,
        WorkspaceProcessContext(
            instance, WorkspaceFileTarget([str(workspace)]), version=__version__
        ) as context,
    ):
        yield DagsterMount(
            create_app_from_workspace_process_context(context, path_prefix), instance
        )
