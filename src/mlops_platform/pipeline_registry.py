"""Every generic pipeline, once per use case, under the use case's namespace.

Registered pipelines:
- ``__default__``: the whole lifecycle for every use case;
- ``<use_case>``: the whole lifecycle of one use case (``kedro run -p retail``);
- ``data_engineering``, ``drift``, ``training``, ``evaluation``, ``reporting`` (the
  run summary): one stage for every use case; ``<use_case>.<stage>``: one stage of
  one use case.
"""

from __future__ import annotations

from kedro.pipeline import Pipeline, pipeline

from mlops_platform.pipelines import (
    data_engineering,
    drift,
    evaluation,
    reporting,
    training,
)
from mlops_platform.use_cases import USE_CASES

STAGES = {
    "data_engineering": data_engineering.create_pipeline,
    "drift": drift.create_pipeline,
    "training": training.create_pipeline,
    "evaluation": evaluation.create_pipeline,
    "reporting": reporting.create_pipeline,
}


def register_pipelines() -> dict[str, Pipeline]:
    pipelines: dict[str, Pipeline] = {}
    for name, use_case in USE_CASES.items():
        for stage, factory in STAGES.items():
            namespaced = pipeline(factory(use_case), namespace=name)
            pipelines[f"{name}.{stage}"] = namespaced
            pipelines[stage] = pipelines.get(stage, Pipeline([])) + namespaced
        pipelines[name] = sum(
            (pipelines[f"{name}.{stage}"] for stage in STAGES), Pipeline([])
        )
    pipelines["__default__"] = sum(
        (pipelines[name] for name in USE_CASES), Pipeline([])
    )
    return pipelines
