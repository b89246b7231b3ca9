"""Custom Kedro datasets over the model store: the production bundle, promotions, the
online store (raw files and the lake tables are :mod:`mlops_platform.lake`)."""

from __future__ import annotations

import logging
from typing import Any

from kedro.io import AbstractDataset, DatasetError

from mlops_platform.lake import storage_options
from mlops_platform.model_store import (
    Bundle,
    ChampionChanged,
    ModelStore,
    PromotionRequest,
)
from mlops_platform.online_store import OnlineStoreWriter, build_sqlite

logger = logging.getLogger(__name__)


class _StoreDataset:
    """Shared by the datasets over the model store (bundles, online features);
    ``path`` is the store root (Kedro makes a relative ``path`` absolute against the
    project, wherever it runs from)."""

    def __init__(
        self,
        path: str,
        use_case: str,
        credentials: dict[str, Any] | None = None,
        fs_args: dict[str, Any] | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        self._root = path
        self._use_case = use_case
        self._options = storage_options(credentials, fs_args)
        self.metadata = metadata

    @property
    def store(self) -> ModelStore:
        return ModelStore(self._root, self._use_case, storage_options=self._options)

    def _describe(self) -> dict[str, Any]:
        return {"root": self._root, "use_case": self._use_case}


class ChampionDataset(_StoreDataset, AbstractDataset[None, Bundle | None]):
    """Loads a use case's current production bundle, or ``None`` if there is none."""

    def load(self) -> Bundle | None:
        return self.store.load_champion()

    def save(self, data: None) -> None:
        raise DatasetError("the champion is read-only: promotions go to model_store")


class ModelStoreDataset(_StoreDataset, AbstractDataset[PromotionRequest, dict]):
    """Saves a :class:`PromotionRequest`: a bundle and pointer, or an audit record."""

    def load(self) -> dict:
        return self.store.read_pointer() or {}

    def save(self, data: PromotionRequest) -> None:
        from mlops_platform.tracking import active_run_info  # noqa: PLC0415

        store = self.store
        run_info = active_run_info()
        if data.promote:
            try:
                version = store.commit_promotion(data, run_info)
            except ChampionChanged as exc:
                data.outcome = {"refused": str(exc), "store": store}
                store.append_audit(
                    {
                        "action": "keep",
                        "version": store.current_version(),
                        "reason": str(exc),
                        **run_info,
                    }
                )
                logger.warning("%s", exc)
                return
            data.outcome = {
                "version": version,
                "store_root": self._root,
                "store": store,
            }
            logger.info("%s: promoted %s (%s)", data.use_case, version, data.reason)
        else:
            data.outcome = {"store": store}
            store.append_audit(
                {
                    "action": "keep",
                    "version": store.current_version(),
                    "reason": data.reason,
                    **run_info,
                }
            )
            logger.info("%s: champion kept (%s)", data.use_case, data.reason)


class OnlineFeaturesDataset(_StoreDataset, AbstractDataset[dict[str, Any], dict]):
    """Publishes a use case's online entity tables (``{"tables": {name: frame},
    "meta": {...}}``) as one SQLite file beside the model store's bundles, with an
    atomic pointer (:mod:`mlops_platform.online_store`). Loads the pointer."""

    @property
    def writer(self) -> OnlineStoreWriter:
        return OnlineStoreWriter(self._root, self._use_case, self._options)

    def load(self) -> dict[str, Any]:
        pointer = self.writer.read_pointer()
        if pointer is None:
            raise DatasetError(
                f"{self._root}: no online store for {self._use_case} published yet"
            )
        return pointer

    def save(self, data: dict[str, Any]) -> None:
        meta = {"use_case": self._use_case, **data["meta"]}
        self.writer.publish(build_sqlite(data["tables"], meta), meta)
