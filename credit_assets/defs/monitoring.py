"""Monitoring: drift and fairness as daily assets, and the sensors that act on them.

The heavy work is in the assets (``core/drift.py``, ``core/fairness.py``); the sensors only
read what the assets recorded in the instance and request runs, well within a sensor
evaluation's time limit.

- ``drift_reference``: the champion's training rows summarized, one file per champion version;
  materialized whenever ``champion_model`` is (eager automation).
- ``data_drift[day]``: that day's applications against the reference of the version that
  decided them.
- ``concept_drift[day]``: the applications whose outcomes arrived on ``day``, against the
  champion's holdout (keyed by arrival: outcomes come days after their applications).
- ``fairness[day]``: that day's decisions by protected group, with the outcomes known so far.
"""

import json
from collections import Counter
from typing import Any

import dagster as dg
import pandas as pd
from pydantic import Field

from credit_assets.core.contract import DatasetContract
from credit_assets.core.dataset import SPLIT, TrainingWindow, label_applications, newest_rows
from credit_assets.core.drift import DriftReference, DriftRule
from credit_assets.core.episodes import MonitorCursor, window_start
from credit_assets.core.errors import DriftError
from credit_assets.core.gates import GateConfig
from credit_assets.core.rules import RULE_ID, apply_rules
from credit_assets.core.storage import Store
from credit_assets.defs.resources import DatasetsResource, MlflowResource, StorageResource
from credit_assets.defs.scope import TRAINING_JOB, Scope
from credit_assets.settings import Settings

MONITORING, MONITORING_JOB = "monitoring", "monitoring_job"
DRIFT_REFERENCE, DATA_DRIFT, CONCEPT_DRIFT, FAIRNESS = (
    "drift_reference",
    "data_drift",
    "concept_drift",
    "fairness",
)
DATA, CONCEPT = "data", "concept"  # the kinds of drift the drift sensor watches
# Run tags of a retraining the drift sensor requested: why, the report that showed it, and
# the days it learns from.
REASON_TAG, EVIDENCE_TAG = "credit-assets/drift-reason", "credit-assets/drift-evidence"
WINDOW_TAG = "credit-assets/training-window"
ALERTS_LOG = "alerts.log"  # under CREDIT_HOME
# A concept-drift episode asks for retraining again after this many days while it lasts.
ASK_AGAIN_AFTER_DAYS = 3
RECENT = 100  # materializations a sensor reads per evaluation: far more than days between ticks
_TAG_LIMIT = 4000  # characters: run tags are stored in the instance's database

_DRIFT_RULE, _GATES = DriftRule(), GateConfig()


class DriftConfig(dg.Config):
    alpha: float = Field(
        default=_DRIFT_RULE.alpha,
        gt=0,
        lt=1,
        description="false-discovery level over every test of a batch: a feature or signal "
        "drifts when its Benjamini-Hochberg q-value is below it",
    )
    min_share: float = Field(
        default=_DRIFT_RULE.min_share,
        ge=0,
        le=1,
        description="share of features that must drift for the batch to drift (0: any one); "
        "a drifted signal (score, rule-reject rate) always counts",
    )

    def rule(self) -> DriftRule:
        return DriftRule(**self.model_dump())


class FairnessCheckConfig(dg.Config):
    min_selection_rate_ratio: float = Field(
        default=_GATES.min_selection_rate_ratio,
        description="warn when a group's approval rate is clearly below this share of the "
        "highest group's (the promotion gate's bound)",
    )
    max_equalized_odds_difference: float = Field(
        default=_GATES.max_equalized_odds_difference,
        description="warn when the approval rates of good, or of bad, applicants differ "
        "clearly by more than this between groups (the promotion gate's bound)",
    )


def _reference(store: Store, version: str) -> DriftReference:
    if not store.exists(DRIFT_REFERENCE, f"v{version}", "json"):
        raise DriftError(
            f"no drift reference for model version {version}: materialize {DRIFT_REFERENCE}"
        )
    return DriftReference.from_dict(store.read_json(DRIFT_REFERENCE, f"v{version}"))


def _warn(check: str, passed: bool, description: str, **metadata) -> dg.AssetCheckResult:
    return dg.AssetCheckResult(
        check_name=check,
        passed=passed,
        severity=dg.AssetCheckSeverity.WARN,
        description=description,
        metadata=metadata,
    )


def _labelled_for(
    store: Store, outcomes: pd.DataFrame, contract: DatasetContract, day: str
) -> pd.DataFrame:
    """The decided applications (up to ``day``) that ``outcomes`` are about, with their target,
    their day and the decision's score and model version; found by id, newest day first."""
    id_column = contract.id_column
    parts, wanted = [], set(outcomes[id_column])
    for app_day in sorted((d for d in store.partitions("decisions") if d <= day), reverse=True):
        ids = store.read_frame("raw_applications", app_day, columns=[id_column])[id_column]
        if not ids.isin(wanted).any():
            continue
        labelled = label_applications(
            store.read_frame("raw_applications", app_day), outcomes, contract
        )
        scored = store.read_frame(
            "decisions", app_day, columns=[id_column, "score", "model_version"]
        )
        parts.append(labelled.merge(scored, on=id_column).assign(application_day=app_day))
        wanted -= set(labelled[id_column])
        if not wanted:
            break
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()


def _outcomes_until(store: Store, contract: DatasetContract, day: str) -> pd.DataFrame:
    """Every outcome that arrived up to ``day``."""
    frames = [
        store.read_frame("raw_outcomes", d) for d in store.partitions("raw_outcomes") if d <= day
    ]
    columns = [contract.id_column, contract.target.column]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=columns)


def monitoring_assets(scope: Scope) -> list[dg.AssetsDefinition]:
    """The dataset's drift reference, daily data and concept drift, and daily fairness."""
    group = scope.group(MONITORING)

    @dg.asset(
        key=scope.key(DRIFT_REFERENCE),
        group_name=group,
        deps=[scope.key("champion_model"), scope.key("training_data")],
        kinds={"json"},
        automation_condition=dg.AutomationCondition.eager(),
    )
    def drift_reference(
        context: dg.AssetExecutionContext,
        datasets: DatasetsResource,
        storage: StorageResource,
        mlflow: MlflowResource,
    ) -> dg.MaterializeResult:
        """What the champion was trained on, summarized: every day's data is compared with it.

        The rows are the training period's as they arrived (history and labelled
        applications, rule rejects included, since the daily batches include them; within
        the training's window, if it had one), scored by the champion; the holdout gives the
        figures realised outcomes are held to. Built once per champion version: the version's
        training period does not change.
        """
        from credit_assets.core.dataset import bad_outcomes
        from credit_assets.core.drift import HoldoutReference, build_reference
        from credit_assets.core.registry_names import CHAMPION
        from credit_assets.defs.training import labelled_applications

        dataset = datasets.get(scope.name)
        contract, store = dataset.contract(), storage.store(scope.name)
        registry = mlflow.registry(contract)
        champion = registry.alias_version(CHAMPION)
        if champion is not None and store.exists(DRIFT_REFERENCE, f"v{champion}", "json"):
            # A refused challenger leaves the champion's reference as it was: rebuilt on the
            # newer holdout, it would take the drift it should reveal for the norm.
            return dg.MaterializeResult(metadata={"model_version": champion, "kept": True})
        with dataset.writing(context, shared=True):  # training rewrites the tables read here
            pipeline, version = registry.load(CHAMPION)
            window = store.read_json("training_data", "summary").get("window", {})
            rows = pd.concat(
                [
                    newest_rows(
                        store.read_frame("raw_history"), window.get("history_rows"), contract
                    ),
                    labelled_applications(store, contract, since=window.get("since")),
                ],
                ignore_index=True,
            )
            holdout = store.read_frame("training_data", where=(SPLIT, "holdout"))
        passed = apply_rules(rows, contract)[RULE_ID].isna().to_numpy()
        scores = pd.Series(float("nan"), index=rows.index)
        scores[passed] = pipeline.risk(rows.loc[passed])
        reference = build_reference(
            rows,
            contract,
            scores.to_numpy(),
            holdout=HoldoutReference.compute(
                bad_outcomes(holdout, contract), pipeline.risk(holdout), pipeline.thresholds
            ),
        )
        path = store.write_json(reference.to_dict(), DRIFT_REFERENCE, f"v{version.version}")
        return dg.MaterializeResult(
            metadata={
                "model_version": version.version,
                "kept": False,
                "rows": reference.rows,
                "rule_rejected": reference.rule_rejected,
                "holdout_auc": reference.holdout.auc,
                "path": dg.MetadataValue.path(str(path)),
            }
        )

    @dg.asset(
        key=scope.key(DATA_DRIFT),
        group_name=group,
        partitions_def=scope.partitions,
        deps=[scope.key("raw_applications"), scope.key("decisions"), drift_reference],
        kinds={"scipy", "json"},
        check_specs=[
            dg.AssetCheckSpec(
                "no_data_drift",
                asset=scope.key(DATA_DRIFT),
                description="The day's applications and scores are distributed as in the "
                "champion's training period (warns on drift).",
            )
        ],
    )
    def data_drift(
        context: dg.AssetExecutionContext,
        config: DriftConfig,
        datasets: DatasetsResource,
        storage: StorageResource,
    ) -> dg.MaterializeResult:
        """The day's applications against the drift reference of the model that decided them:
        per feature a test and PSI, plus the score distribution and the rule-reject rate."""
        from credit_assets.core import plots
        from credit_assets.core.drift import data_drift as measure

        day, contract = context.partition_key, datasets.get(scope.name).contract()
        store = storage.store(scope.name)
        applications = store.read_frame("raw_applications", day)
        decided = store.read_frame(
            "decisions", day, columns=[contract.id_column, "score", "model_version"]
        )
        version = decided["model_version"].iloc[0]
        scores = decided.set_index(contract.id_column)["score"].reindex(
            applications[contract.id_column]
        )
        report = measure(_reference(store, version), applications, scores.to_numpy(), config.rule())
        path = store.write_json({**report.to_dict(), "model_version": version}, DATA_DRIFT, day)
        top = report.top(10)
        return dg.MaterializeResult(
            metadata={
                "summary": report.summary(),
                "drifted": report.drifted,
                "drifted_share": report.drifted_share,
                "model_version": version,
                "top_features": dg.MetadataValue.md(top.to_markdown(index=False, floatfmt=".3g")),
                "plot": dg.MetadataValue.md(
                    plots.markdown_image(plots.drift_png(report.top(15)), "drift")
                ),
                "path": dg.MetadataValue.path(str(path)),
            },
            check_results=[
                _warn(
                    "no_data_drift",
                    not report.drifted,
                    report.summary(),
                    drifted_features=report.drifted_features[:20],
                )
            ],
        )

    @dg.asset(
        key=scope.key(CONCEPT_DRIFT),
        group_name=group,
        partitions_def=scope.partitions,
        deps=[scope.key("raw_outcomes"), scope.key("decisions"), drift_reference],
        kinds={"scipy", "json"},
        check_specs=[
            dg.AssetCheckSpec(
                "no_concept_drift",
                asset=scope.key(CONCEPT_DRIFT),
                description="The outcomes that arrived this day are predicted as well as on "
                "the champion's holdout (warns on concept drift).",
            )
        ],
    )
    def concept_drift(
        context: dg.AssetExecutionContext,
        config: DriftConfig,
        datasets: DatasetsResource,
        storage: StorageResource,
    ) -> dg.MaterializeResult:
        """The applications whose outcomes arrived on this day (from earlier days: the outcome
        lag), scored as they were decided: realised AUC, calibration, accuracy of automatic
        decisions and the label-feature relationship, against the holdout's."""
        from credit_assets.core.drift import concept_drift as measure

        day, contract = context.partition_key, datasets.get(scope.name).contract()
        store = storage.store(scope.name)
        outcomes = store.read_frame("raw_outcomes", day)
        if outcomes.empty:
            return dg.MaterializeResult(
                metadata={"labelled_rows": 0},
                check_results=[_warn("no_concept_drift", True, "no outcomes arrived")],
            )
        labelled = _labelled_for(store, outcomes, contract, day)
        if labelled.empty:
            raise DriftError(
                f"none of the {len(outcomes)} outcomes of {day} has a decided application"
            )
        # judge the version that decided most of these applications, on its own decisions
        version = Counter(labelled["model_version"]).most_common(1)[0][0]
        labelled = labelled[labelled["model_version"] == version].reset_index(drop=True)
        report = measure(
            _reference(store, version), labelled, labelled["score"].to_numpy(), config.rule()
        )
        days = sorted(labelled["application_day"].unique())
        auc = report.check("auc")
        path = store.write_json(
            {**report.to_dict(), "model_version": version, "application_days": days},
            CONCEPT_DRIFT,
            day,
        )
        return dg.MaterializeResult(
            metadata={
                "summary": report.summary(),
                "drifted": report.drifted,
                "realised_auc": auc.value,
                "holdout_auc": auc.reference,
                "auc_fell": auc.fired,
                "labelled_rows": report.rows,
                "application_days": days,
                "model_version": version,
                "top_features": dg.MetadataValue.md(
                    report.top(10).to_markdown(index=False, floatfmt=".3g")
                ),
                "path": dg.MetadataValue.path(str(path)),
            },
            check_results=[_warn("no_concept_drift", not report.drifted, report.summary())],
        )

    @dg.asset(
        key=scope.key(FAIRNESS),
        group_name=group,
        partitions_def=scope.partitions,
        deps=[scope.key("decisions"), scope.key("raw_outcomes")],
        kinds={"pandas", "json"},
        check_specs=[
            dg.AssetCheckSpec(
                "fairness_bounds",
                asset=scope.key(FAIRNESS),
                description="No protected group is clearly treated worse than the promotion "
                "gates allow, and no rule clearly hits one group harder (warns on a breach).",
            )
        ],
    )
    def fairness(
        context: dg.AssetExecutionContext,
        config: FairnessCheckConfig,
        datasets: DatasetsResource,
        storage: StorageResource,
    ) -> dg.MaterializeResult:
        """The day's decisions by protected group across the funnel (rules, automatic, final),
        with the outcomes known so far for equalized odds."""
        from credit_assets.core.fairness import TABLE_HEADER, assess, with_outcomes

        day, contract = context.partition_key, datasets.get(scope.name).contract()
        store = storage.store(scope.name)
        decided = with_outcomes(
            store.read_frame("decisions", day), _outcomes_until(store, contract, day), contract
        )
        report = assess(decided, contract)
        bounds = (config.min_selection_rate_ratio, config.max_equalized_odds_difference)
        breaches = report.breaches(*bounds)
        rows = report.table(*bounds)
        path = store.write_json(
            {
                "breaches": [d.to_dict() for d in breaches],
                "disparities": [d.to_dict() for d in report.disparities],
            },
            FAIRNESS,
            day,
        )
        table = pd.DataFrame(rows, columns=list(TABLE_HEADER))
        description = "; ".join(d.describe() for d in breaches) or (
            "no breach" if rows else "no protected attribute in the decisions"
        )
        return dg.MaterializeResult(
            metadata={
                "breaches": len(breaches),
                "outcomes_known": int(decided["bad"].notna().sum()),
                "table": dg.MetadataValue.md(table.to_markdown(index=False) if rows else "–"),
                "path": dg.MetadataValue.path(str(path)),
            },
            check_results=[_warn("fairness_bounds", not breaches, description)],
        )

    return [drift_reference, data_drift, concept_drift, fairness]


def monitoring_jobs(scope: Scope) -> tuple[Any, dg.ScheduleDefinition]:
    """The daily monitoring job (with the day's outcomes, which concept drift reads) and its
    schedule, an hour after the daily decisions."""
    job = dg.define_asset_job(
        scope.job(MONITORING_JOB),
        selection=dg.AssetSelection.assets(
            scope.key("raw_outcomes"),
            *(scope.key(a) for a in (DATA_DRIFT, CONCEPT_DRIFT, FAIRNESS)),
        ),
        partitions_def=scope.partitions,
        description=f"{scope.name}: one day's data drift, concept drift of the outcomes that "
        "arrived, and fairness of the decisions.",
    )
    schedule = dg.build_schedule_from_partitioned_job(
        job,
        hour_of_day=7,
        name=f"{scope.name}__daily_monitoring",
        description=f"Measure drift and fairness of each day's {scope.name} decisions at 07:00.",
    )
    return job, schedule


def _recorded(
    instance: dg.DagsterInstance, key: dg.AssetKey, field: str
) -> dict[str, dg.MetadataValue]:
    """``field`` of the newest materialization of each recent partition of ``key`` (partitions
    whose materialization lacks it, e.g. a day without outcomes, are left out)."""
    found = {}
    for record in reversed(instance.fetch_materializations(key, limit=RECENT).records):
        materialization = record.asset_materialization
        if materialization and materialization.partition and field in materialization.metadata:
            found[materialization.partition] = materialization.metadata[field]
    return found


def last_line(error: Any) -> str:
    """What went wrong in a step, as one line: the cause's last line, without its class."""
    cause = error.cause or error
    line = cause.message.strip().splitlines()[-1]
    return line.split(": ", 1)[-1] if cause.cls_name and cause.cls_name in line else line


def _alert(message: str) -> str:
    from credit_assets.core.alerts import raise_alert

    settings = Settings.from_env()
    return raise_alert(message, settings.home / ALERTS_LOG, settings.alert_webhook)


def monitoring_sensors(scope: Scope, monitored_jobs: list) -> list[dg.SensorDefinition]:
    """Drift → retraining, outcome files → concept drift, failed runs and fairness breaches →
    alerts, a new champion → its drift reference. The sensors that launch the daily work
    start stopped (switch them on in the UI); the alerts and the reference start running."""

    @dg.sensor(
        name=f"{scope.name}__drift_sensor",
        job_name=scope.job(TRAINING_JOB),
        minimum_interval_seconds=300,
        default_status=dg.DefaultSensorStatus.STOPPED,
        description=f"Retrain {scope.name} once per episode of data or concept drift (the "
        "challenger must still pass the promotion gates); the reason and the evidence are in "
        "the run's tags.",
    )
    def drift_sensor(context: dg.SensorEvaluationContext) -> dg.SensorResult:
        cursor = MonitorCursor.loads(context.cursor)
        started = []
        windows = _recorded(context.instance, scope.key(CONCEPT_DRIFT), "application_days")
        for kind, asset in ((DATA, DATA_DRIFT), (CONCEPT, CONCEPT_DRIFT)):
            verdicts = _recorded(context.instance, scope.key(asset), "drifted")
            summaries = _recorded(context.instance, scope.key(asset), "summary")
            # concept drift judges a model against its own holdout: a new one, a new episode
            versions = _recorded(context.instance, scope.key(asset), "model_version")
            state, days = cursor.get(kind).advance(
                {d: bool(v.value) for d, v in verdicts.items()},
                *(
                    ({d: str(v.value) for d, v in versions.items()}, ASK_AGAIN_AFTER_DAYS)
                    if kind == CONCEPT
                    else ()
                ),
            )
            cursor = cursor.with_state(kind, state)
            started += [(kind, since, day, str(summaries[day].value)) for since, day in days]
        if not started:
            return dg.SensorResult(skip_reason="no new drift episode", cursor=cursor.dumps())
        reason = "; ".join(
            f"{kind} drift since {since}" + (f" (still on {day})" if day != since else "")
            for kind, since, day, _ in started
        )
        evidence = "\n".join(f"{kind} {day}: {summary}" for kind, _, day, summary in started)
        # After concept drift, learn from the new concept alone; a data-drift retraining keeps
        # every day (P(y | x) holds)
        fell = _recorded(context.instance, scope.key(CONCEPT_DRIFT), "auc_fell")
        window = TrainingWindow(
            min(
                (
                    window_start(
                        since,
                        day,
                        {d: bool(v.value) for d, v in fell.items()},
                        {d: list(v.value) for d, v in windows.items()},
                    )
                    for kind, since, day, _ in started
                    if kind == CONCEPT
                ),
                default=None,
            )
        )
        _alert(f"{scope.name}: {reason}: retraining requested")
        request = dg.RunRequest(
            run_key="drift-" + "-".join(f"{kind}-{day}" for kind, _, day, _ in started),
            tags={
                REASON_TAG: reason,
                EVIDENCE_TAG: evidence[:_TAG_LIMIT],
                WINDOW_TAG: window.since or "all days",
            },
            run_config={
                "ops": {
                    scope.key("training_data").to_python_identifier(): {
                        "config": {"window_since": window.since}
                    }
                }
            }
            if window.since
            else None,
        )
        return dg.SensorResult(run_requests=[request], cursor=cursor.dumps())

    @dg.sensor(
        name=f"{scope.name}__outcome_sensor",
        job_name=scope.job(MONITORING_JOB),
        minimum_interval_seconds=60,
        default_status=dg.DefaultSensorStatus.STOPPED,
        description=f"When a {scope.name} outcome file arrives (or changes), ingest it and "
        "measure concept drift on the applications it labels.",
    )
    def outcome_sensor(
        context: dg.SensorEvaluationContext, datasets: DatasetsResource
    ) -> dg.SensorResult:
        seen = json.loads(context.cursor or "{}")  # day -> file modification time (ns)
        days = set(scope.partitions.get_partition_keys())  # a file dated in the future waits
        files = datasets.get(scope.name).data().outcome_files()
        arrived = {d: p.stat().st_mtime_ns for d, p in files.items() if d in days}
        new = sorted(d for d, mtime in arrived.items() if seen.get(d) != mtime)
        requests = [
            dg.RunRequest(
                run_key=f"outcomes-{day}-{arrived[day]}",
                partition_key=day,
                asset_selection=[scope.key("raw_outcomes"), scope.key(CONCEPT_DRIFT)],
            )
            for day in new
        ]
        return dg.SensorResult(
            run_requests=requests,
            cursor=json.dumps({**seen, **{d: arrived[d] for d in new}}, sort_keys=True),
            skip_reason=None if new else "no new outcome file",
        )

    @dg.run_failure_sensor(
        name=f"{scope.name}__run_failure_alert",
        monitored_jobs=monitored_jobs,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description=f"Record an alert when a {scope.name} run fails: a line in "
        f"$CREDIT_HOME/{ALERTS_LOG}, and a POST to $CREDIT_ALERT_WEBHOOK if set.",
    )
    def run_failure_alert(context: dg.RunFailureSensorContext) -> None:
        run = context.dagster_run
        steps = context.get_step_failure_events()
        error = steps[0].step_failure_data.error if steps else None
        why = last_line(error) if error else context.failure_event.message
        step = f" at {steps[0].step_key}" if steps else ""
        _alert(f"{scope.name}: run {run.run_id[:8]} of {run.job_name} failed{step}: {why}")

    @dg.sensor(
        name=f"{scope.name}__fairness_alert",
        minimum_interval_seconds=300,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description=f"Record an alert when a day's {scope.name} decisions breach a fairness "
        f"bound (the fairness check's warning): $CREDIT_HOME/{ALERTS_LOG} and the webhook.",
    )
    def fairness_alert(context: dg.SensorEvaluationContext) -> dg.SensorResult:
        breaches = _recorded(context.instance, scope.key(FAIRNESS), "breaches")
        new = sorted(d for d in breaches if context.cursor is None or d > context.cursor)
        for day in new:
            if breaches[day].value:
                _alert(f"{scope.name}: fairness [{day}]: {breaches[day].value} breaches")
        return dg.SensorResult(cursor=new[-1] if new else context.cursor)

    # Data drift needs the reference of the champion that decided: it follows every training.
    reference = dg.AutomationConditionSensorDefinition(
        f"{scope.name}__drift_reference_automation",
        target=dg.AssetSelection.assets(scope.key(DRIFT_REFERENCE)),
        default_status=dg.DefaultSensorStatus.RUNNING,
        description=f"Rebuild the {scope.name} drift reference after each champion_model.",
    )
    return [drift_sensor, outcome_sensor, run_failure_alert, fairness_alert, reference]
