"""``credit-assets workers start``: a Celery worker for the scale-out profile.

Equivalent to ``dagster-celery worker start -A credit_assets.scaleout.celery_app -q QUEUE``; the app
module reads broker, backend and Celery settings from the environment, so no ``-y`` file
is needed and the workers cannot disagree with the executor.
"""

from __future__ import annotations

import os
import sys
from typing import Annotated

import typer

from credit_assets.scaleout.queues import DEFAULT_QUEUE, TRAINING_QUEUE

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="Celery workers that run the steps of the scale-out profile (CREDIT_PROFILE=scaleout).",
)


def worker_argv(queues: list[str], concurrency: int, name: str | None, loglevel: str) -> list[str]:
    """The ``celery worker`` command line: one step per process at a time, named by host."""
    node = f"{name or '-'.join(queues)}@%h"
    return [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "credit_assets.scaleout.celery_app",
        "worker",
        "--queues",
        ",".join(queues),
        "--concurrency",
        str(concurrency),
        "--prefetch-multiplier",
        "1",
        "--hostname",
        node,
        "--loglevel",
        loglevel,
        # workers find each other's work through the broker alone; skipping the start-up
        # handshake and heartbeat chatter makes a worker ready sooner and quieter
        "--without-mingle",
        "--without-gossip",
    ]


@app.command()
def start(
    queue: Annotated[
        list[str] | None,
        typer.Option(
            "--queue",
            "-q",
            help=f"queue to take steps from, repeatable: '{DEFAULT_QUEUE}' (ingest, daily "
            f"scoring) or '{TRAINING_QUEUE}' (model training) [default: {DEFAULT_QUEUE}]",
        ),
    ] = None,
    concurrency: Annotated[
        int, typer.Option("--concurrency", "-c", min=1, help="steps run at once (processes)")
    ] = 1,
    name: Annotated[
        str | None, typer.Option(help="worker name, '@host' is appended [default: the queues]")
    ] = None,
    loglevel: Annotated[str, typer.Option(help="Celery log level")] = "INFO",
) -> None:
    """Start a worker in the foreground (stop it with Ctrl-C or SIGTERM)."""
    from credit_assets.core.errors import CreditAssetsError
    from credit_assets.settings import Settings

    try:
        settings = Settings.from_env()
        if settings.profile != "scaleout":
            raise CreditAssetsError(
                "workers run steps of the scale-out profile: set CREDIT_PROFILE=scaleout"
            )
        settings.require_suites()
    except CreditAssetsError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(code=1) from None
    argv = worker_argv(queue or [DEFAULT_QUEUE], concurrency, name, loglevel)
    # The host's cores shared among the worker's processes, unless the operator chose: a
    # step's numerical libraries (LightGBM's scoring, OpenMP) otherwise each take every core.
    os.environ.setdefault("OMP_NUM_THREADS", str(max(1, (os.cpu_count() or 1) // concurrency)))
    # Replace this process, so signals (and a supervisor's SIGTERM) reach Celery directly.
    os.execv(argv[0], argv)
