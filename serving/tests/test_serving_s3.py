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
