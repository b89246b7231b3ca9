"""A real MLflow tracking server on loopback, for SageMaker's managed one on AWS.

What it substitutes: the SageMaker managed MLflow tracking server the platform creates
(``infra/terraform/modules/mlflow_tracking_server``), reached on AWS through the
``sagemaker-mlflow`` plugin (the ARN as tracking URI, SigV4-signed HTTPS through the
VPC's MLflow endpoint). Here the steps get an ``http://127.0.0.1`` URI instead; the
plugin's ARN resolution and signing are not exercised (moto has no tracking server).
What is the same: the steps are separate processes that reach MLflow only over its
REST API; none of them can open the server's store (a folder only the test's user
may enter); artifacts go from the steps straight to the lake's S3 prefix, as the
managed server's clients write them (``--no-serve-artifacts``).

Every request the server answers is in its access log; :func:`tests.aws.iam.
mlflow_requests` names the ``sagemaker-mlflow`` action each one needs, which the
execution role's policy must grant.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from mlops_platform.aws.moto_lake import free_port
from tests.live import process_group, wait_http


@dataclass
class TrackingServer:
    uri: str
    store: Path  # the server's own folder: mode 0700, the test user's
    access_log: Path

    def requests(self) -> list[str]:
        """The access log's lines so far (uvicorn writes one per request)."""
        return self.access_log.read_text(errors="replace").splitlines()


@contextlib.contextmanager
def tracking_server(root: Path, default_artifact_root: str) -> Iterator[TrackingServer]:
    store = root / "mlflow-server"
    store.mkdir(mode=0o700)
    log = root / "mlflow-server.log"
    port = free_port()
    args = [
        sys.executable, "-m", "mlflow", "server",
        "--backend-store-uri", f"sqlite:///{store}/mlflow.db",
        "--default-artifact-root", default_artifact_root,
        "--no-serve-artifacts",
        "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
    ]  # fmt: skip
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}  # each log line as it happens
    with (
        log.open("wb") as out,
        process_group(args, stdout=out, stderr=subprocess.STDOUT, env=env) as proc,
    ):
        wait_http(f"http://127.0.0.1:{port}/health", proc)
        yield TrackingServer(f"http://127.0.0.1:{port}", store, log)
