"""Asset files on storage every step can see: one folder per asset, one file per partition.

Two places, one interface, both through fsspec: a local path (one host, or a mount every
host shares) and S3-compatible object storage through s3fs (several hosts). ``open_store``
picks by the location string.

Writes are atomic: locally a temporary file beside the target is renamed into place; on S3
a single PUT (or, for a large file, the completion of a multipart upload) replaces the
object whole. A failed or killed step leaves the previous file as it was and a reader never
sees half a file.

A file that a blocking quality check rejected gets a marker beside it
(``<partition>.rejected.json``, with the reason): readers treat it as absent, so no later
run (a scheduled retraining, say) can build on it. Writing the asset again removes the
marker; its checks then run again.

Reads fetch only what they need: a row count or a schema reads the Parquet footer, and a
read of some columns reads the footer and those columns' chunks (on S3, as ranged GETs, each
conditional on the ETag seen on opening, so an object replaced meanwhile fails the read
instead of mixing bytes of two versions).
A large table is read a row group at a time (``iter_frames``) and written a chunk at a time
(``frame_writer``), into a temporary file put in place only when every chunk is written.
"""

from __future__ import annotations

import io
import json
import tempfile
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

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

if TYPE_CHECKING:
    from fsspec import AbstractFileSystem
    from fsspec.implementations.local import LocalFileSystem
    from s3fs import S3FileSystem

S3_SCHEME = "s3://"
_MARKER = "rejected.json"
# A seekable file pyarrow can read: a native one, or a Python one (bytes in memory, S3 ranges).
Source = pa.NativeFile | io.IOBase


class Store(ABC):
    """Frames as Parquet, objects as joblib, dicts as JSON, under ``asset/name.suffix``."""

    @property
    @abstractmethod
    def fs(self) -> AbstractFileSystem: ...

    @abstractmethod
    def _path(self, asset: str, name: str | None, suffix: str) -> str:
        """The file's path on ``fs``."""

    @abstractmethod
    def location(
        self, asset: str, partition: str | None = None, suffix: str = "parquet"
    ) -> Path | str:
        """Where the file for ``asset`` (and ``partition``) lives, for metadata and messages."""

    @abstractmethod
    def _put(self, data: bytes, asset: str, name: str | None, suffix: str) -> Path | str:
        """Write the file atomically."""

    @abstractmethod
    def _open(self, path: str, whole: bool) -> Source:
        """The file, seekable; FileNotFoundError if it does not exist. Unless ``whole``, a
        remote store fetches only the byte ranges that are read (a Parquet footer, some
        columns)."""

    def _get(self, asset: str, name: str | None, suffix: str) -> bytes | None:
        """The file's bytes, or None if it does not exist."""
        try:
            return self.fs.cat_file(self._path(asset, name, suffix))
        except FileNotFoundError:
            return None

    def _delete(self, asset: str, name: str | None, suffix: str) -> None:
        with suppress(FileNotFoundError):
            self.fs.rm_file(self._path(asset, name, suffix))

    def _stems(self, asset: str, suffix: str) -> list[str]:
        folder = str(PurePosixPath(self._path(asset, None, suffix)).parent)
        try:
            names = [PurePosixPath(p).name for p in self.fs.ls(folder, detail=False)]
        except FileNotFoundError:
            return []
        # temporary files of unfinished local writes end in .tmp, so they never match
        return [n[: -len(suffix) - 1] for n in names if n.endswith(f".{suffix}")]

    def exists(self, asset: str, name: str | None = None, suffix: str = "parquet") -> bool:
        return self.fs.isfile(self._path(asset, name, suffix))

    @abstractmethod
    @contextmanager
    def _staged(self, asset: str, partition: str | None) -> Iterator[Path]:
        """A local temporary file that becomes the asset's Parquet file, replacing it whole,
        when the block ends without error, and is discarded otherwise."""

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
    def open(
        self, asset: str, name: str | None = None, suffix: str = "parquet", whole: bool = False
    ) -> Iterator[Source]:
        """The stored file, seekable and open for reading (``pq.ParquetFile(source)``, say).

        Unless ``whole``, only the bytes read are fetched. A missing file, or an S3 object
        replaced while it is read, is a CreditAssetsError.
        """
        try:
            source = self._open(self._path(asset, name, suffix), whole)
        except FileNotFoundError:
            raise self._missing(asset, name, suffix) from None
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
        with self.open(asset, partition) as source:
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
        with self.open(asset, partition, whole=whole) as source:
            self._refuse_rejected(asset, partition)
            filters = None if where is None else [(where[0], "==", where[1])]
            return pd.read_parquet(source, columns=columns, filters=filters)

    def partitions(self, asset: str) -> list[str]:
        """Partitions of ``asset`` that have a file not rejected by a check, oldest first."""
        rejected = {s.removesuffix(".rejected") for s in self._stems(asset, "json")}
        return sorted(s for s in self._stems(asset, "parquet") if s != asset and s not in rejected)

    def row_count(self, asset: str, partition: str | None = None) -> int:
        """Rows in the asset's file, from the Parquet footer."""
        with self.open(asset, partition) as source:
            return pq.ParquetFile(source).metadata.num_rows

    def columns(self, asset: str, partition: str | None = None) -> list[str]:
        with self.open(asset, partition) as source:
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

    @cached_property
    def fs(self) -> LocalFileSystem:
        # imported here: commands that only import this module do not pay for fsspec
        from fsspec.implementations.local import LocalFileSystem

        return LocalFileSystem()

    def path(self, asset: str, partition: str | None = None, suffix: str = "parquet") -> Path:
        name = partition or asset
        return self.root / asset / f"{name}.{suffix}"

    def _path(self, asset: str, name: str | None, suffix: str) -> str:
        return str(self.path(asset, name, suffix))

    def location(self, asset: str, partition: str | None = None, suffix: str = "parquet") -> Path:
        return self.path(asset, partition, suffix)

    # Writes go through core.io, not fsspec: fsspec's local transactions stage the file in
    # the system temp folder, and a move from there to another disk is a copy, not a rename.
    def write_frame(self, frame: pd.DataFrame, asset: str, partition: str | None = None) -> Path:
        # straight to disk, without a copy in memory
        path = write_parquet_atomic(frame, self.path(asset, partition))
        self._delete(asset, partition, _MARKER)
        return path

    def _put(self, data: bytes, asset: str, name: str | None, suffix: str) -> Path:
        return write_bytes_atomic(data, self.path(asset, name, suffix))

    def _open(self, path: str, whole: bool) -> pa.NativeFile:
        # a native file: pyarrow reads what it needs without the Python layer
        return pa.OSFile(path)

    @contextmanager
    def _staged(self, asset: str, partition: str | None) -> Iterator[Path]:
        with atomic_path(self.path(asset, partition)) as tmp:  # renamed into place
            yield tmp


@dataclass(frozen=True)
class S3Store(Store):
    """S3 or any S3-compatible server (MinIO, Ceph, GCS's XML API, ...).

    The endpoint and credentials come from botocore's usual environment variables
    (``AWS_ENDPOINT_URL``, ``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY``, ``AWS_REGION``).
    """

    bucket: str
    prefix: str = ""

    @cached_property
    def fs(self) -> S3FileSystem:
        from s3fs import S3FileSystem  # only object-store deployments pay for the import

        # No listings cache: a listing would otherwise answer later opens with the sizes and
        # ETags of objects replaced since. One request at a time per file: a whole read is
        # then one GET (split into concurrent ranges, it would not be conditional on one
        # version). A filesystem of its own, not fsspec's shared instance: the endpoint is
        # read from the environment when its client is made.
        return S3FileSystem(use_listings_cache=False, max_concurrency=1, skip_instance_cache=True)

    def key(self, asset: str, name: str | None, suffix: str) -> str:
        return "/".join(p for p in (self.prefix, asset, f"{name or asset}.{suffix}") if p)

    def _path(self, asset: str, name: str | None, suffix: str) -> str:
        return f"{self.bucket}/{self.key(asset, name, suffix)}"

    def location(self, asset: str, partition: str | None = None, suffix: str = "parquet") -> str:
        return S3_SCHEME + self._path(asset, partition, suffix)

    @contextmanager
    def _staged(self, asset: str, partition: str | None) -> Iterator[Path]:
        with tempfile.TemporaryDirectory() as folder:
            tmp = Path(folder) / "staged.parquet"
            yield tmp
            # from disk, in parts if large: the object appears whole once the upload completes
            self.fs.put_file(str(tmp), self._path(asset, partition, "parquet"))

    def exists(self, asset: str, name: str | None = None, suffix: str = "parquet") -> bool:
        # one HEAD (s3fs's isfile lists the prefix too when the object is missing)
        try:
            self.fs.call_s3("head_object", Bucket=self.bucket, Key=self.key(asset, name, suffix))
        except FileNotFoundError:
            return False
        return True

    def _put(self, data: bytes, asset: str, name: str | None, suffix: str) -> str:
        self.fs.pipe_file(self._path(asset, name, suffix), data)
        return self.location(asset, name, suffix)

    def _open(self, path: str, whole: bool) -> io.IOBase:
        if whole:  # one GET beats many ranged ones when every byte is wanted
            return io.BytesIO(self.fs.cat_file(path))
        # no read-ahead cache: each read is one ranged GET of exactly the bytes asked for,
        # naming the ETag seen on opening (s3fs sends If-Match)
        return self.fs.open(path, "rb", cache_type="none")

    @contextmanager
    def open(
        self, asset: str, name: str | None = None, suffix: str = "parquet", whole: bool = False
    ) -> Iterator[Source]:
        from s3fs.utils import FileExpired

        try:
            with super().open(asset, name, suffix, whole) as source:
                yield source
        except FileExpired as exc:
            where = self.location(asset, name, suffix)
            raise CreditAssetsError(f"{where} was replaced while being read") from exc


def open_store(location: str | Path) -> Store:
    """``s3://bucket/prefix`` opens object storage; anything else is a local directory."""
    text = str(location)
    if text.startswith(S3_SCHEME):
        bucket, _, prefix = text[len(S3_SCHEME) :].partition("/")
        if not bucket:
            raise CreditAssetsError(f"storage URL {text!r} names no bucket")
        return S3Store(bucket=bucket, prefix=prefix.strip("/"))
    return LocalStore(Path(text))
