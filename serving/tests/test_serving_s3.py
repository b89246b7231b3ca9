"""An s3:// model store on a moto server (loopback): the service loads the champion,
watches the pointer's ETag and picks up a promotion."""

from __future__ import annotations

import pytest
from conftest import ADMIN_TOKEN, EXAMPLE
from fastapi.testclient import TestClient
from mlops_serving.app import create_app
from mlops_serving.settings import load_settings
from mlops_serving.store import S3Store

from mlops_platform.aws.moto_lake import (
    REGION,
    create_bucket,
    moto_server,
    upload_folder,
)

AUTH = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


@pytest.fixture
def moto_endpoint(monkeypatch):
    for key, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": REGION,
    }.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    with moto_server() as endpoint:
        yield endpoint


def test_s3_store_load_and_etag_reload(moto_endpoint, publish, store_root):
    create_bucket(moto_endpoint, "lake")
    publish()
    upload_folder(moto_endpoint, store_root, "lake", "mlops/models")
    store = S3Store("s3://lake/mlops/models", moto_endpoint)
    first = store.pointer_fingerprint("retail")
    assert first and first.startswith('"')  # an ETag
    assert store.pointer_fingerprint("parking") is None

    settings = load_settings(
        model_store_uri="s3://lake/mlops/models",
        s3_endpoint_url=moto_endpoint,
        admin_token=ADMIN_TOKEN,
        poll_interval_s=3600,
    )
    with TestClient(create_app(settings)) as client:
        assert client.get("/ready").status_code == 200
        r = client.post("/v1/retail/predict", json=EXAMPLE)
        assert r.status_code == 200 and r.json()["model_version"] == "v0001"

        publish(model_name="logistic_regression")
        upload_folder(moto_endpoint, store_root, "lake", "mlops/models")
        assert store.pointer_fingerprint("retail") != first
        assert client.post("/admin/reload", headers=AUTH).json()["checked"] == {
            "retail": "loaded"
        }
        r = client.post("/v1/retail/predict", json=EXAMPLE)
        assert r.json()["model_version"] == "v0002"
        status = client.get("/v1/models").json()
        assert status["model_store"] == "s3://lake/mlops/models"


def test_every_call_of_the_service_is_allowed_by_its_role(
    moto_endpoint, trained, publish, store_root, tmp_path
):
    """The real service process (uvicorn) over an S3 store on moto, with the AWS call
    recorder: every call it makes to load the champion and the online feature store
    must be allowed by the serving pods' role (infra/terraform/modules/
    serving_irsa_role, the same read policy as the ECS tasks') and within the API's
    limits. The store is uploaded with this test's credentials, not the role's."""
    from conftest import live_server, publish_online

    from tests.aws.roles import RECORDER, audit, recorded, serving_role_policy

    bucket = "mlops-serving-lake"
    create_bucket(moto_endpoint, bucket)
    publish()
    publish_online(trained, store_root)
    upload_folder(moto_endpoint, store_root, bucket, "mlops/models")
    calls = tmp_path / "calls.jsonl"
    with live_server(
        store_root,
        tmp_path / "serving.log",
        SERVING_MODEL_STORE_URI=f"s3://{bucket}/mlops/models",
        SERVING_S3_ENDPOINT_URL=moto_endpoint,
        PYTHONPATH=str(RECORDER),
        MLOPS_AWS_CALL_LOG=str(calls),
    ) as base:
        import httpx

        status = httpx.get(f"{base}/v1/models").json()["models"][0]
        assert status["version"] == "v0001"
        assert status["online_store"]["version"] is not None, status
    made = recorded(calls)
    operations = {f"{c['service']}.{c['operation']}" for c in made}
    assert {"s3.HeadObject", "s3.GetObject"} <= operations
    keys = {c["params"].get("Key", "") for c in made}
    assert any(k.startswith("mlops/models/online/") for k in keys)
    assert any(k.startswith("mlops/models/features/") for k in keys)
    problems = audit(made, serving_role_policy(bucket, REGION), REGION)
    assert problems == [], "\n".join(problems)
