"""The two stores behave alike: a local folder, and S3 through a real local S3 server."""

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from credit_assets.core.errors import CreditAssetsError
from credit_assets.core.storage import LocalStore, S3Store, open_store


@pytest.fixture(scope="module")
def s3_endpoint():
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


@pytest.fixture
def s3_store(s3_endpoint, tmp_path, monkeypatch):
    import boto3

    for key, value in {
        "AWS_ENDPOINT_URL": s3_endpoint,
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(key, value)
    bucket = f"b-{tmp_path.name.lower().replace('_', '-')}"[:60]
    boto3.client("s3").create_bucket(Bucket=bucket)
    return open_store(f"s3://{bucket}/some/prefix")


@pytest.fixture(params=["local", "s3"])
def store(request, tmp_path):
    if request.param == "local":
        return open_store(tmp_path / "storage")
    return request.getfixturevalue("s3_store")


def test_open_store_picks_by_location(tmp_path):
    assert open_store(tmp_path) == LocalStore(tmp_path)
    assert open_store("s3://bucket/a/b/") == S3Store("bucket", "a/b")
    assert open_store("s3://bucket") == S3Store("bucket", "")
    with pytest.raises(CreditAssetsError, match="names no bucket"):
        open_store("s3:///prefix")


def test_round_trips_and_partitions(store):
    frame = pd.DataFrame({"id": ["a", "b"], "score": [0.1, 0.9]})
    store.write_frame(frame, "decisions", "2026-11-02")
    store.write_frame(frame.head(1), "decisions", "2026-11-01")
    store.write_frame(frame, "decisions")  # the unpartitioned file is not a partition
    assert store.partitions("decisions") == ["2026-11-01", "2026-11-02"]
    assert store.partitions("nothing") == []
    pd.testing.assert_frame_equal(store.read_frame("decisions", "2026-11-02"), frame)
    store.write_json({"b": 1, "a": [1, 2]}, "thresholds")
    assert store.read_json("thresholds") == {"a": [1, 2], "b": 1}
    store.write_json({"source": "x"}, "thresholds", "record")
    assert store.exists("thresholds", "record", "json")
    store.delete_json("thresholds", "record")
    store.delete_json("thresholds", "record")  # already gone: nothing to do
    assert not store.exists("thresholds", "record", "json")
    assert store.read_json("thresholds") == {"a": [1, 2], "b": 1}
    store.write_object({"fitted": [1, 2, 3]}, "model", "builder")
    assert store.read_object("model", "builder") == {"fitted": [1, 2, 3]}
    assert str(store.location("model", "builder", "joblib")).endswith("model/builder.joblib")


def test_missing_file_names_where_it_looked(store):
    with pytest.raises(CreditAssetsError, match=r"decisions for 2026-11-09 has not been"):
        store.read_frame("decisions", "2026-11-09")
    with pytest.raises(CreditAssetsError, match=r"model/model\.joblib is missing"):
        store.read_object("model")


def test_failed_write_keeps_the_previous_file(store):
    good = pd.DataFrame({"x": [1, 2, 3]})
    store.write_frame(good, "raw", "2026-11-01")
    unwritable = pd.DataFrame({"x": [object()]})  # Parquet cannot store a bare object
    with pytest.raises(Exception):  # noqa: B017 - whatever pyarrow raises
        store.write_frame(unwritable, "raw", "2026-11-01")
    pd.testing.assert_frame_equal(store.read_frame("raw", "2026-11-01"), good)
    assert store.partitions("raw") == ["2026-11-01"]


def _wide(rows: int = 20_000, columns: int = 40) -> pd.DataFrame:
    """An id column beside many incompressible ones: the id is a small part of the file."""
    values = np.random.default_rng(0).random((rows, columns))
    frame = pd.DataFrame(values, columns=[f"var_{j}" for j in range(columns)])
    frame.insert(0, "ID_code", [f"id{i}" for i in range(rows)])
    return frame


def test_projected_reads_match_whole_reads(store):
    frame = _wide(rows=2_000)
    store.write_frame(frame, "raw", "2026-11-01")
    pd.testing.assert_frame_equal(
        store.read_frame("raw", "2026-11-01", ["ID_code", "var_3"]), frame[["ID_code", "var_3"]]
    )
    assert store.row_count("raw", "2026-11-01") == len(frame)
    assert store.columns("raw", "2026-11-01") == list(frame.columns)
    assert store.exists("raw", "2026-11-01") and not store.exists("raw", "2026-11-02")
    missing = (
        r"raw for 2026-11-02 has not been materialized yet \(.*raw/2026-11-02\.parquet is missing"
    )
    for read in (
        lambda: store.read_frame("raw", "2026-11-02", ["ID_code"]),
        lambda: store.row_count("raw", "2026-11-02"),
        lambda: store.columns("raw", "2026-11-02"),
    ):
        with pytest.raises(CreditAssetsError, match=missing):
            read()
    store.reject("raw", "2026-11-01", "apps.csv: bad")
    with pytest.raises(CreditAssetsError, match=r"raw for 2026-11-01 was rejected by a quality"):
        store.read_frame("raw", "2026-11-01", ["ID_code"])


def test_row_selection_reads_the_matching_rows(store):
    """``where`` keeps the rows of one split; row groups of other splits are skipped."""
    from credit_assets.core.io import ROW_GROUP_ROWS

    rows = ROW_GROUP_ROWS + 1_000  # the holdout rows fill the last group alone
    frame = _wide(rows=rows, columns=3)
    frame["split"] = ["train"] * ROW_GROUP_ROWS + ["holdout"] * 1_000
    store.write_frame(frame, "training_data")
    holdout = store.read_frame("training_data", where=("split", "holdout"))
    expected = frame[frame["split"] == "holdout"].reset_index(drop=True)
    pd.testing.assert_frame_equal(holdout, expected)
    ids = store.read_frame("training_data", columns=["ID_code"], where=("split", "holdout"))
    assert ids["ID_code"].tolist() == expected["ID_code"].tolist()


def test_s3_reads_fetch_only_the_footer_and_the_columns_asked_for(s3_store):
    frame = _wide()
    s3_store.write_frame(frame, "raw_history")
    size = s3_store.fs.size(s3_store._path("raw_history", None, "parquet"))
    fetched: list[int] = []  # body bytes of every GET reply (none for a 404)
    s3_store.fs.s3.meta.events.register(
        "after-call.s3.GetObject",
        lambda parsed, **_: fetched.append(parsed.get("ContentLength", 0)),
    )

    def bytes_for(read) -> int:
        fetched.clear()
        read()
        return sum(fetched)

    assert bytes_for(lambda: s3_store.read_frame("raw_history")) == size
    assert bytes_for(lambda: s3_store.read_frame("raw_history", columns=["ID_code"])) < size / 20
    assert bytes_for(lambda: s3_store.row_count("raw_history")) < size / 50
    assert bytes_for(lambda: s3_store.columns("raw_history")) < size / 50
    assert bytes_for(lambda: s3_store.exists("raw_history")) == 0
    with s3_store.open("raw_history") as source:  # a streaming reader's first batch
        batch = next(pq.ParquetFile(source).iter_batches(batch_size=100, columns=["ID_code"]))
    assert batch.num_rows == 100 and sum(fetched) < size / 20


def test_s3_object_replaced_mid_read_fails_the_read(s3_store):
    replaced = r"raw/raw\.parquet was replaced while being read"
    s3_store.write_frame(pd.DataFrame({"x": [1, 2]}), "raw")
    with pytest.raises(CreditAssetsError, match=replaced), s3_store.open("raw") as source:
        s3_store.write_frame(pd.DataFrame({"x": [3]}), "raw")
        source.read(4)
    with pytest.raises(CreditAssetsError, match=replaced), s3_store.open("raw") as source:
        s3_store.write_frame(pd.DataFrame({"x": [4, 5, 6]}), "raw")
        pq.read_table(source)  # through pyarrow, as readers do
    assert s3_store.read_frame("raw", columns=["x"])["x"].tolist() == [4, 5, 6]


def test_large_s3_write_is_one_object_or_none(s3_store, monkeypatch):
    """Above the single-PUT size a file goes up in parts and appears only when complete."""
    import s3fs

    real = s3fs.S3FileSystem._pipe_file

    async def in_small_parts(self, path, data, **kwargs):
        return await real(self, path, data, chunksize=5 * 2**20, **kwargs)

    calls: list[str] = []

    def record(model, **_):
        calls.append(model.name)
        if model.name == "UploadPart" and calls.count("UploadPart") == 2 and fail_second_part:
            raise OSError("connection reset")

    monkeypatch.setattr(s3fs.S3FileSystem, "_pipe_file", in_small_parts)
    s3_store.fs.s3.meta.events.register("before-call.s3", record)
    small = _wide(rows=2_000)
    s3_store.write_frame(small, "raw", "2026-11-01")
    big = _wide(rows=40_000)  # about 13 MB: three parts of 5 MB
    fail_second_part = True
    calls.clear()
    with pytest.raises(OSError, match="connection reset"):
        s3_store.write_frame(big, "raw", "2026-11-01")
    assert "AbortMultipartUpload" in calls
    pd.testing.assert_frame_equal(s3_store.read_frame("raw", "2026-11-01"), small)
    fail_second_part = False
    calls.clear()
    s3_store.write_frame(big, "raw", "2026-11-01")
    assert calls.count("UploadPart") == 3 and "CompleteMultipartUpload" in calls
    pd.testing.assert_frame_equal(s3_store.read_frame("raw", "2026-11-01"), big)


def test_s3_requests_per_operation(s3_store):
    """Each operation costs what the plain S3 calls would: no hidden HEADs or listings."""
    calls: list[str] = []  # the S3 operations sent, in order
    s3_store.fs.s3.meta.events.register(
        "before-call.s3", lambda model, **_: calls.append(model.name)
    )

    def calls_for(operation) -> list[str]:
        calls.clear()
        operation()
        return sorted(calls)

    frame = pd.DataFrame({"x": [1, 2]})
    assert calls_for(lambda: s3_store.write_frame(frame, "raw")) == ["DeleteObject", "PutObject"]
    assert calls_for(lambda: s3_store.read_frame("raw")) == ["GetObject", "GetObject"]
    assert calls_for(lambda: s3_store.exists("raw")) == ["HeadObject"]
    assert calls_for(lambda: s3_store.exists("raw", "2026-11-01")) == ["HeadObject"]
    assert calls_for(lambda: s3_store.rejected("raw")) == ["GetObject"]


def test_a_table_written_and_read_in_chunks_is_the_whole_table(store):
    frame = _wide(rows=1_000, columns=3).assign(
        reason=[None] * 400 + ["late"] * 600  # all missing in the first chunk
    )
    with store.frame_writer("decisions", "2026-11-02") as write:
        for start in range(0, len(frame), 400):
            write(frame.iloc[start : start + 400])
    pd.testing.assert_frame_equal(store.read_frame("decisions", "2026-11-02"), frame)
    chunks = list(store.iter_frames("decisions", "2026-11-02", rows=300))
    assert [len(c) for c in chunks] == [300, 100, 300, 100, 200]  # row group by row group
    pd.testing.assert_frame_equal(pd.concat(chunks, ignore_index=True), frame)
    store.write_frame(frame.head(0), "empty")
    [empty] = store.iter_frames("empty")
    assert empty.empty and list(empty.columns) == list(frame.columns)


def test_a_chunked_write_that_fails_leaves_the_previous_file(store):
    good = pd.DataFrame({"x": [1.0, 2.0]})
    store.write_frame(good, "decisions", "2026-11-02")
    store.reject("decisions", "2026-11-02", "bad")
    with pytest.raises(RuntimeError), store.frame_writer("decisions", "2026-11-02") as write:
        write(pd.DataFrame({"x": [3.0]}))
        raise RuntimeError("chunk 2 failed")
    assert store.rejected("decisions", "2026-11-02") == "bad"  # still the file it was
    with pytest.raises(CreditAssetsError, match="rejected by a quality check"):
        next(store.iter_frames("decisions", "2026-11-02"))
    with store.frame_writer("decisions", "2026-11-02") as write:
        write(pd.DataFrame({"x": [3.0]}))
    assert store.read_frame("decisions", "2026-11-02")["x"].tolist() == [3.0]
    with pytest.raises(ValueError, match="no frame"), store.frame_writer("decisions", "x"):
        pass
    assert set(store.partitions("decisions")) == {"2026-11-02"}  # no temporary file left


def test_s3_object_replaced_mid_chunked_read_fails_the_read(s3_store):
    s3_store.write_frame(_wide(rows=150_000, columns=2), "raw")  # three row groups
    chunks = s3_store.iter_frames("raw", rows=65_536)
    next(chunks)
    s3_store.write_frame(pd.DataFrame({"x": [3]}), "raw")
    with pytest.raises(CreditAssetsError, match=r"raw/raw\.parquet was replaced while being"):
        list(chunks)
