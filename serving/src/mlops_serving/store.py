"""Read-only access to the model store: a local folder or an S3 prefix.

The service follows the production pointer (``production/<use_case>.json``), never a
directory listing. A pointer's *fingerprint* says cheaply whether it changed: the
file's mtime, size and inode locally, the object's ETag on S3.
"""

from __future__ import annotations

import json
import os
import posixpath
import re
from pathlib import Path
from typing import Any, Protocol


class StoreError(RuntimeError):
    """The store cannot be read (missing file, access denied, a network error):
    possibly transient, so it is retried."""


class PointerInvalid(StoreError):
    """The pointer was read and is not a pointer (not JSON, not an object, fields
    missing): retried only when it changes."""


VERSION = re.compile(r"v\d{4,}")


class ModelStoreReader(Protocol):
    uri: str

    def pointer_fingerprint(self, use_case: str) -> str | None: ...

    def fingerprint(self, relative: str) -> str | None: ...

    def read(self, relative: str) -> bytes: ...


def pointer_path(use_case: str) -> str:
    return f"production/{use_case}.json"


def read_pointer(store: ModelStoreReader, use_case: str) -> dict[str, Any]:
    raw = store.read(pointer_path(use_case))
    where = f"{store.uri}/{pointer_path(use_case)}"
    try:
        pointer = json.loads(raw)
    except ValueError as exc:
        raise PointerInvalid(f"{where}: not JSON: {exc}") from exc
    if not isinstance(pointer, dict):
        raise PointerInvalid(
            f"{where}: a pointer is a JSON object, this holds {type(pointer).__name__}"
            f" ({raw[:40]!r})"
        )
    for key in ("version", "path"):
        if not isinstance(pointer.get(key), str):
            raise PointerInvalid(f"{where}: field {key!r} missing or not a string")
    if not VERSION.fullmatch(pointer["version"]):
        raise PointerInvalid(f"{where}: version {pointer['version']!r} is not vNNNN")
    if pointer["path"] != f"versions/{use_case}/{pointer['version']}":
        raise PointerInvalid(
            f"{where}: path {pointer['path']!r} is not versions/{use_case}/"
            f"{pointer['version']}"
        )
    return dict(pointer)


class LocalStore:
    def __init__(self, root: str) -> None:
        self.uri = root.removeprefix("file://")
        self.root = Path(self.uri)

    def pointer_fingerprint(self, use_case: str) -> str | None:
        return self.fingerprint(pointer_path(use_case))

    def fingerprint(self, relative: str) -> str | None:
        """Changes whenever the file is replaced; None when there is none."""
        try:
            st = os.stat(self.root / relative)
        except FileNotFoundError:
            return None
        return f"{st.st_mtime_ns}:{st.st_size}:{st.st_ino}"

    def read(self, relative: str) -> bytes:
        path = (self.root / relative).resolve()
        if not path.is_relative_to(self.root.resolve()):
            raise StoreError(f"{relative!r} is outside the store {self.uri}")
        try:
            return path.read_bytes()
        except OSError as exc:
            raise StoreError(f"{self.uri}/{relative}: {exc.strerror or exc}") from exc


class S3Store:
    def __init__(self, uri: str, endpoint_url: str | None = None) -> None:
        try:
            import boto3  # noqa: PLC0415
            from botocore.config import Config  # noqa: PLC0415
        except ImportError as exc:  # pragma: no cover - depends on the extra
            raise StoreError(
                "an s3:// model store needs boto3: pip install 'mlops-serving[s3]'"
            ) from exc
        self.uri = uri.rstrip("/")
        bucket, _, prefix = self.uri.removeprefix("s3://").partition("/")
        self.bucket, self.prefix = bucket, prefix
        self.client = boto3.client(
            "s3",
            endpoint_url=endpoint_url,
            config=Config(retries={"max_attempts": 3, "mode": "standard"}),
        )

    def _key(self, relative: str) -> str:
        return posixpath.join(self.prefix, relative) if self.prefix else relative

    def pointer_fingerprint(self, use_case: str) -> str | None:
        return self.fingerprint(pointer_path(use_case))

    def fingerprint(self, relative: str) -> str | None:
        """The object's ETag; None when there is none."""
        from botocore.exceptions import ClientError  # noqa: PLC0415

        try:
            head = self.client.head_object(Bucket=self.bucket, Key=self._key(relative))
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey"):
                return None
            raise StoreError(f"{self.uri}: {exc}") from exc
        return str(head["ETag"])

    def read(self, relative: str) -> bytes:
        from botocore.exceptions import ClientError  # noqa: PLC0415

        try:
            obj = self.client.get_object(Bucket=self.bucket, Key=self._key(relative))
            return bytes(obj["Body"].read())
        except ClientError as exc:
            raise StoreError(f"{self.uri}/{relative}: {exc}") from exc


def open_store(uri: str, s3_endpoint_url: str | None = None) -> ModelStoreReader:
    if uri.startswith("s3://"):
        return S3Store(uri, s3_endpoint_url)
    if "://" in uri and not uri.startswith("file://"):
        raise StoreError(f"unsupported model store {uri!r}: use a folder or s3://")
    return LocalStore(uri)
