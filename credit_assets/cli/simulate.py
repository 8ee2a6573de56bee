"""``credit-assets simulate``: generate data with drift and replay days of operation
(``cli/replay.py``), printing a timeline and writing a plot."""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from credit_assets.cli.common import console, fail
from credit_assets.core.errors import CreditAssetsError

if TYPE_CHECKING:  # Dagster loads with the replay, not with every command
    from credit_assets.cli.replay import DayRow

# A cheaper model than the production default: a replay trains several times on two cores.
CHEAP_MODEL = {"ops": {"model": {"config": {"max_rounds": 200, "candidates": ["additive"]}}}}


def _cell(value: Any, fmt: str = "") -> str:
    return "–" if value is None else format(value, fmt)


def simulate(
    days: Annotated[int, typer.Option(help="days of operation to replay")] = 60,
    feature_drift_from: Annotated[
        int, typer.Option(help="the day (1 = first) from which features drift; 0: never")
    ] = 20,
    concept_drift_from: Annotated[
        int, typer.Option(help="the day from which P(target | x) changes; 0: never")
    ] = 40,
    rows_per_day: Annotated[int, typer.Option(help="applications per day")] = 1_000,
    history_rows: Annotated[int, typer.Option(help="labelled history rows")] = 8_000,
    features: Annotated[int, typer.Option(help="number of var_* features (at least 82)")] = 90,
    signal: Annotated[
        float, typer.Option(help="each feature's strength (see SyntheticSpec)")
    ] = 0.1,
    drift_share: Annotated[
        float, typer.Option(help="share of the features that drift, in distribution or meaning")
    ] = 0.25,
    outcome_lag: Annotated[int, typer.Option(help="days until an outcome arrives")] = 2,
    seed: Annotated[int, typer.Option(help="random seed")] = 0,
    home: Annotated[
        Path | None, typer.Option(help="where to keep the replay (default: a new scratch folder)")
    ] = None,
) -> None:
    """Replay days of operation with drift: decisions, drift, retraining, promotion."""
    import tempfile

    from rich.progress import Progress

    from credit_assets.cli.replay import simulate_days
    from credit_assets.core.plots import replay_png
    from credit_assets.core.synthetic import SyntheticSpec

    if feature_drift_from > days or concept_drift_from > days or days < 1:
        raise fail(f"drift days must lie within the {days} days replayed")
    home = (home or Path(tempfile.mkdtemp(prefix="credit-simulate-"))).absolute()
    if home.exists() and any(home.iterdir()):
        raise fail(f"{home} is not empty: a replay starts from nothing")
    start = dt.date.today() - dt.timedelta(days=days - 1)  # the last day replayed is today

    def on(day: int) -> dt.date | None:
        return start + dt.timedelta(days=day - 1) if day else None

    spec = SyntheticSpec(
        n_features=features,
        history_rows=history_rows,
        days=days,
        rows_per_day=rows_per_day,
        start=start,
        seed=seed,
        outcome_lag_days=outcome_lag,
        signal=signal,
        drift_share=drift_share,
        feature_drift_from=on(feature_drift_from),
        concept_drift_from=on(concept_drift_from),
    )
    console.print(
        f"replaying {days} days in {home}: features drift from day {feature_drift_from or '-'}, "
        f"concept from day {concept_drift_from or '-'}"
    )
    header = "day         champion  data drift  concept  realised AUC  automated  retraining"
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task("replaying", total=days)
        progress.console.print(header)

        def show(row: DayRow) -> None:
            fate = {True: "promoted", False: "refused", None: ""}[row.promoted]
            progress.console.print(
                f"{row.day}  v{row.champion:<7}  "
                f"{'DRIFT' if row.data_drifted else 'ok':<5} {row.drifted_share:>4.0%}  "
                f"{ {True: 'DRIFT', False: 'ok', None: '–'}[row.concept_drifted]:<7}  "
                f"{_cell(row.realised_auc, '.3f'):>12}  {row.automation_rate:>9.1%}  "
                + (
                    f"{row.retraining} → {fate} (learned from {row.window})"
                    if row.retraining
                    else ""
                ),
                highlight=False,
                soft_wrap=True,
            )
            progress.advance(task)

        try:
            rows = simulate_days(home, spec, CHEAP_MODEL, show)
        except CreditAssetsError as exc:
            raise fail(str(exc)) from None
    plot = home / "simulation.png"
    plot.write_bytes(replay_png([asdict(r) for r in rows]))
    retrained = [r for r in rows if r.retraining]
    console.print(
        f"{len(retrained)} retraining(s) requested, "
        f"{sum(bool(r.promoted) for r in retrained)} promoted; plot: {plot}; "
        f"alerts: {home / 'alerts.log'}; runs: DAGSTER_HOME={home / 'dagster_home'} make ui",
        soft_wrap=True,
    )
