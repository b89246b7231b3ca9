"""Where the S3 data lake is, for ``conf/aws`` (``kedro run --env aws``).

The bucket and prefix are deployment facts, not project configuration, so they come
from the environment of the process (the SageMaker step, the CI job, the laptop):

* ``MLOPS_LAKE_BUCKET``: the data lake bucket (required in the aws environment);
* ``MLOPS_LAKE_PREFIX``: the folder inside it (default ``mlops``);
* ``MLOPS_MLFLOW_TRACKING_URI``: MLflow tracking (a SageMaker managed MLflow tracking
  server ARN on AWS, a sqlite file or a server URL elsewhere; default: a sqlite file
  under ``data/mlflow``).

Kedro allows ``${oc.env:...}`` only in credentials. The endpoint and keys are
credentials and are read there (``conf/aws/credentials.yml``). These three are read by
the named resolvers below instead (``${lake:}``, ``${mlflow_tracking:}``), which accept
nothing else and validate what they read, so configuration cannot read arbitrary
variables.
"""

from __future__ import annotations

import os
import re

BUCKET_VAR = "MLOPS_LAKE_BUCKET"
PREFIX_VAR = "MLOPS_LAKE_PREFIX"
TRACKING_VAR = "MLOPS_MLFLOW_TRACKING_URI"
DEFAULT_PREFIX = "mlops"
DEFAULT_TRACKING = "sqlite:///data/mlflow/mlflow.db"
# S3 bucket naming rules (general purpose buckets).
_BUCKET = re.compile(r"(?!xn--)(?!.*\.\.)[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
_PREFIX = re.compile(r"[A-Za-z0-9!_.*'()/-]{1,512}")


class LakeConfigError(ValueError):
    """The lake location in the environment is missing or malformed."""


def lake_root() -> str:
    """``s3://<bucket>/<prefix>``: the aws environment's ``data_root``."""
    bucket = os.environ.get(BUCKET_VAR, "")
    if not bucket:
        raise LakeConfigError(
            f"{BUCKET_VAR} is not set: the aws environment needs the data lake bucket "
            "(e.g. export MLOPS_LAKE_BUCKET=my-mlops-lake)"
        )
    if not _BUCKET.fullmatch(bucket):
        raise LakeConfigError(f"{BUCKET_VAR}={bucket!r} is not a valid S3 bucket name")
    prefix = os.environ.get(PREFIX_VAR, DEFAULT_PREFIX).strip("/")
    if not prefix or not _PREFIX.fullmatch(prefix) or ".." in prefix.split("/"):
        raise LakeConfigError(f"{PREFIX_VAR}={prefix!r} is not a valid key prefix")
    return f"s3://{bucket}/{prefix}"


def mlflow_tracking() -> str:
    uri = os.environ.get(TRACKING_VAR, DEFAULT_TRACKING)
    if not re.fullmatch(
        r"(sqlite:///|https?://|arn:aws[a-z-]*:sagemaker:|file:)\S+", uri
    ):
        raise LakeConfigError(
            f"{TRACKING_VAR}={uri!r}: expected sqlite:///..., http(s)://..., file:... "
            "or a SageMaker MLflow tracking server ARN"
        )
    return uri


RESOLVERS = {"lake": lake_root, "mlflow_tracking": mlflow_tracking}
