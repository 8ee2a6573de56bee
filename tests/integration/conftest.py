"""Fixtures of the integration tests that break files in a copy of a trained environment."""

from __future__ import annotations

import hashlib
import shutil
import sqlite3
from pathlib import Path

import pytest

from credit_assets.core.registry import CHAMPION, ModelRegistry
from credit_assets.settings import Settings
from tests.conftest import Env


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


@pytest.fixture(scope="module")
def lab(trained, tmp_path_factory):
    """A private copy of the trained environment: home (instance, MLflow, storage) and data."""
    env, _ = trained
    root = tmp_path_factory.mktemp("lab")
    shutil.copytree(env.home, root / "home")
    shutil.copytree(env.data, root / "data")
    _rebase_sqlite(root / "home" / "mlflow.db", str(env.home), str(root / "home"))
    with Env(root / "home", root / "data") as lab_env:
        yield lab_env


def digests(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def champion_version() -> str:
    settings = Settings.from_env()
    registry = ModelRegistry(settings.mlflow_tracking_uri, "credit-santander", "credit-santander")
    return registry.resolve(CHAMPION).version
