"""A backlog of raw files larger than memory, through data_engineering in batches.

    python -m mlops_platform.backfill retail [--batch-mb 1000] [--full-refresh]

The first run on years of history, or a full refresh of a large lake, would hold every
line in memory at once (about 1 GB per million LGSR lines, docs/scale.md). This runs
``<use case>.data_engineering`` up to its gold node again and again, each run taking at
most ``--batch-mb`` of raw files in key order (``data_engineering.max_batch_mb``; the
ledger defers the rest), so each run holds one batch, the latest customer state and
the periods it rebuilds. The runs are the incremental runs of docs/incremental.md, so
the gold is the one-pass full refresh's, byte for byte (tests/test_incremental.py).
When nothing is deferred any more, the rest of the pipeline (the training split, the
online tables) runs once, over all of it.

``--full-refresh`` applies to the first batch only: it resets silver and gold to that
batch, and the later batches add to them. Killed, the command is run again without
``--full-refresh`` and goes on from the ledger (docs/incremental.md).
Every batch is one Kedro session in this process (the imports and Great Expectations
are paid once) and one MLflow run. The compiled SageMaker data_engineering step runs
the same loop (``--batch-mb``, :mod:`mlops_platform.aws.sagemaker.step`): its first
session logs into the execution's MLflow run, the later ones into child runs of it.
"""

from __future__ import annotations

import argparse
import logging
import os
import resource
import time
from pathlib import Path
from typing import Any

logger = logging.getLogger("mlops_platform.backfill")  # also when run as __main__

GOLD_NODE = "build_gold_table"


def _run(
    project: Path,
    env: str | None,
    params: dict[str, Any],
    resume: str | None,
    nested: str | None,
    **selection: Any,
) -> dict[str, Any]:
    """One session: run the selection of the pipeline, return the ingest report.

    ``resume``: the MLflow run the step's sessions log into (a compiled step's
    ``MLFLOW_RUN_ID``), or None for a run of the session's own. ``nested``: with
    ``resume``, log into a child run of that name instead, so this session's
    parameters (a full refresh's ``full_refresh`` false after its first batch) need
    not equal the ones already logged there."""
    import mlflow  # noqa: PLC0415
    from kedro.framework.session import KedroSession  # noqa: PLC0415

    use_case = selection["pipeline_name"].split(".", 1)[0]
    if resume is not None and nested is None:
        # mlflow.start_run reads MLFLOW_RUN_ID once and deletes it from the
        # environment: the second session made a run of its own (found by the
        # compiled-steps test as two top-level runs in one execution)
        os.environ["MLFLOW_RUN_ID"] = resume
    elif resume is not None:
        # an active run when the session starts is the one kedro-mlflow logs into
        parent = mlflow.start_run(run_id=resume)
        mlflow.start_run(
            run_name=nested,
            nested=True,
            experiment_id=parent.info.experiment_id,
            tags={"mlops.backfill": nested},
        )
    try:
        with KedroSession.create(
            project_path=project, env=env, runtime_params=params
        ) as session:
            session.run(**selection)
            catalog = session.load_context().catalog  # type: ignore[attr-defined]
            report: dict[str, Any] = catalog.load(f"{use_case}.report_ingest")
    finally:
        # kedro-mlflow resumes the run once per node (nested) and ends it once after
        # the pipeline: under `kedro run` the process's exit ends the rest. Here the
        # next batch would log into this batch's run, so every level is ended.
        while mlflow.active_run() is not None:
            mlflow.end_run()
    return report


def _merged(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    """``base`` with ``over``'s leaves written over it (nested dicts merged)."""
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merged(out[key], value)
        else:
            out[key] = value
    return out


def backfill(
    project: Path,
    use_case: str,
    batch_mb: float,
    full_refresh: bool = False,
    env: str | None = None,
    params: dict[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """Batches until the ledger defers nothing, then the rest of data_engineering;
    returns each batch's ``incremental`` report. ``params``: runtime parameters of
    every session (nested), under the batch limit. The project must be configured
    (``bootstrap_project``, or the image's ``step.configure``)."""
    from kedro.framework.project import pipelines  # noqa: PLC0415

    name = f"{use_case}.data_engineering"
    if name not in pipelines:
        raise SystemExit(f"no pipeline {name!r} (use cases: {sorted(pipelines)})")
    whole = pipelines[name]
    gold = f"{use_case}.{GOLD_NODE}"
    rest = sorted(n.name for n in (whole - whole.to_nodes(gold)).nodes)
    batches: list[dict[str, Any]] = []
    given = params or {}
    resume = os.environ.get("MLFLOW_RUN_ID") or None
    while True:
        limit = {
            use_case: {
                "data_engineering": {
                    "max_batch_mb": batch_mb,
                    "full_refresh": full_refresh and not batches,
                }
            }
        }
        session_params = _merged(given, limit)
        began = time.monotonic()
        report = _run(
            project,
            env,
            session_params,
            resume,
            f"{use_case} backfill, batch {len(batches) + 1}" if batches else None,
            pipeline_name=name,
            to_nodes=[gold],
        )
        done = report["incremental"]
        batches.append(done)
        read = len(done["new"]) + len(done["changed"])
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
        logger.info(
            "%s backfill, batch %d: %d file(s), %d rows in %.1f s (peak RSS so far "
            "%.2f GB); %d deferred",
            use_case,
            len(batches),
            read,
            report.get("rows", 0),
            time.monotonic() - began,
            peak,
            len(done["deferred"]),
        )
        if not done["deferred"]:
            break
        if not read:  # cannot happen with the ledger's rule; never loop for ever
            raise SystemExit(
                f"{use_case}: a batch read nothing but deferred {done['deferred'][:3]}"
            )
    if rest:
        # with the last batch's parameters; in a compiled step after a single batch
        # (an ordinary day), in the same MLflow run as that batch
        _run(
            project,
            env,
            session_params,
            resume,
            f"{use_case} backfill, the rest" if len(batches) > 1 else None,
            pipeline_name=name,
            node_names=rest,
        )
    return batches


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m mlops_platform.backfill", description=__doc__.split("\n")[0]
    )
    parser.add_argument("use_case")
    parser.add_argument(
        "--batch-mb",
        type=float,
        default=1000.0,
        help="raw megabytes per run (measured: about 0.5 GB of memory plus 6-7 GB "
        "a GB of LGSR CSV, docs/scale.md)",
    )
    parser.add_argument("--full-refresh", action="store_true")
    parser.add_argument("--env", default=None, help="Kedro environment (aws, ...)")
    args = parser.parse_args(argv)
    if args.batch_mb <= 0:
        parser.error("--batch-mb must be positive")
    from kedro.framework.startup import bootstrap_project  # noqa: PLC0415

    bootstrap_project(Path.cwd())
    batches = backfill(
        Path.cwd(), args.use_case, args.batch_mb, args.full_refresh, args.env
    )
    files = sum(len(b["new"]) + len(b["changed"]) for b in batches)
    logger.info(
        "%s backfill: %d file(s) in %d batch(es)", args.use_case, files, len(batches)
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
