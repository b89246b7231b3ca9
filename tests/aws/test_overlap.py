"""Two executions of one pipeline never overlap (issue 12, item 2, SageMaker part).

moto reports every execution Succeeded the moment it starts, so it cannot show two
running at once; here the SageMaker client is botocore's Stubber, which answers
with the responses given and checks every request and response against the real
API's service model (the substitution: the answers, not the shapes). The call
against moto through the real step entrypoint is in test_sagemaker's compiled-steps
test.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import boto3
import pytest
from botocore.stub import Stubber

from mlops_platform.aws.sagemaker.overlap import (
    OverlappingExecution,
    ensure_alone,
    pipeline_of,
)

BASE = "arn:aws:sagemaker:eu-west-1:123456789012:pipeline/mlops-retail/execution/"
T0 = datetime(2026, 12, 4, 6, 0, tzinfo=UTC)


def summary(exec_id: str, minutes: float, status: str) -> dict:
    return {
        "PipelineExecutionArn": BASE + exec_id,
        "StartTime": T0 + timedelta(minutes=minutes),
        "PipelineExecutionStatus": status,
    }


def stubbed_client():
    return boto3.client(
        "sagemaker",
        region_name="eu-west-1",
        aws_access_key_id="x",
        aws_secret_access_key="x",  # noqa: S106 (Stubber: never sent)
    )


def check(mine: str, listed: list[dict]) -> None:
    client = stubbed_client()
    with Stubber(client) as stub:
        stub.add_response(
            "list_pipeline_executions",
            {"PipelineExecutionSummaries": listed},
            {
                "PipelineName": "mlops-retail",
                "SortBy": "CreationTime",
                "SortOrder": "Ascending",
            },
        )
        ensure_alone(client, BASE + mine)
        stub.assert_no_pending_responses()


def test_alone_goes_on():
    check("b", [summary("b", 0, "Executing")])


def test_a_later_one_stops_naming_the_earlier():
    with pytest.raises(OverlappingExecution, match=r"execution/a .*Executing"):
        check("b", [summary("a", 0, "Executing"), summary("b", 5, "Executing")])


def test_the_earlier_one_goes_on():
    check("a", [summary("a", 0, "Executing"), summary("b", 5, "Executing")])


@pytest.mark.parametrize("status", ["Succeeded", "Failed", "Stopped"])
def test_an_earlier_finished_one_does_not_stop_it(status):
    check("b", [summary("a", 0, status), summary("b", 5, "Executing")])


def test_a_stopping_one_still_counts():
    with pytest.raises(OverlappingExecution):
        check("b", [summary("a", 0, "Stopping"), summary("b", 5, "Executing")])


def test_started_together_exactly_one_goes_on():
    both = [summary("a", 0, "Executing"), summary("b", 0, "Executing")]
    outcomes = []
    for mine in ("a", "b"):
        try:
            check(mine, both)
            outcomes.append("goes on")
        except OverlappingExecution:
            outcomes.append("stops")
    assert sorted(outcomes) == ["goes on", "stops"]


def test_the_pipeline_name_comes_from_the_arn():
    assert pipeline_of(BASE + "abc") == "mlops-retail"
    with pytest.raises(ValueError, match="not a pipeline execution ARN"):
        pipeline_of("local")


def test_not_listed_yet_it_asks_for_itself():
    """ListPipelineExecutions may not show an execution that just started: its start
    time then comes from DescribePipelineExecution."""
    client = boto3.client(
        "sagemaker",
        region_name="eu-west-1",
        aws_access_key_id="x",
        aws_secret_access_key="x",  # noqa: S106 (Stubber: never sent)
    )
    with Stubber(client) as stub:
        stub.add_response(
            "list_pipeline_executions",
            {"PipelineExecutionSummaries": [summary("a", 0, "Executing")]},
        )
        stub.add_response(
            "describe_pipeline_execution",
            {"PipelineExecutionArn": BASE + "b", "CreationTime": T0 + timedelta(1)},
            {"PipelineExecutionArn": BASE + "b"},
        )
        with pytest.raises(OverlappingExecution):
            ensure_alone(client, BASE + "b")
