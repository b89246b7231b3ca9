"""The production model store: immutable versioned bundles and an atomic pointer.

Layout under the store root (``data/models`` locally, ``s3://<bucket>/<prefix>/models``
on AWS)::

    production/<use_case>.json          the production pointer (replaced atomically)
    versions/<use_case>/<version>/      one immutable bundle per promoted model
        manifest.json  model.<flavour's format>  input_schema.json  metrics.json
        golden.json    reference.parquet  [model.onnx]
    audit/<use_case>.jsonl              append-only record of every decision
    staging/<use_case>/                 working artifacts of the last training run

A bundle directory is complete before the pointer names it: locally it is written to a
temporary folder and renamed into place; on object stores every file is written and
``manifest.json`` last. Readers (the serving package) follow the pointer only, so they
never see a half-written bundle. See docs/model_bundle.md for the contract.
"""

from __future__ import annotations

import contextlib
import fcntl
import getpass
import hashlib
import io
import json
import logging
import os
import platform
import posixpath
import shutil
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import fsspec
import pandas as pd

from mlops_platform.faults import point
from mlops_platform.flavours import get_flavour

logger = logging.getLogger(__name__)

# 2: optional model.onnx and manifest "runtimes"; 3: model.flavor names the flavour
# (sklearn: model.joblib, keras: model.keras), input_schema.json carries the task and
# typed fields, golden.json names its output ("probabilities" or "prediction"); 4: a
# scikit-learn graph takes its numeric and categorical features as one [N, k] tensor
# each (runtimes.onnx.stacked), so a format-3 reader refuses it by its format.
FORMAT_VERSION = 4
MODEL_FILE = "model.joblib"  # the scikit-learn flavour's file
ONNX_FILE = "model.onnx"
MANIFEST = "manifest.json"
INPUT_SCHEMA = "input_schema.json"
METRICS = "metrics.json"
GOLDEN = "golden.json"
REFERENCE = "reference.parquet"
BUNDLE_FILES = (INPUT_SCHEMA, METRICS, GOLDEN, REFERENCE)


# An S3 lease older than this is a holder that died: a promotion takes seconds.
# MLOPS_LEASE_TTL_S changes it (the S3 fault-injection tests use 3 s, so the lease a
# killed holder leaves expires during the test).
LEASE_TTL_S = float(os.environ.get("MLOPS_LEASE_TTL_S", "900"))
# Who holds a lease across a process's retries: a SageMaker step sets it to its
# execution and pipeline (``aws/sagemaker/step.py``). SageMaker starts a step's retry
# only after the attempt before it ended, so a lease held under the same owner is a
# dead attempt's and is taken over at once, not after LEASE_TTL_S.
LEASE_OWNER_ENV = "MLOPS_LEASE_OWNER"


class ChampionChanged(RuntimeError):
    """Another promotion or rollback changed the champion after this run's gates
    judged the challenger against it: this promotion is not committed."""


class ModelStoreError(RuntimeError):
    """A bundle or pointer that is missing, incomplete or inconsistent."""


def utc_now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def write_atomically(path: str, data: bytes) -> None:
    """A local file replaced whole or not at all: written and synced under a temporary
    name beside it, then renamed (atomic on POSIX)."""
    os.makedirs(posixpath.dirname(path), exist_ok=True)
    tmp = f"{path}.{uuid.uuid4().hex}.tmp"
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def json_bytes(obj: Any) -> bytes:
    return (json.dumps(obj, indent=2, sort_keys=False, default=str) + "\n").encode()


@dataclass
class Bundle:
    """A promoted model with everything needed to serve and audit it."""

    use_case: str
    version: str
    manifest: dict[str, Any]
    model: Any
    input_schema: dict[str, Any]
    metrics: dict[str, Any]
    golden: dict[str, Any]
    reference: pd.DataFrame
    onnx: bytes | None = None

    @property
    def flavour(self) -> str:
        return str(self.manifest.get("model", {}).get("flavor", "sklearn"))


@dataclass
class PromotionRequest:
    """What a promotion node asks the store to do (the node itself does no I/O)."""

    use_case: str
    promote: bool
    reason: str
    model: Any = None
    flavour: str = "sklearn"
    input_schema: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)
    golden: dict[str, Any] = field(default_factory=dict)
    reference: pd.DataFrame | None = None
    manifest_extra: dict[str, Any] = field(default_factory=dict)
    onnx: bytes | None = None
    # manifest "runtimes.onnx": the export's converter and parity, or why there is none
    onnx_info: dict[str, Any] = field(default_factory=dict)
    # set by ModelStoreDataset.save: {"version", "store_root"} of a promotion
    outcome: dict[str, Any] = field(default_factory=dict)
    # The champion the gates compared the challenger with (None: there was none).
    # With recheck, the promotion commits only if that is still the champion.
    judged_against: str | None = None
    recheck: bool = False


class ModelStore:
    """Read and write one use case's bundles and production pointer."""

    def __init__(
        self,
        root: str,
        use_case: str,
        storage_options: dict[str, Any] | None = None,
    ) -> None:
        self.root = root.rstrip("/")
        self.use_case = use_case
        self.fs, self._root_path = fsspec.core.url_to_fs(
            self.root, **(storage_options or {})
        )
        self.local = "file" in (
            self.fs.protocol
            if isinstance(self.fs.protocol, tuple)
            else (self.fs.protocol,)
        )
        self._options = dict(storage_options or {})
        self._held = 0  # the lease is re-entrant within one ModelStore

    # ---- paths
    def _p(self, *parts: str) -> str:
        return posixpath.join(self._root_path, *parts)

    @property
    def pointer_path(self) -> str:
        return self._p("production", f"{self.use_case}.json")

    @property
    def audit_path(self) -> str:
        return self._p("audit", f"{self.use_case}.jsonl")

    def version_path(self, version: str) -> str:
        return self._p("versions", self.use_case, version)

    def archive_path(self, version: str, name: str) -> str:
        """A file built from a version's bundle, beside the bundles (the SageMaker
        hosting archive: mlops_platform.aws.model_archive)."""
        return self._p("archives", self.use_case, version, name)

    # ---- pointer
    def read_pointer(self) -> dict[str, Any] | None:
        """The production pointer, None when there is none; an empty, truncated or
        non-object pointer raises :class:`ModelStoreError` naming the file."""
        if not self.fs.exists(self.pointer_path):
            return None
        with self.fs.open(self.pointer_path, "rb") as f:
            raw = f.read()
        where = f"{self.root}/production/{self.use_case}.json"
        try:
            pointer = json.loads(raw)
        except ValueError as exc:
            raise ModelStoreError(
                f"{where}: not JSON ({len(raw)} bytes: {exc})"
            ) from None
        if not isinstance(pointer, dict) or not isinstance(pointer.get("version"), str):
            raise ModelStoreError(
                f"{where}: not a pointer (a JSON object with a version), got "
                f"{raw[:60]!r}"
            )
        return dict(pointer)

    def current_version(self) -> str | None:
        pointer = self.read_pointer()
        return pointer["version"] if pointer else None

    def _write_pointer(self, pointer: dict[str, Any]) -> None:
        self.put_file(self.pointer_path, json_bytes(pointer))

    def put_file(self, path: str, data: bytes) -> None:
        """``data`` at ``path`` whole or not at all: a synced rename locally, one PUT
        on S3 (atomic per object)."""
        if self.local:
            write_atomically(path, data)
        else:
            self.fs.pipe_file(path, data)

    # ---- versions
    def list_versions(self) -> list[str]:
        base = self._p("versions", self.use_case)
        if not self.fs.exists(base):
            return []
        out = []
        for path in self.fs.ls(base, detail=False):
            name = posixpath.basename(path.rstrip("/"))
            if name.startswith("v") and self.fs.exists(posixpath.join(path, MANIFEST)):
                out.append(name)
        return sorted(out)

    def next_version(self) -> str:
        """The next version name. A name is never given twice: the bundles present
        and every version the audit log names (a removed orphan's too) are taken,
        so a retried promotion does not reuse the name of the bundle its killed
        attempt wrote."""
        base = self._p("versions", self.use_case)
        names = {str(r.get("version") or "") for r in self.read_audit()}
        if self.fs.exists(base):
            names |= {
                posixpath.basename(p.rstrip("/"))
                for p in self.fs.ls(base, detail=False)
            }
        taken = [int(n[1:]) for n in names if n.startswith("v") and n[1:].isdigit()]
        return f"v{max(taken, default=0) + 1:04d}"

    def read_manifest(self, version: str) -> dict[str, Any]:
        path = posixpath.join(self.version_path(version), MANIFEST)
        if not self.fs.exists(path):
            raise ModelStoreError(
                f"model store {self.root}: {self.use_case} version {version} has no "
                f"{MANIFEST} (missing or incomplete bundle)"
            )
        with self.fs.open(path, "rb") as f:
            return json.loads(f.read())

    def load_bundle(self, version: str, verify: bool = True) -> Bundle:
        manifest = self.read_manifest(version)
        base = self.version_path(version)
        described = manifest.get("model", {})
        flavour = get_flavour(described.get("flavor", "sklearn"))
        model_file = described.get("file", MODEL_FILE)
        blobs: dict[str, bytes] = {}
        for name in [
            *BUNDLE_FILES,
            *sorted(set(manifest["files"]) - set(BUNDLE_FILES)),
        ]:
            with self.fs.open(posixpath.join(base, name), "rb") as f:
                blobs[name] = f.read()
            if verify:
                digest = hashlib.sha256(blobs[name]).hexdigest()
                expected = manifest["files"][name]["sha256"]
                if digest != expected:
                    raise ModelStoreError(
                        f"{self.use_case} {version}: {name} sha256 {digest[:12]} "
                        f"does not match the manifest ({expected[:12]})"
                    )
        return Bundle(
            use_case=self.use_case,
            version=version,
            manifest=manifest,
            model=flavour.loads(blobs[model_file], described),
            input_schema=json.loads(blobs[INPUT_SCHEMA]),
            metrics=json.loads(blobs[METRICS]),
            golden=json.loads(blobs[GOLDEN]),
            reference=pd.read_parquet(io.BytesIO(blobs[REFERENCE])),
            onnx=blobs.get(ONNX_FILE),
        )

    def load_champion(self) -> Bundle | None:
        version = self.current_version()
        return self.load_bundle(version) if version else None

    def write_bundle(self, request: PromotionRequest, run_info: dict[str, Any]) -> str:
        """Write an immutable bundle; return its version. Does not move the pointer."""
        version = self.next_version()
        flavour = get_flavour(request.flavour)
        ref = io.BytesIO()
        reference = (
            request.reference if request.reference is not None else pd.DataFrame()
        )
        reference.to_parquet(ref, index=False)
        blobs = {
            flavour.model_file: flavour.dumps(request.model),
            INPUT_SCHEMA: json_bytes(request.input_schema),
            METRICS: json_bytes(request.metrics),
            GOLDEN: json_bytes(request.golden),
            REFERENCE: ref.getvalue(),
        }
        if request.onnx is not None:
            blobs[ONNX_FILE] = request.onnx
        versions = flavour.versions()
        manifest = {
            "format_version": FORMAT_VERSION,
            "use_case": self.use_case,
            "version": version,
            "created_at": utc_now(),
            "model": {
                "file": flavour.model_file,
                "flavor": flavour.name,
                **flavour.describe(request.model),
                **versions,
                "python_version": platform.python_version(),
            },
            "runtimes": {
                flavour.name: {"file": flavour.model_file, **versions},
                "onnx": (
                    {**request.onnx_info, "file": ONNX_FILE, "available": True}
                    if request.onnx is not None
                    else {"available": False, **request.onnx_info}
                ),
            },
            "previous_champion": self.current_version(),
            **request.manifest_extra,
            **run_info,
            "files": {
                name: {"sha256": hashlib.sha256(b).hexdigest(), "bytes": len(b)}
                for name, b in blobs.items()
            },
        }
        blobs[MANIFEST] = json_bytes(manifest)
        final = self.version_path(version)
        if self.local:
            parent = posixpath.dirname(final)
            os.makedirs(parent, exist_ok=True)
            tmp = posixpath.join(parent, f".tmp-{version}-{uuid.uuid4().hex[:8]}")
            os.makedirs(tmp)
            try:
                for name, b in blobs.items():
                    with open(posixpath.join(tmp, name), "wb") as f:
                        f.write(b)
                        f.flush()
                        os.fsync(f.fileno())
                    point("bundle_file_written")
                os.rename(tmp, final)
            except BaseException:
                shutil.rmtree(tmp, ignore_errors=True)
                raise
        else:
            try:
                for name, b in blobs.items():  # manifest last: it marks completeness
                    if name != MANIFEST:
                        self.fs.pipe_file(posixpath.join(final, name), b)
                        point("bundle_file_written")
                self.fs.pipe_file(posixpath.join(final, MANIFEST), blobs[MANIFEST])
            except BaseException:
                self.fs.rm(final, recursive=True)
                raise
        logger.info("model store: wrote %s bundle %s", self.use_case, version)
        return version

    # ---- the promotion lease
    @contextlib.contextmanager
    def lease(self, timeout_s: float = 900.0) -> Iterator[None]:
        """Hold the use case's promotion lease: one promotion or rollback at a time.

        Locally an exclusive ``flock`` on ``leases/<use case>.lease``: the kernel
        releases it when the holder exits, however it exits (a killed run leaves no
        stale lease). On S3 a lease object created with ``If-None-Match: *`` (only
        one creator wins) holding its expiry; a holder that died is taken over once
        it expires (deleted with ``If-Match`` on the ETag seen, so two takers cannot
        both win), or at once by a retry of the same step (``MLOPS_LEASE_OWNER``).
        A second run waits for the lease (up to ``timeout_s``), then sees the
        champion the first one left. Re-entrant within one ModelStore.
        """
        if self._held:
            self._held += 1
            try:
                yield
            finally:
                self._held -= 1
            return
        holder = {"pid": os.getpid(), "host": platform.node(), "since": utc_now()}
        if owner := os.environ.get(LEASE_OWNER_ENV, "").strip():
            holder["owner"] = owner
        acquire = self._flock if self.local else self._s3_lease
        with acquire(holder, timeout_s):
            self._held = 1
            try:
                point("lease_acquired")
                yield
            finally:
                self._held = 0

    @contextlib.contextmanager
    def _flock(self, holder: dict[str, Any], timeout_s: float) -> Iterator[None]:
        path = self._p("leases", f"{self.use_case}.lease")
        os.makedirs(posixpath.dirname(path), exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            deadline = time.monotonic() + timeout_s
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() > deadline:
                        held_by = os.pread(fd, 4096, 0).decode(errors="replace")
                        raise ModelStoreError(
                            f"{self.use_case}: the promotion lease is held by "
                            f"{held_by or 'another process'} for over {timeout_s:.0f}s"
                        ) from None
                    time.sleep(0.1)
            os.ftruncate(fd, 0)
            os.pwrite(fd, json.dumps(holder).encode(), 0)
            yield
            os.ftruncate(fd, 0)  # no holder (a killed one leaves its name: harmless)
        finally:
            os.close(fd)  # releases the lock

    def _s3(self) -> Any:
        import boto3  # noqa: PLC0415

        opts = self._options
        kwargs = {
            k: v for k, v in (opts.get("client_kwargs") or {}).items() if v is not None
        }
        if opts.get("key"):
            kwargs["aws_access_key_id"] = opts["key"]
            kwargs["aws_secret_access_key"] = opts.get("secret")
        return boto3.client("s3", **kwargs)

    @contextlib.contextmanager
    def _s3_lease(self, holder: dict[str, Any], timeout_s: float) -> Iterator[None]:
        from botocore.exceptions import ClientError  # noqa: PLC0415

        client = self._s3()
        bucket, _, key = self._p("leases", f"{self.use_case}.lease").partition("/")
        deadline = time.monotonic() + timeout_s
        while True:
            body = json.dumps({**holder, "expires": time.time() + LEASE_TTL_S})
            try:
                etag = client.put_object(
                    Bucket=bucket, Key=key, Body=body.encode(), IfNoneMatch="*"
                )["ETag"]
                break
            except ClientError as exc:
                if exc.response["Error"]["Code"] not in (
                    "PreconditionFailed",
                    "ConditionalRequestConflict",
                ):
                    raise
            try:
                current = client.get_object(Bucket=bucket, Key=key)
                seen = json.loads(current["Body"].read())
                expired = float(seen.get("expires", 0)) < time.time()
                mine = "owner" in holder and seen.get("owner") == holder["owner"]
                if expired or mine:
                    client.delete_object(
                        Bucket=bucket, Key=key, IfMatch=current["ETag"]
                    )
                    logger.warning(
                        "%s: took over the promotion lease of %s (%s)",
                        self.use_case,
                        seen,
                        "expired" if expired else "an earlier attempt of this step",
                    )
                    continue
            except ClientError:
                continue  # released or taken over meanwhile: try again
            if time.monotonic() > deadline:
                raise ModelStoreError(
                    f"{self.use_case}: the promotion lease is held by {seen} for "
                    f"over {timeout_s:.0f}s"
                )
            time.sleep(0.2)
        try:
            yield
        finally:
            try:
                client.delete_object(Bucket=bucket, Key=key, IfMatch=etag)
            except ClientError as exc:  # expired and taken over: say so
                logger.warning("%s: lease release refused: %s", self.use_case, exc)

    def commit_promotion(
        self, request: PromotionRequest, run_info: dict[str, Any]
    ) -> str:
        """Write the bundle and switch the pointer under the lease; with
        ``request.recheck``, only if the champion is still the one the gates judged
        against (else :class:`ChampionChanged`, and nothing is written)."""
        with self.lease():
            self._reconcile()
            if request.recheck:
                current = self.current_version()
                if current != request.judged_against:
                    raise ChampionChanged(
                        f"{self.use_case}: the gates judged the challenger against "
                        f"{request.judged_against or 'no champion'}, and the champion "
                        f"is now {current or 'none'} (another run promoted or rolled "
                        "back meanwhile): not promoted; the next run judges it again"
                    )
            version = self.write_bundle(request, run_info)
            point("bundle_written")
            self._promote(version, request.reason, run_info)
        return version

    # ---- decisions
    def promote(self, version: str, reason: str, run_info: dict[str, Any]) -> dict:
        with self.lease():
            self._reconcile(keep={version})
            return self._promote(version, reason, run_info)

    def _promote(self, version: str, reason: str, run_info: dict[str, Any]) -> dict:
        self.read_manifest(version)  # refuses an incomplete bundle
        current = self.read_pointer()
        history = list(current.get("history", [])) if current else []
        if current:
            history.append(current["version"])
        previous = current["version"] if current else None
        return self._commit(
            "promote",
            version,
            previous,
            history,
            reason,
            {"action": "promote", "version": version, "previous": previous,
             "reason": reason, **run_info},
        )  # fmt: skip

    def rollback(self, reason: str = "manual rollback") -> dict:
        with self.lease():
            self._reconcile()
            return self._rollback(reason)

    def _rollback(self, reason: str) -> dict:
        current = self.read_pointer()
        if not current:
            raise ModelStoreError(f"{self.use_case}: no production model to roll back")
        history = list(current.get("history", []))
        if not history:
            raise ModelStoreError(
                f"{self.use_case}: {current['version']} is the first champion; "
                "there is "
                "no previous champion to roll back to"
            )
        target = history.pop()
        self.read_manifest(target)
        return self._commit(
            "rollback",
            target,
            current["version"],
            history,
            reason,
            {"action": "rollback", "version": target,
             "previous": current["version"], "reason": reason},
        )  # fmt: skip

    # ---- the transaction: intent first, then idempotent steps
    @property
    def intent_path(self) -> str:
        return self._p("intents", f"{self.use_case}.json")

    def _commit(
        self,
        action: str,
        version: str,
        previous: str | None,
        history: list[str],
        reason: str,
        audit: dict[str, Any],
    ) -> dict:
        """Switch the pointer and log it as one transaction.

        The intent (the new pointer and the audit record, with a transaction id) is
        written first; then the steps, each idempotent: the pointer (skipped when it
        already carries this transaction), the audit line (skipped when the log has
        this transaction); then the intent is removed. A crash anywhere leaves either
        no intent (nothing switched) or an intent that :meth:`reconcile` finishes."""
        txn = uuid.uuid4().hex
        pointer = {
            "use_case": self.use_case,
            "version": version,
            "path": f"versions/{self.use_case}/{version}",
            "promoted_at": utc_now(),
            "previous": previous,
            "history": history,
            "reason": reason,
            "txn": txn,
        }
        intent = {"txn": txn, "action": action, "pointer": pointer,
                  "audit": {**audit, "txn": txn}, "started_at": utc_now()}  # fmt: skip
        self._put_json(self.intent_path, intent)
        point(f"{action}_intent_written")
        self._apply(intent)
        return pointer

    def _apply(self, intent: dict[str, Any]) -> None:
        txn, action = intent["txn"], intent["action"]
        current = self.read_pointer()
        if not current or current.get("txn") != txn:
            self._write_pointer(intent["pointer"])
        point(f"{action}_pointer_written")
        if not any(r.get("txn") == txn for r in self.read_audit()):
            self.append_audit(intent["audit"])
        point(f"{action}_audit_appended")
        self.fs.rm(self.intent_path)

    def reconcile(self) -> list[str]:
        """Finish an interrupted promotion or rollback and remove what a crash left
        (under the lease); returns what was done, for the run's log."""
        with self.lease():
            return self._reconcile()

    def _reconcile(self, keep: set[str] | frozenset[str] = frozenset()) -> list[str]:
        done: list[str] = []
        if self.fs.exists(self.intent_path):
            with self.fs.open(self.intent_path, "rb") as f:
                raw = f.read()
            try:
                intent = json.loads(raw)
                intent["pointer"]["version"]
            except (ValueError, KeyError, TypeError):
                # torn while being written: nothing was switched yet
                self.fs.rm(self.intent_path)
                done.append("removed an incomplete intent (nothing had been switched)")
            else:
                self._apply(intent)
                done.append(
                    f"finished an interrupted {intent['action']} of "
                    f"{intent['pointer']['version']} (transaction {intent['txn']})"
                )
        done += self._remove_leftovers(keep)
        for line in done:
            logger.warning("model store %s: %s", self.use_case, line)
        return done

    def _remove_leftovers(self, keep: set[str] | frozenset[str]) -> list[str]:
        """Temporary files of interrupted writes, and bundles that an interrupted
        promotion wrote but never pointed to (under the lease no promotion is in
        flight, so an unreferenced bundle is an orphan)."""
        done = []
        if self.local:
            base = self._p("versions", self.use_case)
            for name in sorted(os.listdir(base)) if os.path.isdir(base) else []:
                if name.startswith(".tmp-"):
                    shutil.rmtree(posixpath.join(base, name), ignore_errors=True)
                    done.append(f"removed the partial bundle {name}")
            for folder in (self._p("production"), self._p("intents")):
                names = sorted(os.listdir(folder)) if os.path.isdir(folder) else []
                for name in names:
                    if name.startswith(f"{self.use_case}.json.") and name.endswith(
                        ".tmp"
                    ):
                        os.remove(posixpath.join(folder, name))
                        done.append(f"removed the temp file {name}")
        else:
            # S3 writes a bundle's files straight into its prefix, manifest last: a
            # prefix without a manifest is a bundle whose write was interrupted
            base = self._p("versions", self.use_case)
            self.fs.invalidate_cache(base)
            for path in self.fs.ls(base, detail=False) if self.fs.exists(base) else []:
                name = posixpath.basename(path.rstrip("/"))
                if (
                    name.startswith("v")
                    and name[1:].isdigit()
                    and name not in keep
                    and not self.fs.exists(posixpath.join(path, MANIFEST))
                ):
                    self.fs.rm(path, recursive=True)
                    self.append_audit(  # its name is taken (next_version)
                        {
                            "action": "cleanup",
                            "version": name,
                            "reason": "a bundle whose write was interrupted",
                        }
                    )
                    done.append(f"removed the partial bundle {name}")
        pointer = self.read_pointer()
        referenced = set(pointer.get("history", [])) if pointer else set()
        if pointer:
            referenced.add(pointer["version"])
        referenced |= {r.get("version") for r in self.read_audit()} | set(keep)
        for version in self.list_versions():
            if version not in referenced:
                self.fs.rm(self.version_path(version), recursive=True)
                self.append_audit(
                    {
                        "action": "cleanup",
                        "version": version,
                        "reason": "a bundle an interrupted promotion wrote and never "
                        "promoted",
                    }
                )
                done.append(f"removed the orphan bundle {version}")
        return done

    def _put_json(self, path: str, obj: dict[str, Any]) -> None:
        self.put_file(path, json_bytes(obj))

    def append_audit(self, record: dict[str, Any]) -> None:
        entry = {"at": utc_now(), "use_case": self.use_case, "user": _user(), **record}
        line = json.dumps(entry, default=str) + "\n"
        if self.local:
            os.makedirs(posixpath.dirname(self.audit_path), exist_ok=True)
            with open(self.audit_path, "a", encoding="utf-8") as f:
                f.write(line)
        else:  # read and rewrite: only under the lease, or lines get lost
            with self.lease():
                old = (
                    self.fs.cat_file(self.audit_path)
                    if self.fs.exists(self.audit_path)
                    else b""
                )
                self.fs.pipe_file(self.audit_path, old + line.encode())

    def read_audit(self) -> list[dict[str, Any]]:
        if not self.fs.exists(self.audit_path):
            return []
        with self.fs.open(self.audit_path, "rb") as f:
            return [json.loads(x) for x in f.read().decode().splitlines() if x.strip()]


def _user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no user name in some containers
        return "unknown"
