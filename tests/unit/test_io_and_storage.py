"""Reading refuses broken files with a line and a rule; writing never leaves half a file;
a rejected file is invisible to readers until it is written again."""

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from credit_assets.core.dataset import DataDir, concat_partitions, partition_key
from credit_assets.core.errors import CreditAssetsError, DataValidationError
from credit_assets.core.io import alongside, write_parquet_atomic
from credit_assets.core.reading import read_csv
from credit_assets.core.storage import LocalStore
from credit_assets.core.validation import FileKind, validate_frame
from tests.unit.test_validation import CONTRACT, _apps


def _error(path) -> str:
    with pytest.raises(DataValidationError) as info:
        read_csv(path, CONTRACT)
    return str(info.value)


def test_encoding_delimiter_and_truncation(tmp_path):
    f = tmp_path / "f.csv"
    f.write_bytes("ID_code,gender\na,F\nb,M\n".encode("utf-16"))
    assert _error(f) == f"{f}: file must be UTF-8 text (it looks UTF-16 or binary)"
    f.write_bytes(b"ID_code,gender\na,F\nb,\xc9\n")
    assert _error(f).startswith(f"{f}: column 'gender': line 3: text is not UTF-8")
    f.write_text("ID_code;gender\na;F\n")
    assert "values must be separated by commas" in _error(f)
    f.write_text('"ID_code","var_0","gender"\n"a",1.5,"F"\n"b",2')
    assert _error(f) == f"{f}: line 3: row has 2 fields but the header has 3 (truncated file?)"
    f.write_bytes(b"\xef\xbb\xbfID_code,gender\na,F\n")  # a UTF-8 byte-order mark is fine
    assert list(read_csv(f, CONTRACT).columns) == ["ID_code", "gender"]


def test_nan_and_inf_text_reach_validation(tmp_path):
    frame = _apps()
    frame["var_3"] = frame["var_3"].astype(object)
    frame.loc[1, "var_3"] = "-inf"
    path = tmp_path / "apps.csv"
    frame.to_csv(path, index=False)
    with pytest.raises(DataValidationError, match="column 'var_3': line 3: value is infinite"):
        validate_frame(read_csv(path, CONTRACT), CONTRACT, FileKind.APPLICATIONS, str(path))


def test_atomic_write_keeps_the_old_file_on_failure(tmp_path, monkeypatch):
    target = tmp_path / "t.parquet"
    write_parquet_atomic(pd.DataFrame({"a": [1, 2]}), target)
    good = target.read_bytes()

    def half_then_crash(self, path, **kwargs):
        with open(path, "wb") as fh:
            fh.write(b"PAR1 half a file")
        raise OSError("disk full")

    monkeypatch.setattr(pd.DataFrame, "to_parquet", half_then_crash)
    with pytest.raises(OSError, match="disk full"):
        write_parquet_atomic(pd.DataFrame({"a": [3]}), target)
    assert target.read_bytes() == good
    assert [p.name for p in tmp_path.iterdir()] == ["t.parquet"]


def test_rejected_partition_is_invisible_until_written_again(tmp_path):
    store = LocalStore(tmp_path)
    for day in ("2026-11-01", "2026-11-02"):
        store.write_frame(pd.DataFrame({"x": np.arange(3)}), "raw", day)
    store.reject("raw", "2026-11-02", "apps.csv: column 'x': bad")
    assert store.partitions("raw") == ["2026-11-01"]
    assert store.rejected("raw", "2026-11-02") == "apps.csv: column 'x': bad"
    with pytest.raises(CreditAssetsError, match=r"rejected by a quality check: apps\.csv"):
        store.read_frame("raw", "2026-11-02")
    assert store.row_count("raw", "2026-11-02") == 3 and store.columns("raw", "2026-11-02") == ["x"]
    store.write_frame(pd.DataFrame({"x": [1]}), "raw", "2026-11-02")
    assert store.partitions("raw") == ["2026-11-01", "2026-11-02"]
    assert store.rejected("raw", "2026-11-02") is None


def test_file_name_that_is_no_date(tmp_path):
    (tmp_path / "applications").mkdir()
    (tmp_path / "applications" / "2026-02-30.csv").write_text("ID_code\n")
    with pytest.raises(DataValidationError, match=r"2026-02-30\.csv: file name is not a date"):
        DataDir(tmp_path).application_files()
    other = tmp_path / "test.csv"
    other.write_text("x\n")
    assert len(partition_key(other)) == 10  # a name that is not date-like: its mtime's day


def test_id_on_two_days_names_both():
    frames = {
        "2026-11-01": pd.DataFrame({"ID_code": ["a", "b"]}),
        "2026-11-03": pd.DataFrame({"ID_code": ["c", "a"]}),
    }
    with pytest.raises(DataValidationError) as info:
        concat_partitions(frames, CONTRACT, "applications")
    assert str(info.value).startswith(
        "applications of 2026-11-01 and 2026-11-03: column 'ID_code': id appears in two daily"
    )
    frames["2026-11-03"] = pd.DataFrame({"ID_code": ["c"]})
    assert len(concat_partitions(frames, CONTRACT, "applications")) == 3


def test_application_features_must_match_the_history(tmp_path):
    history = [*_apps().columns, "target"]
    with pytest.raises(DataValidationError, match=r"'var_5'.*in the history files but missing"):
        validate_frame(
            _apps().drop(columns=["var_5"]), CONTRACT, FileKind.APPLICATIONS, "a.csv", history
        )
    with pytest.raises(DataValidationError, match=r"'var_95'.*not in the history files"):
        validate_frame(
            _apps().assign(var_95=1.0), CONTRACT, FileKind.APPLICATIONS, "a.csv", history
        )
    (tmp_path / "history").mkdir()
    pd.DataFrame(columns=history).to_csv(tmp_path / "history" / "train.csv", index=False)
    assert DataDir(tmp_path).history_columns() == history


def test_parquet_leaves_floats_uncompressed_and_reads_back_exactly(tmp_path):
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {
            "x": rng.normal(size=500).astype("float32"),
            "y": rng.normal(size=500).round(4),
            "split": rng.choice(["train", "holdout"], 500),
            "n": np.arange(500),
        }
    )
    frame.loc[3, ["x", "y"]] = [np.nan, -0.0]
    path = write_parquet_atomic(frame, tmp_path / "t.parquet")
    pd.testing.assert_frame_equal(pd.read_parquet(path), frame, check_exact=True)
    group = pq.ParquetFile(path).metadata.row_group(0)
    codecs = {group.column(i).path_in_schema: group.column(i).compression for i in range(4)}
    assert codecs == {"x": "UNCOMPRESSED", "y": "UNCOMPRESSED", "split": "SNAPPY", "n": "SNAPPY"}


def test_alongside_runs_the_work_during_the_block_and_waits_for_it():
    import threading

    started, finished = threading.Event(), []

    def work(x):
        started.set()
        finished.append(x)
        return x * 2

    with alongside(work, 21) as done:
        assert started.wait(5)  # running while the block runs
    assert done.result() == 42 and finished == [21]


def test_alongside_raises_the_work_error_when_the_block_ends_and_waits_on_a_block_error():
    import threading
    import time

    def fails():
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"), alongside(fails):
        pass
    over = threading.Event()

    def slow():
        time.sleep(0.2)
        over.set()

    with pytest.raises(ValueError, match="in the block"), alongside(slow):
        raise ValueError("in the block")
    assert over.is_set()  # the block's error waited for the work: no write left running
