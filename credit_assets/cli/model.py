"""``credit-assets model``: the registry for operators: list, show, promote, roll back.

Moving an alias by hand takes an admin's access token (``--token``); the change is recorded
with that admin's name, when and why (``--reason``) in the platform's append-only audit log,
as MLflow tags, and as a materialization of the ``champion_model`` asset in the Dagster event
log, so the UI shows it beside the promotions the gates made. ``model show`` flags a champion
whose alias was moved outside the platform.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from credit_assets.cli.common import ContractOpt, DatasetOpt, console, err, fail, resolve_dataset
from credit_assets.core.catalog import dataset_of, model_name
from credit_assets.core.errors import CreditAssetsError
from credit_assets.core.registry_names import CHAMPION, FAIRNESS_TAG, LINEAGE_TAGS
from credit_assets.core.registry_view import RunRecord

if TYPE_CHECKING:
    from credit_assets.core.registry import ModelRegistry
    from credit_assets.core.registry_view import AliasChange, RegistryReader

app = typer.Typer(
    no_args_is_help=True,
    help="Model registry: list versions, show one, promote one to champion, roll back.",
)
ReasonOpt = Annotated[str, typer.Option("--reason", help="why: recorded with the change")]
TokenOpt = Annotated[
    str | None,
    typer.Option(
        "--token",
        envvar="CREDIT_ACCESS_TOKEN",
        help="an admin's access token: its user is recorded with the change",
    ),
]


def _reader(dataset: str | None, contract: Path | None) -> RegistryReader:
    """Read-only access to the dataset's registry that does not import MLflow (list and
    show start at once)."""
    from credit_assets.core.registry_view import open_reader
    from credit_assets.settings import Settings

    entry = resolve_dataset(dataset, contract)
    return open_reader(Settings.from_env().mlflow_tracking_uri, model_name(entry.name))


def _registry(dataset: str | None, contract: Path | None) -> ModelRegistry:
    """The registry of the dataset a command names (its name, or its contract)."""
    from credit_assets.settings import Settings

    entry = resolve_dataset(dataset, contract)
    return Settings.from_env().registry(entry.name)


def _audit():
    from credit_assets.core.audit import AuditLog
    from credit_assets.settings import Settings

    return AuditLog(Settings.from_env().decision_log())


def _admin(token: str | None) -> str:
    """The admin a token belongs to, or a one-line refusal."""
    from credit_assets.core.access import Access
    from credit_assets.core.governance import admin_of

    return admin_of(Access(_audit().log), token).username


def _record(registry, change) -> None:
    from credit_assets.core.governance import record_alias_move

    record_alias_move(_audit(), dataset_of(registry.model_name), change)
    _record_in_dagster(registry, change)


def _metric(registry: RegistryReader, run_id: str, *names: str) -> float | None:
    run = registry.run(run_id)
    metrics = run.metrics if run else {}
    return next((metrics[n] for n in names if n in metrics), None)


def _gates(tags: dict[str, str]) -> list[dict]:
    raw = tags.get("gates")
    return json.loads(raw) if raw else []


def _gate_summary(tags: dict[str, str]) -> str:
    passed = tags.get("gates_passed")
    if passed is None:
        return "[dim]not evaluated[/]"
    if passed == "true":
        return "[green]passed[/]"
    failed = [g["gate"] for g in _gates(tags) if not g["passed"]]
    return "[red]failed[/] " + ", ".join(failed)


def _record_in_dagster(registry: ModelRegistry, change: AliasChange) -> None:
    """The alias change as a runless materialization of ``champion_model``."""
    try:
        import dagster as dg

        with dg.DagsterInstance.get() as instance:
            instance.report_runless_asset_event(
                dg.AssetMaterialization(
                    asset_key=[dataset_of(registry.model_name), "champion_model"],
                    description=f"{change.action} by {change.by}: {change.reason}",
                    metadata={
                        "champion_version": change.version,
                        "previous_champion": change.previous or "none",
                        "action": change.action,
                        "changed_by": change.by,
                        "changed_at": change.at,
                        "reason": change.reason,
                        "model_name": registry.model_name,
                        "source": "credit-assets model",
                    },
                )
            )
    except Exception as exc:  # the registry change stands; say the event log missed it
        err.print(f"[yellow]warning:[/] not recorded in the Dagster event log: {exc}")


@app.command("list")
def list_versions(dataset: DatasetOpt = None, contract: ContractOpt = None) -> None:
    """Every registered version, newest first, with aliases, holdout AUC and gate results."""
    try:
        registry = _reader(dataset, contract)
        versions = registry.versions()
    except CreditAssetsError as exc:
        raise fail(str(exc)) from None
    if not versions:
        console.print(f"no registered version of {registry.model_name} yet")
        return
    table = Table(title=f"{registry.model_name} versions")
    for column in ("version", "aliases", "created (UTC)", "holdout AUC", "gates", "last promoted"):
        table.add_column(
            column, justify="right" if column in ("version", "holdout AUC") else "left"
        )
    for v in versions:
        auc = _metric(registry, v.run_id, "gate_holdout_auc", "holdout_auc")
        promoted = (
            f"{v.tags['promoted_at'][:16].replace('T', ' ')} by {v.tags.get('promoted_by', '?')}"
            if "promoted_at" in v.tags
            else ""
        )
        aliases = ", ".join(f"[bold green]{a}[/]" if a == "champion" else a for a in v.aliases)
        table.add_row(
            v.version,
            aliases,
            v.created.strftime("%Y-%m-%d %H:%M"),
            "–" if auc is None else f"{auc:.4f}",
            _gate_summary(v.tags),
            promoted,
        )
    console.print(table)
    history = registry.champion_history()
    if history:
        console.print(f"champion history (oldest first): {' -> '.join(history)}")


@app.command()
def show(
    version: Annotated[str, typer.Argument(help="a version number or an alias")],
    dataset: DatasetOpt = None,
    contract: ContractOpt = None,
) -> None:
    """One version: lineage, metrics, gate results, fairness in one line, alias changes and
    its report."""
    try:
        registry = _reader(dataset, contract)
        info = registry.version_info(version)
        run = registry.run(info.run_id) or RunRecord({}, {})
    except CreditAssetsError as exc:
        raise fail(str(exc)) from None
    console.print(
        f"[bold]{registry.model_name}[/] version [bold]{info.version}[/]"
        + (f" ({', '.join(info.aliases)})" if info.aliases else "")
        + f" · created {info.created:%Y-%m-%d %H:%M:%S} UTC · MLflow run {info.run_id}"
    )
    lineage = Table(title="lineage", show_header=False)
    lineage.add_column("key")
    lineage.add_column("value")
    for key in LINEAGE_TAGS:
        lineage.add_row(key, run.tags.get(key, "–"))
    console.print(lineage)
    metrics = Table(title="metrics")
    metrics.add_column("metric")
    metrics.add_column("value", justify="right")
    for key in sorted(run.metrics):
        metrics.add_row(key, f"{run.metrics[key]:.4f}")
    console.print(metrics)
    gates = _gates(info.tags)
    if gates:
        compared = info.tags.get("gates_compared_with", "none")
        table = Table(title=f"promotion gates (compared with champion: {compared})")
        for column in ("gate", "result", "value", "bound"):
            table.add_column(column)
        for g in gates:
            if not g["applied"]:
                table.add_row(g["gate"], "[dim]n/a[/]", "–", "–")
                continue
            result = "[green]pass[/]" if g["passed"] else "[red]FAIL[/]"
            value = "–" if g["value"] is None else f"{g['value']:.4f}"
            bound = "–" if g["bound"] is None else f"{g['direction']} {g['bound']:.4f}"
            table.add_row(g["gate"], result, value, bound)
        console.print(table)
    else:
        console.print("promotion gates: not evaluated")
    console.print(info.tags.get(FAIRNESS_TAG, "fairness: not evaluated"), markup=False)
    events = registry.alias_events(info.version)
    if events:
        table = Table(title="alias changes")
        for column in ("when", "action", "alias", "previous", "by", "why"):
            table.add_column(column)
        for e in events:
            table.add_row(
                e.at.replace("T", " ")[:19], e.action, e.alias, e.previous or "–", e.by, e.reason
            )
        console.print(table)
    if "report_path" in info.tags:
        console.print(f"report: {info.tags['report_path']} (MLflow: {info.tags.get('report')})")
    if CHAMPION in info.aliases:
        from credit_assets.core.governance import moved_outside, recorded_alias

        dataset_name = dataset_of(registry.model_name)
        outside = moved_outside(info.version, recorded_alias(_audit(), dataset_name, CHAMPION))
        if outside:
            err.print(f"[bold red]warning:[/] champion: {outside}", highlight=False)


@app.command()
def promote(
    version: Annotated[str, typer.Argument(help="the version to make champion")],
    reason: ReasonOpt,
    token: TokenOpt = None,
    force: bool = typer.Option(
        False, "--force", help="promote even though the version did not pass the gates"
    ),
    dataset: DatasetOpt = None,
    contract: ContractOpt = None,
) -> None:
    """Make VERSION the champion (scorers pick it up at once; rollback can undo it)."""
    try:
        who = _admin(token)
        registry = _registry(dataset, contract)
        info = registry.version_info(version)
        passed = info.tags.get("gates_passed")
        if passed != "true" and not force:
            failed = [g["gate"] for g in _gates(info.tags) if not g["passed"]]
            what = (
                f"failed gate(s) {', '.join(failed)}"
                if passed == "false"
                else "has no recorded gate results"
            )
            raise CreditAssetsError(
                f"version {info.version} {what}; use --force to promote it anyway"
            )
        why = reason if passed == "true" else f"{reason} [forced: gates not passed]"
        change = registry.promote(info.version, by=who, reason=why)
    except CreditAssetsError as exc:
        raise fail(str(exc)) from None
    _record(registry, change)
    console.print(
        f"champion of {registry.model_name}: version {change.previous or '–'} -> "
        f"[bold]{change.version}[/] (by {change.by}, {change.at}: {change.reason})"
    )


@app.command()
def rollback(
    reason: ReasonOpt,
    token: TokenOpt = None,
    dataset: DatasetOpt = None,
    contract: ContractOpt = None,
) -> None:
    """Move the champion back to the version that was champion before the current one."""
    try:
        who = _admin(token)
        registry = _registry(dataset, contract)
        change = registry.rollback(by=who, reason=reason)
    except CreditAssetsError as exc:
        raise fail(str(exc)) from None
    _record(registry, change)
    console.print(
        f"rolled back {registry.model_name}: champion version {change.previous} -> "
        f"[bold]{change.version}[/] (by {change.by}, {change.at}: {change.reason})"
    )
