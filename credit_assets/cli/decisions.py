"""``credit-assets decisions show``: a decision and its history, from the decision log."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from credit_assets.cli.common import DatasetOpt, console, fail, resolve_dataset
from credit_assets.core.errors import CreditAssetsError

app = typer.Typer(no_args_is_help=True, help="The decision log: every decision on record.")


@app.command()
def show(
    id: Annotated[str, typer.Option("--id", help="application id (or a decision id)")],
    dataset: DatasetOpt = None,
    day: Annotated[str | None, typer.Option(help="only decisions of this batch day")] = None,
) -> None:
    """What an application was told, and by whom: every decision, oldest first."""
    from credit_assets.settings import Settings

    try:
        dataset = resolve_dataset(dataset).name
        log = Settings.from_env().decision_log()
        history = log.history(dataset, id)
        if not history and (one := log.get(dataset, id)) is not None:
            history = log.history(dataset, one.application_id)
    except CreditAssetsError as exc:
        raise fail(str(exc)) from None
    if day is not None:
        history = [d for d in history if d.partition_day == day]
    if not history:
        where = f" on {day}" if day else ""
        raise fail(f"no decision for {id!r} in dataset {dataset!r}{where} ({log.url})")
    table = Table(title=f"{dataset} · application {history[0].application_id}")
    columns = (
        "decided at",
        "source",
        "actor",
        "decision",
        "score",
        "model",
        "thresholds",
        "rules",
        "band",
        "day",
        "reasons",
        "decision id",
    )
    for column in columns:
        table.add_column(column, overflow="fold")
    for d in history:
        band = f"{d.approve_below:.3f}–{d.reject_above:.3f}" if d.approve_below is not None else ""
        table.add_row(
            d.decided_at.isoformat(timespec="seconds"),
            d.source,
            d.actor,
            d.decision,
            "" if d.score is None else f"{d.score:.4f}",
            d.model_version or "",
            d.thresholds_version or "",
            d.rules_version or "",
            band,
            d.partition_day or "",
            "; ".join(r.text for r in d.reasons),
            d.decision_id,
        )
    console.print(table)
