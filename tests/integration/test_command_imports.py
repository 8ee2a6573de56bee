"""Commands import only what they use: help and the registry views start without any
modelling or data library, and offline scoring without Dagster, Great Expectations or
MLflow (and, for a compiled champion, without scikit-learn, SciPy or LightGBM)."""

import json
import os
import subprocess
import sys

import pytest

from credit_assets.core.offline_scoring import decide_file
from tests.unit.test_pipeline import fitted  # noqa: F401  (the fixture)
from tests.unit.test_registry_view import registry  # noqa: F401  (the fixture)

HEAVY = (
    "dagster",
    "mlflow",
    "great_expectations",
    "sklearn",
    "lightgbm",
    "scipy",
    "matplotlib",
    "fairlearn",
    "pandas",
    "pyarrow",
)
# The command runs as ``credit-assets`` would run it; the heavy modules it loaded are printed.
PROBE = f"""
import json, runpy, sys
sys.argv = ["credit-assets", *sys.argv[1:]]
try:
    runpy.run_module("credit_assets", run_name="__main__")
except SystemExit as exit:
    code = exit.code
print("MODULES " + json.dumps([m for m in {HEAVY} if m in sys.modules]), file=sys.stderr)
sys.exit(code)
"""


def _loaded(*args: str, env: dict[str, str], cwd) -> tuple[set[str], str]:
    result = subprocess.run(
        [sys.executable, "-c", PROBE, *args],
        capture_output=True,
        text=True,
        env={**{k: v for k, v in os.environ.items() if not k.startswith("CREDIT_")}, **env},
        cwd=cwd,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    line = next(x for x in result.stderr.splitlines() if x.startswith("MODULES "))
    return set(json.loads(line.removeprefix("MODULES "))), result.stdout


@pytest.fixture(scope="module")
def env(registry, tmp_path_factory):  # noqa: F811
    home = tmp_path_factory.mktemp("home")
    return {
        "MLFLOW_TRACKING_URI": registry.tracking_uri,
        "CREDIT_HOME": str(home),
        "DAGSTER_HOME": str(home / "dagster_home"),
    }


def test_help_imports_no_heavy_library(env, tmp_path):
    for args in (("--help",), ("model", "--help"), ("score", "--help")):
        loaded, out = _loaded(*args, env=env, cwd=tmp_path)
        assert loaded == set(), args
        assert "Usage" in out


def test_model_list_and_show_import_no_modelling_library(env, tmp_path):
    loaded, out = _loaded("model", "list", env=env, cwd=tmp_path)
    assert loaded == set()
    assert "credit-santander versions" in out and "champion history" in out
    loaded, out = _loaded("model", "show", "champion", env=env, cwd=tmp_path)
    # show reads the platform's audit log (alias moves made outside the platform) through
    # the decision log's database layer, which loads pandas: no modelling library though
    assert loaded <= {"pandas", "pyarrow"}
    assert "version 1 (champion)" in out and "holdout_auc" in out


def test_score_of_a_compiled_champion_imports_no_modelling_library(
    env,
    fitted,  # noqa: F811
    tmp_path,
):
    """The champion is compiled (additive), so ``score`` loads its decision-only form: no
    scikit-learn, SciPy or LightGBM, and the same file as the full pipeline writes."""
    pipeline, rows = fitted
    rows.to_csv(tmp_path / "in.csv", index=False)
    args = ("score", "--in", str(tmp_path / "in.csv"), "--out", str(tmp_path / "out.csv"))
    loaded, out = _loaded(*args, env=env, cwd=tmp_path)
    assert loaded == {"pandas", "pyarrow"}
    assert f"scored {len(rows)} rows with credit-santander version 1" in out
    decide_file(pipeline, "1", tmp_path / "in.csv", tmp_path / "full.csv")
    assert (tmp_path / "out.csv").read_bytes() == (tmp_path / "full.csv").read_bytes()
