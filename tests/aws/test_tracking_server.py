"""A step wakes the SageMaker managed MLflow tracking server it logs to.

Substituted: moto (5.2) has no MLflow tracking server, so SageMaker's answers come
from botocore's ``Stubber`` on a real SageMaker client. The client still validates
every request against botocore's service model before the stub answers (a name
outside ``TrackingServerName``'s pattern fails here as it would on AWS), and the
answers are checked against the model's output shapes. The calls a wake-up makes
are then checked against the execution role's Terraform policy, as the moto runs'
calls are (tests/aws/roles.py).
"""

from __future__ import annotations

import os
from typing import Any

import boto3
import pytest
from botocore.exceptions import ParamValidationError
from botocore.stub import Stubber

from mlops_platform.aws import tracking_server as ts
from mlops_platform.aws.sagemaker import step
from tests.aws.roles import audit, mlflow_server_arn, role_policy

REGION = "eu-west-1"
NAME = mlflow_server_arn(REGION).rsplit("/", 1)[1]


class FakeClock:
    """Time that moves only when the code under test sleeps."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def _client() -> tuple[Any, Stubber, list[dict[str, Any]]]:
    """A SageMaker client answered by a Stubber, recording each call as the
    recorder (tests/aws/recorder) would: service, operation, parameters."""
    client = boto3.client(
        "sagemaker",
        region_name=REGION,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",  # noqa: S106 (the stub never sends it)
    )
    calls: list[dict[str, Any]] = []

    def record(params: dict[str, Any], model: Any, **_: Any) -> None:
        calls.append(
            {
                "service": model.service_model.service_name,
                "operation": model.name,
                "params": dict(params),
            }
        )

    client.meta.events.register("before-parameter-build.sagemaker", record)
    return client, Stubber(client), calls


def _status(stub: Stubber, status: str, name: str = NAME) -> None:
    stub.add_response(
        "describe_mlflow_tracking_server",
        {"TrackingServerName": name, "TrackingServerStatus": status},
        {"TrackingServerName": name},
    )


def _start(stub: Stubber, name: str = NAME) -> None:
    stub.add_response(
        "start_mlflow_tracking_server",
        {"TrackingServerArn": mlflow_server_arn(REGION)},
        {"TrackingServerName": name},
    )


def _wake(client: Any, clock: FakeClock, timeout_s: float = 3600) -> list[str]:
    return ts.ensure_started(
        client, NAME, timeout_s=timeout_s, poll_s=30, clock=clock,
        sleep=clock.sleep, log=lambda _: None,
    )  # fmt: skip


def test_a_started_server_costs_one_describe_call():
    client, stub, calls = _client()
    _status(stub, "Started")
    with stub:
        assert _wake(client, FakeClock()) == ["Started"]
        stub.assert_no_pending_responses()
    assert [c["operation"] for c in calls] == ["DescribeMlflowTrackingServer"]


def test_a_stopped_server_is_started_and_waited_for():
    client, stub, calls = _client()
    clock = FakeClock()
    _status(stub, "Stopped")
    _start(stub)
    for status in ("Stopped", "Starting", "Starting", "Started"):
        _status(stub, status)
    with stub:
        seen = _wake(client, clock)
        stub.assert_no_pending_responses()
    assert seen == ["Stopped", "Starting", "Started"]
    assert [c["operation"] for c in calls].count("StartMlflowTrackingServer") == 1
    assert clock.sleeps == [30, 30, 30, 30]


def test_a_stopping_server_is_started_once_it_has_stopped():
    """The stop schedule fired just before a step: StartMlflowTrackingServer on a
    Stopping server would conflict, so the step waits for Stopped first."""
    client, stub, calls = _client()
    _status(stub, "Stopping")
    _status(stub, "Stopped")
    _start(stub)
    _status(stub, "Started")
    with stub:
        assert _wake(client, FakeClock()) == ["Stopping", "Stopped", "Started"]
        stub.assert_no_pending_responses()
    ops = [c["operation"] for c in calls]
    assert ops.index("StartMlflowTrackingServer") == 2  # after Stopped, not before


def test_two_steps_racing_to_start_it_both_wait_for_the_one_start():
    """Two pipelines' first steps find the server stopped together: the one whose
    start comes second gets a ConflictException and waits like the other."""
    client, stub, _ = _client()
    _status(stub, "Stopped")
    stub.add_client_error(
        "start_mlflow_tracking_server",
        service_error_code="ConflictException",
        service_message="Tracking server is in Starting state",
        http_status_code=409,
        expected_params={"TrackingServerName": NAME},
    )
    _status(stub, "Starting")
    _status(stub, "Started")
    with stub:
        assert _wake(client, FakeClock()) == ["Stopped", "Starting", "Started"]
        stub.assert_no_pending_responses()


@pytest.mark.parametrize("status", ["StartFailed", "Deleting", "MaintenanceFailed"])
def test_a_failed_server_stops_the_step_naming_it(status: str):
    client, stub, calls = _client()
    _status(stub, status)
    with stub, pytest.raises(ts.TrackingServerError) as err:
        _wake(client, FakeClock())
    assert NAME in str(err.value) and status in str(err.value)
    assert "StartMlflowTrackingServer" not in [c["operation"] for c in calls]


def test_waiting_is_bounded_and_says_what_it_saw():
    client, stub, _ = _client()
    clock = FakeClock()
    for _ in range(5):
        _status(stub, "Starting")
    with stub, pytest.raises(ts.TrackingServerError) as err:
        _wake(client, clock, timeout_s=100)
    message = str(err.value)
    assert "not up after 100 s" in message and "Starting" in message
    assert ts.TIMEOUT_VAR in message
    assert clock.now <= 100 + 30  # it gave up at the first look past the deadline


def test_a_missing_server_is_a_clear_error():
    client, stub, _ = _client()
    stub.add_client_error(
        "describe_mlflow_tracking_server",
        service_error_code="ResourceNotFound",
        service_message="Tracking server not found",
        http_status_code=400,
    )
    with stub, pytest.raises(ts.TrackingServerError) as err:
        _wake(client, FakeClock())
    assert "ResourceNotFound" in str(err.value) and NAME in str(err.value)


def test_requests_are_checked_against_the_service_model():
    """The stubbed client validates parameters as a real one does: a name outside
    SageMaker's TrackingServerName constraints never leaves the process."""
    client, stub, _ = _client()
    stub.add_response(  # queued without expected parameters: the call is the test
        "describe_mlflow_tracking_server",
        {"TrackingServerName": NAME, "TrackingServerStatus": "Started"},
    )
    with stub, pytest.raises(ParamValidationError, match="TrackingServerName"):
        ts.ensure_started(client, "", timeout_s=1, log=lambda _: None)


def test_the_uri_decides_whether_there_is_a_server_to_wake():
    arn = mlflow_server_arn(REGION)
    assert ts.server_name(arn) == NAME
    assert ts.server_name(arn.replace(":aws:", ":aws-cn:")) == NAME
    assert ts.server_name("http://127.0.0.1:5000") is None
    assert ts.server_name("sqlite:///mlflow.db") is None
    assert ts.server_name(f"{arn}/extra") is None
    calls: list[str] = []
    assert ts.wake_for_step({}, lambda: calls.append("client")) is None
    assert (
        ts.wake_for_step(
            {"MLOPS_MLFLOW_TRACKING_URI": "http://127.0.0.1:5000"},
            lambda: calls.append("client"),
        )
        is None
    )
    assert calls == []  # no AWS client for a server that is not SageMaker's


@pytest.mark.parametrize("raw", ["soon", "0", "-5"])
def test_a_bad_timeout_is_named(raw: str):
    with pytest.raises(ts.TrackingServerError, match=ts.TIMEOUT_VAR):
        ts.timeout_from({ts.TIMEOUT_VAR: raw})
    assert ts.timeout_from({ts.TIMEOUT_VAR: "90"}) == 90.0
    assert ts.timeout_from({}) == ts.DEFAULT_TIMEOUT_S


def test_the_execution_role_allows_the_wake_up_and_nothing_more():
    """Every call of a full wake-up (describe, start, describe) against the dev
    execution role's Terraform policy: allowed. Without the WakeTrackingServer
    statement the same calls are refused, so the check can fail; and the role may
    not stop the server (only the stop schedule's role may)."""
    client, stub, calls = _client()
    _status(stub, "Stopped")
    _start(stub)
    _status(stub, "Started")
    with stub:
        _wake(client, FakeClock())
    region = client.meta.region_name
    policy = role_policy("sagemaker_role", "lake", region)
    assert audit(calls, policy, region) == []
    without = [st for st in policy if st.sid != "WakeTrackingServer"]
    refused = audit(calls, without, region)
    assert len(refused) == 2 and all("not allowed" in p for p in refused)
    stop = {"service": "sagemaker", "operation": "StopMlflowTrackingServer",
            "params": {"TrackingServerName": NAME}}  # fmt: skip
    assert audit([stop], policy, region) != []


def test_the_step_entrypoint_stops_with_status_4_when_the_server_cannot_be_used(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
):
    """The entrypoint wakes the server before Kedro or MLflow start: a failed server
    ends the step at once with the reason (the boto3 client it makes is the stubbed
    one here; nothing else of the step runs)."""
    client, stub, _ = _client()
    _status(stub, "StartFailed")
    monkeypatch.setattr(boto3, "client", lambda *a, **k: client)
    monkeypatch.setenv("MLOPS_MLFLOW_TRACKING_URI", mlflow_server_arn(REGION))
    monkeypatch.delenv("MLOPS_STEP_USER", raising=False)
    monkeypatch.delenv("KEDRO_SAGEMAKER_EXECUTION_ARN", raising=False)
    with stub:
        status = step.main(["--pipeline", "retail.drift"])
    assert status == 4
    err = capsys.readouterr().err
    assert "StartFailed" in err and NAME in err
    assert os.environ.get("MLFLOW_RUN_ID") is None


def test_the_window_schedules_call_real_operations_with_valid_input():
    """The start and stop schedules are EventBridge Scheduler universal targets
    (``arn:aws:scheduler:::aws-sdk:<service>:<apiAction>``): each names an operation
    SageMaker has, with the input its model requires and accepts, and the window's
    role is granted that operation on the server. Read from the module's Terraform
    (the expressions are evaluated by hand here: each.key is start or stop)."""
    import re

    import botocore.session
    from botocore.validate import validate_parameters
    from cost_estimate import TF, load_tf

    tf = load_tf(TF / "modules" / "mlflow_tracking_server" / "main.tf")
    (schedule,) = [
        r["aws_scheduler_schedule"]["window"]
        for r in tf["resource"]
        if "window" in r.get("aws_scheduler_schedule", {})
    ]
    (target,) = schedule["target"]
    (grant,) = [
        d["aws_iam_policy_document"]["window"]["statement"]
        for d in tf["data"]
        if "window" in d.get("aws_iam_policy_document", {})
    ]
    model = botocore.session.get_session().get_service_model("sagemaker")
    server_name = "TrackingServerName = aws_sagemaker_mlflow_tracking_server"
    assert server_name in target["input"]
    for key in ("start", "stop"):
        arn = (
            target["arn"]
            .replace("${data.aws_partition.current.partition}", "aws")
            .replace("${each.key}", key)
        )
        m = re.fullmatch(r"arn:aws:scheduler:::aws-sdk:(\w+):(\w+)", arn)
        assert m and m.group(1) == "sagemaker", arn
        operation = m.group(2)[0].upper() + m.group(2)[1:]
        shape = model.operation_model(operation).input_shape
        assert shape.required_members == ["TrackingServerName"]
        validate_parameters({"TrackingServerName": NAME}, shape)  # raises if not
        granted = grant[0]["actions"].replace("${title(action)}", key.title())
        assert f"sagemaker:{operation}" in granted


def test_the_wait_leaves_every_step_time_to_work():
    """The wait runs inside the step's processing job, whose limit is its
    ``timeout_seconds`` (conf/aws/sagemaker.yml): the default wait is at most half
    of the shortest, so a step that waited the whole bound still has time to run."""
    import yaml

    from tests.conftest import REPO

    conf = yaml.safe_load((REPO / "conf" / "aws" / "sagemaker.yml").read_text())
    limits = [
        r["timeout_seconds"]
        for r in conf["aws"]["resources"].values()
        if "timeout_seconds" in r
    ]
    assert limits and ts.DEFAULT_TIMEOUT_S <= 0.5 * min(limits)
