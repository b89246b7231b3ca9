"""``conf/<env>/sagemaker.yml``: what the compiled pipeline runs on.

The schema is the one kedro-sagemaker's configuration used (``aws.execution_role``,
``aws.bucket``, ``aws.resources`` by step tag with ``__default__``,
``aws.sagemaker.pipeline_names_mapping``, ``docker.image``), so a file written for the
plugin reads unchanged. Unlike the plugin's model, an unknown key is an error naming
it: a misspelt ``instance_typ`` would otherwise compile a pipeline on the default
instance without a word.

The plugin itself is no longer a dependency: the project never used its CLI or runner
(they call Kedro 0.19 APIs), and installing it registered a ``kedro sagemaker``
command group whose import (the SageMaker SDK, about 4-5 s) every ``kedro``
invocation paid, ``kedro run`` included.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

DEFAULT_INSTANCE_TYPE = "ml.m5.large"
DEFAULT = "__default__"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Resources(_Strict):
    """One entry of ``aws.resources``; unset fields fall back to ``__default__``."""

    instance_type: str | None = None
    instance_count: int | None = None
    timeout_seconds: int | None = None
    security_group_ids: list[str] | None = None
    subnets: list[str] | None = None
    # data_engineering only: the step reads at most this many MB of raw files per run
    # and runs again until nothing is deferred (mlops_platform.backfill), so the
    # instance holds one batch, whatever the backlog (docs/scale.md)
    raw_batch_mb: float | None = Field(None, gt=0)

    def over(self, base: Resources) -> Resources:
        """These settings, with ``base``'s where these are unset."""
        mine = {k: v for k, v in self.model_dump().items() if v is not None}
        return base.model_copy(update=mine)


class StepResources(_Strict):
    """Resources of one step, every fallback applied."""

    instance_type: str
    instance_count: int = 1
    timeout_seconds: int | None = None
    security_group_ids: list[str] | None = None
    subnets: list[str] | None = None
    raw_batch_mb: float | None = None


class PipelineNames(_Strict):
    pipeline_names_mapping: dict[str, str] | None = None


class AwsSection(_Strict):
    execution_role: str
    bucket: str
    sagemaker: PipelineNames = PipelineNames()
    resources: dict[str, Resources] = {}


class DockerSection(_Strict):
    image: str
    working_directory: str = "/home/kedro"


class SageMakerConfig(_Strict):
    aws: AwsSection
    docker: DockerSection

    @classmethod
    def parse(cls, raw: dict[str, Any]) -> SageMakerConfig:
        return cls.model_validate(raw)

    def resources_for(self, *names: str) -> StepResources:
        """The first of ``names`` (a step's name, then its tags) that has an entry,
        over ``__default__``, over the built-in default instance type."""
        table = self.aws.resources
        base = Resources(instance_type=DEFAULT_INSTANCE_TYPE)
        if DEFAULT in table:
            base = table[DEFAULT].over(base)
        match = next((table[n] for n in names if n in table), None)
        chosen = base if match is None else match.over(base)
        return StepResources.model_validate(
            {k: v for k, v in chosen.model_dump().items() if v is not None}
        )

    def pipeline_name(self, use_case: str) -> str:
        mapping = self.aws.sagemaker.pipeline_names_mapping or {}
        return mapping.get(use_case, f"mlops-{use_case}".replace("_", "-"))
