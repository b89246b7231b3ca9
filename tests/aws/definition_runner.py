"""Execute a compiled SageMaker pipeline definition here, step by step, the way
SageMaker would: the exact container entrypoint, arguments and environment of each
ProcessingStep (parameters, execution variables, Join and JsonGet resolved), outputs
uploaded to their S3 destinations, property files read back, ConditionSteps evaluated.

What differs from a real execution, and only this: the command runs in a subprocess on
this machine, and the container's ``/opt/ml/processing`` is a temporary folder.

Retries follow the step's ``RetryPolicies``. A step process killed by SIGKILL stands
for a lost instance, which SageMaker reports as ``SageMaker.JOB_INTERNAL_ERROR`` (the
harness's model: the one failure a test can cause that is SageMaker's, not the
step's); any other non-zero exit is the step's own failure and is not retried. Each
attempt starts with a fresh processing folder, as a new container would. ``faults``
adds environment entries to a step's first attempt only (``MLOPS_FAULT_KILL=<point>``,
:mod:`mlops_platform.faults`). With
``image`` (:mod:`tests.aws.image_layout`) the command runs in the pipeline image's
layout rebuilt from its Dockerfile: at the image's paths, from its WORKDIR, as its
USER, with its environment, the processing folder root-owned at
``/opt/ml/processing`` as SageMaker mounts it. Without ``image`` it runs in the
development checkout with the project as working directory (the image's WORKDIR
stands in for it) and the processing paths rewritten to the temporary folder.

With ``pipeline_name`` the execution is first started on the moto server (the
definition upserted under that name), so its ARN is one SageMaker's API knows (the
first step's overlap check asks about it); moto marks it Succeeded at once, which is
why the steps are run here.
"""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.aws.image_layout import Image, in_image

CONTAINER_ROOT = "/opt/ml/processing"
LOST_INSTANCE = "SageMaker.JOB_INTERNAL_ERROR"
EXECUTION_ARN = "arn:aws:sagemaker:eu-west-1:000000000000:pipeline/x/execution"


@dataclass
class Execution:
    definition: dict[str, Any]
    project: Path
    scratch: Path
    base_env: dict[str, str]
    s3: Any
    parameters: dict[str, Any] = field(default_factory=dict)
    execution_id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])
    ran: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    property_files: dict[tuple[str, str], dict] = field(default_factory=dict)
    logs: dict[str, str] = field(default_factory=dict)
    stdout: dict[str, str] = field(default_factory=dict)
    pipeline_name: str | None = None
    execution_arn: str = ""
    image: Image | None = None
    faults: dict[str, dict[str, str]] = field(default_factory=dict)
    attempts: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.execution_arn = f"{EXECUTION_ARN}/{self.execution_id}"
        if self.pipeline_name:
            self._start_on_moto(self.pipeline_name)
        values: dict[str, Any] = {}
        for p in self.definition["Parameters"]:
            values[p["Name"]] = p.get("DefaultValue")
        for name, value in self.parameters.items():
            if name not in values:
                raise KeyError(f"no pipeline parameter {name!r}")
            values[name] = value
        self.values = values

    # ----------------------------------------------------------------- values
    def _text(self, value: Any) -> str:
        if isinstance(value, bool):
            return "true" if value else "false"
        return str(value)

    def resolve(self, value: Any) -> Any:
        if isinstance(value, list):
            return [self.resolve(v) for v in value]
        if not isinstance(value, dict):
            return value
        if "Get" in value:
            ref = value["Get"]
            if ref.startswith("Parameters."):
                return self.values[ref.removeprefix("Parameters.")]
            if ref == "Execution.PipelineExecutionId":
                return self.execution_id
            if ref == "Execution.PipelineExecutionArn":
                return self.execution_arn
            raise ValueError(f"unsupported reference {ref}")
        if "Std:Join" in value:
            spec = value["Std:Join"]
            return spec["On"].join(self._text(self.resolve(v)) for v in spec["Values"])
        if "Std:JsonGet" in value:
            spec = value["Std:JsonGet"]
            ref = spec["PropertyFile"]["Get"]  # Steps.<step>.PropertyFiles.<name>
            _, step, _, name = ref.split(".", 3)
            data: Any = self.property_files[(step, name)]
            for part in spec["Path"].split("."):
                data = data[part]
            return data
        return {k: self.resolve(v) for k, v in value.items()}

    # ------------------------------------------------------------------ steps
    def _start_on_moto(self, name: str) -> None:
        import boto3

        sm = boto3.client(
            "sagemaker",
            endpoint_url=self.s3.meta.endpoint_url,
            region_name=self.s3.meta.region_name,
        )
        role = "arn:aws:iam::000000000000:role/harness"
        body = json.dumps(self.definition)
        try:
            sm.create_pipeline(PipelineName=name, PipelineDefinition=body, RoleArn=role)
        except sm.exceptions.ClientError:
            sm.update_pipeline(PipelineName=name, PipelineDefinition=body, RoleArn=role)
        arn = sm.start_pipeline_execution(PipelineName=name)["PipelineExecutionArn"]
        self.execution_arn = arn
        self.execution_id = arn.rsplit("/", 1)[-1]

    def run(self) -> None:
        self._run_steps(self.definition["Steps"])

    def _run_steps(self, steps: list[dict[str, Any]]) -> None:
        pending = list(steps)
        while pending:
            ready = [
                s
                for s in pending
                if all(
                    d in self.ran or d in self.skipped for d in s.get("DependsOn", [])
                )
                and self._references_ready(s)
            ]
            if not ready:
                raise RuntimeError(f"no step can run: {[s['Name'] for s in pending]}")
            for step in ready:
                pending.remove(step)
                if step["Type"] == "Processing":
                    self._processing(step)
                elif step["Type"] == "Condition":
                    self._condition(step)
                else:
                    raise ValueError(f"unsupported step type {step['Type']}")

    def _references_ready(self, step: dict[str, Any]) -> bool:
        text = json.dumps(step.get("Arguments", {}))
        for other in self.definition["Steps"]:
            name = other["Name"]
            if name != step["Name"] and f"Steps.{name}." in text:
                if name not in self.ran:
                    return False
        return True

    def _local(self, path: str, step: str) -> str:
        return path.replace(CONTAINER_ROOT, str(self.scratch / step / "processing"))

    def _processing(self, step: dict[str, Any]) -> None:
        name, args = step["Name"], step["Arguments"]
        app = args["AppSpecification"]
        argv = [
            self._text(a)
            for a in self.resolve(
                app["ContainerEntrypoint"] + app.get("ContainerArguments", [])
            )
        ]
        env = {k: self._text(v) for k, v in self.resolve(args["Environment"]).items()}
        command = [self._local(a, name) for a in argv]  # in the checkout
        full_env = {**self.base_env, **env}
        if self.image is not None:
            processing = self.scratch / name / "processing"
            for out in (args.get("ProcessingOutputConfig") or {}).get("Outputs", []):
                # SageMaker creates each output's folder before the container starts
                local = self._local(out["S3Output"]["LocalPath"], name)
                Path(local).mkdir(parents=True, exist_ok=True)
            processing.mkdir(parents=True, exist_ok=True)
            command = in_image(
                self.image,
                argv,
                {CONTAINER_ROOT: processing},
                self.scratch / name / "namespace",
            )
            full_env = {**self.image.env, **self.base_env, **env}
        allowed = self._attempts_allowed(step, LOST_INSTANCE)
        while True:
            attempt = self.attempts.get(name, 0) + 1
            self.attempts[name] = attempt
            if attempt > 1:  # a new container: its folders start empty
                shutil.rmtree(self.scratch / name / "processing", ignore_errors=True)
                (self.scratch / name / "processing").mkdir(parents=True)
                for out in (args.get("ProcessingOutputConfig") or {}).get(
                    "Outputs", []
                ):
                    local = self._local(out["S3Output"]["LocalPath"], name)
                    Path(local).mkdir(parents=True, exist_ok=True)
            fault = self.faults.get(name, {}) if attempt == 1 else {}
            proc = subprocess.run(
                command,
                cwd=self.project,
                env={**full_env, **fault},
                capture_output=True,
                text=True,
                timeout=900,
                check=False,
            )
            self.logs[name] = proc.stdout[-3000:] + proc.stderr[-6000:]
            self.stdout[name] = proc.stdout  # what CloudWatch Logs would receive
            if proc.returncode == 0:
                break
            killed = proc.returncode in (-signal.SIGKILL, 128 + signal.SIGKILL)
            if not killed or attempt >= allowed:
                raise RuntimeError(
                    f"step {name} failed ({proc.returncode}, attempt {attempt}):\n"
                    f"{self.logs[name]}"
                )
        outputs = {}
        for out in (args.get("ProcessingOutputConfig") or {}).get("Outputs", []):
            folder = Path(self._local(out["S3Output"]["LocalPath"], name))
            uri = self.resolve(out["S3Output"]["S3Uri"])
            bucket, _, prefix = uri.removeprefix("s3://").partition("/")
            for f in folder.rglob("*"):
                if f.is_file():
                    key = f"{prefix}/{f.relative_to(folder).as_posix()}"
                    self.s3.upload_file(str(f), bucket, key)
            outputs[out["OutputName"]] = folder
        for pf in step.get("PropertyFiles", []):
            path = outputs[pf["OutputName"]] / pf["FilePath"]
            self.property_files[(name, pf["PropertyFileName"])] = json.loads(
                path.read_text()
            )
        self.ran.append(name)

    @staticmethod
    def _attempts_allowed(step: dict[str, Any], exception_type: str) -> int:
        """Attempts in all SageMaker makes for a failure of this type: the first and
        ``MaxAttempts`` retries of the first policy that names it (a policy bounded
        by time instead, ``ExpireAfterMin``, is given two retries here)."""
        for policy in step.get("RetryPolicies", []):
            if exception_type in policy["ExceptionType"]:
                return 1 + int(policy.get("MaxAttempts", 2))
        return 1

    def _truth(self, condition: dict[str, Any]) -> bool:
        kind = condition["Type"]
        if kind == "Or":
            return any(self._truth(c) for c in condition["Conditions"])
        if kind == "And":
            return all(self._truth(c) for c in condition["Conditions"])
        if kind == "Equals":
            left = self.resolve(condition["LeftValue"])
            right = self.resolve(condition["RightValue"])
            if isinstance(right, bool) and isinstance(left, str):
                left = left.lower() == "true"
            return bool(left == right)
        raise ValueError(f"unsupported condition {kind}")

    def _condition(self, step: dict[str, Any]) -> None:
        args = step["Arguments"]
        outcome = all(self._truth(c) for c in args["Conditions"])
        chosen, other = (
            (args["IfSteps"], args["ElseSteps"])
            if outcome
            else (args["ElseSteps"], args["IfSteps"])
        )
        self.ran.append(step["Name"])
        self.skipped += [s["Name"] for s in other]
        self._run_steps(chosen)
