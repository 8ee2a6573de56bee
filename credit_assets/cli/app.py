"""``credit-assets``: generate data, materialize the asset graph, score a file offline."""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from credit_assets.cli import model as model_commands
from credit_assets.cli.common import ContractOpt, DataOpt, configure, console, err, fail
from credit_assets.cli.expectations import app as expectations_app
from credit_assets.cli.trigger import app as trigger_app
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


@app.command()
def generate(
    out_dir: Annotated[
        Path, typer.Argument(help="where to write history/, applications/, outcomes/ and truth/")
    ],
    history_rows: int = typer.Option(20_000, help="labelled history rows"),
    days: int = typer.Option(7, help="daily application batches"),
    rows_per_day: int = typer.Option(2_000, help="applications per day"),
    features: int = typer.Option(200, help="number of var_* features"),
    start: str = typer.Option("", help="first day (YYYY-MM-DD); default: the batches end today"),
    seed: int = typer.Option(0, help="random seed"),
    outcome_lag: int = typer.Option(2, help="days until an application's outcome arrives"),
    feature_drift_from: str = typer.Option("", help="shift drift features from this day"),
    feature_drift_shift: float = typer.Option(1.0, help="shift size, in feature scales"),
    concept_drift_from: str = typer.Option("", help="change P(target|x) from this day"),
) -> None:
    """Write synthetic data in Kaggle's Santander layout, with the true P(target|x) beside it."""
    from credit_assets.core.synthetic import SyntheticSpec
    from credit_assets.core.synthetic import generate as write

    try:
        first = (
            dt.date.fromisoformat(start) if start else dt.date.today() - dt.timedelta(days=days - 1)
        )
        spec = SyntheticSpec(
            n_features=features,
            history_rows=history_rows,
            days=days,
            rows_per_day=rows_per_day,
            start=first,
            seed=seed,
            outcome_lag_days=outcome_lag,
            feature_drift_from=dt.date.fromisoformat(feature_drift_from)
            if feature_drift_from
            else None,
            feature_drift_shift=feature_drift_shift,
            concept_drift_from=dt.date.fromisoformat(concept_drift_from)
            if concept_drift_from
            else None,
        )
    except ValueError as exc:
        raise fail(f"bad option: {exc}") from None
    counts = write(out_dir, spec)
    console.print(
        f"wrote {counts['history']} history rows, {counts['applications']} "
        f"applications over {days} days from {first}, {counts['outcomes']} outcomes "
        f"to {out_dir}"
    )


@app.command()
def run(
    data: DataOpt = None,
    contract: ContractOpt = None,
    partition: Annotated[str | None, typer.Option(help="only this day (YYYY-MM-DD)")] = None,
    train: bool = typer.Option(
        True, "--train/--no-train", help="retrain and register, or decide with the champion"
    ),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="show Dagster's event log"),
) -> None:
    """Materialize the whole graph: ingest every day, train and register, decide every day.

    Every asset's quality checks run with it: a blocking one stops the run with a message
    naming the file, the column or rows and the rule; a warning is printed and the run goes on.
    """
    configure(data, contract)
    from credit_assets.cli.runner import run_all

    try:
        summary = run_all(partition=partition, verbose=verbose, train=train)
    except CreditAssetsError as exc:
        raise fail(str(exc)) from None
    for warning in summary.get("warnings", []):
        err.print(f"[bold yellow]warning:[/] {warning}", highlight=False, soft_wrap=True)
    _print_summary(summary)


def _print_summary(summary: dict) -> None:
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
        f"(champion) · holdout AUC [bold]{summary['holdout_auc']:.4f}[/] · automation rate "
        f"[bold]{summary['automation_rate']:.1%}[/] at target accuracy "
        f"{summary['target_accuracy']:.2f}"
    )
    table = Table(title="decisions per day")
    columns = ["day", "rule_reject", "approve", "reject", "review", "automated"]
    for c in columns:
        table.add_column(c, justify="right" if c != "day" else "left")
    for row in summary["days"]:
        table.add_row(row["day"], *(str(row[c]) for c in columns[1:-1]), f"{row['automated']:.1%}")
    console.print(table)


@app.command()
def score(
    in_file: Annotated[Path, typer.Option("--in", help="applications CSV")],
    out_file: Annotated[Path, typer.Option("--out", help="where to write decisions CSV")],
    model: Annotated[str, typer.Option(help="'champion' or a version number")] = "champion",
    contract: ContractOpt = None,
) -> None:
    """Score a CSV offline with a registered model: one decision per row.

    The file is read and decided a chunk at a time; the output appears only if every row
    passed the contract (otherwise every problem is listed and no output is written).
    """
    configure(None, contract)
    from credit_assets.core.contract import load_contract
    from credit_assets.core.offline_scoring import decide_file
    from credit_assets.core.registry import ModelRegistry
    from credit_assets.settings import Settings

    settings = Settings.from_env()
    try:
        dataset = load_contract(settings.contract_path)
        registry = ModelRegistry(
            settings.mlflow_tracking_uri, f"credit-{dataset.name}", f"credit-{dataset.name}"
        )
        pipeline, version = registry.load(model)
        counts = decide_file(pipeline, version.version, in_file, out_file)
    except CreditAssetsError as exc:
        raise fail(str(exc)) from None
    console.print(
        f"scored {counts.total()} rows with {version.name} version {version.version}: "
        + ", ".join(f"{k} {v}" for k, v in sorted(counts.items()))
        + f" -> {out_file}"
    )


def main() -> None:  # pragma: no cover - entry point
    sys.exit(app())
