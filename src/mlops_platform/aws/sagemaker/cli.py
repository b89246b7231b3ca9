"""``mlops-sagemaker``: compile, upsert and start the SageMaker pipeline of a use case.

    mlops-sagemaker compile --use-case retail [--output build/sagemaker/retail.json]
    mlops-sagemaker run --use-case retail [--wait] [--param ForceRetrain=true]

A project command (kedro-sagemaker's ``kedro sagemaker ...`` calls Kedro 0.19 APIs and
compiles one container per node; the project no longer installs it): ``config.py``
reads ``conf/<env>/sagemaker.yml``, ``generator.py`` compiles. The lake location and
MLflow tracking URI of the compiling environment (MLOPS_LAKE_BUCKET,
MLOPS_LAKE_PREFIX, MLOPS_MLFLOW_TRACKING_URI) are written into every step's
environment.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

from mlops_platform.aws import lake

STEP_ENV_VARS = (
    lake.BUCKET_VAR,
    lake.PREFIX_VAR,
    lake.TRACKING_VAR,
    lake.SERVING_IMAGE_VAR,
    lake.GLUE_DATABASE_VAR,
    "AWS_ENDPOINT_URL_S3",  # only when compiling against a stand-in (moto)
    "MLFLOW_S3_ENDPOINT_URL",
)
TERMINAL = {"Succeeded", "Failed", "Stopped"}


def build(args: argparse.Namespace) -> Any:
    from kedro.framework.session import KedroSession  # noqa: PLC0415
    from kedro.framework.startup import bootstrap_project  # noqa: PLC0415

    from mlops_platform.aws.sagemaker.config import SageMakerConfig  # noqa: PLC0415
    from mlops_platform.aws.sagemaker.generator import (  # noqa: PLC0415
        StagedPipelineGenerator,
    )

    project = Path(args.project_path).resolve()
    # before Kedro reads the settings: compiling never contacts MLflow (settings.py)
    os.environ["MLOPS_COMPILE_ONLY"] = "1"
    bootstrap_project(project)
    lake.lake_root()  # fail early, naming the variable
    lake.pipeline_tracking()  # a server every step reaches, never a local file
    step_env = {k: os.environ[k] for k in STEP_ENV_VARS if os.environ.get(k)}
    with KedroSession.create(project_path=project, env=args.env) as session:
        context = session.load_context()  # type: ignore[attr-defined]
        raw = dict(context.config_loader["sagemaker"])
        raw["aws"] = {**raw["aws"], "bucket": os.environ[lake.BUCKET_VAR]}
        config = SageMakerConfig.parse(raw)
        generator = StagedPipelineGenerator(
            args.use_case,
            context,
            config,
            docker_image=args.image,
            execution_role_arn=args.role_arn,
            step_env=step_env,
        )
        return generator.generate()


def _parameters(pairs: list[str]) -> dict[str, str]:
    out = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep:
            raise SystemExit(f"--param {pair!r}: expected Name=value")
        out[name] = value
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="mlops-sagemaker", description=__doc__)
    parser.add_argument(
        "command",
        choices=["compile", "upsert", "run"],
        help="compile: definition JSON; upsert: create or update the pipeline "
        "(what delivery does; the schedule starts it); run: upsert, then start",
    )
    parser.add_argument("--use-case", required=True)
    parser.add_argument("--env", default="aws")
    parser.add_argument("--project-path", default=".")
    parser.add_argument("--image", default=None, help="pipeline image URI")
    parser.add_argument("--role-arn", default=None, help="SageMaker execution role")
    parser.add_argument(
        "--output",
        default=None,
        help="write the definition JSON here (compile: by default "
        "build/sagemaker/<uc>.json; upsert, run: a record of what was deployed)",
    )
    parser.add_argument("--param", action="append", default=[], help="Name=value")
    parser.add_argument("--wait", action="store_true")
    parser.add_argument("--poll-seconds", type=float, default=30.0)
    args = parser.parse_args(argv)

    pipeline = build(args)
    definition = json.loads(pipeline.definition())
    if args.command == "compile" or args.output:
        out = Path(args.output or f"build/sagemaker/{args.use_case}.json")
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(definition, indent=2) + "\n")
        steps = [s["Name"] for s in definition["Steps"]]
        print(f"{pipeline.name}: {len(steps)} top-level steps {steps} -> {out}")
    if args.command == "compile":
        return 0

    role = args.role_arn or definition["Steps"][0]["Arguments"]["RoleArn"]
    response = pipeline.upsert(role_arn=role)
    print(f"upserted {pipeline.name}: {response['PipelineArn']}")
    if args.command == "upsert":
        return 0
    execution = pipeline.start(parameters=_parameters(args.param))
    arn = execution.arn
    print(f"started {arn}")
    if not args.wait:
        return 0
    while True:
        status = execution.describe()["PipelineExecutionStatus"]
        print(f"{time.strftime('%H:%M:%S')} {status}")
        if status in TERMINAL:
            return 0 if status == "Succeeded" else 1
        time.sleep(args.poll_seconds)


if __name__ == "__main__":
    sys.exit(main())
