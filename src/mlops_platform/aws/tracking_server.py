"""Wake the SageMaker managed MLflow tracking server a step logs to.

The tracking server is billed for every hour it runs, and the pipelines use it for
an hour or two a day. The platform can therefore stop it outside a daily window
(Terraform, ``modules/mlflow_tracking_server``: an EventBridge Scheduler schedule
calls ``StopMlflowTrackingServer``, another ``StartMlflowTrackingServer`` before the
pipelines). A step must not depend on that timing: a run started by hand, a retry
after the window, or a start schedule that failed would otherwise find no server.
So every compiled step calls :func:`ensure_started` before MLflow is touched:

* up (``Started``, ``Created``, ``Updated``, ``MaintenanceComplete``): go on at once
  (one ``DescribeMlflowTrackingServer`` call);
* ``Stopped``: ``StartMlflowTrackingServer``, then wait;
* on its way (``Starting``, ``Creating``, ``Updating``, ``MaintenanceInProgress``):
  wait; ``Stopping``: wait for ``Stopped``, then start it;
* failed or going away (``StartFailed``, ``Deleting``, ...): stop with an error that
  names the server and its status.

Two steps may find it stopped at once (two use cases' pipelines start together):
the second ``StartMlflowTrackingServer`` gets a ``ConflictException`` and both wait
for the same start. Waiting is bounded (``MLOPS_MLFLOW_START_TIMEOUT_S``, 30 minutes
by default); a step that gives up says for how long it waited and in which status.
The wait counts against the step's own limit (``timeout_seconds`` in
``conf/aws/sagemaker.yml``, an hour for most steps), so it is kept well below it.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import Any

from mlops_platform.aws.lake import TRACKING_VAR

TIMEOUT_VAR = "MLOPS_MLFLOW_START_TIMEOUT_S"
DEFAULT_TIMEOUT_S = 30 * 60
POLL_S = 30.0

# A SageMaker managed MLflow tracking server, as MLOPS_MLFLOW_TRACKING_URI names it.
_ARN = re.compile(
    r"arn:aws[a-z-]*:sagemaker:[a-z0-9-]+:\d{12}:mlflow-tracking-server/"
    r"(?P<name>[a-zA-Z0-9](-*[a-zA-Z0-9]){0,255})"
)
UP = frozenset({"Started", "Created", "Updated", "MaintenanceComplete"})
ON_ITS_WAY = frozenset({"Starting", "Creating", "Updating", "MaintenanceInProgress"})
FAILED = frozenset(
    {
        "CreateFailed",
        "UpdateFailed",
        "DeleteFailed",
        "StartFailed",
        "StopFailed",
        "MaintenanceFailed",
        "Deleting",
    }
)


class TrackingServerError(RuntimeError):
    """The tracking server cannot be used; the message names it and its status."""


def server_name(tracking_uri: str) -> str | None:
    """The tracking server's name if ``tracking_uri`` is a SageMaker managed MLflow
    tracking server's ARN; None for any other URI (an http(s) server, a local store)."""
    m = _ARN.fullmatch(tracking_uri.strip())
    return m.group("name") if m else None


def timeout_from(environ: dict[str, str]) -> float:
    raw = environ.get(TIMEOUT_VAR, "").strip()
    if not raw:
        return float(DEFAULT_TIMEOUT_S)
    try:
        value = float(raw)
    except ValueError:
        raise TrackingServerError(
            f"{TIMEOUT_VAR}={raw!r}: expected a number of seconds"
        ) from None
    if value <= 0:
        raise TrackingServerError(f"{TIMEOUT_VAR}={raw!r}: must be above 0")
    return value


def ensure_started(
    client: Any,
    name: str,
    *,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    poll_s: float = POLL_S,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    log: Callable[[str], None] = print,
) -> list[str]:
    """Return once the server ``name`` is up, starting it if it is stopped. Returns the
    statuses seen, in order (what the step's log shows). ``client`` is a boto3
    SageMaker client."""
    from botocore.exceptions import ClientError  # noqa: PLC0415

    deadline = clock() + timeout_s
    seen: list[str] = []
    start_sent = False
    while True:
        try:
            status = str(
                client.describe_mlflow_tracking_server(TrackingServerName=name)[
                    "TrackingServerStatus"
                ]
            )
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            raise TrackingServerError(
                f"MLflow tracking server {name!r} cannot be described ({code}: "
                f"{exc.response.get('Error', {}).get('Message', exc)}): check "
                f"MLOPS_MLFLOW_TRACKING_URI and the execution role"
            ) from exc
        if not seen or seen[-1] != status:
            seen.append(status)
            log(f"MLflow tracking server {name}: {status}")
        if status in UP:
            return seen
        if status in FAILED:
            raise TrackingServerError(
                f"MLflow tracking server {name!r} is {status}: the step cannot log "
                f"to it (statuses seen: {', '.join(seen)})"
            )
        if status == "Stopped" and not start_sent:
            try:
                client.start_mlflow_tracking_server(TrackingServerName=name)
                log(f"MLflow tracking server {name}: start requested")
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") != "ConflictException":
                    raise TrackingServerError(
                        f"MLflow tracking server {name!r} could not be started: {exc}"
                    ) from exc
                log(f"MLflow tracking server {name}: already being started")
            start_sent = True
        elif status not in ON_ITS_WAY and status not in ("Stopping", "Stopped"):
            raise TrackingServerError(
                f"MLflow tracking server {name!r}: unknown status {status!r}"
            )
        if clock() >= deadline:
            raise TrackingServerError(
                f"MLflow tracking server {name!r} not up after {timeout_s:.0f} s "
                f"(statuses seen: {', '.join(seen)}; {TIMEOUT_VAR} sets the wait)"
            )
        sleep(poll_s)


def wake_for_step(
    environ: dict[str, str], client_factory: Callable[[], Any] | None = None
) -> list[str] | None:
    """What a compiled step calls first: wake the server its tracking URI names, if
    that is a SageMaker managed server. None when there is no such server."""
    name = server_name(environ.get(TRACKING_VAR, ""))
    if name is None:
        return None
    timeout = timeout_from(environ)
    if client_factory is None:
        import boto3  # noqa: PLC0415

        def client_factory() -> Any:
            return boto3.client("sagemaker")

    return ensure_started(client_factory(), name, timeout_s=timeout)


__all__ = [
    "TIMEOUT_VAR",
    "TrackingServerError",
    "ensure_started",
    "server_name",
    "timeout_from",
    "wake_for_step",
]
