"""The SageMaker Model Registry follows the production pointer through crashes
(issue 12, item 1, registry part), on a moto server on loopback.

The store is a local folder (the registry's behaviour does not depend on where the
store is; the S3 store's own transaction is tested in test_model_store_races). A
process is killed with SIGKILL at each registry step (``MLOPS_FAULT_KILL``); after
each kill at most one package is Approved, and the next sync (what every run and
``mlops-model`` command does first) leaves exactly the pointer's version Approved,
with one package per version.
"""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from mlops_platform.aws import model_archive
from mlops_platform.aws.model_registry import SageMakerModelRegistry, package_version
from mlops_platform.aws.moto_lake import REGION, moto_client, moto_server
from mlops_platform.model_store import ModelStore
from tests.test_model_store import _request

IMAGE = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/serving:test"

FOLLOWER = r"""
import sys, boto3
from mlops_platform.aws.model_registry import SageMakerModelRegistry
from mlops_platform.model_store import ModelStore
root, endpoint, use_case = sys.argv[1:4]
client = boto3.client("sagemaker", endpoint_url=endpoint, region_name="eu-west-1",
                      aws_access_key_id="testing", aws_secret_access_key="testing")
SageMakerModelRegistry("image", client=client).follow(ModelStore(root, use_case))
"""


@pytest.fixture(scope="module")
def endpoint():
    with moto_server() as url:
        yield url


def _client(endpoint: str):
    return moto_client(endpoint, "sagemaker")


def _state(registry: SageMakerModelRegistry, use_case: str) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for p in registry.packages(use_case):
        out.setdefault(p["ModelApprovalStatus"], []).append(str(package_version(p)))
    return {k: sorted(v) for k, v in out.items()}


def _versions(registry: SageMakerModelRegistry, use_case: str) -> list[str]:
    return sorted(str(package_version(p)) for p in registry.packages(use_case))


def test_promotions_and_a_rollback_keep_one_approved_package(endpoint, tmp_path):
    store = ModelStore(str(tmp_path / "models"), "uc-sequence")
    registry = SageMakerModelRegistry(IMAGE, client=_client(endpoint))
    assert registry.follow(store) == []  # no champion, no group yet: nothing to do
    store.commit_promotion(_request("first"), {})
    assert registry.follow(store) == ["registered v0001", "approved v0001"]
    assert registry.follow(store) == []  # idempotent
    store.commit_promotion(_request("second"), {})
    registry.follow(store)
    assert _state(registry, "uc-sequence") == {
        "Approved": ["v0002"],
        "Rejected": ["v0001"],
    }
    store.rollback("bad model")
    assert registry.follow(store) == ["rejected v0002", "approved v0001"]
    assert _state(registry, "uc-sequence") == {
        "Approved": ["v0001"],
        "Rejected": ["v0002"],
    }
    assert _versions(registry, "uc-sequence") == ["v0001", "v0002"]  # none added


@pytest.mark.parametrize(
    "point",
    ["registry.archive_written", "registry.after_register", "registry.after_reject"],
)
def test_a_kill_inside_the_mirror_never_leaves_two_champions(endpoint, tmp_path, point):
    use_case = f"uc-{point.rsplit('_', 1)[1]}"  # a valid group name: no "_"
    store = ModelStore(str(tmp_path / "models"), use_case)
    registry = SageMakerModelRegistry(IMAGE, client=_client(endpoint))
    store.commit_promotion(_request("first"), {})
    registry.follow(store)
    store.commit_promotion(_request("second"), {})  # the registry has not followed
    env = {
        **os.environ,
        "PYTHONPATH": str(Path(__file__).parents[2]),
        "MLOPS_FAULT_KILL": point,
    }
    proc = subprocess.run(  # noqa: PLW1510 (the kill is the expected exit)
        [sys.executable, "-c", FOLLOWER, str(store.root), endpoint, use_case],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == -signal.SIGKILL, proc.stderr[-2000:]
    left = _state(registry, use_case)
    assert len(left.get("Approved", [])) <= 1, left
    # killed before its package was created, v0002 has only its archive
    registered = (
        ["v0001"] if point == "registry.archive_written" else ["v0001", "v0002"]
    )
    assert _versions(registry, use_case) == registered
    # the next run's first step
    registry.follow(store)
    assert _state(registry, use_case) == {"Approved": ["v0002"], "Rejected": ["v0001"]}
    assert _versions(registry, use_case) == ["v0001", "v0002"]  # no duplicate


@pytest.mark.parametrize("use_case", ["retail", "parking", "sentiment"])
def test_every_registry_request_is_within_the_real_api_limits(endpoint, use_case):
    """moto accepts names and values SageMaker refuses (a "_" in a group name, an
    empty metadata value): every request a promotion and a rollback make, for each
    real use case, is checked against botocore's service model."""
    from tests.aws.api_limits import violations

    client = _client(endpoint)
    sent: list[tuple[str, dict]] = []

    def record(params, model, **_):
        sent.append((model.name, dict(params)))

    client.meta.events.register("provide-client-params.sagemaker.*", record)
    # on S3, as in the aws environment (ModelDataUrl must be an s3:// URL)
    from mlops_platform.aws.moto_lake import create_bucket

    bucket = f"registry-{use_case}"
    create_bucket(endpoint, bucket)
    options = {
        "client_kwargs": {"endpoint_url": endpoint, "region_name": REGION},
        "key": "testing",
        "secret": "testing",
    }
    store = ModelStore(f"s3://{bucket}/lake/models", use_case, storage_options=options)
    registry = SageMakerModelRegistry(IMAGE, client=client)
    store.commit_promotion(_request("first"), {})
    registry.follow(store, run_id="0123456789abcdef", why="gates passed")
    store.commit_promotion(_request("second"), {})
    registry.follow(store)
    store.rollback("bad model")
    registry.follow(store, why="rollback from v0002")
    operations = {name for name, _ in sent}
    assert {"CreateModelPackage", "UpdateModelPackage"} <= operations
    for name, params in sent:
        assert violations("sagemaker", name, params) == [], (name, params)


def test_the_hosting_archive_is_a_one_model_store(tmp_path):
    """What SageMaker unpacks into /opt/ml/model: the production pointer to the
    version and the bundle's files, byte for byte; the same bytes when built again
    (a retried registration writes what the first attempt did)."""
    from mlops_serving.store import LocalStore, read_pointer

    store = ModelStore(str(tmp_path / "models"), "retail")
    store.commit_promotion(_request("first"), {})
    version = store.current_version()
    assert version is not None
    data = model_archive.build(store, version)
    assert data == model_archive.build(store, version)
    bundle = Path(store.version_path(version))
    files = sorted(p.relative_to(bundle).as_posix() for p in bundle.rglob("*"))
    unpacked = tmp_path / "opt-ml-model"
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        assert tar.getnames() == [
            "production/retail.json",
            *(f"versions/retail/{version}/{name}" for name in files),
        ]
        tar.extractall(unpacked, filter="data")
    for name in files:
        packed = unpacked / f"versions/retail/{version}/{name}"
        assert packed.read_bytes() == (bundle / name).read_bytes()
    # the serving package reads it as a store: its pointer checks pass
    assert read_pointer(LocalStore(str(unpacked)), "retail")["version"] == version
    url = model_archive.ensure(store, version)
    written = Path(url)
    assert written.read_bytes() == data
    before = written.stat().st_mtime_ns
    assert model_archive.ensure(store, version) == url  # there already: kept
    assert written.stat().st_mtime_ns == before
    assert (
        json.loads(
            tarfile.open(fileobj=io.BytesIO(data))
            .extractfile("production/retail.json")
            .read()
        )["path"]
        == f"versions/retail/{version}"
    )


def test_an_incomplete_bundle_gets_no_archive(tmp_path):
    store = ModelStore(str(tmp_path / "models"), "retail")
    store.commit_promotion(_request("first"), {})
    version = store.current_version()
    assert version is not None
    Path(store.version_path(version), "manifest.json").unlink()
    with pytest.raises(Exception, match="manifest"):
        model_archive.build(store, version)
