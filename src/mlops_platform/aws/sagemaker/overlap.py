"""One execution of a use case's pipeline at a time.

The daily schedule and a manual ``mlops-sagemaker run`` can start executions of the
same pipeline that overlap; two of them would read and write the same lake prefixes
and race their promotions (the model store's lease serialises the commits, not the
work). SageMaker has no setting for this (``ParallelismConfiguration`` limits the
steps running in parallel, not executions), so the first step of every execution
checks: if an execution of the same pipeline that started earlier is still running,
this one stops before it reads or writes anything, naming that execution. Of
executions started together exactly one goes on (the earliest start, ties broken by
ARN), so the check never stops both.
"""

from __future__ import annotations

import logging
from typing import Any

logger = logging.getLogger(__name__)

RUNNING = ("Executing", "Stopping")


class OverlappingExecution(RuntimeError):
    """Another execution of this pipeline started earlier and is still running."""


def pipeline_of(execution_arn: str) -> str:
    """``arn:aws:sagemaker:<region>:<account>:pipeline/<name>/execution/<id>``."""
    try:
        rest = execution_arn.split(":pipeline/", 1)[1]
        name, _, execution = rest.partition("/execution/")
    except IndexError:
        name = execution = ""
    if not name or not execution:
        raise ValueError(f"not a pipeline execution ARN: {execution_arn!r}")
    return name


def earlier_running(client: Any, execution_arn: str) -> dict[str, Any] | None:
    """The running execution of the same pipeline that this one must give way to."""
    name = pipeline_of(execution_arn)
    summaries = [
        s
        for page in client.get_paginator("list_pipeline_executions").paginate(
            PipelineName=name, SortBy="CreationTime", SortOrder="Ascending"
        )
        for s in page.get("PipelineExecutionSummaries", [])
    ]
    mine = next(
        (s for s in summaries if s["PipelineExecutionArn"] == execution_arn), None
    )
    if mine is None:  # not listed yet (eventual consistency): ask for it directly
        described = client.describe_pipeline_execution(
            PipelineExecutionArn=execution_arn
        )
        mine = {
            "PipelineExecutionArn": execution_arn,
            "StartTime": described["CreationTime"],
        }
    key = (mine["StartTime"], execution_arn)
    for other in summaries:
        if (
            other["PipelineExecutionArn"] != execution_arn
            and other.get("PipelineExecutionStatus") in RUNNING
            and (other["StartTime"], other["PipelineExecutionArn"]) < key
        ):
            return other
    return None


def ensure_alone(client: Any, execution_arn: str) -> None:
    """Raise :class:`OverlappingExecution` if an earlier execution is running."""
    other = earlier_running(client, execution_arn)
    if other is not None:
        raise OverlappingExecution(
            f"execution {other['PipelineExecutionArn']} of pipeline "
            f"{pipeline_of(execution_arn)} started at {other['StartTime']} and is "
            f"{other['PipelineExecutionStatus']}: this execution ({execution_arn}) "
            "stops before touching the lake; start it again when that one ends"
        )
