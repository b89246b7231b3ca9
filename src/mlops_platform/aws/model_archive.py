"""The model archive SageMaker hosting unpacks: one bundle as a one-model store.

SageMaker deploys a model package by unpacking its ``ModelDataUrl`` (a ``.tar.gz`` on
S3) into ``/opt/ml/model`` and starting the package's image with ``serve``. The
serving image reads a model store; so the archive *is* a model store holding exactly
one version and a production pointer to it::

    production/<use case>.json
    versions/<use case>/<version>/manifest.json, model.onnx, model.joblib, ...

and the package's container environment points the service at it
(``SERVING_MODEL_STORE_URI=/opt/ml/model``). The service then verifies the bundle
against its manifest and golden rows, as it does from the model store.

The archive is built from the bundle's files in the store, byte for byte, with fixed
member order, times and owners, so building it twice gives the same bytes (a retried
registration uploads what the first attempt did). It lives beside the bundles, at
``<store>/archives/<use case>/<version>/model.tar.gz``, written in one PUT on S3 and
by rename on a local store: never half-written.
"""

from __future__ import annotations

import gzip
import io
import posixpath
import tarfile

from mlops_platform.model_store import ModelStore, json_bytes

ARCHIVE = "model.tar.gz"
#: Where SageMaker hosting unpacks a model's archive.
SERVING_ROOT = "/opt/ml/model"


def container_environment(use_case: str) -> dict[str, str]:
    """The serving image's settings for a container over an unpacked archive."""
    return {
        "SERVING_MODEL_STORE_URI": SERVING_ROOT,
        "SERVING_USE_CASES": use_case,
        "SERVING_HOST": "0.0.0.0",  # noqa: S104 (the container's port, as the image)
        "SERVING_PORT": "8080",  # SageMaker hosting's port
    }


def archive_url(store: ModelStore, version: str) -> str:
    return f"{store.root}/archives/{store.use_case}/{version}/{ARCHIVE}"


def build(store: ModelStore, version: str) -> bytes:
    """The archive of ``version``'s bundle (its manifest must exist: a complete
    bundle), deterministic."""
    manifest = store.read_manifest(version)  # raises for a missing/partial bundle
    base = store.version_path(version)
    files = sorted(
        posixpath.relpath(p, base) for p in store.fs.find(base) if not p.endswith("/")
    )
    pointer = {
        "version": version,
        "path": f"versions/{store.use_case}/{version}",
        "reason": f"SageMaker model archive of {store.use_case} {version}",
        "promoted_at": manifest.get("created_at", ""),
        "previous": None,
        "history": [],
    }
    members: list[tuple[str, bytes]] = [
        (f"production/{store.use_case}.json", json_bytes(pointer))
    ]
    for name in files:
        with store.fs.open(posixpath.join(base, name), "rb") as f:
            members.append((f"versions/{store.use_case}/{version}/{name}", f.read()))
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size, info.mtime, info.mode = len(data), 0, 0o644
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            tar.addfile(info, io.BytesIO(data))
    # mtime 0 in the gzip header too: the same bundle gives the same bytes
    return gzip.compress(raw.getvalue(), compresslevel=6, mtime=0)


def ensure(store: ModelStore, version: str) -> str:
    """The archive's URL, built and written unless it is there already."""
    path = store.archive_path(version, ARCHIVE)
    if not store.fs.exists(path):
        store.put_file(path, build(store, version))  # whole or absent
    return archive_url(store, version)
