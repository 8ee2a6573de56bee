"""Shared fixtures: small generated datasets and one trained environment per session."""

import datetime as dt
import os
import shutil
import sqlite3
from pathlib import Path

import numpy as np
import pandas as pd
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


LOANS_REGIONS = ["kanto", "kansai", "chubu", "tohoku", "kyushu"]
LOANS_JOBS = ["salaried", "self_employed", "contractor", "unemployed"]


def _loans(
    n: int, rng: np.random.Generator, start: dt.date, with_target: bool, prefix: str
) -> pd.DataFrame:
    income = rng.lognormal(8.3, 0.6, n)
    age = rng.integers(18, 80, n)
    employment = rng.choice(LOANS_JOBS, n, p=[0.55, 0.2, 0.2, 0.05])
    region = rng.choice(LOANS_REGIONS, n)
    score_bureau = np.where(rng.random(n) < 0.05, np.nan, rng.normal(600, 80, n))
    logit = (
        0.002 * (income - 4000)
        + 0.02 * (age - 40)
        + 0.01 * np.nan_to_num(score_bureau - 600)
        + np.where(employment == "salaried", 0.8, -0.3)
        + np.where(region == "kanto", 0.3, 0.0)
        + 1.0
    )
    frame = pd.DataFrame(
        {
            "application_id": [f"{prefix}-{i:05d}" for i in range(n)],
            "applied_on": [
                (start + dt.timedelta(days=int(d))).isoformat()
                for d in np.sort(rng.integers(0, 30, n))
            ],
            "income": income.round(0),
            "age": age,
            "employment": employment,
            "region": region,
            "score_bureau": score_bureau.round(1),
            "sex": rng.choice(["female", "male", "other"], n, p=[0.49, 0.49, 0.02]),
        }
    )
    if with_target:
        repaid = rng.random(n) < 1 / (1 + np.exp(-logit))
        frame.insert(1, "repaid", np.where(repaid, "yes", "no"))
        frame["days_late"] = np.where(repaid, 0, rng.integers(1, 90, n))
    return frame


def write_loans(root: Path) -> None:
    """A loans dataset (``fixtures/loans.yaml``): 3,000 history rows, one day of 300."""
    rng = np.random.default_rng(5)
    (root / "history").mkdir()
    (root / "applications").mkdir()
    _loans(3000, rng, dt.date(2026, 9, 1), True, "h").to_csv(
        root / "history" / "loans.csv", index=False
    )
    apps = _loans(300, rng, dt.date(2026, 11, 3), False, "n")
    apps["applied_on"] = "2026-11-03"
    apps.to_csv(root / "applications" / "2026-11-03.csv", index=False)


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


def _rebase_sqlite(db: Path, old: str, new: str) -> None:
    """Point every absolute path stored in a copied SQLite database at the copy."""
    with sqlite3.connect(db) as conn:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        for table in tables:
            for col in conn.execute(f'PRAGMA table_info("{table}")').fetchall():
                if col[2].upper() in ("TEXT", "VARCHAR") or col[2].upper().startswith("VARCHAR"):
                    conn.execute(
                        f'UPDATE "{table}" SET "{col[1]}" = replace("{col[1]}", ?, ?) '
                        f'WHERE "{col[1]}" LIKE ?',
                        (old, new, f"%{old}%"),
                    )


def copy_env(env: Env, root: Path) -> Env:
    """A private copy of a trained environment (home: instance, MLflow, storage; and data)."""
    shutil.copytree(env.home, root / "home")
    shutil.copytree(env.data, root / "data")
    _rebase_sqlite(root / "home" / "mlflow.db", str(env.home), str(root / "home"))
    return Env(root / "home", root / "data", env.contract)
