"""A stand-in S3 on loopback (moto server) for tests and ``make aws-demo``.

Never reaches AWS: the server binds 127.0.0.1 on a free port and the environment it
returns points every AWS client at it, with dummy keys.
"""

from __future__ import annotations

import socket
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

REGION = "eu-west-1"
# the Glue database Terraform creates in dev (tests/aws/roles.py checks the name)
GLUE_DATABASE = "mlops_dev_lake"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def lake_env(endpoint: str, bucket: str, prefix: str, tracking_uri: str) -> dict:
    """Variables for a process that runs `kedro run --env aws` against the server."""
    return {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ENDPOINT_URL_S3": endpoint,
        "MLFLOW_S3_ENDPOINT_URL": endpoint,
        "AWS_EC2_METADATA_DISABLED": "true",
        "MLOPS_LAKE_BUCKET": bucket,
        "MLOPS_LAKE_PREFIX": prefix,
        "MLOPS_MLFLOW_TRACKING_URI": tracking_uri,
        "MLOPS_GLUE_DATABASE": GLUE_DATABASE,  # create_bucket creates it too
        # what the model packages name (nothing pulls it here)
        "MLOPS_SERVING_IMAGE": (
            f"123456789012.dkr.ecr.{REGION}.amazonaws.com/mlops-serving:local"
        ),
    }


@contextmanager
def moto_server() -> Iterator[str]:
    """Start a moto server on a free loopback port; yield its endpoint URL."""
    import logging  # noqa: PLC0415

    from moto.server import ThreadedMotoServer  # noqa: PLC0415

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one line per request
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    # moto keeps its accounts' state per process, not per server: a server started
    # after another in the same process would see the first one's buckets and model
    # packages. Each server starts empty, as a separate process would.
    reset = urllib.request.Request(  # noqa: S310 (http on loopback)
        f"{endpoint}/moto-api/reset", method="POST"
    )
    with urllib.request.urlopen(reset, timeout=30) as answer:  # noqa: S310 (loopback)
        answer.read()
    try:
        yield endpoint
    finally:
        server.stop()


def s3_client(endpoint: str):
    return moto_client(endpoint, "s3")


def moto_client(endpoint: str, service: str):
    """A boto3 client of ``service`` on the moto server at ``endpoint``."""
    import boto3  # noqa: PLC0415

    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",  # noqa: S106
    )


def create_bucket(endpoint: str, bucket: str) -> None:
    """The lake as Terraform creates it: the bucket, and the Glue database the lake
    tables are published into (``MLOPS_GLUE_DATABASE`` of :func:`lake_env`)."""
    s3_client(endpoint).create_bucket(
        Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION}
    )
    glue = moto_client(endpoint, "glue")
    try:
        glue.create_database(DatabaseInput={"Name": GLUE_DATABASE})
    except glue.exceptions.AlreadyExistsException:
        pass


def upload_folder(endpoint: str, folder: Path, bucket: str, key_prefix: str) -> int:
    client, n = s3_client(endpoint), 0
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            key = f"{key_prefix.strip('/')}/{path.relative_to(folder).as_posix()}"
            client.upload_file(str(path), bucket, key)
            n += 1
    return n


def list_keys(endpoint: str, bucket: str, prefix: str = "") -> list[str]:
    client = s3_client(endpoint)
    keys: list[str] = []
    for page in client.get_paginator("list_objects_v2").paginate(
        Bucket=bucket, Prefix=prefix
    ):
        keys += [o["Key"] for o in page.get("Contents", [])]
    return keys


def read_json(endpoint: str, bucket: str, key: str) -> dict:
    import json  # noqa: PLC0415

    body = s3_client(endpoint).get_object(Bucket=bucket, Key=key)["Body"].read()
    return dict(json.loads(body))
