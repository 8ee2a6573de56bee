"""Shared fixtures: small generated datasets and one trained environment per session."""

import datetime as dt
import os
from pathlib import Path

import pytest

# Daily partitions are fixed when the code location is imported: cover the test data's days.
os.environ.setdefault("CREDIT_PARTITIONS_START", "2026-10-01")
os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")

START = dt.date(2026, 11, 1)
FIXTURES = Path(__file__).parent / "fixtures"


def small_spec(**overrides):
    from credit_assets.core.synthetic import SyntheticSpec

    base = dict(
        n_features=90,
        history_rows=4000,
        days=4,
        rows_per_day=400,
        start=START,
        seed=1,
        outcome_lag_days=1,
    )
    return SyntheticSpec(**{**base, **overrides})


@pytest.fixture(scope="session")
def small_data(tmp_path_factory) -> Path:
    from credit_assets.core.synthetic import generate

    root = tmp_path_factory.mktemp("data")
    generate(root, small_spec())
    return root


class Env:
    """Point the platform's environment variables at a scratch home, restoring them after."""

    KEYS = (
        "CREDIT_HOME",
        "CREDIT_DATA_DIR",
        "CREDIT_CONTRACT",
        "DAGSTER_HOME",
        "CREDIT_STORAGE_DIR",
        "MLFLOW_TRACKING_URI",
    )

    def __init__(self, home: Path, data: Path, contract: Path | None = None) -> None:
        self.home, self.data, self.contract = home, data, contract
        self.saved = {k: os.environ.get(k) for k in self.KEYS}

    def __enter__(self) -> "Env":
        for k in self.KEYS:
            os.environ.pop(k, None)
        os.environ["CREDIT_HOME"] = str(self.home)
        os.environ["CREDIT_DATA_DIR"] = str(self.data)
        os.environ["DAGSTER_HOME"] = str(self.home / "dagster_home")
        (self.home / "dagster_home").mkdir(parents=True, exist_ok=True)
        if self.contract:
            os.environ["CREDIT_CONTRACT"] = str(self.contract)
        return self

    def __exit__(self, *exc) -> None:
        for k, v in self.saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


@pytest.fixture(scope="session")
def trained(tmp_path_factory, small_data):
    """One full materialization of the graph on small Santander-format data."""
    from credit_assets.cli.runner import run_all

    home = tmp_path_factory.mktemp("home")
    with Env(home, small_data) as env:
        summary = run_all()
        yield env, summary
