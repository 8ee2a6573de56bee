"""``credit-assets serve``: the real-time decision API on uvicorn."""

from __future__ import annotations

import typer

from credit_assets.cli.common import configure, console, fail
from credit_assets.core.errors import CreditAssetsError


def serve(
    host: str = typer.Option("127.0.0.1", help="address to listen on"),
    port: int = typer.Option(8000, help="port to listen on"),
    workers: int = typer.Option(1, min=1, help="worker processes (each loads the champions)"),
) -> None:
    """Serve decisions over HTTP for every dataset: champions from the registry, every
    decision committed to the decision log before it is answered."""
    configure()
    import uvicorn

    from credit_assets.settings import Settings

    settings = Settings.from_env()
    log = settings.decision_log()
    try:
        log.migrate()  # once here, not racing in every worker
    except CreditAssetsError as exc:
        raise fail(str(exc)) from None
    console.print(f"decision API on http://{host}:{port} (OpenAPI: /docs), log {log.url}")
    uvicorn.run(
        "credit_assets.serving.app:app_from_env",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level="warning",
        access_log=False,
    )
