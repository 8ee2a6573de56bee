"""The two stores behave alike: a local folder, and S3 through a real local S3 server."""

import pandas as pd
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


@pytest.fixture(params=["local", "s3"])
def store(request, tmp_path, monkeypatch):
    if request.param == "local":
        return open_store(tmp_path / "storage")
    import boto3

    endpoint = request.getfixturevalue("s3_endpoint")
    for key, value in {
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(key, value)
    bucket = f"b-{tmp_path.name.lower().replace('_', '-')}"[:60]
    boto3.client("s3").create_bucket(Bucket=bucket)
    return open_store(f"s3://{bucket}/some/prefix")


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
