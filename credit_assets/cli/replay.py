"""Replay days of operation through the real definitions (``credit-assets simulate``).

Generated files arrive in a live data folder one day at a time. Each day runs what the
daemon would run: the daily decisions, the sensors (evaluated on the instance with their
cursors, exactly as the daemon evaluates them) and the runs they request, the daily
monitoring, and after a retraining the drift reference (eager automation). Every run is
recorded in the instance of the scratch home, so ``make ui`` on that home shows them all.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dagster as dg

from credit_assets.cli.common import configure
from credit_assets.cli.runner import QUIET
from credit_assets.core.errors import CreditAssetsError
from credit_assets.defs.monitoring import REASON_TAG, WINDOW_TAG, last_line

DATASET = "santander"
TAGS = {"launched_by": "credit-assets simulate"}


@dataclass
class DayRow:
    """One day of the replay's timeline."""

    day: str
    champion: str
    data_drifted: bool
    drifted_share: float
    concept_drifted: bool | None  # None: no outcomes arrived that day
    realised_auc: float | None
    automation_rate: float
    retraining: str | None = None  # the drift sensor's reason
    window: str | None = None  # the days that retraining learned from
    promoted: bool | None = None  # the retrained challenger's fate


def _metadata(result: dg.ExecuteInProcessResult, asset: str) -> dict[str, Any]:
    """The metadata values of ``asset``'s materialization in a run (empty if none)."""
    for event in result.get_asset_materialization_events():
        materialization = event.step_materialization_data.materialization
        if materialization.asset_key.path[-1] == asset:
            return {k: v.value for k, v in materialization.metadata.items()}
    return {}


class Replay:
    """The day-by-day loop on an instance whose environment is already set up."""

    def __init__(self, instance: dg.DagsterInstance, dataset: str, run_config: dict) -> None:
        from credit_assets.definitions import defs

        self.instance, self.dataset = instance, dataset
        self.definitions = defs()
        self.run_config = {  # steps are named after their asset's key
            **run_config,
            "ops": {f"{dataset}__{op}": c for op, c in run_config.get("ops", {}).items()},
        }
        self.cursors: dict[str, str | None] = {}

    def key(self, asset: str) -> dg.AssetKey:
        return dg.AssetKey([self.dataset, asset])

    def run(
        self,
        job: str,
        assets: list[str] | None = None,
        partition: str | None = None,
        tags: dict[str, str] | None = None,
        run_config: dict | None = None,
    ) -> dg.ExecuteInProcessResult:
        """Execute a job (or some of its assets) as a launched run would, on the instance."""
        definition = (
            self.definitions.resolve_implicit_global_asset_job_def()
            if job == "__ASSET_JOB"
            else self.definitions.resolve_job_def(f"{self.dataset}__{job}")
        )
        result = definition.execute_in_process(
            run_config={**QUIET, **(run_config or {})},
            instance=self.instance,
            partition_key=partition,
            asset_selection=[self.key(a) for a in assets] if assets else None,
            tags={**TAGS, **(tags or {})},
            raise_on_error=False,
        )
        if not result.success:
            failure = next(e for e in result.all_events if e.is_step_failure)
            why = last_line(failure.step_failure_data.error)
            where = f" [{partition}]" if partition else ""
            raise CreditAssetsError(f"{failure.step_key}{where}: {why}")
        return result

    def tick(self, sensor: str) -> list[dg.RunRequest]:
        """Evaluate a sensor as the daemon would: on the instance, from its last cursor."""
        from credit_assets.defs.resources import build_resources
        from credit_assets.settings import Settings

        name = f"{self.dataset}__{sensor}"
        definition = self.definitions.resolve_sensor_def(name)
        context = dg.build_sensor_context(
            instance=self.instance,
            cursor=self.cursors.get(name),
            resources=build_resources(Settings.from_env()),
            definitions=self.definitions,
            sensor_name=name,
        )
        result = definition(context)
        self.cursors[name] = result.cursor
        return list(result.run_requests or [])

    def train(self, request: dg.RunRequest) -> dict[str, Any]:
        """Retrain as ``request`` asks (the promotion gates decide), then rebuild the drift
        reference."""
        asked = request.run_config or {}
        ops = {**self.run_config.get("ops", {}), **asked.get("ops", {})}
        self.run("training_job", tags=request.tags, run_config={**self.run_config, "ops": ops})
        self.run("__ASSET_JOB", ["drift_reference"])
        from credit_assets.core.storage import open_store
        from credit_assets.settings import Settings

        store = open_store(Settings.from_env().dataset_storage(self.dataset))
        return store.read_json("champion_model")

    def day(self, day: str) -> DayRow:
        decided = self.run(
            "daily_decisions_job",
            ["raw_applications", "rule_filtered_applications", "decisions"],
            day,
        )
        for request in self.tick("outcome_sensor"):
            self.run(
                "monitoring_job",
                [k.path[-1] for k in request.asset_selection],
                request.partition_key,
                request.tags,
            )
        concept = _metadata_of_latest(self.instance, self.key("concept_drift"), day)
        monitored = self.run("monitoring_job", ["data_drift", "fairness"], day)
        drift = _metadata(monitored, "data_drift")
        decisions = _metadata(decided, "decisions")
        row = DayRow(
            day=day,
            champion=str(decisions["model_version"]),
            data_drifted=bool(drift["drifted"]),
            drifted_share=float(drift["drifted_share"]),
            concept_drifted=concept.get("drifted"),
            realised_auc=concept.get("realised_auc"),
            automation_rate=float(decisions["automation_rate"]),
        )
        self.tick("fairness_alert")
        for request in self.tick("drift_sensor"):
            promotion = self.train(request)
            row.retraining, row.window = request.tags[REASON_TAG], request.tags[WINDOW_TAG]
            row.promoted = bool(promotion["promoted"])
        return row


def _metadata_of_latest(
    instance: dg.DagsterInstance, key: dg.AssetKey, partition: str
) -> dict[str, Any]:
    """The newest materialization's metadata of one partition (empty: never materialized)."""
    records = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=key, asset_partitions=[partition]), limit=1
    ).records
    if not records:
        return {}
    return {k: v.value for k, v in records[0].asset_materialization.metadata.items()}


def simulate_days(
    home: Path,
    spec: Any,
    run_config: dict,
    on_day: Callable[[DayRow], None] = lambda row: None,
) -> list[DayRow]:
    """Generate ``spec``'s data under ``home``, train the first champion on the history alone,
    then replay every day; returns the timeline. Sets the platform's environment variables to
    the home (a replay is the process's only work)."""
    from credit_assets.cli.runner import run_all
    from credit_assets.core.synthetic import generate

    staged, live = home / "generated", home / "data"
    generate(staged, spec)
    shutil.copytree(staged / "history", live / "history")
    (live / "applications").mkdir()
    (live / "outcomes").mkdir()
    os.environ.update(
        CREDIT_HOME=str(home),
        CREDIT_DATA_DIR=str(live),
        DAGSTER_HOME=str(home / "dagster_home"),
        CREDIT_PARTITIONS_START=spec.start.isoformat(),
    )
    os.environ.pop("CREDIT_CONTRACT", None)
    configure()
    run_all(DATASET, run_config=run_config)  # no day has arrived: history only
    rows = []
    with dg.DagsterInstance.get() as instance:
        replay = Replay(instance, DATASET, run_config)
        replay.run("__ASSET_JOB", ["drift_reference"])
        for offset in range(spec.days):
            day = (spec.start + dt.timedelta(days=offset)).isoformat()
            for kind in ("applications", "outcomes"):  # today's files arrive
                source = staged / kind / f"{day}.csv"
                if source.exists():
                    shutil.copy(source, live / kind / source.name)
            rows.append(replay.day(day))
            on_day(rows[-1])
    return rows
