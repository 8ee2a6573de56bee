"""Asset files on storage every step can see: one folder per asset, one file per partition.

Two places, one interface: a local path (one host, or a mount every host shares) and
S3-compatible object storage (several hosts). ``open_store`` picks by the location string.

Writes are atomic: locally a temporary file is renamed into place; on S3 a single PUT
replaces the object whole. A failed or killed step leaves the previous file as it was and a
reader never sees half a file.

A file that a blocking quality check rejected gets a marker beside it
(``<partition>.rejected.json``, with the reason): readers treat it as absent, so no later
run (a scheduled retraining, say) can build on it. Writing the asset again removes the
marker; its checks then run again.

Reads fetch only what they need: a row count or a schema reads the Parquet footer, and a
read of some columns reads the footer and those columns' chunks (on S3, as ranged GETs).
A large table is read a row group at a time (``iter_frames``) and written a chunk at a time
(``frame_writer``), into a temporary file put in place only when every chunk is written.
"""

from __future__ import annotations

import io
import json
import tempfile
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import joblib
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from credit_assets.core.errors import CreditAssetsError
from credit_assets.core.io import (
    ROW_GROUP_ROWS,
    atomic_path,
    parquet_chunks,
    to_parquet,
    write_bytes_atomic,
    write_parquet_atomic,
)

S3_SCHEME = "s3://"
_MARKER = "rejected.json"
# A seekable file pyarrow can read: a native one, or a Python one (bytes in memory, S3 ranges).
Source = pa.NativeFile | io.IOBase


class Store(ABC):
    """Frames as Parquet, objects as joblib, dicts as JSON, under ``asset/name.suffix``."""

    @abstractmethod
    def location(
        self, asset: str, partition: str | None = None, suffix: str = "parquet"
    ) -> Path | str:
        """Where the file for ``asset`` (and ``partition``) lives, for metadata and messages."""

    @abstractmethod
    def _put(self, data: bytes, asset: str, name: str | None, suffix: str) -> Path | str: ...

    @abstractmethod
    def _get(self, asset: str, name: str | None, suffix: str) -> bytes | None:
        """The file's bytes, or None if it does not exist."""

    @abstractmethod
    def _open(self, asset: str, name: str | None, suffix: str, whole: bool) -> Source | None:
        """The file, seekable, or None if it does not exist. Unless ``whole``, a remote store
        fetches only the byte ranges that are read (a Parquet footer, some columns)."""

    @abstractmethod
    def _delete(self, asset: str, name: str | None, suffix: str) -> None: ...

    @abstractmethod
    @contextmanager
    def _staged(self, asset: str, partition: str | None) -> Iterator[Path]:
        """A local temporary file that becomes the asset's Parquet file, replacing it whole,
        when the block ends without error, and is discarded otherwise."""

    @abstractmethod
    def _stems(self, asset: str, suffix: str) -> list[str]: ...

    @abstractmethod
    def exists(self, asset: str, name: str | None = None, suffix: str = "parquet") -> bool: ...

    def _missing(self, asset: str, name: str | None, suffix: str) -> CreditAssetsError:
        what = f"{asset} for {name}" if name else asset
        where = self.location(asset, name, suffix)
        return CreditAssetsError(f"{what} has not been materialized yet ({where} is missing)")

    def _require(self, asset: str, name: str | None, suffix: str) -> bytes:
        data = self._get(asset, name, suffix)
        if data is None:
            raise self._missing(asset, name, suffix)
        return data

    @contextmanager
    def _parquet(self, asset: str, partition: str | None, whole: bool = False) -> Iterator[Source]:
        source = self._open(asset, partition, "parquet", whole)
        if source is None:
            raise self._missing(asset, partition, "parquet")
        with source:
            yield source

    def write_frame(
        self, frame: pd.DataFrame, asset: str, partition: str | None = None
    ) -> Path | str:
        buffer = io.BytesIO()
        to_parquet(frame, buffer)
        where = self._put(buffer.getvalue(), asset, partition, "parquet")
        self._delete(asset, partition, _MARKER)
        return where

    @contextmanager
    def frame_writer(
        self, asset: str, partition: str | None = None
    ) -> Iterator[Callable[[pd.DataFrame], None]]:
        """A function that appends a chunk to the asset's table; the file is written only
        when the block ends without error (the chunks of a failed block are discarded and
        the previous file stays as it was). A block that writes no chunk is an error."""
        with self._staged(asset, partition) as tmp, parquet_chunks(tmp) as write:
            yield write
        self._delete(asset, partition, _MARKER)

    def iter_frames(
        self, asset: str, partition: str | None = None, rows: int = ROW_GROUP_ROWS
    ) -> Iterator[pd.DataFrame]:
        """The asset's table in chunks of at most ``rows`` rows, read one at a time (on S3,
        as ranged GETs, failing if the object is replaced meanwhile); a table with no rows is
        one empty chunk. A file rejected by a quality check is an error."""
        with self._parquet(asset, partition) as source:
            self._refuse_rejected(asset, partition)
            # pre-buffered (coalesced reads: few GETs on S3) one row group at a time
            file = pq.ParquetFile(source, pre_buffer=True)
            if file.metadata.num_rows == 0:
                yield file.schema_arrow.empty_table().to_pandas()
                return
            for group in range(file.num_row_groups):
                for batch in file.iter_batches(rows, [group], use_pandas_metadata=True):
                    yield batch.to_pandas()

    def _refuse_rejected(self, asset: str, partition: str | None) -> None:
        if (reason := self.rejected(asset, partition)) is not None:
            what = f"{asset} for {partition}" if partition else asset
            raise CreditAssetsError(
                f"{what} was rejected by a quality check: {reason} "
                "(fix the input and materialize it again)"
            )

    def read_frame(
        self,
        asset: str,
        partition: str | None = None,
        columns: list[str] | None = None,
        where: tuple[str, str] | None = None,
    ) -> pd.DataFrame:
        """The asset's table; a file rejected by a quality check is an error.

        With ``columns``, only those columns are read (on S3, only their bytes fetched);
        ``where=(column, value)`` keeps the rows whose column equals value (a split, say),
        skipping the row groups that hold none.
        """
        whole = columns is None and where is None
        with self._parquet(asset, partition, whole=whole) as source:
            self._refuse_rejected(asset, partition)
            filters = None if where is None else [(where[0], "==", where[1])]
            return pd.read_parquet(source, columns=columns, filters=filters)

    def partitions(self, asset: str) -> list[str]:
        """Partitions of ``asset`` that have a file not rejected by a check, oldest first."""
        rejected = {s.removesuffix(".rejected") for s in self._stems(asset, "json")}
        return sorted(s for s in self._stems(asset, "parquet") if s != asset and s not in rejected)

    def row_count(self, asset: str, partition: str | None = None) -> int:
        """Rows in the asset's file, from the Parquet footer."""
        with self._parquet(asset, partition) as source:
            return pq.ParquetFile(source).metadata.num_rows

    def columns(self, asset: str, partition: str | None = None) -> list[str]:
        with self._parquet(asset, partition) as source:
            return list(pq.read_schema(source).names)

    def reject(self, asset: str, partition: str | None, reason: str) -> Path | str:
        """Mark the asset's file as rejected by a blocking check; readers skip it."""
        return self._put(
            json.dumps({"reason": reason}, indent=2).encode(), asset, partition, _MARKER
        )

    def rejected(self, asset: str, partition: str | None = None) -> str | None:
        """The reason the file was rejected, or None."""
        marker = self._get(asset, partition, _MARKER)
        return None if marker is None else json.loads(marker)["reason"]

    def write_object(self, obj: Any, asset: str, name: str | None = None) -> Path | str:
        buffer = io.BytesIO()
        joblib.dump(obj, buffer)
        return self._put(buffer.getvalue(), asset, name, "joblib")

    def read_object(self, asset: str, name: str | None = None) -> Any:
        return joblib.load(io.BytesIO(self._require(asset, name, "joblib")))

    def write_bytes(self, data: bytes, asset: str, name: str, suffix: str) -> Path | str:
        return self._put(data, asset, name, suffix)

    def write_json(self, data: dict[str, Any], asset: str, name: str | None = None) -> Path | str:
        text = json.dumps(data, indent=2, sort_keys=True, default=str)
        return self._put(text.encode(), asset, name, "json")

    def read_json(self, asset: str, name: str | None = None) -> dict[str, Any]:
        return json.loads(self._require(asset, name, "json"))

    def delete_json(self, asset: str, name: str) -> None:
        self._delete(asset, name, "json")


@dataclass(frozen=True)
class LocalStore(Store):
    root: Path

    def path(self, asset: str, partition: str | None = None, suffix: str = "parquet") -> Path:
        name = partition or asset
        return self.root / asset / f"{name}.{suffix}"

    def location(self, asset: str, partition: str | None = None, suffix: str = "parquet") -> Path:
        return self.path(asset, partition, suffix)

    def exists(self, asset: str, name: str | None = None, suffix: str = "parquet") -> bool:
        return self.path(asset, name, suffix).is_file()

    def write_frame(self, frame: pd.DataFrame, asset: str, partition: str | None = None) -> Path:
        # straight to disk, without a copy in memory
        path = write_parquet_atomic(frame, self.path(asset, partition))
        self._delete(asset, partition, _MARKER)
        return path

    def _put(self, data: bytes, asset: str, name: str | None, suffix: str) -> Path:
        return write_bytes_atomic(data, self.path(asset, name, suffix))

    @contextmanager
    def _staged(self, asset: str, partition: str | None) -> Iterator[Path]:
        with atomic_path(self.path(asset, partition)) as tmp:  # renamed into place
            yield tmp

    def _get(self, asset: str, name: str | None, suffix: str) -> bytes | None:
        path = self.path(asset, name, suffix)
        return path.read_bytes() if path.is_file() else None

    def _open(self, asset: str, name: str | None, suffix: str, whole: bool) -> pa.NativeFile | None:
        try:  # a native file: pyarrow reads what it needs without the Python layer
            return pa.OSFile(str(self.path(asset, name, suffix)))
        except FileNotFoundError:
            return None

    def _delete(self, asset: str, name: str | None, suffix: str) -> None:
        self.path(asset, name, suffix).unlink(missing_ok=True)

    def _stems(self, asset: str, suffix: str) -> list[str]:
        # temporary files of unfinished writes end in .tmp, so they never match
        return [p.name[: -len(suffix) - 1] for p in (self.root / asset).glob(f"*.{suffix}")]


@dataclass(frozen=True)
class S3Store(Store):
    """S3 or any S3-compatible server (MinIO, Ceph, GCS's XML API, ...).

    The endpoint and credentials come from boto3's usual environment variables
    (``AWS_ENDPOINT_URL``, ``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY``, ``AWS_REGION``).
    """

    bucket: str
    prefix: str = ""

    @cached_property
    def _client(self) -> Any:
        import boto3  # only object-store deployments pay for the import

        return boto3.client("s3")

    def key(self, asset: str, name: str | None, suffix: str) -> str:
        return "/".join(p for p in (self.prefix, asset, f"{name or asset}.{suffix}") if p)

    def location(self, asset: str, partition: str | None = None, suffix: str = "parquet") -> str:
        return f"{S3_SCHEME}{self.bucket}/{self.key(asset, partition, suffix)}"

    def _put(self, data: bytes, asset: str, name: str | None, suffix: str) -> str:
        self._client.put_object(Bucket=self.bucket, Key=self.key(asset, name, suffix), Body=data)
        return self.location(asset, name, suffix)

    @contextmanager
    def _staged(self, asset: str, partition: str | None) -> Iterator[Path]:
        with tempfile.TemporaryDirectory() as folder:
            tmp = Path(folder) / "staged.parquet"
            yield tmp
            # from disk, in parts if large: the object appears whole once the upload completes
            self._client.upload_file(str(tmp), self.bucket, self.key(asset, partition, "parquet"))

    def _get(self, asset: str, name: str | None, suffix: str) -> bytes | None:
        try:
            reply = self._client.get_object(Bucket=self.bucket, Key=self.key(asset, name, suffix))
        except self._client.exceptions.NoSuchKey:
            return None
        return reply["Body"].read()

    def _head(self, key: str) -> dict[str, Any] | None:
        try:
            return self._client.head_object(Bucket=self.bucket, Key=key)
        except self._client.exceptions.ClientError as exc:
            if exc.response["Error"]["Code"] in ("404", "NoSuchKey"):
                return None
            raise

    def exists(self, asset: str, name: str | None = None, suffix: str = "parquet") -> bool:
        # a HEAD, not a GET: the history file alone can be hundreds of MB
        return self._head(self.key(asset, name, suffix)) is not None

    def _open(self, asset: str, name: str | None, suffix: str, whole: bool) -> io.IOBase | None:
        if whole:  # one GET beats many ranged ones when every byte is wanted
            data = self._get(asset, name, suffix)
            return None if data is None else io.BytesIO(data)
        key = self.key(asset, name, suffix)
        head = self._head(key)
        if head is None:
            return None
        return _S3Object(self._client, self.bucket, key, head["ContentLength"], head["ETag"])

    def _delete(self, asset: str, name: str | None, suffix: str) -> None:
        self._client.delete_object(Bucket=self.bucket, Key=self.key(asset, name, suffix))

    def _stems(self, asset: str, suffix: str) -> list[str]:
        folder = "/".join(p for p in (self.prefix, asset) if p) + "/"
        pages = self._client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=folder, Delimiter="/"
        )
        keys = [item["Key"] for page in pages for item in page.get("Contents", [])]
        return [k[len(folder) : -len(suffix) - 1] for k in keys if k.endswith(f".{suffix}")]


class _S3Object(io.RawIOBase):
    """An S3 object as a seekable file that GETs only the byte ranges read.

    Each GET names the ETag seen on opening, so an object replaced meanwhile fails the read
    instead of mixing bytes of two versions.
    """

    def __init__(self, client: Any, bucket: str, key: str, size: int, etag: str) -> None:
        super().__init__()
        self._client, self._bucket, self._key = client, bucket, key
        self._size, self._etag, self._pos = size, etag, 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        start = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self._size}[whence]
        if start + offset < 0:
            raise ValueError(f"negative seek position {start + offset}")
        self._pos = start + offset
        return self._pos

    def read(self, size: int | None = -1) -> bytes:
        end = self._size if size is None or size < 0 else min(self._size, self._pos + size)
        if end <= self._pos:
            return b""
        where = f"{S3_SCHEME}{self._bucket}/{self._key}"
        try:
            reply = self._client.get_object(
                Bucket=self._bucket,
                Key=self._key,
                Range=f"bytes={self._pos}-{end - 1}",
                IfMatch=self._etag,
            )
        except self._client.exceptions.ClientError as exc:
            if exc.response["Error"]["Code"] != "PreconditionFailed":
                raise
            raise CreditAssetsError(f"{where} was replaced while being read") from exc
        data = reply["Body"].read()
        if len(data) != end - self._pos:  # a server that ignored the range
            raise CreditAssetsError(
                f"{where}: asked for {end - self._pos} bytes from {self._pos}, got {len(data)}"
            )
        self._pos = end
        return data


def open_store(location: str | Path) -> Store:
    """``s3://bucket/prefix`` opens object storage; anything else is a local directory."""
    text = str(location)
    if text.startswith(S3_SCHEME):
        bucket, _, prefix = text[len(S3_SCHEME) :].partition("/")
        if not bucket:
            raise CreditAssetsError(f"storage URL {text!r} names no bucket")
        return S3Store(bucket=bucket, prefix=prefix.strip("/"))
    return LocalStore(Path(text))
