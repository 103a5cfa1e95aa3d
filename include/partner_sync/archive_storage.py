"""Where archives are written: an Airflow ``ObjectStoragePath`` for a ``file://`` or ``s3://`` URL.

``archive_path(url)`` returns the ``airflow.sdk.ObjectStoragePath`` for an archive URL with the
connection it uses: ``s3://bucket/prefix`` goes through the Airflow connection ``aws_default``,
``s3://my_conn@bucket/prefix`` through ``my_conn`` (Airflow's own ``conn_id@bucket`` form);
``file:///path`` needs none. ``write_atomically`` writes an object so that a reader never sees
half of it: a local file is written beside the target and renamed over it; an S3 PUT is atomic.

**S3 without s3fs.** Airflow's ``s3`` filesystem (the Amazon provider) needs ``s3fs``, whose
``aiobotocore`` pins botocore below the version this package pins (the Partner Central model
comes from botocore, so botocore is not downgraded for it). When ``s3fs`` is not installed,
``s3://`` paths are attached to :class:`BotoS3FileSystem`, a small fsspec filesystem over the
Amazon provider's ``S3Hook`` client (same connection, same ``endpoint_url`` extra), which
implements what the archive needs: read, write, stat, list, delete. With ``s3fs`` installed
the provider's filesystem is used unchanged.
"""

from __future__ import annotations

import importlib.util
import io
import uuid
from functools import cached_property
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from fsspec import AbstractFileSystem

if TYPE_CHECKING:
    from airflow.sdk import ObjectStoragePath

DEFAULT_S3_CONN_ID = "aws_default"
LOCAL_PROTOCOLS = frozenset({"file", "local"})


def archive_path(url: str) -> ObjectStoragePath:
    """The ``ObjectStoragePath`` of ``url`` (``file://…`` or ``s3://[conn_id@]bucket/…``)."""
    from airflow.sdk import ObjectStoragePath

    parts = urlsplit(url)
    if parts.scheme != "s3":
        return ObjectStoragePath(url)
    conn_id = parts.username or DEFAULT_S3_CONN_ID
    location = f"s3://{parts.hostname}{parts.path}"
    if importlib.util.find_spec("s3fs") is None:
        from airflow.sdk.io import attach

        attach("s3", conn_id=conn_id, fs=BotoS3FileSystem(conn_id=conn_id))
    return ObjectStoragePath(location, conn_id=conn_id)


def write_atomically(target: ObjectStoragePath, payload: bytes) -> None:
    """Write ``payload`` to ``target`` so that readers see the old or the new bytes, never part."""
    if target.protocol in LOCAL_PROTOCOLS:
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.parent / f".{target.name}.{uuid.uuid4().hex}.tmp"
        partial.write_bytes(payload)
        partial.fs.mv(partial.path, target.path)  # os.rename: atomic on one filesystem
        return
    target.write_bytes(payload)  # one PUT: an object store never exposes a partial object


class BotoS3FileSystem(AbstractFileSystem):
    """A minimal fsspec filesystem for ``s3://`` over boto3 (see the module docstring)."""

    protocol = ("s3",)
    root_marker = ""

    def __init__(self, conn_id: str = DEFAULT_S3_CONN_ID, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.conn_id = conn_id

    @cached_property
    def client(self) -> Any:
        from airflow.providers.amazon.aws.hooks.s3 import S3Hook

        return S3Hook(aws_conn_id=self.conn_id).get_conn()

    @classmethod
    def _strip_protocol(cls, path: Any) -> str:
        text = str(path)
        if text.startswith("s3://"):
            text = text[len("s3://"):]
        bucket, _, key = text.partition("/")
        return f"{bucket.rpartition('@')[2]}/{key}".rstrip("/") if key else bucket.rpartition("@")[2]

    def _split(self, path: str) -> tuple[str, str]:
        bucket, _, key = self._strip_protocol(path).partition("/")
        return bucket, key

    def cat_file(self, path: str, start: int | None = None, end: int | None = None, **kwargs: Any) -> bytes:
        bucket, key = self._split(path)
        params: dict[str, Any] = {"Bucket": bucket, "Key": key}
        if start is not None or end is not None:
            params["Range"] = f"bytes={start or 0}-{'' if end is None else end - 1}"
        try:
            return self.client.get_object(**params)["Body"].read()
        except self.client.exceptions.NoSuchKey as error:
            raise FileNotFoundError(path) from error

    def pipe_file(self, path: str, value: bytes, **kwargs: Any) -> None:
        bucket, key = self._split(path)
        self.client.put_object(Bucket=bucket, Key=key, Body=value)

    def info(self, path: str, **kwargs: Any) -> dict[str, Any]:
        bucket, key = self._split(path)
        if key:
            try:
                head = self.client.head_object(Bucket=bucket, Key=key)
                return {"name": f"{bucket}/{key}", "size": head["ContentLength"], "type": "file",
                        "ETag": head.get("ETag"), "LastModified": head.get("LastModified")}
            except Exception as error:  # noqa: BLE001 - 404 (or 403 without ListBucket): maybe a prefix
                if getattr(error, "response", {}).get("Error", {}).get("Code") not in ("404", "NoSuchKey", "403"):
                    raise
        listing = self.client.list_objects_v2(Bucket=bucket, Prefix=f"{key}/" if key else "", MaxKeys=1)
        if key and not listing.get("KeyCount"):
            raise FileNotFoundError(path)
        return {"name": f"{bucket}/{key}".rstrip("/"), "size": 0, "type": "directory"}

    def ls(self, path: str, detail: bool = True, **kwargs: Any) -> list[Any]:
        bucket, key = self._split(path)
        prefix = f"{key}/" if key else ""
        entries: list[dict[str, Any]] = []
        for page in self.client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix, Delimiter="/"):
            entries += [{"name": f"{bucket}/{p['Prefix'].rstrip('/')}", "size": 0, "type": "directory"}
                        for p in page.get("CommonPrefixes", [])]
            entries += [{"name": f"{bucket}/{o['Key']}", "size": o["Size"], "type": "file"}
                        for o in page.get("Contents", [])]
        if not entries and key:
            entries = [self.info(path)] if self.info(path)["type"] == "file" else []
        return entries if detail else [entry["name"] for entry in entries]

    def rm_file(self, path: str) -> None:
        bucket, key = self._split(path)
        self.client.delete_object(Bucket=bucket, Key=key)

    def _rm(self, path: str) -> None:
        self.rm_file(path)

    def mkdir(self, path: str, create_parents: bool = True, **kwargs: Any) -> None:
        """Object stores have no directories: nothing to create."""

    def makedirs(self, path: str, exist_ok: bool = False) -> None:
        """Object stores have no directories: nothing to create."""

    def _open(self, path: str, mode: str = "rb", **kwargs: Any) -> io.BytesIO:
        if "r" in mode:
            return io.BytesIO(self.cat_file(path))
        return _UploadOnClose(self, path)


class _UploadOnClose(io.BytesIO):
    """A write handle that PUTs its whole content on close (archives are small: one PUT)."""

    def __init__(self, fs: BotoS3FileSystem, path: str) -> None:
        super().__init__()
        self._fs, self._path = fs, path

    def close(self) -> None:
        if not self.closed:
            self._fs.pipe_file(self._path, self.getvalue())
        super().close()
