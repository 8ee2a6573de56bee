"""``credit-assets trigger``: launch runs on a running deployment through its GraphQL API."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from credit_assets.cli.common import resolve_dataset

if TYPE_CHECKING:
    from credit_assets.cli.graphql_client import CreditClient

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="Launch runs on a running Dagster webserver (scale-out deployment) through GraphQL.",
)
console = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)

Wait = Annotated[bool, typer.Option("--wait/--no-wait", help="wait until the run(s) ended")]
Timeout = Annotated[float, typer.Option(help="seconds to wait at most")]


@app.callback()
def webserver(
    ctx: typer.Context,
    host: Annotated[
        str, typer.Option(envvar="CREDIT_WEBSERVER_HOST", help="Dagster webserver host")
    ] = "localhost",
    port: Annotated[
        int, typer.Option(envvar="CREDIT_WEBSERVER_PORT", help="Dagster webserver port")
    ] = 3000,
    path: Annotated[
        str,
        typer.Option(
            envvar="CREDIT_WEBSERVER_PATH",
            help="where Dagster is mounted: /dagster behind 'credit-assets web'",
        ),
    ] = "",
    token: Annotated[
        str | None,
        typer.Option(
            envvar="CREDIT_ACCESS_TOKEN",
            help="access token ('credit-assets users token'); its user's role must allow runs",
        ),
    ] = None,
    dataset: Annotated[
        str | None,
        typer.Option(
            envvar="CREDIT_DATASET",
            help="the dataset whose jobs to launch; needed when several are known",
        ),
    ] = None,
) -> None:
    """Where the Dagster webserver listens, and which dataset's jobs to launch."""
    from credit_assets.cli.graphql_client import CreditClient

    if ctx.resilient_parsing or ctx.invoked_subcommand is None:
        return
    with _errors():
        ctx.obj = CreditClient(
            dataset or resolve_dataset(None).name, host, port, path=path, token=token
        )


def _day(text: str) -> str:
    try:
        return dt.date.fromisoformat(text).isoformat()
    except ValueError:
        raise typer.BadParameter(f"{text!r} is not a date (YYYY-MM-DD)") from None


@contextmanager
def _errors() -> Iterator[None]:
    """Client errors become one red line and exit code 1."""
    from credit_assets.core.errors import CreditAssetsError

    try:
        yield
    except CreditAssetsError as exc:
        err.print(f"[bold red]error:[/] {exc}", highlight=False)
        raise typer.Exit(code=1) from None


def _report(statuses: dict) -> None:
    for run_id, status in sorted(statuses.items()):
        console.print(f"run {run_id}: {status.value}")
    failed = [r for r, s in statuses.items() if s.value != "SUCCESS"]
    if failed:
        err.print(
            f"[bold red]error:[/] {len(failed)} run(s) did not succeed; re-execute with "
            "'credit-assets trigger retry RUN_ID'",
            highlight=False,
        )
        raise typer.Exit(code=1)


def _one_run(
    client: CreditClient, launch: Callable[[], str], what: str, wait: bool, timeout: float
) -> None:
    with _errors():
        run_id = launch()
        console.print(f"launched run {run_id}: {what}")
        if wait:
            _report({run_id: client.wait(run_id, timeout=timeout)})


@app.command()
def score(
    ctx: typer.Context,
    partition: Annotated[str, typer.Option(help="day to score (YYYY-MM-DD)")],
    wait: Wait = False,
    timeout: Timeout = 3600,
) -> None:
    """Launch the daily scoring job for one day: ingest, rules, decisions."""
    day, client = _day(partition), ctx.obj
    _one_run(client, lambda: client.score(day), f"{client.scoring_job} for {day}", wait, timeout)


@app.command()
def train(ctx: typer.Context, wait: Wait = False, timeout: Timeout = 3600) -> None:
    """Launch the training job: training table, model, review band, registration."""
    client = ctx.obj
    job = client.training_job
    _one_run(client, lambda: client.launch(job), job, wait, timeout)


@app.command()
def retry(
    ctx: typer.Context,
    run_id: Annotated[str, typer.Argument(help="the failed run")],
    wait: Wait = False,
    timeout: Timeout = 3600,
) -> None:
    """Re-execute a failed run from its failed steps (finished steps are not run again)."""
    client = ctx.obj
    what = f"re-execution of {run_id} from failure"
    _one_run(client, lambda: client.reexecute_from_failure(run_id), what, wait, timeout)


@app.command()
def backfill(
    ctx: typer.Context,
    start: Annotated[str, typer.Option("--from", help="first day (YYYY-MM-DD)")],
    end: Annotated[str, typer.Option("--to", help="last day, included (YYYY-MM-DD)")],
    wait: Wait = False,
    timeout: Timeout = 3600,
) -> None:
    """Score every day from --from to --to: runs of several days each, started by the
    daemon."""
    from credit_assets.defs.scope import backfill_runs

    first, last = dt.date.fromisoformat(_day(start)), dt.date.fromisoformat(_day(end))
    if last < first:
        raise typer.BadParameter("--to is before --from")
    days = [(first + dt.timedelta(days=i)).isoformat() for i in range((last - first).days + 1)]
    client: CreditClient = ctx.obj
    with _errors():
        backfill_id = client.backfill(days)
        console.print(f"launched backfill {backfill_id} of {len(days)} days")
        if wait:
            _report(client.wait_backfill(backfill_id, backfill_runs(len(days)), timeout=timeout))
