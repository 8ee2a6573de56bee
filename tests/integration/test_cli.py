"""User mistakes get one clear line and a non-zero exit, never a traceback."""

import os
import subprocess
import sys

import pytest

# the platform's home and dataset come from the working directory, not from the session's
# trained environment
_OWN = ("CREDIT_HOME", "CREDIT_DATA_DIR", "CREDIT_CONTRACT", "DAGSTER_HOME", "MLFLOW_TRACKING_URI")


def _cli(*args, cwd=None):
    return subprocess.run(
        [sys.executable, "-m", "credit_assets", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env={k: v for k, v in os.environ.items() if k not in _OWN},
        timeout=300,
    )


def test_missing_data_dir(tmp_path):
    result = _cli("run", "--data", str(tmp_path / "nowhere"), cwd=tmp_path)
    assert result.returncode == 1
    assert "data directory not found" in result.stderr
    assert "Traceback" not in result.stderr


def test_bad_history_file_names_file_and_line(tmp_path):
    (tmp_path / "history").mkdir()
    (tmp_path / "history" / "train.csv").write_text("ID_code,target,var_81\nt0,0,9.5\nt1,0,oops\n")
    result = _cli("run", "--data", str(tmp_path), cwd=tmp_path)
    assert result.returncode == 1
    assert "train.csv: column 'var_81': line 3: value is not a number" in result.stderr
    assert "Traceback" not in result.stderr


def test_unknown_partition(tmp_path, small_data):
    result = _cli("run", "--data", str(small_data), "--partition", "2030-01-01", cwd=tmp_path)
    assert result.returncode == 1 and "no applications file for 2030-01-01" in result.stderr


def test_generate_writes_the_layout(tmp_path):
    result = _cli(
        "generate",
        str(tmp_path / "d"),
        "--history-rows",
        "300",
        "--days",
        "2",
        "--rows-per-day",
        "50",
        "--features",
        "90",
        "--start",
        "2026-11-01",
    )
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "d" / "applications" / "2026-11-02.csv").exists()
    result = _cli("generate", str(tmp_path / "e"), "--start", "yesterday")
    assert result.returncode == 1 and "bad option" in result.stderr
    result = _cli("generate", str(tmp_path / "f"), "--drift-share", "5")
    assert result.returncode == 1 and "--drift-share must lie in [0, 1]" in result.stderr


def test_generate_drifts_a_share_of_the_features_from_a_day(tmp_path):
    import pandas as pd

    args = ["--history-rows", "300", "--days", "2", "--rows-per-day", "2000", "--features", "90"]
    args += ["--start", "2026-11-01", "--feature-drift-from", "2026-11-02"]
    args += ["--drift-share", "0.1", "--feature-drift-shift", "0", "--feature-drift-scale", "2"]
    result = _cli("generate", str(tmp_path), *args)
    assert result.returncode == 0, result.stderr
    before, after = (
        pd.read_csv(tmp_path / "applications" / f"2026-11-0{d}.csv").filter(like="var_").std()
        for d in (1, 2)
    )
    widened = (after / before)[lambda r: r > 1.5].index.tolist()
    assert len(widened) == 9 and widened[0] == "var_0" and widened[-1] == "var_89"


def test_generate_the_cards_product(tmp_path):
    result = _cli("generate", str(tmp_path / "c"), "--product", "cards", "--days", "2")
    assert result.returncode == 0, result.stderr
    assert "1000 history rows" in result.stdout and "cards.yaml" in result.stdout
    header = (tmp_path / "c" / "history" / "train.csv").read_text().splitlines()[0]
    assert header.startswith('"card_id","outcome","employment"')
    result = _cli(
        "generate", str(tmp_path / "d"), "--product", "cards", "--concept-drift-from", "2026-11-01"
    )
    assert result.returncode == 1 and "drift is only generated for --product santander" in (
        result.stderr
    )


def test_expectations_generate_for_another_contract(tmp_path):
    """Suites for another contract go to OUT/<contract name>/; hand-written ones survive."""
    import json

    from tests.conftest import FIXTURES

    args = ("expectations", "generate", "--contract", str(FIXTURES / "loans.yaml"))
    result = _cli(*args, "--out", str(tmp_path))
    assert result.returncode == 0, result.stderr
    path = tmp_path / "loans" / "raw_applications.json"
    suite = json.loads(path.read_text())
    assert suite["name"] == "loans.raw_applications"
    assert len(list((tmp_path / "loans").glob("*.json"))) == 6
    suite["expectations"].append(
        {"type": "expect_column_values_to_be_between", "kwargs": {"column": "age", "max_value": 90}}
    )
    path.write_text(json.dumps(suite))
    result = _cli(*args, "--out", str(tmp_path))
    assert result.returncode == 0, result.stderr
    kept = json.loads(path.read_text())["expectations"]
    assert kept[-1]["kwargs"] == {"column": "age", "max_value": 90}
    assert "generated_from_contract" not in kept[-1]["meta"]
    result = _cli(*args, "--out", str(tmp_path), "--check")
    assert result.returncode == 0 and "out of date" not in result.stdout


def _bad_cell_data(root, small_data):
    """A copy of the small data whose 2026-11-02 applications have a text in a number."""
    import shutil

    import pandas as pd

    shutil.copytree(small_data, root)
    path = root / "applications" / "2026-11-02.csv"
    frame = pd.read_csv(path, dtype=str)
    frame.loc[4, "var_3"] = "oops"
    frame.to_csv(path, index=False)
    return root


@pytest.mark.parametrize(
    ("case", "last_line"),
    [
        ("missing data", "error: data directory not found: {tmp}/nowhere"),
        ("unknown dataset", "error: unknown dataset 'cards'; known datasets: santander"),
        (
            "bad cell",
            "error: santander/raw_applications [2026-11-02]: {tmp}/bad/applications/"
            "2026-11-02.csv: column 'var_3': line 6: value is not a number (e.g. 'oops')",
        ),
        (
            "unknown model",
            "error: model 'credit-santander' has no alias 'champion' in the registry at "
            "sqlite:///{tmp}/.credit/mlflow.db; no model is registered there yet (train one "
            "with 'credit-assets run')",
        ),
    ],
)
def test_each_documented_error_is_one_line_and_nothing_else(case, last_line, tmp_path, small_data):
    """A person sees one line for a data problem: no traceback, no Dagster step log."""
    apps = str(small_data / "applications" / "2026-11-02.csv")
    if case == "missing data":
        args = ["run", "--data", str(tmp_path / "nowhere")]
    elif case == "unknown dataset":
        args = ["run", "--dataset", "cards"]
    elif case == "bad cell":
        args = ["run", "--no-train", "--data", str(_bad_cell_data(tmp_path / "bad", small_data))]
    else:
        args = ["score", "--in", apps, "--out", str(tmp_path / "out.csv")]
    result = _cli(*args, cwd=tmp_path)
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.strip().splitlines() == [last_line.format(tmp=tmp_path)]
