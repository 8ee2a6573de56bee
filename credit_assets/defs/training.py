"""Training: training table -> features -> model -> review band -> registered pipeline
(the challenger) -> champion, through the promotion gates."""

from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from typing import TYPE_CHECKING, Literal

import dagster as dg
import numpy as np
import pandas as pd
from pydantic import Field

from credit_assets.code_version import git_revision
from credit_assets.core.collector import paused
from credit_assets.core.contract import DatasetContract
from credit_assets.core.dataset import (
    HOLDOUT,
    SPLIT,
    TRAIN,
    VALIDATION,
    TrainingWindow,
    bad_outcomes,
    build_training_table,
    concat_partitions,
    data_fingerprint,
    fingerprint,
    label_applications,
    newest_rows,
    with_review_labels,
)
from credit_assets.core.expectations import warm_up
from credit_assets.core.fencing import begin, check_stamp, stamp
from credit_assets.core.figures import band_on_holdout, describe_band
from credit_assets.core.gates import (
    GateConfig,
    fairness_summary,
    gates_markdown,
)
from credit_assets.core.io import alongside
from credit_assets.core.metrics import quality
from credit_assets.core.promotion import decide_promotion
from credit_assets.core.registry_names import (
    CHALLENGER,
    CHAMPION,
    FAIRNESS_TAG,
    GATES_PASSED_TAG,
    GATES_TAG,
    LAUNCHED_BY_TAG,
    LINEAGE_TAGS,
)
from credit_assets.core.storage import Store
from credit_assets.core.thresholds import (
    DEFAULT_COSTS,
    Costs,
    Thresholds,
    choose_band,
    coverage_accuracy_curve,
)
from credit_assets.core.training import CANDIDATES, TrainConfig, TrainedModel, train_on_features
from credit_assets.defs.checks import check_specs, run_checks
from credit_assets.defs.recovery import (
    fail_orphaned_mlflow_runs,
    pause_for_tests,
    recover_dead_runs,
)
from credit_assets.defs.resources import (
    Dataset,
    DatasetsResource,
    DecisionLogResource,
    MlflowResource,
    StorageResource,
)
from credit_assets.defs.scope import TRAINING, Scope
from credit_assets.scaleout.executors import TRAINING_OP_TAGS

if TYPE_CHECKING:
    from credit_assets.core.features import FeatureBuilder
    from credit_assets.core.registry import ModelRegistry

# scikit-learn, LightGBM, MLflow and matplotlib are imported inside the steps that use them:
# every run's orchestrator and every worker loads this module, most never train.
_DEFAULTS = TrainConfig()


class ModelConfig(dg.Config):
    candidates: list[str] = Field(
        default=list(_DEFAULTS.candidates),
        description=f"model designs to try, best on validation wins; known: {list(CANDIDATES)}",
    )
    max_rounds: int = Field(
        default=_DEFAULTS.max_rounds, description="upper bound on boosting rounds"
    )
    early_stopping_rounds: int = Field(
        default=_DEFAULTS.early_stopping_rounds,
        description="stop after this many rounds without a better validation AUC",
    )
    seed: int = Field(default=_DEFAULTS.seed, description="random seed")

    def train_config(self) -> TrainConfig:
        return TrainConfig(**{**self.model_dump(), "candidates": tuple(self.candidates)})


class ThresholdConfig(dg.Config):
    target_accuracy: float = Field(
        default=0.90,
        gt=0.5,
        lt=1.0,
        description="automatic decisions must be at least this accurate on validation; "
        "everything else goes to human review",
    )
    metric: Literal["balanced", "plain"] = Field(
        default="balanced",
        description="'balanced' weighs good and bad applicants equally (use it when one class "
        "is rare); 'plain' is the share of correct automatic decisions",
    )
    policy: Literal["accuracy", "cost"] = Field(
        default="accuracy",
        description="'accuracy': automate most while automatic decisions reach "
        "target_accuracy; 'cost': the lowest expected cost per scored application",
    )
    cost_bad_approved: float = Field(
        default=DEFAULT_COSTS.bad_approved,
        ge=0,
        description="cost of approving an applicant who then defaults (any unit: only the "
        "ratios of the three costs matter)",
    )
    cost_good_rejected: float = Field(
        default=DEFAULT_COSTS.good_rejected,
        ge=0,
        description="cost of rejecting an applicant who would have repaid",
    )
    cost_review: float = Field(
        default=DEFAULT_COSTS.review, ge=0, description="cost of one manual review"
    )

    def costs(self) -> Costs:
        return Costs(self.cost_bad_approved, self.cost_good_rejected, self.cost_review)


class TrainingDataConfig(dg.Config):
    window_since: str | None = Field(
        default=None,
        pattern=r"^\d{4}-\d{2}-\d{2}$",
        description="learn only from the applications of the days from this date on (and the "
        "newest history rows the contract's min_history_rows still needs); empty: the whole "
        "history and every day. The drift sensor sets it when it retrains for concept drift.",
    )


_GATES = GateConfig()


class PromotionConfig(dg.Config):
    """Promotion gates: a challenger becomes champion only if every gate passes. These run
    settings can only make the dataset's gate policy (set by an admin in the web app) stricter,
    never looser."""

    min_auc: float = Field(
        default=_GATES.min_auc, description="absolute: holdout AUC must reach at least this"
    )
    max_brier: float | None = Field(
        default=_GATES.max_brier,
        description="absolute: largest holdout Brier score; empty means the Brier score of "
        "always predicting the holdout's bad-outcome rate (a useful model beats it)",
    )
    max_ece: float = Field(
        default=_GATES.max_ece,
        ge=0,
        description="absolute: largest expected calibration error (10 equal-count bins), "
        "over what sampling noise alone gives a calibrated model on the holdout's size",
    )
    min_automation_rate: float = Field(
        default=_GATES.min_automation_rate,
        ge=0,
        le=1,
        description="absolute: least share of holdout decisions automated at the target accuracy",
    )
    auc_tolerance: float = Field(
        default=_GATES.auc_tolerance,
        description="relative: the challenger's holdout AUC may be at most this much below "
        "the champion's on the same holdout",
    )
    automation_tolerance: float = Field(
        default=_GATES.automation_tolerance,
        description="relative: the challenger's automation rate at the target accuracy may be "
        "at most this much below the champion's on the same holdout",
    )
    min_selection_rate_ratio: float = Field(
        default=_GATES.min_selection_rate_ratio,
        description="fairness: lowest over highest protected group's automatic approval "
        "rate, at the confidence bounds (the four-fifths rule)",
    )
    max_equalized_odds_difference: float = Field(
        default=_GATES.max_equalized_odds_difference,
        description="fairness: largest gap between protected groups' approval rates among "
        "good, or among bad, applicants, at the confidence bounds",
    )


def _open_registry(
    instance: dg.DagsterInstance, mlflow: MlflowResource, contract: DatasetContract
) -> "ModelRegistry":
    """The dataset's registry, after marking failed the MLflow runs that runs which died left
    unfinished (before this training starts its own)."""
    with paused():  # MLflow's import, and its first query setting up SQLAlchemy's mappers
        registry = mlflow.registry(contract)
        fail_orphaned_mlflow_runs(instance, registry)
    return registry


def _import_fit_libraries() -> None:
    """Before another thread imports MLflow: two threads importing modules that import each
    other could wait on each other."""
    with paused():
        import lightgbm  # noqa: F401
        import sklearn.metrics
        import sklearn.pipeline  # noqa: F401

        import credit_assets.core.plots  # noqa: F401 - matplotlib


def _who(context: dg.AssetExecutionContext) -> str:
    """Who changed an alias through Dagster: the user the web app's gate authenticated (it
    stamps the tag over whatever the launcher sent), else the schedule or sensor, and the
    run."""
    tags = context.run.tags
    who = (
        tags.get(LAUNCHED_BY_TAG)
        or tags.get("dagster/schedule_name")
        or tags.get("dagster/sensor_name")
        or f"{tags.get('launched_by', 'dagster')} (unauthenticated)"
    )
    return f"{who} (dagster run {context.run_id[:8]})"


def labelled_applications(
    store: Store,
    contract: DatasetContract,
    reviews: pd.DataFrame | None = None,
    since: str | None = None,
) -> pd.DataFrame:
    """Applications joined with their outcomes, over every partition not rejected by a check
    (from the day ``since`` on, if given), and (with ``reviews``) the reviewers' decisions as
    labels where no outcome arrived.

    An id on two days (in either kind of file) is an error naming both days.
    """
    days = TrainingWindow(since).days(store.partitions("raw_applications"))
    apps = {p: store.read_frame("raw_applications", p) for p in days}
    outs = {p: store.read_frame("raw_outcomes", p) for p in store.partitions("raw_outcomes")}
    empty = pd.DataFrame(columns=[contract.id_column, contract.target.column])
    if not apps:
        return empty
    applications = concat_partitions(apps, contract, "applications")
    labelled = (
        label_applications(applications, concat_partitions(outs, contract, "outcomes"), contract)
        if outs
        else applications.iloc[:0].assign(**{contract.target.column: pd.Series(dtype="int8")})
    )
    if reviews is None or reviews.empty:
        return labelled if outs else empty
    return with_review_labels(labelled, applications, reviews, contract)


def _partition_span(partitions: dict[str, list[str]]) -> str:
    """Short form of the partitions used, e.g. ``applications 2026-11-01..2026-11-04 (4)``."""
    parts = []
    for kind, days in sorted(partitions.items()):
        span = f"{days[0]}..{days[-1]} ({len(days)})" if days else "none"
        parts.append(f"{kind} {span}")
    return "; ".join(parts)


def _risk_and_bad(
    scores: pd.DataFrame, contract: DatasetContract, split: str
) -> tuple[np.ndarray, np.ndarray]:
    """Risk scores (P(bad outcome)) and bad-outcome flags for one split of the model's scores."""
    rows = scores[scores[SPLIT] == split]
    p_positive = rows["p_positive"].to_numpy()
    bad = bad_outcomes(rows, contract)
    return (p_positive if contract.target.positive_means == "default" else 1 - p_positive), bad


def _data_summary(data: dict) -> dict[str, str]:
    parts = data.get("partitions", {})
    out = {
        "training rows": f"{data['rows']:,}",
        **{
            f"{s} rows / bad-outcome rate": f"{data[f'rows_{s}']:,} / "
            f"{data.get(f'positive_rate_{s}', float('nan')):.2%} positive class"
            for s in (TRAIN, VALIDATION, HOLDOUT)
        },
        "rows by source": ", ".join(f"{k} {v:,}" for k, v in data["rows_by_source"].items()),
        "rule hits left out": ", ".join(f"{k} {v}" for k, v in data["rule_hits_excluded"].items())
        or "none",
        "training window": data.get("window_text", "all days"),
    }
    for kind, days in sorted(parts.items()):
        out[f"{kind} partitions"] = f"{days[0]} .. {days[-1]} ({len(days)})" if days else "none"
    return out


def _running(instance: dg.DagsterInstance, run_id: str) -> bool:
    run = instance.get_run_by_id(run_id)
    return run is not None and not run.is_finished


@contextmanager
def _training_step(
    context: dg.AssetExecutionContext,
    dataset: Dataset,
    store: Store,
    asset: str,
    upstream: str | None,
) -> Iterator[None]:
    """A training step writes under the dataset's writer lock, builds only on finished work
    of its own training (``core/fencing.py``), and stamps what it wrote once all is written."""
    root = context.run.root_run_id or context.run_id
    with dataset.writing(context):
        if upstream is not None:
            check_stamp(store, upstream, root, partial(_running, context.instance))
        begin(store, asset)
        pause_for_tests(asset)
        yield
        stamp(store, asset, root, context.run_id)


def training_assets(scope: Scope) -> list[dg.AssetsDefinition]:
    """The dataset's training graph, from the training table to the champion alias."""

    @dg.asset(
        key=scope.key("training_data"),
        group_name=scope.group(TRAINING),
        deps=[scope.key(a) for a in ("raw_history", "raw_applications", "raw_outcomes")],
        kinds={"pandas", "parquet"},
        op_tags=TRAINING_OP_TAGS,
        check_specs=check_specs(scope, "training_data"),
    )
    def training_data(
        context: dg.AssetExecutionContext,
        config: TrainingDataConfig,
        datasets: DatasetsResource,
        storage: StorageResource,
        mlflow: MlflowResource,
        decision_log: DecisionLogResource,
    ) -> dg.MaterializeResult:
        """History plus every labelled application, time-ordered and split
        train / validation / holdout. An application is labelled by its outcome or, while
        none has arrived, by a reviewer's decision (a real outcome always wins).

        Rule-rejected rows are left out: the model never scores them. With a window (run
        config ``window_since``) only the days from that date on are learned from. A training
        starts by marking failed the earlier runs of the dataset that died unfinished (the
        ``model`` step does the same for their MLflow runs).
        """
        from credit_assets.core.reviews import review_labels

        dataset = datasets.get(scope.name)
        contract, store = dataset.contract(), storage.store(scope.name)
        with _training_step(context, dataset, store, "training_data", None):
            recover_dead_runs(context.instance, scope.name)
            reviews = review_labels(decision_log.log(), scope.name)
            warm_up()  # GX for this step's checks, while the table is built and written
            window = TrainingWindow(config.window_since)
            labelled = labelled_applications(store, contract, reviews, window.since)
            kept = window.history_rows(len(labelled), contract)
            history = newest_rows(store.read_frame("raw_history"), kept, contract)
            table = build_training_table(history, labelled, contract)
            with alongside(store.write_frame, table.frame, "training_data") as written:
                counts = table.frame[SPLIT].value_counts()
                table_fingerprint = fingerprint(table.frame)
                target = table.frame[contract.target.column]
            path = written.result()
            partitions = {
                "applications": window.days(store.partitions("raw_applications")),
                "outcomes": store.partitions("raw_outcomes"),
            }
            summary = {
                "rows": len(table.frame),
                **{f"rows_{s}": int(counts.get(s, 0)) for s in (TRAIN, VALIDATION, HOLDOUT)},
                **{
                    f"positive_rate_{s}": float(target[table.frame[SPLIT] == s].mean())
                    for s in (TRAIN, VALIDATION, HOLDOUT)
                },
                "rows_by_source": table.rows_by_source,
                "rule_hits_excluded": table.rule_hits,
                # drift_reference summarizes these same rows
                "window": {"since": window.since, "history_rows": kept},
                "window_text": window.describe(len(history)),
                "partitions": partitions,
                "table_fingerprint": table_fingerprint,
                "contract_version": contract.version,
                "rules_version": contract.rules_version,
                "data_fingerprint": data_fingerprint(
                    table_fingerprint, contract.version, partitions
                ),
            }
            store.write_json(summary, "training_data", "summary")
            return dg.MaterializeResult(
                metadata={
                    "rows": len(table.frame),
                    **{f"rows_{s}": int(counts.get(s, 0)) for s in (TRAIN, VALIDATION, HOLDOUT)},
                    "rows_by_source": table.rows_by_source,
                    "rule_hits_excluded": table.rule_hits,
                    "training_window": window.describe(len(history)),
                    "reviewer_labels_on_record": len(reviews),
                    "application_partitions": partitions["applications"],
                    "outcome_partitions": partitions["outcomes"],
                    "fingerprint": table_fingerprint,
                    "data_fingerprint": summary["data_fingerprint"],
                    "contract_version": contract.version,
                    "path": dg.MetadataValue.path(str(path)),
                },
                check_results=run_checks("training_data", None, table.frame, dataset, store),
            )

    @dg.asset(
        key=scope.key("features"),
        group_name=scope.group(TRAINING),
        deps=[training_data],
        kinds={"scikit-learn", "parquet"},
        op_tags=TRAINING_OP_TAGS,
        check_specs=check_specs(scope, "features"),
    )
    def features(
        context: dg.AssetExecutionContext, datasets: DatasetsResource, storage: StorageResource
    ) -> dg.MaterializeResult:
        """Feature builder fitted on training rows only, and the built feature table (with the
        id, split and target beside the features)."""
        from credit_assets.core.features import fit_feature_builder
        from credit_assets.core.reasons import training_medians

        dataset = datasets.get(scope.name)
        contract, store = dataset.contract(), storage.store(scope.name)
        with _training_step(context, dataset, store, "features", "training_data"):
            table = store.read_frame("training_data")
            warm_up()  # GX for this step's checks, while the features are built and written
            builder = fit_feature_builder(table, contract)
            built = builder.transform(table)
            built.insert(0, contract.id_column, table[contract.id_column].to_numpy())
            built[SPLIT] = table[SPLIT].to_numpy()
            built[contract.target.column] = table[contract.target.column].to_numpy()
            del table  # the checks below run on the built table: not both in memory at the peak
            with alongside(store.write_frame, built, "features") as written:
                store.write_object(builder, "features", "feature_builder")
                # what "high" and "low" mean in reason codes, kept so later steps need not
                # re-read the table
                medians = training_medians(
                    built[built[SPLIT] == TRAIN], list(builder.feature_names_out_)
                )
                store.write_json(medians, "features", "train_medians")
            path = written.result()
            return dg.MaterializeResult(
                metadata={
                    "features": len(builder.feature_names_out_),
                    "categorical": builder.categorical_out,
                    "frequency_encoded": list(builder.frequency_ or {}),
                    "feature_state_version": builder.state_fingerprint(),
                    "path": dg.MetadataValue.path(str(path)),
                },
                check_results=run_checks("features", None, built, dataset, store),
            )

    @dg.asset(
        key=scope.key("model"),
        group_name=scope.group(TRAINING),
        deps=[features],
        kinds={"lightgbm", "mlflow"},
        op_tags=TRAINING_OP_TAGS,
    )
    def model(
        context: dg.AssetExecutionContext,
        config: ModelConfig,
        datasets: DatasetsResource,
        storage: StorageResource,
        mlflow: MlflowResource,
    ) -> dg.MaterializeResult:
        """LightGBM model, chosen among candidates on validation, judged once on holdout."""
        _import_fit_libraries()
        from credit_assets.core.plots import markdown_image, roc_png

        dataset = datasets.get(scope.name)
        contract, store = dataset.contract(), storage.store(scope.name)
        with (
            _training_step(context, dataset, store, "model", "features"),
            # MLflow's import and client (about a second) while LightGBM fits: it releases
            # the GIL
            alongside(_open_registry, context.instance, mlflow, contract) as opened,
        ):
            built = store.read_frame("features")
            builder: FeatureBuilder = store.read_object("features", "feature_builder")
            target = contract.target.column
            names = builder.feature_names_out_
            parts = {s: built[built[SPLIT] == s] for s in (TRAIN, VALIDATION, HOLDOUT)}
            y = {s: p[target].to_numpy().astype(int) for s, p in parts.items()}
            trained = train_on_features(
                builder,
                parts[TRAIN][names],
                y[TRAIN],
                parts[VALIDATION][names],
                y[VALIDATION],
                config.train_config(),
            )
            # The fitted pipeline takes raw columns; these rows are built already. Scored as
            # the registered pipeline scores (a compiled model's tables), so the band is chosen
            # on the scores its decisions get.
            scores = pd.concat(
                [
                    pd.DataFrame(
                        {
                            SPLIT: split,
                            target: y[split],
                            "p_positive": trained.predict_built(parts[split][names]),
                        }
                    )
                    for split in (VALIDATION, HOLDOUT)
                ],
                ignore_index=True,
            )
            holdout_score = scores.loc[scores[SPLIT] == HOLDOUT, "p_positive"].to_numpy()
            metrics = quality(y[HOLDOUT], holdout_score)
            data = store.read_json("training_data", "summary")
            partitions = data["partitions"]
            registry = opened.result()
            run_id = registry.start_run(
                run_name=f"train-{context.run_id[:8]}",
                tags={
                    "dagster_run_id": context.run_id,
                    "contract_name": contract.name,
                    "contract_version": contract.version,
                    "rules_version": contract.rules_version,
                    "code_version": git_revision(),
                    # hash of the training table, the contract and the partitions it came from
                    "data_fingerprint": data["data_fingerprint"],
                    "training_table_fingerprint": data["table_fingerprint"],
                    "training_partitions": _partition_span(partitions),
                    "training_window": data.get("window_text", "all days"),
                    "feature_state_version": builder.state_fingerprint(),
                },
            )
            registry.log(
                run_id,
                params=trained.params,
                metrics={
                    **{f"holdout_{k}": v for k, v in metrics.items()},
                    **{f"validation_auc_{k}": v for k, v in trained.validation_auc.items()},
                    "best_iteration": trained.best_iteration,
                },
            )
            store.write_object(trained, "model")
            # the review band is chosen on these scores: no need to re-read the feature table
            store.write_frame(scores, "model", "scores")
            store.write_json(
                {"run_id": run_id, "holdout": metrics, **trained.describe()}, "model", "summary"
            )
            context.log.info(
                f"holdout AUC {metrics['auc']:.4f} ({trained.candidate}, "
                f"{trained.best_iteration} rounds), MLflow run {run_id}"
            )
            return dg.MaterializeResult(
                metadata={
                    "candidate": trained.candidate,
                    "best_iteration": trained.best_iteration,
                    "validation_auc": trained.validation_auc,
                    "holdout_auc": metrics["auc"],
                    "holdout_ks": metrics["ks"],
                    "holdout_brier": metrics["brier"],
                    "holdout_ece": metrics["ece"],
                    "mlflow_run_id": run_id,
                    "roc": dg.MetadataValue.md(
                        markdown_image(roc_png(y[HOLDOUT], holdout_score, metrics["auc"]), "ROC")
                    ),
                }
            )

    @dg.asset(
        key=scope.key("decision_thresholds"),
        group_name=scope.group(TRAINING),
        deps=[model],
        kinds={"pandas"},
        op_tags=TRAINING_OP_TAGS,
    )
    def decision_thresholds(
        context: dg.AssetExecutionContext,
        config: ThresholdConfig,
        datasets: DatasetsResource,
        storage: StorageResource,
    ) -> dg.MaterializeResult:
        """The review band, chosen on validation rows for the target accuracy, checked on
        holdout."""
        from credit_assets.core.plots import coverage_png, markdown_image

        dataset = datasets.get(scope.name)
        contract, store = dataset.contract(), storage.store(scope.name)
        with _training_step(context, dataset, store, "decision_thresholds", "model"):
            scores = store.read_frame("model", "scores")
            risk, bad = _risk_and_bad(scores, contract, VALIDATION)
            thresholds = choose_band(
                risk, bad, config.policy, config.target_accuracy, config.metric, config.costs()
            )
            curve = coverage_accuracy_curve(risk, bad, config.metric)
            holdout = band_on_holdout(thresholds, *_risk_and_bad(scores, contract, HOLDOUT))
            store.write_json(
                {**thresholds.to_dict(), "holdout": holdout.to_dict()}, "decision_thresholds"
            )
            return dg.MaterializeResult(
                metadata={
                    "version": thresholds.version,
                    "approve_below": thresholds.approve_below,
                    "reject_above": thresholds.reject_above,
                    "metric": thresholds.metric,
                    "validation_automation_rate": thresholds.validation_coverage,
                    "validation_auto_accuracy": thresholds.validation_accuracy,
                    "holdout_automation_rate": holdout.automation.value,
                    "holdout_auto_accuracy": holdout.accuracy.value,
                    "holdout": describe_band(holdout),
                    "coverage_accuracy": dg.MetadataValue.md(
                        curve.to_markdown(index=False, floatfmt=".3f")
                        + "\n\n"
                        + markdown_image(coverage_png(curve, config.target_accuracy), "coverage")
                    ),
                }
            )

    @dg.asset(
        key=scope.key("registered_model"),
        group_name=scope.group(TRAINING),
        deps=[decision_thresholds, training_data],
        kinds={"mlflow"},
        op_tags=TRAINING_OP_TAGS,
    )
    def registered_model(
        context: dg.AssetExecutionContext,
        datasets: DatasetsResource,
        storage: StorageResource,
        mlflow: MlflowResource,
    ) -> dg.MaterializeResult:
        """Rules + features + model + review band logged to MLflow as one model and registered.

        The new version becomes ``challenger``; it replaces the champion only through the
        promotion gates of ``champion_model``.
        """
        from credit_assets.core.pipeline import DecisionPipeline

        dataset = datasets.get(scope.name)
        contract, store = dataset.contract(), storage.store(scope.name)
        with _training_step(context, dataset, store, "registered_model", "decision_thresholds"):
            trained: TrainedModel = store.read_object("model")
            thresholds = Thresholds.from_dict(store.read_json("decision_thresholds"))
            summary = store.read_json("model", "summary")
            builder: FeatureBuilder = trained.pipeline.named_steps["features"]
            pipeline = DecisionPipeline(
                contract=contract,
                model=trained,
                thresholds=thresholds,
                feature_columns=[*builder.numeric, *builder.categorical],
                feature_medians=store.read_json("features", "train_medians"),
            )
            columns = [
                contract.id_column,
                *pipeline.feature_columns,
                *contract.resolve_protected(store.columns("training_data")),
            ]
            holdout = store.read_frame("training_data", columns=columns, where=(SPLIT, HOLDOUT))
            example = holdout.head(5).reset_index(drop=True)
            registry = mlflow.registry(contract)
            registry.log(
                summary["run_id"],
                params={"target_accuracy": thresholds.target_accuracy},
                metrics={
                    "approve_below": thresholds.approve_below,
                    "reject_above": thresholds.reject_above,
                    "validation_automation_rate": thresholds.validation_coverage,
                },
                tags={"thresholds_version": thresholds.version},
            )
            version = registry.register(
                summary["run_id"], pipeline, example, alias=CHALLENGER, by=_who(context)
            )
            store.write_json(
                {"name": version.name, "version": version.version, "run_id": version.run_id},
                "registered_model",
            )
            context.log.info(f"registered {version.name} version {version.version} as {CHALLENGER}")
            return dg.MaterializeResult(
                metadata={
                    "model_name": version.name,
                    "model_version": version.version,
                    "alias": CHALLENGER,
                    "mlflow_run_id": version.run_id,
                    "thresholds_version": thresholds.version,
                    "holdout_auc": summary["holdout"]["auc"],
                }
            )

    @dg.asset(
        key=scope.key("champion_model"),
        group_name=scope.group(TRAINING),
        deps=[registered_model],
        op_tags=TRAINING_OP_TAGS,
        kinds={"mlflow"},
        check_specs=[
            dg.AssetCheckSpec(
                "promotion_gates",
                asset=scope.key("champion_model"),
                description="The newly registered challenger passed every promotion gate against "
                "the champion on the same holdout (fails when it was kept out of production).",
            )
        ],
    )
    def champion_model(
        context: dg.AssetExecutionContext,
        config: PromotionConfig,
        datasets: DatasetsResource,
        storage: StorageResource,
        mlflow: MlflowResource,
        decision_log: DecisionLogResource,
    ) -> dg.MaterializeResult:
        """The version that decides: the ``champion`` alias, moved to the challenger only if
        every promotion gate passes (the dataset's gate policy, made stricter by the run's
        settings where they are).

        Both models are scored on the current holdout (the champion is re-scored, since the
        holdout moves as outcomes arrive). A failed gate leaves the champion as it was and fails
        the ``promotion_gates`` check with the gate, the value, the bound and the shortfall. The
        model report (HTML) of the challenger is written either way.
        """
        # the platform's database (SQLAlchemy): imported by the step, not at load
        from credit_assets.core.audit import AuditLog
        from credit_assets.core.gate_policy import GatePolicies
        from credit_assets.core.governance import record_alias_move
        from credit_assets.core.report import ReportInputs, build_report

        dataset = datasets.get(scope.name)
        contract, store = dataset.contract(), storage.store(scope.name)
        with _training_step(context, dataset, store, "champion_model", "registered_model"):
            registry = mlflow.registry(contract)
            registered = store.read_json("registered_model")
            pipeline, challenger = registry.load(registered["version"])
            holdout = store.read_frame("training_data", where=(SPLIT, HOLDOUT))
            bad = bad_outcomes(holdout, contract)
            previous = registry.alias_version(CHAMPION)
            champion_pipeline = registry.load(previous)[0] if previous is not None else None
            decision = decide_promotion(
                pipeline,
                challenger.version,
                champion_pipeline,
                previous,
                holdout,
                bad,
                GatePolicies(decision_log.log())
                .current(scope.name)
                .tighten(GateConfig(**config.model_dump())),
            )
            results, passed, challenger_eval = (
                decision.results,
                decision.passed,
                decision.challenger,
            )

            run = registry.client.get_run(challenger.run_id)
            report = build_report(
                ReportInputs(
                    model_name=challenger.name,
                    version=challenger.version,
                    run_id=challenger.run_id,
                    bad=bad,
                    challenger_risk=decision.challenger_risk,
                    challenger=challenger_eval,
                    thresholds=pipeline.thresholds,
                    importance=pipeline.model.feature_importance(),
                    gates=results,
                    promoted=decision.promote or decision.already,
                    champion_version=previous if decision.champion is not None else None,
                    champion_risk=decision.champion_risk,
                    champion=decision.champion,
                    lineage={k: run.data.tags.get(k, "") for k in LINEAGE_TAGS},
                    data_summary=_data_summary(store.read_json("training_data", "summary")),
                    params=dict(run.data.params),
                    fairness=decision.fairness,
                )
            )
            report_name = f"report-v{challenger.version}"
            report_path = store.write_bytes(
                report.html.encode(), "champion_model", report_name, "html"
            )
            registry.log_text(challenger.run_id, report.html, f"report/{report_name}.html")
            registry.log(
                challenger.run_id,
                metrics={
                    "gate_holdout_auc": challenger_eval.auc,
                    "gate_holdout_brier": challenger_eval.brier,
                    "gate_holdout_ece": challenger_eval.ece,
                    "gate_automation_rate": challenger_eval.automation_rate,
                },
                tags={"gates_passed": str(passed).lower()},
            )
            registry.set_version_tags(
                challenger.version,
                {
                    GATES_TAG: decision.gates_json(),
                    FAIRNESS_TAG: fairness_summary(challenger_eval, results),
                    GATES_PASSED_TAG: str(passed).lower(),
                    "gates_compared_with": previous or "none",
                    "report": f"runs:/{challenger.run_id}/report/{report_name}.html",
                    "report_path": str(report_path),
                },
            )

            who, why = _who(context), decision.reason
            if decision.promote:
                change = registry.promote(challenger.version, by=who, reason=why)
                record_alias_move(AuditLog(decision_log.log()), scope.name, change)
                context.log.info(
                    f"alias {CHAMPION}: v{previous or '-'} -> v{challenger.version} by {who}: {why}"
                )
            elif decision.already:
                context.log.info(why)
            else:
                context.log.warning(
                    f"challenger v{challenger.version} not promoted, champion stays "
                    f"v{previous or '-'}: {why}"
                )
            champion = registry.alias_version(CHAMPION)
            outcome = decision.record(champion, str(report_path), who)
            store.write_json(outcome, "champion_model")
            check = dg.AssetCheckResult(
                check_name="promotion_gates",
                passed=passed,
                severity=dg.AssetCheckSeverity.ERROR,
                description="every gate passed" if passed else "; ".join(decision.failed),
                metadata={
                    "challenger_version": challenger.version,
                    "champion_version": champion or "none",
                    "gates": dg.MetadataValue.md(gates_markdown(results)),
                    **{
                        f"{r.gate}_margin": float(r.margin)
                        for r in results
                        if r.applied and r.margin is not None and np.isfinite(r.margin)
                    },
                },
            )
            return dg.MaterializeResult(
                metadata={
                    "champion_version": champion or "none",
                    "challenger_version": challenger.version,
                    "previous_champion": previous or "none",
                    "promoted": decision.promote,
                    "changed_by": who,
                    "reason": why,
                    "holdout_auc": challenger_eval.auc,
                    "champion_holdout_auc": decision.champion.auc
                    if decision.champion
                    else float("nan"),
                    "gates": dg.MetadataValue.md(gates_markdown(results)),
                    "report": dg.MetadataValue.md(report.markdown),
                    "report_path": dg.MetadataValue.path(str(report_path)),
                },
                check_results=[check],
            )

    return [
        training_data,
        features,
        model,
        decision_thresholds,
        registered_model,
        champion_model,
    ]
