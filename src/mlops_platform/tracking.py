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
    manifest = store.read_manifest(version)
    # the run that registered the model (training), else the run that promoted it
    run_id = manifest.get("registered_by_run") or (manifest.get("mlflow") or {}).get(
        "run_id"
    )
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


# Tags a run carries so a later run can tell whether its process is gone.
OWNER_PID = "mlops.pid"
OWNER_HOST = "mlops.host"
# A RUNNING run whose owner cannot be checked (another host: a SageMaker step, CI) is
# closed only when it is older than this; no lifecycle run takes a day.
STALE_AFTER_S = 24 * 3600


def mark_run_owner(run_id: str) -> None:
    """Tag the active run with this process (see :func:`close_orphan_runs`)."""
    import os  # noqa: PLC0415
    import platform  # noqa: PLC0415

    from mlflow import MlflowClient  # noqa: PLC0415

    client = MlflowClient()
    client.set_tag(run_id, OWNER_PID, str(os.getpid()))
    client.set_tag(run_id, OWNER_HOST, platform.node())


def _process_gone(pid: int) -> bool:
    import os  # noqa: PLC0415

    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # alive, someone else's
        return False
    return False


def close_orphan_runs(experiment_id: str, active_run_id: str) -> list[str]:
    """Mark FAILED the runs a killed ``kedro run`` left RUNNING in this experiment.

    A run is an orphan when its owner was on this host and that process is gone, or,
    for a run whose owner cannot be checked here, when it started more than a day
    ago. Nested runs (candidates) of an orphan are closed with it. Each closed run
    gets a ``mlops.closed_by`` tag saying why. Returns the closed run ids.
    """
    import platform  # noqa: PLC0415
    import time  # noqa: PLC0415

    from mlflow import MlflowClient  # noqa: PLC0415

    client = MlflowClient()
    running = client.search_runs(
        [experiment_id], filter_string="attributes.status = 'RUNNING'", max_results=500
    )
    host = platform.node()
    now_ms = time.time() * 1000
    closed: list[str] = []
    orphans: dict[str, str] = {}
    for run in running:
        if run.info.run_id == active_run_id:
            continue
        tags = run.data.tags
        pid = tags.get(OWNER_PID, "")
        if tags.get(OWNER_HOST) == host and pid.isdigit():
            if _process_gone(int(pid)):
                orphans[run.info.run_id] = f"its process {pid} on {host} is gone"
        elif now_ms - run.info.start_time > STALE_AFTER_S * 1000:
            orphans[run.info.run_id] = "RUNNING for over a day"
    for run in running:  # nested runs follow their parent
        parent = run.data.tags.get("mlflow.parentRunId")
        if parent in orphans and run.info.run_id not in orphans:
            orphans[run.info.run_id] = f"its parent run {parent} was closed"
    for run_id, why in orphans.items():
        client.set_tag(run_id, "mlops.closed_by", f"a later run: {why}")
        client.set_terminated(run_id, status="FAILED")
        closed.append(run_id)
        logger.warning("MLflow: run %s left RUNNING closed as FAILED (%s)", run_id, why)
    return closed
