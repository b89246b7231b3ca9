"""Where the S3 data lake is, for ``conf/aws`` (``kedro run --env aws``).

The bucket and prefix are deployment facts, not project configuration, so they come
from the environment of the process (the SageMaker step, the CI job, the laptop):

* ``MLOPS_LAKE_BUCKET``: the data lake bucket (required in the aws environment);
* ``MLOPS_LAKE_PREFIX``: the folder inside it (default ``mlops``);
* ``MLOPS_MLFLOW_TRACKING_URI``: MLflow tracking (a SageMaker managed MLflow tracking
  server ARN on AWS, a sqlite file or a server URL elsewhere; default: a sqlite file
  under ``data/mlflow``; a compiled SageMaker pipeline needs a server,
  :func:`pipeline_tracking`);
* ``MLOPS_SERVING_IMAGE``: the serving image (ECR) the SageMaker model packages
  name, so that SageMaker can deploy them;
* ``MLOPS_GLUE_DATABASE``: the Glue database the lake tables are published into for
  Athena (unset: not published);
* ``MLOPS_SAGEMAKER_SUBNETS`` and ``MLOPS_SAGEMAKER_SECURITY_GROUPS``: comma-separated
  subnet and security group IDs the compiled steps run in (Terraform outputs; unset:
  SageMaker's own network).

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
SERVING_IMAGE_VAR = "MLOPS_SERVING_IMAGE"
GLUE_DATABASE_VAR = "MLOPS_GLUE_DATABASE"
NETWORK_VARS = {
    "subnets": ("MLOPS_SAGEMAKER_SUBNETS", re.compile(r"subnet-[0-9a-f]{8,17}")),
    "security_groups": (
        "MLOPS_SAGEMAKER_SECURITY_GROUPS",
        re.compile(r"sg-[0-9a-f]{8,17}"),
    ),
}
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


# What every step of a SageMaker pipeline can reach: a tracking server.
_SHARED_TRACKING = re.compile(
    r"https?://\S+|arn:aws[a-z-]*:sagemaker:[a-z0-9-]+:\d{12}:"
    r"mlflow-(tracking-server|app)/\S+"
)


def pipeline_tracking() -> str:
    """The tracking URI compiled into a SageMaker pipeline's steps: a server.

    Each step runs in a container of its own and shares no file with the others, and
    steps 2 onwards resume the MLflow run the first step started (``MLFLOW_RUN_ID``). A
    ``sqlite:`` or ``file:`` store would be a new, empty store in every container: the
    second step would fail to find the run, after the first had paid for its work.
    """
    if not os.environ.get(TRACKING_VAR):
        raise LakeConfigError(
            f"{TRACKING_VAR} is not set: a SageMaker pipeline's steps log to an MLflow "
            "tracking server they all reach (the platform's: terraform output "
            "mlflow_tracking_server_arn)"
        )
    uri = mlflow_tracking()
    if not _SHARED_TRACKING.fullmatch(uri):
        raise LakeConfigError(
            f"{TRACKING_VAR}={uri!r}: the steps of a SageMaker pipeline run in "
            "separate containers with no shared file, so MLflow must be a tracking "
            "server: a SageMaker MLflow ARN or an http(s):// URL"
        )
    return uri


# What SageMaker hosting can pull: an ECR image, by tag or digest.
_ECR_IMAGE = re.compile(
    r"\d{12}\.dkr\.ecr\.[a-z0-9-]+\.amazonaws\.com(\.cn)?/[a-z0-9][a-z0-9._/-]*"
    r"(:\w[\w.-]{0,127}|@sha256:[0-9a-f]{64})"
)


def serving_image() -> str:
    """The serving image the SageMaker model packages name (``conf/aws/
    model_registry.yml``): SageMaker deploys a package by running it."""
    image = os.environ.get(SERVING_IMAGE_VAR, "")
    if not image:
        raise LakeConfigError(
            f"{SERVING_IMAGE_VAR} is not set: the SageMaker model packages name the "
            "serving image SageMaker deploys them with (the ECR serving repository "
            "and the delivered commit's tag, e.g. "
            "123456789012.dkr.ecr.eu-west-1.amazonaws.com/mlops-serving:<sha>)"
        )
    if not _ECR_IMAGE.fullmatch(image):
        raise LakeConfigError(
            f"{SERVING_IMAGE_VAR}={image!r} is not an ECR image URI "
            "(<account>.dkr.ecr.<region>.amazonaws.com/<repository>:<tag> or "
            "@sha256:<digest>): SageMaker hosting pulls a model's image from ECR"
        )
    return image


def glue_database() -> str | None:
    """The Glue database the lake tables are published into for Athena (Terraform
    output ``glue_database``), or None: nothing is published (a local run)."""
    name = os.environ.get(GLUE_DATABASE_VAR, "").strip()
    if not name:
        return None
    if not re.fullmatch(r"[a-z0-9_]{1,255}", name):
        raise LakeConfigError(
            f"{GLUE_DATABASE_VAR}={name!r}: a Glue database name is lowercase letters, "
            "digits and underscores"
        )
    return name


def sagemaker_network(kind: str) -> list[str] | None:
    """Subnet or security group IDs for the compiled steps, or None when unset.

    Both variables are set together (the steps run in the VPC) or neither is.
    """
    if kind not in NETWORK_VARS:
        raise LakeConfigError(
            f"sagemaker_network:{kind}: expected one of {sorted(NETWORK_VARS)}"
        )
    values = {}
    for key, (var, pattern) in NETWORK_VARS.items():
        raw = os.environ.get(var, "").strip()
        ids = [v.strip() for v in raw.split(",") if v.strip()]
        bad = [v for v in ids if not pattern.fullmatch(v)]
        if bad:
            raise LakeConfigError(f"{var}: {bad[0]!r} is not a valid ID")
        values[key] = ids
    if bool(values["subnets"]) != bool(values["security_groups"]):
        names = " and ".join(var for var, _ in NETWORK_VARS.values())
        raise LakeConfigError(f"set both {names}, or neither")
    return values[kind] or None


RESOLVERS = {
    "lake": lake_root,
    "mlflow_tracking": mlflow_tracking,
    "sagemaker_network": sagemaker_network,
    "serving_image": serving_image,
    "glue_database": glue_database,
}
