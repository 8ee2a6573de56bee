from dataclasses import replace
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest

from credit_assets.core.contract import DatasetContract, load_contract
from credit_assets.core.features import FeatureBuilder
from credit_assets.core.pipeline import DecisionPipeline
from credit_assets.core.registry import ModelRegistry
from credit_assets.core.synthetic import SyntheticSpec, draw, make_shapes
from credit_assets.core.thresholds import Thresholds
from credit_assets.core.training import TrainConfig, train


@pytest.fixture(scope="module")
def fitted():
    spec = SyntheticSpec(n_features=90, signal=0.12)
    sample = draw(3000, make_shapes(spec), spec, np.random.default_rng(0))
    cols = [f"var_{j}" for j in range(90)]
    frame = pd.DataFrame(sample.x, columns=cols)
    frame.insert(0, "ID_code", [f"r{i}" for i in range(len(frame))])
    frame["gender"] = "F"
    builder = FeatureBuilder(numeric=cols, categorical=[], frequency=[])
    model = train(
        builder,
        frame.iloc[:2000],
        sample.y[:2000],
        frame.iloc[2000:2500],
        sample.y[2000:2500],
        TrainConfig(candidates=("additive",), max_rounds=200, early_stopping_rounds=20),
    )
    thresholds = Thresholds(0.05, 0.5, 0.9, "balanced", 0.8, 0.9)
    return DecisionPipeline(load_contract(), model, thresholds, cols), frame.iloc[2500:]


def test_one_decision_per_row_in_order(fitted):
    pipeline, rows = fitted
    rows = rows.copy()
    rows.iloc[0, rows.columns.get_loc("var_81")] = 1.0  # breaks R01
    decided = pipeline.decide(rows, model_version="7")
    assert decided["ID_code"].tolist() == rows["ID_code"].tolist()
    assert decided["decision"].iloc[0] == "rule_reject"
    assert np.isnan(decided["score"].iloc[0])
    assert decided["rule_id"].iloc[0] == "R01"
    scored = decided[decided["decision"] != "rule_reject"]
    assert scored["score"].between(0, 1).all()
    expected = np.where(
        scored["score"] < 0.05, "approve", np.where(scored["score"] > 0.5, "reject", "review")
    )
    assert scored["decision"].tolist() == expected.tolist()
    assert (decided["model_version"] == "7").all()
    assert decided.columns[:2].tolist() == ["ID_code", "gender"]


@pytest.mark.parametrize("path", ["compiled", "lightgbm"])
def test_one_application_at_a_time_decides_as_the_batch(fitted, path):
    """The real-time path (one row) gives the batch's decision, score and reasons, from the
    compiled tables and from LightGBM's own path alike."""
    pipeline, rows = fitted
    assert pipeline.model.compiled is not None
    if path == "lightgbm":
        pipeline = replace(pipeline, model=replace(pipeline.model, compiled=None))
    rows = rows.head(20).copy()
    rows.iloc[3, rows.columns.get_loc("var_81")] = 1.0  # a rule reject on its own too
    batch = pipeline.decide(rows, model_version="7")
    one_by_one = pd.concat(
        [pipeline.decide(rows.iloc[[i]], model_version="7") for i in range(len(rows))],
        ignore_index=True,
    ).astype(batch.dtypes)  # a row without a rule hit has an all-None rule column
    pd.testing.assert_frame_equal(one_by_one, batch, check_exact=True)  # to the last bit
    assert one_by_one["reason_1"].iloc[3] == "R01"


def test_risk_is_flipped_when_positive_means_approve(fitted):
    pipeline, rows = fitted
    raw = pipeline.contract.model_dump(mode="json")
    raw["target"]["positive_means"] = "approve"
    flipped = DecisionPipeline(
        DatasetContract.model_validate(raw),
        pipeline.model,
        pipeline.thresholds,
        pipeline.feature_columns,
    )
    np.testing.assert_allclose(flipped.risk(rows), 1 - pipeline.risk(rows))


def test_registry_round_trip(fitted, tmp_path):
    pipeline, rows = fitted
    registry = ModelRegistry(
        f"sqlite:///{tmp_path / 'mlflow.db'}",
        "credit-test",
        "credit-test",
        (tmp_path / "artifacts").as_uri(),
    )
    run_id = registry.start_run("unit", tags={})
    first = registry.register(run_id, pipeline, rows.head(3).reset_index(drop=True))
    # a new version is only the challenger: no champion until it is promoted
    assert registry.resolve("challenger").version == first.version == "1"
    assert registry.alias_version("champion") is None
    registry.promote("1", by="tester", reason="first model")
    assert registry.alias_version("challenger") is None
    loaded, loaded_version = registry.load("champion")
    assert loaded_version.version == "1"
    pd.testing.assert_frame_equal(loaded.decide(rows, "1"), pipeline.decide(rows, "1"))
    # logged as code: the fitted pipeline is the only pickle in the model
    files = Path(
        mlflow.artifacts.download_artifacts(
            artifact_uri=registry.client.get_model_version_download_uri("credit-test", "1"),
            dst_path=str(tmp_path / "model"),
            tracking_uri=registry.tracking_uri,
        )
    ).rglob("*")
    assert {"mlflow_model.py", "decision_pipeline.joblib"} <= {f.name for f in files}
    assert not list((tmp_path / "model").rglob("*.pkl"))
    with pytest.raises(Exception, match="has no version 5"):
        registry.resolve("5")


def _registry(tmp_path) -> ModelRegistry:
    return ModelRegistry(
        f"sqlite:///{tmp_path / 'mlflow.db'}",
        "credit-test",
        "credit-test",
        (tmp_path / "artifacts").as_uri(),
    )


def test_loaded_version_is_kept_per_process_and_the_alias_followed(fitted, tmp_path, monkeypatch):
    pipeline, rows = fitted
    registry, example = _registry(tmp_path), rows.head(3).reset_index(drop=True)
    for _ in range(2):
        registry.register(registry.start_run("unit", tags={}), pipeline, example)
    registry.promote("1", by="a", reason="r1")
    downloads: list[str] = []
    download = mlflow.pyfunc.load_model

    def counted(uri, *args, **kwargs):
        downloads.append(uri)
        return download(uri, *args, **kwargs)

    monkeypatch.setattr(mlflow.pyfunc, "load_model", counted)
    first, version = registry.load("champion")
    again, version_again = registry.load("champion")
    assert again is first and version.version == version_again.version == "1"
    assert downloads == ["models:/credit-test/1"]
    registry.promote("2", by="b", reason="r2")  # the next load follows the alias
    second, version = registry.load("champion")
    assert version.version == "2" and second is not first
    assert registry.load("1")[0] is first
    assert downloads == ["models:/credit-test/1", "models:/credit-test/2"]


def test_a_model_registered_before_compiling_is_compiled_when_loaded(fitted, tmp_path):
    pipeline, rows = fitted
    before = replace(pipeline, model=replace(pipeline.model, compiled=None))
    registry, example = _registry(tmp_path), rows.head(3).reset_index(drop=True)
    registry.register(registry.start_run("unit", tags={}), before, example)
    loaded, _ = registry.load("1")
    assert loaded.model.compiled is not None
    pd.testing.assert_frame_equal(loaded.decide(rows, "1"), before.decide(rows, "1"))


def test_registry_promotion_history_and_rollback(fitted, tmp_path):
    pipeline, rows = fitted
    registry, example = _registry(tmp_path), rows.head(3).reset_index(drop=True)
    for _ in range(3):
        registry.register(registry.start_run("unit", tags={}), pipeline, example)
    with pytest.raises(Exception, match="no champion to roll back"):
        registry.rollback(by="ops", reason="nothing yet")
    registry.promote("1", by="a", reason="r1")
    registry.promote("3", by="b", reason="r3")
    assert registry.champion_history() == ["1", "3"]
    with pytest.raises(Exception, match="already the champion"):
        registry.promote("3", by="b", reason="again")
    change = registry.rollback(by="ops", reason="bad week")
    assert (change.version, change.previous, change.by) == ("1", "3", "ops")
    assert registry.alias_version("champion") == "1"
    assert registry.champion_history() == ["1"]
    with pytest.raises(Exception, match="no previous champion"):
        registry.rollback(by="ops", reason="again")
    tags = registry.version_info("3").tags
    assert tags["promoted_by"] == "b" and tags["rolled_back_reason"] == "bad week"
    assert registry.version_info("1").tags["restored_by"] == "ops"
    actions = [(e.action, e.version) for e in registry.alias_events()]
    assert actions == [
        ("challenger", "1"),
        ("challenger", "2"),
        ("challenger", "3"),
        ("promote", "1"),
        ("promote", "3"),
        ("rollback", "1"),
    ]
    assert [v.version for v in registry.versions()] == ["3", "2", "1"]
    assert registry.versions()[-1].aliases == ["champion"]
    # promoting the challenger (v3) took its challenger alias; v2 was never promoted
    assert [v.aliases for v in registry.versions()] == [[], [], ["champion"]]


def test_a_file_decided_chunk_by_chunk_is_decided_as_a_whole(fitted, tmp_path):
    from credit_assets.core.dataset import load_file
    from credit_assets.core.errors import DataValidationError
    from credit_assets.core.offline_scoring import decide_file
    from credit_assets.core.validation import FileKind

    pipeline, rows = fitted
    source, out = tmp_path / "apps.csv", tmp_path / "decided.csv"
    rows.round(4).to_csv(source, index=False)
    counts = decide_file(pipeline, "7", source, out, chunk_rows=120)  # 500 rows: 5 chunks
    frame = load_file(source, pipeline.contract, FileKind.APPLICATIONS, pipeline.feature_columns)
    whole = pipeline.decide(frame, model_version="7")
    chunked = pd.read_csv(out, dtype={"ID_code": str})
    assert chunked["ID_code"].tolist() == whole["ID_code"].tolist()
    assert chunked["decision"].tolist() == whole["decision"].tolist()
    np.testing.assert_allclose(chunked["score"], whole["score"], rtol=1e-9)
    assert dict(counts) == whole["decision"].value_counts().to_dict()

    bad = rows.round(4).astype({"var_3": object})
    bad.iloc[-1, bad.columns.get_loc("var_3")] = "oops"  # in the last chunk
    bad.to_csv(source, index=False)
    before = out.read_bytes()
    with pytest.raises(DataValidationError, match=r"'var_3': line 501: value is not a number"):
        decide_file(pipeline, "7", source, out, chunk_rows=120)
    assert out.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["apps.csv", "decided.csv"]
