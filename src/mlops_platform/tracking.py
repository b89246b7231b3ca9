"""MLflow helpers used by hooks, datasets and the model CLI (never by nodes)."""

from __future__ import annotations

import logging
from typing import Any

logger = logging.getLogger(__name__)

CHAMPION_ALIAS = "champion"


def registered_model_name(use_case: str) -> str:
    return f"mlops_platform.{use_case}"


def active_run_info() -> dict[str, Any]:
    """The MLflow run this Kedro run logs to, if any (for manifests and audit)."""
    try:
        import mlflow  # noqa: PLC0415
    except ImportError:  # pragma: no cover - mlflow is a core dependency
        return {}
    run = mlflow.active_run()
    if run is None:
        return {}
    return {
        "mlflow": {
            "run_id": run.info.run_id,
            "experiment_id": run.info.experiment_id,
            "tracking_uri": mlflow.get_tracking_uri(),
        }
    }


def model_version_for_run(use_case: str, run_id: str) -> str | None:
    from mlflow import MlflowClient  # noqa: PLC0415

    client = MlflowClient()
    name = registered_model_name(use_case)
    versions = client.search_model_versions(f"name='{name}' and run_id='{run_id}'")
    if not versions:
        return None
    return str(max(int(v.version) for v in versions))


def set_champion_alias(use_case: str, run_id: str) -> str | None:
    """Point the ``champion`` alias at the registered version logged by ``run_id``."""
    from mlflow import MlflowClient  # noqa: PLC0415

    version = model_version_for_run(use_case, run_id)
    if version is None:
        logger.warning(
            "%s: no registered model version for MLflow run %s; alias not set",
            use_case,
            run_id,
        )
        return None
    MlflowClient().set_registered_model_alias(
        registered_model_name(use_case), CHAMPION_ALIAS, version
    )
    logger.info(
        "MLflow: %s@%s -> version %s",
        registered_model_name(use_case),
        CHAMPION_ALIAS,
        version,
    )
    return version


def ensure_champion_alias(use_case: str, store: Any) -> str | None:
    """Point the ``champion`` alias at the model the production pointer names (the
    pointer is the source of truth): after a promotion, and on every later run, so an
    alias a crash left behind is repaired. Returns the registered version it names."""
    from mlflow import MlflowClient  # noqa: PLC0415
    from mlflow.exceptions import MlflowException  # noqa: PLC0415

    if store is None:
        return None
    version = store.current_version()
    if version is None:
        return None
    run_id = (store.read_manifest(version).get("mlflow") or {}).get("run_id")
    if not run_id:
        return None
    expected = model_version_for_run(use_case, run_id)
    if expected is None:
        return None
    name = registered_model_name(use_case)
    try:
        current = (
            MlflowClient().get_model_version_by_alias(name, CHAMPION_ALIAS).version
        )
    except MlflowException:
        current = None
    if str(current) != expected:
        MlflowClient().set_registered_model_alias(name, CHAMPION_ALIAS, expected)
        logger.info(
            "MLflow: %s@%s -> version %s (production %s; was %s)",
            name,
            CHAMPION_ALIAS,
            expected,
            version,
            current,
        )
    return expected
