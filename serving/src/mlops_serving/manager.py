"""Which model serves each use case, and the watcher that swaps in new ones.

Every ``poll_interval_s`` the manager compares each production pointer's fingerprint
(mtime/size/inode locally, ETag on S3) with the last one seen. When the pointer names
another version (a promotion or a rollback), the bundle is loaded and proved in a
worker thread (:func:`~mlops_serving.bundle.load_model`) while the current model keeps
serving; then one reference assignment swaps it in. Requests read the reference once,
so every request is answered entirely by one model. A refused bundle leaves the old
model serving; it is logged, counted and shown by ``/v1/models``, and not retried until
the pointer changes again. So is a pointer that is not a pointer (``[]``, ``null``,
fields missing): ``last_error`` says why, and nothing else happens until it changes.
A store that cannot be read (a network error, a missing object) is not a refusal: the
load is retried on later polls with a backoff (1, 2, 4 ... 60 s), so a fresh replica
becomes ready as soon as the store answers.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from dataclasses import dataclass, field
from typing import Any

from mlops_serving.bundle import BundleRefused, LoadedModel, load_model, utc_now
from mlops_serving.observability import Metrics
from mlops_serving.online import (
    OnlineStore,
    OnlineStoreRefused,
    read_online_pointer,
)
from mlops_serving.online import (
    pointer_path as online_pointer_path,
)
from mlops_serving.runtime import RuntimeLoadError
from mlops_serving.settings import Settings
from mlops_serving.store import (
    ModelStoreReader,
    PointerInvalid,
    StoreError,
    read_pointer,
)
from mlops_serving.usecases.base import UseCase

logger = logging.getLogger("mlops_serving.manager")


@dataclass
class Slot:
    use_case: UseCase
    current: LoadedModel | None = None
    fingerprint: str | None = None
    last_check_at: str | None = None
    last_error: dict[str, Any] | None = None
    refused: list[dict[str, Any]] = field(default_factory=list)
    loads: int = 0
    # transient store errors while loading: retry no earlier than retry_at
    failures: int = 0
    retry_at: float = 0.0
    # the use case's online feature store (use cases with online entities)
    online: OnlineStore | None = None
    online_fingerprint: str | None = None
    online_error: dict[str, Any] | None = None
    online_check: str | None = None  # the last check's outcome

    def status(self) -> dict[str, Any]:
        return {
            "use_case": self.use_case.name,
            "status": "serving" if self.current else "not_loaded",
            **(self.current.describe() if self.current else {"version": None}),
            "last_check_at": self.last_check_at,
            "successful_loads": self.loads,
            "refused_count": len(self.refused),
            "last_refused": self.refused[-1] if self.refused else None,
            "last_error": self.last_error,
            **(
                {
                    "online_store": {
                        **(
                            self.online.describe() if self.online else {"version": None}
                        ),
                        "last_check": self.online_check,
                        "last_error": self.online_error,
                    }
                }
                if self.use_case.online_entities
                else {}
            ),
        }


class ModelManager:
    def __init__(
        self,
        settings: Settings,
        store: ModelStoreReader,
        use_cases: list[UseCase],
        metrics: Metrics,
    ) -> None:
        self.settings = settings
        self.store = store
        self.metrics = metrics
        self.slots = {uc.name: Slot(uc) for uc in use_cases}
        self._lock = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None

    @property
    def ready(self) -> bool:
        return all(slot.current is not None for slot in self.slots.values())

    async def start(self) -> None:
        await self.check_all()
        self._task = asyncio.create_task(self._watch(), name="model-watcher")

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass

    async def _watch(self) -> None:
        while True:
            await asyncio.sleep(self.settings.poll_interval_s)
            try:
                await self.check_all()
            except Exception:  # the watcher must never die
                logger.exception("model watcher: unexpected error")

    async def check_all(self, force: bool = False) -> dict[str, Any]:
        async with self._lock:
            results = {}
            for slot in self.slots.values():
                results[slot.use_case.name] = await self._check(slot, force)
                if slot.use_case.online_entities:
                    slot.online_check = await self._check_online(slot)
            return results

    async def _check_online(self, slot: Slot) -> str:
        """Follow ``online/<use case>.json`` as :meth:`_check` follows the model's
        pointer: load a changed store beside the serving one, then swap."""
        uc = slot.use_case
        where = f"{self.store.uri}/{online_pointer_path(uc.name)}"
        try:
            fingerprint = await asyncio.to_thread(
                self.store.fingerprint, online_pointer_path(uc.name)
            )
            if fingerprint is None:
                slot.online_error = {"at": utc_now(), "error": "nothing published yet"}
                return "no_pointer"
            if fingerprint == slot.online_fingerprint:
                return "unchanged"
            raw = await asyncio.to_thread(self.store.read, online_pointer_path(uc.name))
            pointer = read_online_pointer(raw, where)
            if slot.online and slot.online.version == pointer["version"]:
                slot.online_fingerprint = fingerprint
                return "unchanged"
            data = await asyncio.to_thread(self.store.read, pointer["path"])
            if hashlib.sha256(data).hexdigest() != pointer["sha256"]:
                raise OnlineStoreRefused(
                    f"{self.store.uri}/{pointer['path']}: content does not match the "
                    "pointer's sha256"
                )
            store = await asyncio.to_thread(
                OnlineStore.from_bytes,
                data,
                use_case=uc.name,
                version=pointer["version"],
                entities=uc.online_entities,
                definitions=uc.online_definitions,
                loaded_at=utc_now(),
            )
        except StoreError as exc:  # retried at the next poll
            slot.online_error = {"at": utc_now(), "error": str(exc)}
            logger.warning("%s: online store not readable: %s", uc.name, exc)
            return "error"
        except OnlineStoreRefused as exc:  # again only when the pointer changes
            slot.online_fingerprint = fingerprint
            slot.online_error = {"at": utc_now(), "error": str(exc)}
            self.metrics.reloads.labels(f"{uc.name}.online_store", "refused").inc()
            logger.error(
                "%s: refused online store, still serving %s: %s",
                uc.name,
                slot.online.version if slot.online else "nothing",
                exc,
            )
            return "refused"
        previous, slot.online = slot.online, store  # the swap
        slot.online_fingerprint, slot.online_error = fingerprint, None
        self.metrics.reloads.labels(f"{uc.name}.online_store", "loaded").inc()
        logger.info(
            "%s: online store %s (%s) in place of %s",
            uc.name,
            store.version,
            store.meta.get("rows"),
            previous.version if previous else "nothing",
        )
        return "loaded"

    async def _check(self, slot: Slot, force: bool) -> str:
        name = slot.use_case.name
        slot.last_check_at = utc_now()
        try:
            fingerprint = await asyncio.to_thread(self.store.pointer_fingerprint, name)
        except StoreError as exc:
            slot.last_error = {"at": utc_now(), "error": str(exc)}
            logger.warning("%s: cannot check the pointer: %s", name, exc)
            return "error"
        if fingerprint is None:
            slot.last_error = {"at": utc_now(), "error": "no production pointer yet"}
            return "no_pointer"
        if fingerprint == slot.fingerprint and not force:
            return "unchanged"
        if time.monotonic() < slot.retry_at and not force:
            return "backoff"
        try:
            pointer = await asyncio.to_thread(read_pointer, self.store, name)
        except PointerInvalid as exc:
            slot.fingerprint = fingerprint  # looked at; again only when it changes
            slot.last_error = {"at": utc_now(), "error": str(exc)}
            logger.error(
                "%s: invalid production pointer, still serving %s: %s",
                name,
                slot.current.version if slot.current else "nothing",
                exc,
            )
            return "invalid_pointer"
        except StoreError as exc:
            return self._transient(slot, exc)
        slot.last_error = None
        if slot.current and slot.current.version == pointer["version"]:
            slot.fingerprint = fingerprint
            return "unchanged"
        outcome = await self._load(slot, pointer)
        if outcome != "error":
            slot.fingerprint = fingerprint
        return outcome

    def _transient(self, slot: Slot, exc: Exception) -> str:
        slot.failures += 1
        delay = min(60.0, 2.0 ** (slot.failures - 1))
        slot.retry_at = time.monotonic() + delay
        slot.last_error = {
            "at": utc_now(),
            "error": str(exc),
            "retry_in_s": delay,
            "attempts": slot.failures,
        }
        logger.warning(
            "%s: model store not readable (attempt %d), retrying in %.0fs: %s",
            slot.use_case.name,
            slot.failures,
            delay,
            exc,
        )
        return "error"

    async def _load(self, slot: Slot, pointer: dict[str, Any]) -> str:
        name, version = slot.use_case.name, pointer["version"]
        started = time.perf_counter()
        try:
            model = await asyncio.to_thread(
                load_model,
                self.store,
                slot.use_case,
                pointer,
                self.settings.runtime,
                self.settings.max_batch_size,
            )
        except StoreError as exc:  # cannot read it (now): not a verdict on the bundle
            return self._transient(slot, exc)
        except (
            BundleRefused,
            RuntimeLoadError,
            KeyError,
            ValueError,
        ) as exc:
            reason = str(exc) if not isinstance(exc, KeyError) else f"missing {exc}"
            slot.refused.append({"version": version, "at": utc_now(), "reason": reason})
            del slot.refused[:-20]
            self.metrics.reloads.labels(name, "refused").inc()
            logger.error(
                "%s: refused bundle %s, still serving %s: %s",
                name,
                version,
                slot.current.version if slot.current else "nothing",
                reason,
                extra={"fields": {"use_case": name, "version": version}},
            )
            slot.failures, slot.retry_at = 0, 0.0
            return "refused"
        slot.failures, slot.retry_at = 0, 0.0
        previous = slot.current
        slot.current = model  # the swap: one reference assignment
        slot.loads += 1
        if previous:
            self.metrics.model_info.remove(
                name, previous.version, previous.runtime.name
            )
        self.metrics.model_info.labels(name, version, model.runtime.name).set(1)
        self.metrics.reloads.labels(name, "loaded").inc()
        self.metrics.load_seconds.labels(name).set(model.load_seconds)
        logger.info(
            "%s: serving %s (%s runtime, was %s; loaded, golden rows matched and "
            "warmed up in %.2fs)",
            name,
            version,
            model.runtime.name,
            previous.version if previous else "nothing",
            time.perf_counter() - started,
            extra={"fields": {"use_case": name, "version": version}},
        )
        return "loaded"

    def status(self) -> dict[str, Any]:
        return {
            "ready": self.ready,
            "poll_interval_s": self.settings.poll_interval_s,
            "model_store": self.store.uri,
            "models": [slot.status() for slot in self.slots.values()],
        }
