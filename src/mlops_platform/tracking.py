"""MLflow helpers used by hooks, datasets and the model CLI (never by nodes)."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from typing import Any

logger = logging.getLogger(__name__)

CHAMPION_ALIAS = "champion"


def registered_model_name(use_case: str) -> str:
    return f"mlops_platform.{use_case}"


_PICKLE_ADVICE = "Saving scikit-learn models in the pickle or cloudpickle format"


class _DropPickleAdvice(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith(_PICKLE_ADVICE)


@contextlib.contextmanager
def without_pickle_advice() -> Iterator[None]:
    """mlflow.sklearn warns on every logged model that pickle can run code and
    advises skops, which refuses tree models (STACK-FACTS.md). The MLflow copy is for
    review; what is served is the bundle's ONNX graph, checked by sha256. That one
    warning is dropped while the model is logged; any other still shows."""
    target = logging.getLogger("mlflow.sklearn")
    drop = _DropPickleAdvice()
    target.addFilter(drop)
    try:
        yield
    finally:
        target.removeFilter(drop)


def register_model(model_uri: str, name: str) -> str:
    """Register a logged model as a new version of ``name``; returns the version.

    MLflow prints "Successfully registered model" and "Created version" on stderr
    for every registration, outside logging; they are replaced by one log line of
    ours. Errors still raise."""
    import mlflow  # noqa: PLC0415
    from mlflow.utils.logging_utils import MLFLOW_LOGGING_STREAM  # noqa: PLC0415

    was = MLFLOW_LOGGING_STREAM.enabled
    MLFLOW_LOGGING_STREAM.enabled = False
    try:
        version = mlflow.register_model(model_uri, name)
    finally:
        MLFLOW_LOGGING_STREAM.enabled = was
    logger.info("MLflow: %s version %s registered", name, version.version)
    return str(version.version)


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
    describe_model_version(use_case, expected, store, version, manifest)
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


def describe_model_version(
    use_case: str,
    registered: str,
    store: Any,
    version: str,
    manifest: dict[str, Any],
) -> None:
    """Tag a registered model version with the bundle it became (version, data hash,
    model, periods) and describe it in words, once: the registry then links to the
    model store, which MLflow alone cannot tell."""
    from mlflow import MlflowClient  # noqa: PLC0415

    client = MlflowClient()
    name = registered_model_name(use_case)
    if client.get_model_version(name, registered).tags.get("bundle_version") == version:
        return
    periods = manifest.get("training_periods") or []
    span = f"{periods[0]} to {periods[-1]}" if periods else "unknown periods"
    model = manifest.get("model") or {}
    tags = {
        "use_case": use_case,
        "bundle_version": version,
        "bundle": f"{store.root}/versions/{use_case}/{version}",
        "data_hash": str(manifest.get("data_hash", "")),
        "model_name": str(manifest.get("model_name", "")),
        "flavour": str(model.get("flavor", "")),
        "training_periods": span,
        "test_periods": ", ".join(map(str, manifest.get("test_periods") or [])),
    }
    for key, value in tags.items():
        client.set_model_version_tag(name, registered, key, value)
    client.update_model_version(
        name,
        registered,
        description=(
            f"{use_case} champion bundle {version} ({tags['bundle']}): "
            f"{tags['model_name']} ({tags['flavour']}), trained on periods {span}, "
            f"data hash {tags['data_hash'][:12]}; promoted "
            f"{manifest.get('created_at', '')}, previous champion "
            f"{manifest.get('previous_champion') or 'none'}."
        ),
    )


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


# ---- readability (issue 17): parameters, the experiment, the UI's address

# The tag MLflow 3's UI writes when a user picks the experiment's type; this build of
# the UI decides its view from ``workflowType`` in the address instead (see
# :func:`ui_url`), so both are set.
EXPERIMENT_KIND = ("mlflow.experimentKind", "custom_model_development")


def _plain(value: Any) -> Any:
    """Pydantic models (Kedro validates parameters into them) and mappings as plain
    dicts, recursively."""
    from pydantic import BaseModel  # noqa: PLC0415

    if isinstance(value, BaseModel):
        return _plain(value.model_dump(mode="json"))
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    return value


def flatten_params(params: dict[str, Any], sep: str = ".") -> dict[str, str]:
    """One MLflow parameter per leaf: ``{"retail.drift": DriftParams(p_value=0.01)}``
    gives ``{"retail.drift.p_value": "0.01"}``. Lists and empty mappings are written
    as JSON, other leaves with ``str``."""
    import json  # noqa: PLC0415

    out: dict[str, str] = {}

    def walk(key: str, value: Any) -> None:
        if isinstance(value, dict) and value:
            for k, v in value.items():
                walk(f"{key}{sep}{k}", v)
        elif isinstance(value, (dict, list, tuple)):
            out[key] = json.dumps(value, default=str)
        else:
            out[key] = str(value)

    for key, value in params.items():
        walk(key, _plain(value))
    return out


def anchored_tracking_uri(uri: Any, project_path: Any) -> Any:
    """``sqlite:///<relative path>`` made absolute under ``project_path``; any other
    URI (absolute SQLite, a server, an ARN, None) unchanged."""
    from pathlib import Path  # noqa: PLC0415

    prefix = "sqlite:///"
    if not isinstance(uri, str) or not uri.startswith(prefix):
        return uri
    path = uri[len(prefix) :]
    if not path or Path(path).is_absolute() or path.startswith(":memory:"):
        return uri
    return prefix + str((Path(project_path) / path).resolve())


def tidy_experiment(client: Any, experiment_id: str, tracking_uri: str) -> None:
    """Tag the experiment as classic model development and, in a local SQLite store
    (this project's own), delete the empty ``Default`` experiment MLflow creates
    with the store. A ``Default`` that holds runs, or one on a shared server, stays."""
    from mlflow.entities import ViewType  # noqa: PLC0415

    key, value = EXPERIMENT_KIND
    experiment = client.get_experiment(experiment_id)
    if experiment.tags.get(key) != value:
        client.set_experiment_tag(experiment_id, key, value)
    if not str(tracking_uri).startswith("sqlite:") or experiment_id == "0":
        return
    default = client.get_experiment("0")
    if (
        default is None
        or default.name != "Default"
        or default.lifecycle_stage != "active"
    ):
        return
    if client.search_runs(["0"], max_results=1, run_view_type=ViewType.ALL):
        return
    client.delete_experiment("0")
    logger.debug("MLflow: the empty Default experiment deleted")


def ui_url(tracking_uri: str, experiment: str, base: str) -> str:
    """Where the MLflow UI shows this project's runs: the experiment's runs table in
    the classic (machine learning) view. MLflow 3.17's UI opens an experiment on the
    GenAI overview unless the address says ``workflowType=machine_learning``."""
    from pathlib import Path  # noqa: PLC0415

    from mlflow import MlflowClient  # noqa: PLC0415

    view = "workflowType=machine_learning"
    local = tracking_uri.removeprefix("sqlite:///")
    if local != tracking_uri and not Path(local).exists():
        return f"{base}/#/?{view}"  # no store yet (and this must not create one)
    found = MlflowClient(tracking_uri).get_experiment_by_name(experiment)
    if found is None:
        return f"{base}/#/?{view}"
    return f"{base}/#/experiments/{found.experiment_id}/runs?{view}"


def _main(argv: list[str] | None = None) -> int:
    import argparse  # noqa: PLC0415
    import sys  # noqa: PLC0415

    parser = argparse.ArgumentParser(
        prog="python -m mlops_platform.tracking",
        description="Print the MLflow UI's address of the project's runs.",
    )
    parser.add_argument("command", choices=["ui-url"])
    parser.add_argument("--tracking-uri", default="sqlite:///data/mlflow/mlflow.db")
    parser.add_argument("--experiment", default="mlops_platform")
    parser.add_argument("--base", default="http://127.0.0.1:5000")
    args = parser.parse_args(argv)
    sys.stdout.write(ui_url(args.tracking_uri, args.experiment, args.base) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(_main())
