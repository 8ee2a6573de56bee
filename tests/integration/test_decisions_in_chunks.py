"""The daily decisions a chunk at a time (``CREDIT_CHUNK_ROWS``): a day decided in several
chunks gets the file, metadata, log rows and check results the whole table gives; a day that
fails in a later chunk writes no file and records no decision."""

import hashlib
import math
from pathlib import Path

import dagster as dg
import pandas as pd
import pyarrow.parquet as pq
import pytest

from credit_assets.core.figures import automation_of_decisions
from credit_assets.core.pipeline import DecisionPipeline
from credit_assets.core.registry_names import CHAMPION
from credit_assets.core.rules import RULE_ID, RULE_REASON
from credit_assets.core.storage import LocalStore
from credit_assets.core.thresholds import DECISIONS
from credit_assets.settings import Settings
from tests.conftest import copy_env

DAY = "2026-11-02"
KEY = dg.AssetKey(["santander", "decisions"])


@pytest.fixture
def lab(trained, tmp_path):
    env, _ = trained
    with copy_env(env, tmp_path) as lab_env:
        yield lab_env


def _store() -> LocalStore:
    return LocalStore(Path(Settings.from_env().dataset_storage("santander")))


def _decide_day(monkeypatch, chunk_rows: int) -> dg.ExecuteInProcessResult:
    monkeypatch.setenv("CREDIT_CHUNK_ROWS", str(chunk_rows))
    from credit_assets.definitions import defs

    definitions = defs()
    return dg.materialize(
        [definitions.get_assets_def(KEY)],
        partition_key=DAY,
        resources=definitions.resources,
        raise_on_error=False,
    )


def _whole_day() -> tuple[pd.DataFrame, str]:
    """The day decided whole, as the step did before it streamed."""
    from credit_assets.defs.resources import MlflowResource

    settings = Settings.from_env()
    contract = settings.catalog().get("santander").contract()
    pipeline, version = (
        MlflowResource(tracking_uri=settings.mlflow_tracking_uri).registry(contract).load(CHAMPION)
    )
    applications = _store().read_frame("rule_filtered_applications", DAY)
    applications = applications.drop(columns=[RULE_ID, RULE_REASON])
    return pipeline.decide(applications, model_version=version.version), version.version


def test_a_day_in_chunks_is_the_day_decided_whole(lab, monkeypatch):
    store, log = _store(), Settings.from_env().decision_log()
    rows = store.row_count("rule_filtered_applications", DAY)
    chunk_rows = math.ceil(rows / 4)
    logged = log.count("santander")

    result = _decide_day(monkeypatch, chunk_rows)
    assert result.success

    whole, version = _whole_day()
    written = store.read_frame("decisions", DAY)
    assert pq.ParquetFile(store.path("decisions", DAY)).metadata.num_row_groups == 4
    assert written["partition_date"].eq(DAY).all() and written["decided_at"].nunique() == 1
    pd.testing.assert_frame_equal(
        written.drop(columns=["partition_date", "decided_at"]), whole, check_dtype=False
    )

    counts = whole["decision"].value_counts()
    metadata = {
        k: v.value
        for k, v in result.asset_materializations_for_node("santander__decisions")[
            0
        ].metadata.items()
    }
    assert metadata["rows"] == rows == len(whole)
    assert metadata["decision_log_rows"] == rows == log.count("santander") - logged
    assert {d: metadata[f"n_{d}"] for d in DECISIONS} == {
        d: int(counts.get(d, 0)) for d in DECISIONS
    }
    assert metadata["automation_rate"] == float(automation_of_decisions(counts).value)
    assert metadata["model_version"] == version

    [check] = result.get_asset_check_evaluations()
    assert check.check_name == "expectations" and check.passed
    assert check.metadata["rows"].value == rows
    assert set(check.metadata) == {
        "suite",
        "suite_source",
        "rows",
        "expectations",
        "failed",
        "file",
        "seconds",
    }
    recorded = log.history("santander", str(whole["ID_code"].iloc[-1]))
    assert recorded[-1].partition_day == DAY and recorded[-1].decision == whole["decision"].iloc[-1]


def test_a_day_that_fails_in_a_later_chunk_writes_and_records_nothing(lab, monkeypatch):
    store, log = _store(), Settings.from_env().decision_log()
    rows = store.row_count("rule_filtered_applications", DAY)
    before = hashlib.sha256(store.path("decisions", DAY).read_bytes()).hexdigest()
    logged = log.count("santander")

    decide, calls = DecisionPipeline.decide, []

    def third_chunk_fails(self, frame, model_version):
        calls.append(len(frame))
        if len(calls) == 3:
            raise RuntimeError("the model failed on chunk 3")
        return decide(self, frame, model_version)

    monkeypatch.setattr(DecisionPipeline, "decide", third_chunk_fails)
    result = _decide_day(monkeypatch, math.ceil(rows / 4))

    assert not result.success and len(calls) == 3
    assert hashlib.sha256(store.path("decisions", DAY).read_bytes()).hexdigest() == before
    assert not list(store.path("decisions", DAY).parent.glob("*.tmp"))
    assert log.count("santander") == logged  # the two decided chunks are not on record
