"""Compile a use case's Kedro pipelines into one SageMaker Pipeline.

The project's own generator over the SageMaker SDK (kedro-sagemaker's generator compiles
one container per node; this one started as a subclass of it), with three choices:

* **one step per stage, not per node**: ``<uc>.data_engineering``, ``<uc>.drift``,
  ``<uc>.training``, ``<uc>.evaluation`` and ``<uc>.reporting`` each run as one
  ProcessingStep (``python -m mlops_platform.aws.sagemaker.step``, the standard Kedro
  runner). A pre-flight check refuses to compile when a dataset that crosses a step
  boundary is not persisted (an in-memory dataset would be empty in the next container).
* **drift-gated training**: the drift step writes ``drift_decision.json`` as a property
  file; a ConditionStep runs training, evaluation and reporting only when the decision
  says train (drift, no champion, or the ``force_retrain`` Kedro parameter) or the
  ``ForceRetrain`` pipeline parameter is true (every step gets it, as
  ``<uc>.drift.force_retrain``: the steps of one execution run with one set of
  parameters, and MLflow refuses one parameter logged with two values in a run).
  Otherwise the execution ends successfully and the drift report says "champion vN
  kept".
* **one MLflow run**: the data_engineering step starts it and publishes its id as a
  property file; every later step resumes it (``MLFLOW_RUN_ID``).
* **a backlog in batches**: with ``raw_batch_mb`` in the data_engineering step's
  resources, that step reads at most that many MB of raw files per Kedro run and
  runs again until the ledger defers nothing (``--batch-mb``,
  :mod:`mlops_platform.backfill`), so the first execution on years of history fits
  the instance's memory.

Resources come from ``conf/aws/sagemaker.yml`` by stage tag with a ``__default__``
(``config.py``). Kedro parameters are not copied into the
definition: the image carries ``conf/`` (the same commit compiled it). One pipeline
parameter, ``ParamOverrides`` (a JSON document, ``{}`` by default), reaches every step
as one environment entry, so an execution can override any of the use case's
parameters. kedro-sagemaker's mechanism (two environment entries and two pipeline
parameters per flattened parameter, every use case's in every step) passed
SageMaker's limit of 100 environment entries per processing job once a second use
case existed; ``tests/aws/test_sagemaker.py`` checks every step against the limits of
the real CreateProcessingJob API (botocore's service model).

Retries: every step retries what SageMaker, not the step, got wrong
(:data:`RETRY_POLICIES`): the pipeline service's faults and throttling, an internal
error of the job, no capacity for the instance type, an account limit reached. A
step that fails on its own (a broken data contract, a failed gate's exception) is not
retried: it would fail again. A retried step starts in a fresh container and must end
as a first attempt would have, whatever the attempt before it left: the model store
finishes an interrupted promotion (``ModelStore.reconcile``), silver and gold commit
through their manifests (``lake.py``: a killed commit leaves the last one), and a
retried first step resumes the execution's MLflow run (found by the execution's
ARN). ``tests/aws/test_sagemaker.py`` kills steps at chosen points and checks it.

Caching: no step is cached. Every step reads state that is not in its arguments (new
raw files under the same prefix, the current champion pointer), so SageMaker's cache
key (the step's arguments) would replay stale outputs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kedro.pipeline import Pipeline
from sagemaker.network import NetworkConfig
from sagemaker.processing import ProcessingOutput, Processor
from sagemaker.workflow.condition_step import ConditionStep
from sagemaker.workflow.conditions import ConditionEquals, ConditionOr
from sagemaker.workflow.entities import PipelineVariable
from sagemaker.workflow.execution_variables import ExecutionVariables
from sagemaker.workflow.functions import Join, JsonGet
from sagemaker.workflow.parameters import ParameterBoolean, ParameterString
from sagemaker.workflow.pipeline import Pipeline as SageMakerPipeline
from sagemaker.workflow.pipeline_context import PipelineSession
from sagemaker.workflow.properties import PropertyFile
from sagemaker.workflow.retry import (
    SageMakerJobExceptionTypeEnum,
    SageMakerJobStepRetryPolicy,
    StepExceptionTypeEnum,
    StepRetryPolicy,
)
from sagemaker.workflow.step_collections import StepCollection
from sagemaker.workflow.steps import ProcessingStep, Step

from mlops_platform.aws.sagemaker.config import SageMakerConfig, StepResources

STAGES = ("data_engineering", "drift", "training", "evaluation", "reporting")
GATED = ("training", "evaluation", "reporting")
PROCESSING = "/opt/ml/processing"
DRIFT_DIR = f"{PROCESSING}/drift"
MLFLOW_DIR = f"{PROCESSING}/mlflow"
MEMORY_TYPES = {
    "kedro.io.memory_dataset.MemoryDataset",
    "kedro.io.shared_memory_dataset.SharedMemoryDataset",
    None,  # not in the catalog at all: Kedro would make it a MemoryDataset
}


# What SageMaker retries for every step, and how. Capacity and account limits clear
# in minutes, so they are retried for up to an hour; an internal error of the job or
# the service is retried a few times.
RETRY_POLICIES = (
    StepRetryPolicy(
        exception_types=[
            StepExceptionTypeEnum.SERVICE_FAULT,
            StepExceptionTypeEnum.THROTTLING,
        ],
        interval_seconds=10,
        backoff_rate=2.0,
        max_attempts=5,
    ),
    SageMakerJobStepRetryPolicy(
        exception_types=[SageMakerJobExceptionTypeEnum.INTERNAL_ERROR],
        interval_seconds=60,
        backoff_rate=2.0,
        max_attempts=2,
    ),
    SageMakerJobStepRetryPolicy(
        exception_types=[
            SageMakerJobExceptionTypeEnum.CAPACITY_ERROR,
            SageMakerJobExceptionTypeEnum.RESOURCE_LIMIT,
        ],
        interval_seconds=120,
        backoff_rate=1.5,
        expire_after_mins=60,
    ),
)


class CompileError(ValueError):
    """The Kedro pipelines cannot be compiled into a correct SageMaker pipeline."""


def dataset_type(catalog: Any, name: str) -> str | None:
    """The dataset's class path, without instantiating it (factories included)."""
    return catalog.get_type(name) if name in catalog else None


@dataclass(frozen=True)
class StepGroup:
    use_case: str
    stage: str
    pipeline: Pipeline

    @property
    def pipeline_name(self) -> str:
        return f"{self.use_case}.{self.stage}"

    @property
    def step_name(self) -> str:
        return f"{self.use_case}-{self.stage}".replace("_", "-")


def stage_groups(use_case: str, pipelines: dict[str, Pipeline]) -> list[StepGroup]:
    missing = [f"{use_case}.{s}" for s in STAGES if f"{use_case}.{s}" not in pipelines]
    if missing:
        raise CompileError(f"pipelines not registered: {missing}")
    return [StepGroup(use_case, s, pipelines[f"{use_case}.{s}"]) for s in STAGES]


def preflight(groups: list[StepGroup], catalog: Any) -> list[str]:
    """Datasets that cross a step boundary; raise if any of them is not persisted."""
    producer: dict[str, str] = {}
    for g in groups:
        for ds in g.pipeline.all_outputs():
            producer[ds] = g.step_name
    crossing, problems = set(), []
    for g in groups:
        for ds in sorted(g.pipeline.inputs()):
            if ds.startswith("params:") or ds == "parameters":
                continue
            if ds in producer and producer[ds] != g.step_name:
                crossing.add(ds)
                kind = dataset_type(catalog, ds)
                if kind in MEMORY_TYPES:
                    problems.append(
                        f"{ds!r} ({kind or 'not in the catalog: in memory'}) is "
                        f"written by step {producer[ds]} and read by step {g.step_name}"
                    )
    if problems:
        raise CompileError(
            "datasets crossing a step boundary must be persisted (each step is its "
            "own container): " + "; ".join(problems)
        )
    return sorted(crossing)


class StagedPipelineGenerator:
    """One SageMaker pipeline per use case, one step per stage."""

    def __init__(
        self,
        use_case: str,
        kedro_context: Any,
        config: SageMakerConfig,
        *,
        step_env: dict[str, str],
        docker_image: str | None = None,
        execution_role_arn: str | None = None,
    ):
        self.use_case = use_case
        self.kedro_context = kedro_context
        self.config = config
        self.step_env = step_env  # the lake location and MLflow tracking URI
        self.docker_image = docker_image or config.docker.image
        self.execution_role = execution_role_arn or config.aws.execution_role

    def _resources(self, group: StepGroup) -> StepResources:
        return self.config.resources_for(group.step_name, group.stage)

    def _command(
        self, group: StepGroup, extra: list[str]
    ) -> list[str | PipelineVariable]:
        return [
            "python",
            "-m",
            "mlops_platform.aws.sagemaker.step",
            "--env",
            self.kedro_context.env or "aws",
            "--pipeline",
            group.pipeline_name,
            *extra,
        ]

    def _output(self, group: StepGroup, name: str, source: str) -> ProcessingOutput:
        """Property files land in the lake, under the execution's id (an explicit
        destination: the SDK's default would ask STS for the account's default bucket
        at compile time)."""
        root = self.step_env.get("MLOPS_LAKE_PREFIX", "mlops").strip("/")
        destination = Join(
            on="/",
            values=[
                f"s3://{self.config.aws.bucket}/{root}/sagemaker",
                ExecutionVariables.PIPELINE_EXECUTION_ID,
                group.step_name,
                name,
            ],
        )
        return ProcessingOutput(
            output_name=name, source=source, destination=destination
        )

    def _step(
        self,
        group: StepGroup,
        env: dict[str, Any],
        extra: list[str],
        outputs: list[ProcessingOutput],
        property_files: list[PropertyFile],
    ) -> ProcessingStep:
        res = self._resources(group)
        security_groups: list[str | PipelineVariable] | None = (
            None if res.security_group_ids is None else list(res.security_group_ids)
        )
        subnets: list[str | PipelineVariable] | None = (
            None if res.subnets is None else list(res.subnets)
        )
        processor = Processor(
            entrypoint=self._command(group, extra),
            role=self.execution_role,
            image_uri=self.docker_image,
            instance_count=res.instance_count,
            instance_type=res.instance_type,
            max_runtime_in_seconds=res.timeout_seconds,
            env=env,
            network_config=NetworkConfig(
                security_group_ids=security_groups, subnets=subnets
            ),
            sagemaker_session=self._session,
        )
        return ProcessingStep(
            group.step_name,
            processor=processor,
            outputs=outputs or None,
            property_files=property_files or None,
            display_name=group.pipeline_name,
            description=f"kedro run --env aws --pipeline {group.pipeline_name}",
            retry_policies=list(RETRY_POLICIES),
        )

    def generate(self) -> SageMakerPipeline:
        from kedro.framework.project import pipelines  # noqa: PLC0415

        groups = stage_groups(self.use_case, dict(pipelines))
        preflight(groups, self.kedro_context.catalog)
        self._session = PipelineSession()
        overrides = ParameterString("ParamOverrides", default_value="{}")
        sm_params, param_envs = [overrides], {"MLOPS_PARAM_OVERRIDES": overrides}
        force = ParameterBoolean("ForceRetrain", default_value=False)
        # every step sees the execution's parameters: a step's nodes read
        # <uc>.drift.force_retrain too (promotion), and MLflow refuses a parameter
        # logged twice in one run with two values
        base_env: dict[str, Any] = {
            **self.step_env,
            "KEDRO_SAGEMAKER_EXECUTION_ARN": ExecutionVariables.PIPELINE_EXECUTION_ARN,
            **param_envs,
            "MLOPS_FORCE_RETRAIN": force.to_string(),
        }
        by_stage = {g.stage: g for g in groups}

        mlflow_file = PropertyFile(
            name="MlflowRun", output_name="mlflow", path="mlflow_run.json"
        )
        batch_mb = self._resources(by_stage["data_engineering"]).raw_batch_mb
        de = self._step(
            by_stage["data_engineering"],
            base_env,
            [
                "--exclusive",
                "--start-mlflow-run",
                f"{MLFLOW_DIR}/mlflow_run.json",
                *([] if batch_mb is None else ["--batch-mb", f"{batch_mb:g}"]),
            ],
            [self._output(by_stage["data_engineering"], "mlflow", MLFLOW_DIR)],
            [mlflow_file],
        )
        run_env = {
            **base_env,
            "MLFLOW_RUN_ID": JsonGet(
                step_name=de.name, property_file=mlflow_file, json_path="run_id"
            ),
        }
        drift_file = PropertyFile(
            name="DriftDecision", output_name="drift", path="drift_decision.json"
        )
        drift = self._step(
            by_stage["drift"],
            run_env,
            [
                "--export",
                f"{self.use_case}.decision_drift={DRIFT_DIR}/drift_decision.json",
            ],
            [self._output(by_stage["drift"], "drift", DRIFT_DIR)],
            [drift_file],
        )
        drift.add_depends_on([de])
        gated: list[Step | StepCollection] = []
        previous = None
        for stage in GATED:
            step = self._step(by_stage[stage], run_env, [], [], [])
            if previous is not None:
                step.add_depends_on([previous])
            gated.append(step)
            previous = step
        condition = ConditionStep(
            name=f"{self.use_case}-train-or-keep".replace("_", "-"),
            conditions=[
                ConditionOr(
                    conditions=[
                        ConditionEquals(  # the SDK's hint omits JsonGet
                            left=JsonGet(  # type: ignore[arg-type]
                                step_name=drift.name,
                                property_file=drift_file,
                                json_path="train",
                            ),
                            right=True,
                        ),
                        ConditionEquals(left=force, right=True),
                    ]
                )
            ],
            if_steps=gated,
            else_steps=[],
        )
        return SageMakerPipeline(
            self.config.pipeline_name(self.use_case),
            sagemaker_session=self._session,
            steps=[de, drift, condition],
            parameters=[force, *sm_params],
        )
