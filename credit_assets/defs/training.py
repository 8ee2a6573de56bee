"""Training: training table -> features -> model -> review band -> registered pipeline."""

import subprocess
from typing import Literal

import dagster as dg
import numpy as np
import pandas as pd
from pydantic import Field

from credit_assets.core.contract import DatasetContract
from credit_assets.core.dataset import (
    HOLDOUT,
    SPLIT,
    TRAIN,
    VALIDATION,
    build_training_table,
    fingerprint,
    label_applications,
)
from credit_assets.core.features import FeatureBuilder
from credit_assets.core.metrics import quality
from credit_assets.core.pipeline import DecisionPipeline
from credit_assets.core.plots import coverage_png, markdown_image, roc_png
from credit_assets.core.storage import Store
from credit_assets.core.thresholds import (
    Thresholds,
    choose_thresholds,
    coverage_accuracy_curve,
    evaluate,
)
from credit_assets.core.training import CANDIDATES, TrainConfig, TrainedModel, train_on_features
from credit_assets.defs.ingest import raw_applications, raw_history, raw_outcomes
from credit_assets.defs.resources import DatasetResource, MlflowResource, StorageResource
from credit_assets.executors import TRAINING_OP_TAGS

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
        return TrainConfig(
            candidates=tuple(self.candidates),
            max_rounds=self.max_rounds,
            early_stopping_rounds=self.early_stopping_rounds,
            seed=self.seed,
        )


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


def _labelled_applications(store: Store, contract: DatasetContract) -> pd.DataFrame:
    apps = [store.read_frame("raw_applications", p) for p in store.partitions("raw_applications")]
    outs = [store.read_frame("raw_outcomes", p) for p in store.partitions("raw_outcomes")]
    if not apps or not outs:
        return pd.DataFrame(columns=[contract.id_column, contract.target.column])
    return label_applications(
        pd.concat(apps, ignore_index=True), pd.concat(outs, ignore_index=True), contract
    )


@dg.asset(
    group_name="training",
    deps=[raw_history, raw_applications, raw_outcomes],
    kinds={"pandas", "parquet"},
    op_tags=TRAINING_OP_TAGS,
)
def training_data(dataset: DatasetResource, storage: StorageResource) -> dg.MaterializeResult:
    """History plus every labelled application, time-ordered and split train/validation/holdout.

    Rule-rejected rows are left out: the model never scores them.
    """
    contract, store = dataset.contract(), storage.store()
    labelled = _labelled_applications(store, contract)
    table = build_training_table(store.read_frame("raw_history"), labelled, contract)
    path = store.write_frame(table.frame, "training_data")
    counts = table.frame[SPLIT].value_counts()
    return dg.MaterializeResult(
        metadata={
            "rows": len(table.frame),
            **{f"rows_{s}": int(counts.get(s, 0)) for s in (TRAIN, VALIDATION, HOLDOUT)},
            "rows_by_source": table.rows_by_source,
            "rule_hits_excluded": table.rule_hits,
            "application_partitions": store.partitions("raw_applications"),
            "fingerprint": fingerprint(table.frame),
            "contract_version": contract.version,
            "path": dg.MetadataValue.path(str(path)),
        }
    )


@dg.asset(
    group_name="training",
    deps=[training_data],
    kinds={"scikit-learn", "parquet"},
    op_tags=TRAINING_OP_TAGS,
)
def features(dataset: DatasetResource, storage: StorageResource) -> dg.MaterializeResult:
    """Feature builder fitted on training rows only, and the built feature table."""
    contract, store = dataset.contract(), storage.store()
    table = store.read_frame("training_data")
    builder = FeatureBuilder.from_contract(contract, list(table.columns))
    builder.fit(table[table[SPLIT] == TRAIN])
    built = builder.transform(table)
    built[SPLIT] = table[SPLIT].to_numpy()
    built[contract.target.column] = table[contract.target.column].to_numpy()
    store.write_object(builder, "features", "feature_builder")
    path = store.write_frame(built, "features")
    return dg.MaterializeResult(
        metadata={
            "features": len(builder.feature_names_out_),
            "categorical": builder.categorical_out,
            "frequency_encoded": list(builder.frequency_ or {}),
            "feature_state_version": builder.state_fingerprint(),
            "path": dg.MetadataValue.path(str(path)),
        }
    )


def _git_revision() -> str:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5, check=True
        )
        return out.stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"


@dg.asset(
    group_name="training", deps=[features], kinds={"lightgbm", "mlflow"}, op_tags=TRAINING_OP_TAGS
)
def model(
    context: dg.AssetExecutionContext,
    config: ModelConfig,
    dataset: DatasetResource,
    storage: StorageResource,
    mlflow: MlflowResource,
) -> dg.MaterializeResult:
    """LightGBM model, chosen among candidates on validation, judged once on holdout."""
    contract, store = dataset.contract(), storage.store()
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
    # The fitted pipeline takes raw columns; the holdout here is already built, so score it
    # with the model step alone.
    clf = trained.pipeline.named_steps["model"]
    holdout_score = clf.predict_proba(parts[HOLDOUT][names])[:, 1]
    metrics = quality(y[HOLDOUT], holdout_score)
    training_meta = store.read_frame("training_data")
    registry = mlflow.registry(contract)
    run_id = registry.start_run(
        run_name=f"train-{context.run_id[:8]}",
        tags={
            "dagster_run_id": context.run_id,
            "contract_version": contract.version,
            "rules_version": contract.rules_version,
            "code_version": _git_revision(),
            "data_fingerprint": fingerprint(training_meta),
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
            "mlflow_run_id": run_id,
            "roc": dg.MetadataValue.md(
                markdown_image(roc_png(y[HOLDOUT], holdout_score, metrics["auc"]), "ROC")
            ),
        }
    )


def _risk_and_bad(
    built: pd.DataFrame, trained: TrainedModel, contract: DatasetContract, split: str
) -> tuple[np.ndarray, np.ndarray]:
    """Risk scores (P(bad outcome)) and bad-outcome flags for one split of built features."""
    rows = built[built[SPLIT] == split]
    names = trained.pipeline.named_steps["features"].feature_names_out_
    p_positive = trained.pipeline.named_steps["model"].predict_proba(rows[names])[:, 1]
    positive = rows[contract.target.column].to_numpy() == 1
    if contract.target.positive_means == "default":
        return p_positive, positive
    return 1 - p_positive, ~positive


@dg.asset(group_name="training", deps=[model], kinds={"pandas"}, op_tags=TRAINING_OP_TAGS)
def decision_thresholds(
    config: ThresholdConfig, dataset: DatasetResource, storage: StorageResource
) -> dg.MaterializeResult:
    """The review band, chosen on validation rows for the target accuracy, checked on holdout."""
    contract, store = dataset.contract(), storage.store()
    built = store.read_frame("features")
    trained: TrainedModel = store.read_object("model")
    risk, bad = _risk_and_bad(built, trained, contract, VALIDATION)
    thresholds = choose_thresholds(risk, bad, config.target_accuracy, config.metric)
    curve = coverage_accuracy_curve(risk, bad, config.metric)
    holdout = evaluate(thresholds, *_risk_and_bad(built, trained, contract, HOLDOUT))
    store.write_json({**thresholds.to_dict(), "holdout": holdout}, "decision_thresholds")
    return dg.MaterializeResult(
        metadata={
            "version": thresholds.version,
            "approve_below": thresholds.approve_below,
            "reject_above": thresholds.reject_above,
            "metric": thresholds.metric,
            "validation_automation_rate": thresholds.validation_coverage,
            "validation_auto_accuracy": thresholds.validation_accuracy,
            "holdout_automation_rate": holdout["coverage"],
            "holdout_auto_accuracy": holdout["accuracy"],
            "coverage_accuracy": dg.MetadataValue.md(
                curve.to_markdown(index=False, floatfmt=".3f")
                + "\n\n"
                + markdown_image(coverage_png(curve, config.target_accuracy), "coverage")
            ),
        }
    )


@dg.asset(
    group_name="training",
    deps=[decision_thresholds, training_data],
    kinds={"mlflow"},
    op_tags=TRAINING_OP_TAGS,
)
def registered_model(
    context: dg.AssetExecutionContext,
    dataset: DatasetResource,
    storage: StorageResource,
    mlflow: MlflowResource,
) -> dg.MaterializeResult:
    """Rules + features + model + review band logged to MLflow as one model and registered.

    The new version becomes ``champion``; scorers load the model by that alias.
    """
    contract, store = dataset.contract(), storage.store()
    trained: TrainedModel = store.read_object("model")
    thresholds = Thresholds.from_dict(store.read_json("decision_thresholds"))
    summary = store.read_json("model", "summary")
    table = store.read_frame("training_data")
    builder: FeatureBuilder = trained.pipeline.named_steps["features"]
    pipeline = DecisionPipeline(
        contract=contract,
        model=trained,
        thresholds=thresholds,
        feature_columns=[*builder.numeric, *builder.categorical],
    )
    columns = [
        contract.id_column,
        *pipeline.feature_columns,
        *contract.resolve_protected(list(table.columns)),
    ]
    example = table[table[SPLIT] == HOLDOUT][columns].head(5).reset_index(drop=True)
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
    version = registry.register(summary["run_id"], pipeline, example)
    context.log.info(f"registered {version.name} version {version.version} as champion")
    return dg.MaterializeResult(
        metadata={
            "model_name": version.name,
            "model_version": version.version,
            "alias": "champion",
            "mlflow_run_id": version.run_id,
            "thresholds_version": thresholds.version,
            "holdout_auc": summary["holdout"]["auc"],
        }
    )
