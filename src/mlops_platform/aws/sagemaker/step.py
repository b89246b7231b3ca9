"""The container entrypoint of every compiled step: one Kedro pipeline, one process.

    python -m mlops_platform.aws.sagemaker.step --env aws --pipeline retail.drift \\
        [--start-mlflow-run FILE] [--export DATASET=FILE ...]

* Kedro parameters: the image's own ``conf/`` holds them all (the same commit compiled
  the definition). ``MLOPS_PARAM_OVERRIDES`` (the ``ParamOverrides`` pipeline
  parameter, one JSON document of ``{"<uc>.<stage>.<name>": value}``, ``{}`` by
  default) overrides some for one execution; only the use case's own parameters may
  be named. ``MLOPS_FORCE_RETRAIN=true`` (the ``ForceRetrain`` pipeline parameter)
  sets ``<uc>.drift.force_retrain``.
* ``--start-mlflow-run FILE``: start the execution's MLflow run, write its id to FILE
  (a property file); later steps resume it through ``MLFLOW_RUN_ID``. A retry of the
  step resumes the run its killed attempt started (found by the execution's ARN).
* ``--export DATASET=FILE``: after the run, copy a JSON dataset to FILE (the drift
  decision the ConditionStep reads).
* A retried step (SageMaker starts it after the attempt before it ended) takes over
  the promotion lease a killed attempt held at once: the lease names its owner, the
  execution and the pipeline (``MLOPS_LEASE_OWNER``).
* ``--batch-mb MB`` (a data_engineering pipeline): read at most MB of raw files per
  Kedro run and run again until the ledger defers nothing, then the pipeline's last
  nodes once (:mod:`mlops_platform.backfill`): the first execution on a long history
  holds one batch in memory, not the whole backlog. The first session logs into the
  execution's MLflow run and the later ones into child runs of it, so a full refresh
  (``full_refresh`` in ``ParamOverrides``: true for the first batch only) logs each
  batch's own values.
* ``--exclusive`` (the first step): stop, before reading or writing anything, if an
  earlier execution of the same pipeline is still running
  (:mod:`mlops_platform.aws.sagemaker.overlap`); exit status 3, naming it.
* Every step then wakes the MLflow tracking server if it is a SageMaker managed
  server that is stopped (:mod:`mlops_platform.aws.tracking_server`; the platform
  stops it outside the pipelines' daily window) and waits until it is up; exit
  status 4, naming the server and its status, if it cannot be used.
Exit status 0 only if the pipeline ran to the end.

**Who runs it.** SageMaker mounts a processing job's output folders
(``/opt/ml/processing/<output>``) owned by root, so an image whose ``USER`` is not
root cannot write its property files there. The pipeline image therefore starts as
root and names its unprivileged user in ``MLOPS_STEP_USER`` (``uid:gid``): before
anything else, the entrypoint gives that user the folders this step writes into (the
parents of ``--start-mlflow-run`` and ``--export`` targets) and drops to it for good;
Kedro, MLflow and the model code never run as root. Started as that user already, it
checks the same folders are writable and names the one that is not.

**The project.** The image holds ``pyproject.toml`` and ``conf/`` in its working
directory and the package installed as a wheel; there is no ``src/``. The project is
configured from the installed package (Kedro's ``bootstrap_project`` would insist on a
source folder); ``tests/aws/test_image_layout.py`` runs this entrypoint from the
image's own layout, rebuilt from the Dockerfile.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

OVERRIDES = "MLOPS_PARAM_OVERRIDES"
STEP_USER = "MLOPS_STEP_USER"


class StepError(Exception):
    """The step cannot start; the message says why (exit status 2)."""


def runtime_params(environ: dict[str, str], use_case: str) -> dict[str, Any]:
    raw = environ.get(OVERRIDES, "{}") or "{}"
    try:
        overrides = json.loads(raw)
    except ValueError as exc:
        raise SystemExit(f"{OVERRIDES} is not JSON ({exc}): {raw[:200]!r}") from None
    if not isinstance(overrides, dict):
        raise SystemExit(f"{OVERRIDES} must be a JSON object, got {raw[:200]!r}")
    params: dict[str, Any] = {}
    for name, value in overrides.items():
        if not str(name).startswith(f"{use_case}."):
            raise SystemExit(
                f"{OVERRIDES}: {name!r} is not a parameter of {use_case} "
                f"(names start with '{use_case}.')"
            )
        params[str(name)] = value
    force = environ.get("MLOPS_FORCE_RETRAIN", "false").strip().lower()
    if force not in ("true", "false"):
        raise SystemExit(f"MLOPS_FORCE_RETRAIN={force!r}: expected true or false")
    if force == "true":
        params[f"{use_case}.drift.force_retrain"] = True
    return params


def _nest(flat: dict[str, Any]) -> dict[str, Any]:
    """``a.b.c: v`` -> ``{a: {b: {c: v}}}`` (Kedro merges runtime params as a tree)."""
    out: dict[str, Any] = {}
    for key, value in flat.items():
        node = out
        *parents, leaf = key.split(".")
        for p in parents:
            node = node.setdefault(p, {})
        node[leaf] = value
    return out


def start_mlflow_run(project: Path, env: str, target: Path) -> str:
    import mlflow  # noqa: PLC0415
    from kedro.framework.session import KedroSession  # noqa: PLC0415

    with KedroSession.create(project_path=project, env=env) as session:
        conf = session.load_context().config_loader["mlflow"]  # type: ignore[attr-defined]
    mlflow.set_tracking_uri(conf["server"]["mlflow_tracking_uri"])
    experiment = conf["tracking"]["experiment"]
    name = experiment["name"]
    if mlflow.get_experiment_by_name(name) is None:
        mlflow.create_experiment(
            name,
            artifact_location=experiment["create_experiment_kwargs"].get(
                "artifact_location"
            ),
        )
    exp = mlflow.set_experiment(name)
    arn = os.environ.get("KEDRO_SAGEMAKER_EXECUTION_ARN", "local")
    # A retried first step finds the run its killed attempt started: one MLflow run
    # per execution, whatever SageMaker retried.
    earlier = (
        mlflow.search_runs(
            [exp.experiment_id],
            filter_string=f"tags.sagemaker_execution_arn = '{arn}'",
            output_format="list",
        )
        if arn.startswith("arn:")
        else []
    )
    if earlier:
        run_id = str(earlier[0].info.run_id)
        print(f"MLflow run {run_id} of this execution resumed (a retry)", flush=True)  # noqa: T201
    else:
        with mlflow.start_run(
            run_name=f"sagemaker {arn.rsplit('/', 1)[-1]}",
            tags={"sagemaker_execution_arn": arn},
        ) as run:
            run_id = str(run.info.run_id)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps({"run_id": run_id}))
    return run_id


def overlapping() -> str | None:
    """Why this execution must stop (an earlier one is running), or None."""
    arn = os.environ.get("KEDRO_SAGEMAKER_EXECUTION_ARN", "")
    if not arn.startswith("arn:"):
        return None  # not a SageMaker execution (a local run of the entrypoint)
    import boto3  # noqa: PLC0415

    from mlops_platform.aws.sagemaker.overlap import (  # noqa: PLC0415
        OverlappingExecution,
        ensure_alone,
    )

    try:
        ensure_alone(boto3.client("sagemaker"), arn)
    except OverlappingExecution as exc:
        return str(exc)
    print(f"overlap check: no earlier execution is running ({arn})", flush=True)  # noqa: T201
    return None


def _parse_user(spec: str) -> tuple[int, int]:
    uid, _, gid = spec.partition(":")
    try:
        return int(uid), int(gid or uid)
    except ValueError:
        raise StepError(f"{STEP_USER}={spec!r}: expected uid:gid, numbers") from None


def writes_into(args: argparse.Namespace) -> list[Path]:
    """The folders this step writes files into (its processing outputs)."""
    targets = [args.start_mlflow_run] if args.start_mlflow_run else []
    targets += [Path(spec.partition("=")[2]) for spec in args.export]
    return sorted({t.parent for t in targets})


def hand_over(folders: list[Path], environ: dict[str, str]) -> int | None:
    """Become ``MLOPS_STEP_USER`` (from root, owning ``folders``), or check that the
    current user can write ``folders``. Returns the uid now running, or None when no
    step user is configured (a development run of the entrypoint)."""
    spec = environ.get(STEP_USER, "").strip()
    if not spec:
        return None
    uid, gid = _parse_user(spec)
    if os.geteuid() == 0 and uid != 0:
        for folder in folders:
            folder.mkdir(parents=True, exist_ok=True)
            os.chown(folder, uid, gid)
        os.setgroups([])
        os.setgid(gid)
        os.setuid(uid)  # for good: the saved set-user-id goes too
        if os.getuid() == 0 or os.geteuid() == 0:
            raise StepError(f"could not drop root for uid {uid}")
    for folder in folders:
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except PermissionError:
            pass  # named below, with its owner
        if not os.access(folder, os.W_OK):
            owner = folder.stat().st_uid if folder.exists() else "missing"
            raise StepError(
                f"{folder} is not writable by uid {os.getuid()} (owner: {owner}); "
                f"the step writes its outputs there. Start the container as root "
                f"with {STEP_USER} set, or make the folder the step user's"
            )
    return os.getuid()


def configure(project: Path) -> None:
    """Kedro's project settings from the installed package: the project folder needs
    ``pyproject.toml`` and ``conf/``, not a source folder."""
    from kedro.framework.project import configure_project  # noqa: PLC0415
    from kedro.framework.startup import _get_project_metadata  # noqa: PLC0415

    configure_project(_get_project_metadata(project).package_name)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="run one compiled SageMaker step")
    parser.add_argument("--env", default="aws")
    parser.add_argument("--pipeline", required=True)
    parser.add_argument("--start-mlflow-run", type=Path, default=None)
    parser.add_argument("--export", action="append", default=[])
    parser.add_argument("--exclusive", action="store_true")
    parser.add_argument("--batch-mb", type=float, default=None)
    args = parser.parse_args(argv)
    use_case = args.pipeline.split(".", 1)[0]
    if args.batch_mb is not None and (why := batch_refusal(args, use_case)):
        print(f"error: {why}", file=sys.stderr)  # noqa: T201
        return 2
    try:
        running_as = hand_over(writes_into(args), dict(os.environ))
    except StepError as exc:
        print(f"error: {exc}", file=sys.stderr)  # noqa: T201
        return 2
    if running_as is not None:
        print(f"step runs as uid {running_as}", flush=True)  # noqa: T201
    if args.exclusive and (stop := overlapping()) is not None:
        print(f"error: {stop}", file=sys.stderr)  # noqa: T201
        return 3
    from mlops_platform.aws.tracking_server import (  # noqa: PLC0415
        TrackingServerError,
        wake_for_step,
    )

    try:  # the server may be stopped outside its daily window
        wake_for_step(dict(os.environ))
    except TrackingServerError as exc:
        print(f"error: {exc}", file=sys.stderr)  # noqa: T201
        return 4
    project = Path.cwd()
    from mlops_platform.model_store import LEASE_OWNER_ENV  # noqa: PLC0415

    if (arn := os.environ.get("KEDRO_SAGEMAKER_EXECUTION_ARN", "")).startswith("arn:"):
        # a retry of this step takes over the promotion lease a killed attempt held
        os.environ[LEASE_OWNER_ENV] = f"{arn}#{args.pipeline}"

    from kedro.framework.session import KedroSession  # noqa: PLC0415

    configure(project)
    if args.start_mlflow_run is not None and not os.environ.get("MLFLOW_RUN_ID"):
        os.environ["MLFLOW_RUN_ID"] = start_mlflow_run(
            project, args.env, args.start_mlflow_run
        )
    params = _nest(runtime_params(dict(os.environ), use_case))
    if args.batch_mb is not None:
        from mlops_platform.backfill import backfill  # noqa: PLC0415

        de = params.get(use_case, {}).get("data_engineering", {})
        refresh = bool(de.pop("full_refresh", False))  # the first batch's only
        backfill(
            project,
            use_case,
            args.batch_mb,
            full_refresh=refresh,
            env=args.env,
            params=params,
        )
        return 0
    with KedroSession.create(
        project_path=project, env=args.env, runtime_params=params
    ) as session:
        session.run(pipeline_name=args.pipeline)  # type: ignore[call-arg]
        catalog = session.load_context().catalog  # type: ignore[attr-defined]
        for spec in args.export:
            name, _, target = spec.partition("=")
            path = Path(target)
            path.parent.mkdir(parents=True, exist_ok=True)
            value = catalog.load(name)
            path.write_text(json.dumps(value, default=str))
            if name == f"{use_case}.decision_drift":  # the DriftDecision export
                print(drift_log_line(use_case, value), flush=True)  # noqa: T201
    return 0


def batch_refusal(args: argparse.Namespace, use_case: str) -> str | None:
    """Why ``--batch-mb`` cannot apply to this step, or None."""
    if args.batch_mb <= 0:
        return f"--batch-mb must be positive, got {args.batch_mb:g}"
    if args.pipeline != f"{use_case}.data_engineering":
        return (
            f"--batch-mb reads raw files in batches: it applies to "
            f"{use_case}.data_engineering, not {args.pipeline}"
        )
    if args.export:
        return "--batch-mb runs several Kedro sessions: --export is not supported"
    return None


def drift_log_line(use_case: str, decision: dict[str, Any]) -> str:
    """One JSON line per drift decision on stdout (the step's CloudWatch log stream).

    The Terraform observability module's metric filter counts the lines with
    ``drift_detected`` true (metric DriftDetected, alarm "drift detected").
    """
    return json.dumps(
        {
            "event": "drift_decision",
            "use_case": use_case,
            "drift_detected": bool(decision.get("drift_detected")),
            "train": bool(decision.get("train")),
            "champion_version": decision.get("champion_version"),
            "reason": decision.get("reason"),
        }
    )


if __name__ == "__main__":
    sys.exit(main())
