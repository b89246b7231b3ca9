"""Every generic pipeline, once per use case, under the use case's namespace.

Registered pipelines:
- ``__default__``: the whole lifecycle for every use case;
- ``<use_case>``: the whole lifecycle of one use case (``kedro run -p retail``);
- ``data_engineering``, ``drift``, ``training``, ``evaluation``, ``reporting`` (the
  run summary): one stage for every use case; ``<use_case>.<stage>``: one stage of
  one use case.
"""

from __future__ import annotations

from datetime import UTC, datetime

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


def stage_of_nodes() -> dict[str, str]:
    """Every registered node's stage (``retail.detect_drift`` -> ``drift``)."""
    registered = register_pipelines()
    return {
        n.name: stage
        for name in USE_CASES
        for stage in STAGES
        for n in registered[f"{name}.{stage}"].nodes
    }


def describe_run(pipeline: Pipeline, now: datetime | None = None) -> str:
    """A run's name for people: which use cases, which stages, when.

    ``retail, parking, sentiment: all stages · 2026-12-04 21:09 UTC`` for ``kedro
    run``; ``retail: drift, training · ...`` for ``kedro run -p retail.drift
    retail.training`` or a run started from a node. Use cases running the same
    stages are named together."""
    nodes = {n.name for n in pipeline.nodes}
    registered = register_pipelines()
    by_stages: dict[tuple[str, ...], list[str]] = {}
    for name in USE_CASES:
        stages = tuple(
            stage
            for stage in STAGES
            if nodes & {n.name for n in registered[f"{name}.{stage}"].nodes}
        )
        if stages:
            by_stages.setdefault(stages, []).append(name)
    parts = [
        f"{', '.join(names)}: "
        + ("all stages" if stages == tuple(STAGES) else ", ".join(stages))
        for stages, names in by_stages.items()
    ]
    when = (now or datetime.now(UTC)).strftime("%Y-%m-%d %H:%M UTC")
    return f"{'; '.join(parts) or 'no use case'} · {when}"
