"""``credit-assets``: generate data, materialize the asset graph, score a file offline."""

from __future__ import annotations

import datetime as dt
import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from credit_assets.cli import model as model_commands
from credit_assets.cli.apikeys import app as apikeys_app
from credit_assets.cli.common import (
    ContractOpt,
    DataOpt,
    DatasetOpt,
    console,
    err,
    fail,
    resolve_dataset,
)
from credit_assets.cli.decisions import app as decisions_app
from credit_assets.cli.expectations import app as expectations_app
from credit_assets.cli.serve import serve
from credit_assets.cli.simulate import simulate
from credit_assets.cli.trigger import app as trigger_app
from credit_assets.cli.ui import ui
from credit_assets.cli.users import app as users_app
from credit_assets.cli.users import audit
from credit_assets.cli.web import web
from credit_assets.core.errors import CreditAssetsError
from credit_assets.scaleout.workers import app as workers_app

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="Credit decisions as Dagster assets: rules, features, model, review band.",
)
app.add_typer(model_commands.app, name="model")
app.add_typer(expectations_app, name="expectations")
app.add_typer(workers_app, name="workers")
app.add_typer(trigger_app, name="trigger")
app.add_typer(apikeys_app, name="apikeys")
app.add_typer(decisions_app, name="decisions")
app.command()(serve)
app.command()(simulate)
app.add_typer(users_app, name="users")
app.command()(audit)
app.command()(web)


class Product(StrEnum):
    santander = "santander"
    cards = "cards"


app.command()(ui)


@app.command()
def generate(
    out_dir: Annotated[
        Path, typer.Argument(help="where to write history/, applications/, outcomes/ and truth/")
    ],
    product: Annotated[
        Product,
        typer.Option(
            help="santander: Kaggle's layout, 200 numeric features; cards: a credit-card "
            "product with 12 categorical columns and a string target (contract: "
            "contracts/cards.yaml)"
        ),
    ] = Product.santander,
    history_rows: int | None = typer.Option(
        None, help="labelled history rows (default: santander 20,000, cards 1,000)"
    ),
    days: int = typer.Option(7, help="daily application batches"),
    rows_per_day: int | None = typer.Option(
        None, help="applications per day (default: santander 2,000, cards 100)"
    ),
    features: int = typer.Option(200, help="number of var_* features (santander)"),
    start: str = typer.Option("", help="first day (YYYY-MM-DD); default: the batches end today"),
    seed: int = typer.Option(0, help="random seed"),
    outcome_lag: int = typer.Option(2, help="days until an application's outcome arrives"),
    feature_drift_from: str = typer.Option("", help="shift drift features from this day"),
    feature_drift_shift: float = typer.Option(1.0, help="shift size, in feature scales"),
    feature_drift_scale: float = typer.Option(
        1.0, help="the drift features' spread is multiplied by this (a variance change)"
    ),
    concept_drift_from: str = typer.Option("", help="change P(target|x) from this day"),
    bias: float = typer.Option(
        0.0,
        help="inject bias: one feature becomes a proxy for gender and this share of group F's good "
        "outcomes are recorded as bad",
    ),
    drift_share: float = typer.Option(
        0.0, help="share of the features that drift, spread evenly (0: var_0..var_9)"
    ),
) -> None:
    """Write synthetic data (Kaggle's Santander layout, or the cards product), with the true
    P(target|x) beside it."""
    try:
        if not 0 <= drift_share <= 1:
            raise ValueError(f"--drift-share must lie in [0, 1], got {drift_share}")
        first = (
            dt.date.fromisoformat(start) if start else dt.date.today() - dt.timedelta(days=days - 1)
        )
        if product == Product.cards:
            if feature_drift_from or concept_drift_from:
                raise ValueError("drift is only generated for --product santander")
            from credit_assets.core.synthetic_cards import contract_path, generate_cards

            counts = generate_cards(
                out_dir,
                rows=1_000 if history_rows is None else history_rows,
                days=days,
                rows_per_day=100 if rows_per_day is None else rows_per_day,
                start=first,
                seed=seed,
                outcome_lag_days=outcome_lag,
            )
            run_with = f" (run it with --contract {contract_path()})"
        else:
            from credit_assets.core.synthetic import SyntheticSpec
            from credit_assets.core.synthetic import generate as write

            spec = SyntheticSpec(
                n_features=features,
                history_rows=20_000 if history_rows is None else history_rows,
                days=days,
                rows_per_day=2_000 if rows_per_day is None else rows_per_day,
                start=first,
                seed=seed,
                outcome_lag_days=outcome_lag,
                feature_drift_from=dt.date.fromisoformat(feature_drift_from)
                if feature_drift_from
                else None,
                feature_drift_shift=feature_drift_shift,
                feature_drift_scale=feature_drift_scale,
                drift_share=drift_share or None,
                concept_drift_from=dt.date.fromisoformat(concept_drift_from)
                if concept_drift_from
                else None,
                bias=bias,
            )
            counts, run_with = write(out_dir, spec), ""
    except ValueError as exc:
        raise fail(f"bad option: {exc}") from None
    console.print(
        f"wrote {counts['history']} history rows, {counts['applications']} "
        f"applications over {days} days from {first}, {counts['outcomes']} outcomes "
        f"to {out_dir}{run_with}",
        soft_wrap=True,
    )


@app.command()
def run(
    dataset: DatasetOpt = None,
    data: DataOpt = None,
    contract: ContractOpt = None,
    partition: Annotated[str | None, typer.Option(help="only this day (YYYY-MM-DD)")] = None,
    train: bool = typer.Option(
        True, "--train/--no-train", help="retrain and register, or decide with the champion"
    ),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="show Dagster's event log"),
    wait: float = typer.Option(
        0.0, help="seconds to wait while another writer of the dataset works (default: refuse)"
    ),
) -> None:
    """Materialize the whole graph: ingest every day, train and register, decide every day.

    Every asset's quality checks run with it: a blocking one stops the run with a message
    naming the file, the column or rows and the rule; a warning is printed and the run goes on.
    """
    from credit_assets.cli.runner import run_all

    try:
        entry = resolve_dataset(dataset, contract, data, remember=True)
        summary = run_all(entry.name, partition=partition, verbose=verbose, train=train, wait=wait)
    except CreditAssetsError as exc:
        raise fail(str(exc)) from None
    for warning in summary.get("warnings", []):
        err.print(f"[bold yellow]warning:[/] {warning}", highlight=False, soft_wrap=True)
    _print_summary(summary)


def _print_summary(summary: dict) -> None:
    from credit_assets.core.figures import describe_automation, fmt_rate, summary_lines

    challenger, champion = summary["challenger_version"], summary["model_version"]
    if summary["promoted"]:
        before = summary["previous_champion"]
        console.print(
            f"[bold green]promoted[/]: challenger version {challenger} passed every gate and is "
            "the new champion" + (f" (was version {before})" if before else " (first model)")
        )
    elif challenger == champion:
        console.print(f"version {champion} was already the champion")
    else:
        console.print(
            f"[bold yellow]not promoted[/]: challenger version {challenger} failed the "
            f"promotion gates; the champion stays version {champion}, which made these "
            "decisions"
        )
        for failure in summary["failed_gates"]:
            console.print(f"  - {failure}", highlight=False)
    console.print(f"model report: {summary['report_path']}", highlight=False, soft_wrap=True)
    console.print(
        f"model [bold]{summary['model_name']}[/] version [bold]{champion}[/] "
        f"(champion) · holdout AUC [bold]{summary['holdout_auc']:.4f}[/]"
    )
    if summary["holdout_band"] is None:
        lines = [f"decided: {describe_automation(summary['automation'])}"]
    else:
        lines = summary_lines(summary["automation"], summary["holdout_band"])
    for line in lines:
        console.print(line, highlight=False, soft_wrap=True)
    table = Table(title="decisions per day")
    columns = ["day", "rule_reject", "approve", "reject", "review", "automated"]
    for c in columns:
        table.add_column(c, justify="right" if c != "day" else "left")
    for row in summary["days"]:
        table.add_row(row["day"], *(str(row[c]) for c in columns[1:-1]), fmt_rate(row["automated"]))
    console.print(table)


@app.command()
def score(
    in_file: Annotated[Path, typer.Option("--in", help="applications CSV")],
    out_file: Annotated[Path, typer.Option("--out", help="where to write decisions CSV")],
    model: Annotated[str, typer.Option(help="'champion' or a version number")] = "champion",
    dataset: DatasetOpt = None,
    contract: ContractOpt = None,
) -> None:
    """Score a CSV offline with a registered model: one decision per row.

    The file is read and decided a chunk at a time; the output appears only if every row
    passed the contract (otherwise every problem is listed and no output is written).
    """
    from credit_assets.core.catalog import model_name
    from credit_assets.core.dataset import CHUNK_ROWS
    from credit_assets.core.offline_scoring import decide_file
    from credit_assets.core.registry_view import load_decision_pipeline
    from credit_assets.settings import Settings

    try:
        entry = resolve_dataset(dataset, contract)
        settings = Settings.from_env()
        name, uri = model_name(entry.name), settings.mlflow_tracking_uri
        pipeline, version = load_decision_pipeline(uri, name, model)
        rows = settings.chunk_rows or CHUNK_ROWS
        counts = decide_file(pipeline, version.version, in_file, out_file, chunk_rows=rows)
    except CreditAssetsError as exc:
        raise fail(str(exc)) from None
    console.print(
        f"scored {counts.total()} rows with {name} version {version.version}: "
        + ", ".join(f"{k} {v}" for k, v in sorted(counts.items()))
        + f" -> {out_file}"
    )


def main() -> None:  # pragma: no cover - entry point
    sys.exit(app())
