"""Issue 13, "nothing wrong gets in", through the command line: each file that was accepted
(or refused with the wrong line) is refused with the exit code 1, a last line naming the
file, column, physical line and rule, and no stored file changed; ids keep their zeros."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from io import StringIO
from pathlib import Path

import pandas as pd
import pytest

from credit_assets.settings import Settings
from tests.conftest import Env, copy_env, small_spec
from tests.integration.test_bad_input import APPS, DAY, OUTS
from tests.integration.test_bad_input import _champion as champion_version
from tests.integration.test_bad_input import _digests as digests

RUN_DAY = ("run", "--partition", DAY, "--no-train")


@pytest.fixture(scope="module")
def lab(trained, tmp_path_factory):
    env, _ = trained
    with copy_env(env, tmp_path_factory.mktemp("lab")) as lab_env:
        yield lab_env


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    """The command line in the environment of the test (the lab's home and data)."""
    return subprocess.run(
        [sys.executable, "-m", "credit_assets", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=os.environ.copy(),
        timeout=300,
    )


def _storage() -> Path:
    return Path(Settings.from_env().dataset_storage("santander"))


def _read(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, dtype=str, keep_default_na=False)


@pytest.fixture
def broken(lab):
    """Break a file of the lab's data; every file is put back afterwards."""
    good = {p: p.read_bytes() for p in lab.data.rglob("*.csv")}

    def breaks(rel: str, change: Callable[[str], str]) -> Path:
        path = lab.data / rel
        path.write_text(change(path.read_text()))
        return path

    yield breaks
    for path, content in good.items():
        path.write_bytes(content)


def _refused(tmp_path: Path, *args: str) -> list[str]:
    """Run the command; it must fail with one clear message and change no stored file."""
    storage = _storage()
    before, champion = digests(storage), champion_version()
    result = _cli(*args, cwd=tmp_path)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    assert digests(storage) == before
    assert not list(storage.rglob("*.tmp"))
    assert champion_version() == champion
    return result.stderr.strip().splitlines()


def _frame(text: str) -> pd.DataFrame:
    return pd.read_csv(StringIO(text), dtype=str, keep_default_na=False)


def _set(row: int, column: str, value: str) -> Callable[[str], str]:
    def change(text: str) -> str:
        frame = _frame(text)
        frame.loc[row, column] = value
        return frame.to_csv(index=False)

    return change


def test_outcomes_outside_the_contract_classes_are_refused(lab, broken, tmp_path):
    path = lab.data / OUTS
    frame = _read(path)
    for row, value in zip((1, 2, 3), ("2", "1.0", "yes"), strict=True):
        frame.loc[row, "target"] = value
    broken(OUTS, lambda _: frame.to_csv(index=False))
    last = _refused(tmp_path, *RUN_DAY)[-1]
    assert last == (
        f"error: santander/raw_outcomes [{DAY}]: {path}: column 'target': line 3, 4, 5: "
        "target must be '1' or '0' (the contract's classes) (e.g. '2')"
    )


def test_ids_keep_their_leading_zeros(lab, broken, tmp_path):
    from credit_assets.core.storage import LocalStore

    def zeros(text: str) -> str:
        frame = _frame(text)
        frame["ID_code"] = [f"{i:07d}" for i in range(len(frame))]
        return frame.to_csv(index=False)

    good = (lab.data / APPS).read_bytes()
    path = broken(APPS, zeros)
    ids = _read(path)["ID_code"].tolist()
    assert ids[2] == "0000002"
    result = _cli(*RUN_DAY, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    store = LocalStore(_storage())
    assert store.read_frame("raw_applications", DAY)["ID_code"].tolist() == ids
    assert sorted(store.read_frame("decisions", DAY)["ID_code"]) == ids
    out = tmp_path / "decided.csv"
    result = _cli("score", "--in", str(path), "--out", str(out), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert _read(out)["ID_code"].tolist() == ids
    path.write_bytes(good)  # the day decided from the good file again, for the next tests
    assert _cli(*RUN_DAY, cwd=tmp_path).returncode == 0


def test_true_false_in_a_numeric_column_is_refused(lab, broken, tmp_path):
    def change(text: str) -> str:
        return _set(3, "var_10", "false")(_set(2, "var_10", "true")(text))

    broken(APPS, change)
    assert _refused(tmp_path, *RUN_DAY)[-1] == (
        f"error: santander/raw_applications [{DAY}]: {lab.data / APPS}: column 'var_10': "
        "line 4, 5: value is not a number (e.g. 'true')"
    )


def test_blank_lines_count_in_line_numbers(lab, broken, tmp_path):
    def change(text: str) -> str:
        header, *rows = _set(8, "var_4", "oops")(text).splitlines()
        return "\n".join([header, "", "", "", *rows]) + "\n"

    broken(APPS, change)
    assert _refused(tmp_path, *RUN_DAY)[-1].endswith(
        "column 'var_4': line 13: value is not a number (e.g. 'oops')"
    )


def test_a_repeated_column_is_named(lab, broken, tmp_path):
    def repeat(text: str) -> str:
        frame = _frame(text)
        frame.columns = [c if c != "var_6" else "var_5" for c in frame.columns]
        return frame.to_csv(index=False)

    broken(APPS, repeat)
    assert _refused(tmp_path, *RUN_DAY)[-1].endswith(
        f"{lab.data / APPS}: column 'var_5': line 1: column appears twice"
    )


def test_an_oversized_cell_is_refused_with_its_line_and_column(lab, broken, tmp_path):
    broken(APPS, _set(3, "gender", "F" * 5_000_000))
    assert _refused(tmp_path, *RUN_DAY)[-1].endswith(
        f"{lab.data / APPS}: column 'gender': line 5: cell is longer than 64 KiB"
    )


def test_an_oversized_number_cell_is_refused_as_oversized(lab, broken, tmp_path):
    broken(APPS, _set(3, "var_4", "9" * 100_000))  # as a number: infinite
    assert _refused(tmp_path, *RUN_DAY)[-1].endswith(
        f"{lab.data / APPS}: column 'var_4': line 5: cell is longer than 64 KiB"
    )


def test_score_lists_every_problem_and_writes_nothing(lab, broken, tmp_path):
    def change(text: str) -> str:
        frame = _frame(text)
        frame.loc[4, "var_10"] = "oops"
        frame.loc[7, "ID_code"] = frame.loc[2, "ID_code"]
        return frame.to_csv(index=False)

    first_ids = _read(lab.data / APPS)["ID_code"]
    path = broken(APPS, change)
    out = tmp_path / "decided.csv"
    out.write_text("yesterday's decisions\n")
    lines = _refused(tmp_path, "score", "--in", str(path), "--out", str(out))
    assert lines == [
        f"error: {path}: column 'ID_code': line 9: id must be unique (e.g. '{first_ids[2]}')",
        f"{path}: column 'var_10': line 6: value is not a number (e.g. 'oops')",
        f"{path}: 2 problems: id must be unique (column 'ID_code', line 9); "
        "value is not a number (column 'var_10', line 6)",
    ]
    assert out.read_text() == "yesterday's decisions\n"
    assert [p.name for p in tmp_path.iterdir()] == ["decided.csv"]


def test_a_history_too_small_is_refused_before_training(tmp_path):
    from credit_assets.core.synthetic import generate

    data = tmp_path / "data"
    generate(data, small_spec(history_rows=5, days=1, rows_per_day=50))
    with Env(tmp_path / "home", data):
        result = _cli("run", "--data", str(data), cwd=tmp_path)
        storage = _storage()
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    # every problem a line, the one that names the dataset and asset first, the summary last
    assert lines[0].startswith(f"error: santander/raw_history: {data / 'history'}: ")
    last = lines[-1]
    assert last.startswith(f"{data / 'history'}: 3 problems: history has 5 ")
    assert "the contract's min_history_rows is 200;" in last
    assert "the contract's min_rows_per_class is 20" in last
    stored = {p.name for p in storage.glob("*")}
    training = {"raw_history", "training_data", "model", "registered_model", "champion_model"}
    assert not stored & training, stored
