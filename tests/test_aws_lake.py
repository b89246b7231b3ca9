"""`kedro run --env aws`: the whole retail lifecycle against an S3 data lake on a moto
server (loopback), compared with the local run on the same data."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from mlops_platform.aws import lake
from mlops_platform.aws.model_registry import package_version
from mlops_platform.aws.moto_lake import (
    GLUE_DATABASE,
    create_bucket,
    lake_env,
    list_keys,
    moto_client,
    moto_server,
    read_json,
    upload_folder,
)
from mlops_platform.scratch import scratch_project
from tests.conftest import REPO

pytestmark = pytest.mark.integration
BUCKET, PREFIX = "mlops-lake-test", "team/mlops"
COMPARED = ("gold", "models", "reports")


def run(args: list[str], cwd: Path, env: dict | None = None, ok: bool = True):
    full = {
        **os.environ,
        "KEDRO_LOGGING_CONFIG": str(REPO / "conf/logging.yml"),
        **(env or {}),
    }
    proc = subprocess.run(
        args,
        cwd=cwd,
        env=full,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    if ok:
        assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    return proc


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    project = scratch_project(REPO, tmp_path_factory.mktemp("aws"))
    run(
        [sys.executable, "-m", "mlops_platform.datagen", "retail", "--out",
         "data/raw/retail", "--weeks", "6", "--customers", "3000", "--stores", "50",
         "--quiet"],
        project,
    )  # fmt: skip
    run([sys.executable, "-m", "kedro", "run", "-p", "retail"], project)  # reference
    return project


def local_files(project: Path) -> set[str]:
    out = set()
    for layer in COMPARED:
        for p in (project / "data" / layer).rglob("*"):
            rel = p.relative_to(project / "data").as_posix()
            # the local promotion lease is a lock file that stays (deleting a flock
            # file races); on S3 the lease object is deleted on release
            if (
                p.is_file()
                and p.name != ".gitkeep"
                and not rel.startswith("models/leases/")
            ):
                out.add(rel)
    return out


def test_aws_environment_runs_the_lifecycle_in_s3(project, tmp_path):
    """The lake filled in batches by ``python -m mlops_platform.backfill retail --env
    aws`` (ledger stamps are ETags on S3), then ``kedro run --env aws -p retail``:
    its data_engineering reads no raw file again, and every artifact is the local
    one-pass run's. One moto server and one lake for both: each needs a filled lake,
    and a second one cost 36 s of the suite."""
    raw = sorted((project / "data/raw/retail").glob("transactions_*.csv"))
    sizes = [f.stat().st_size for f in raw]
    limit = (sizes[0] + sizes[1] + sizes[2] // 2) / 1e6  # two weekly files a batch
    with moto_server() as endpoint:
        create_bucket(endpoint, BUCKET)
        upload_folder(
            endpoint, project / "data/raw/retail", BUCKET, f"{PREFIX}/raw/retail"
        )
        env = lake_env(endpoint, BUCKET, PREFIX, f"sqlite:///{tmp_path}/mlflow.db")
        done = run(
            [sys.executable, "-m", "mlops_platform.backfill", "retail", "--env",
             "aws", "--batch-mb", str(limit), "--full-refresh"],
            project, {**env, "COLUMNS": "300"},
        )  # fmt: skip
        out = done.stdout + done.stderr
        assert "retail backfill: 6 file(s) in 3 batch(es)" in out, out[-3000:]
        ledger = read_json(
            endpoint, BUCKET, f"{PREFIX}/silver/retail/records/_manifest.json"
        )
        weeks = sorted(p.stem for p in raw)
        assert sorted(ledger["parts"]) == weeks
        assert all(e["modified"].startswith("etag:") for e in ledger["parts"].values())
        gold = read_json(endpoint, BUCKET, f"{PREFIX}/gold/retail/table/_manifest.json")
        local = json.loads(
            (project / "data/gold/retail/table/_manifest.json").read_text()
        )
        assert {n: e["file"] for n, e in gold["parts"].items()} == {
            n: e["file"] for n, e in local["parts"].items()
        }
        # the backfill's last run wrote the training split once, after the batches
        keys = list_keys(endpoint, BUCKET, f"{PREFIX}/gold/retail/")
        assert f"{PREFIX}/gold/retail/train.parquet" in keys

        run(
            [sys.executable, "-m", "kedro", "run", "--env", "aws", "-p", "retail"],
            project,
            env,
        )
        # its data_engineering read no raw file: the ledger's S3 stamps (ETags) match
        ingest = read_json(endpoint, BUCKET, f"{PREFIX}/reports/retail/ingest.json")
        assert ingest["incremental"]["unchanged"] == len(weeks), ingest["incremental"]
        assert ingest["rows"] == 0
        keys = list_keys(endpoint, BUCKET, PREFIX + "/")
        rel = {k.removeprefix(PREFIX + "/") for k in keys}
        # Same artifacts as the local run, in S3: the lake tables' part files are
        # named by their content, so silver and gold are the same files too.
        in_s3 = {k for k in rel if k.split("/")[0] in COMPARED}
        # one thing more in S3: the SageMaker model registry (aws environment only)
        # archived the champion for SageMaker hosting (aws/model_archive.py)
        archives = {k for k in in_s3 if k.startswith("models/archives/")}
        champion = read_json(
            endpoint, BUCKET, f"{PREFIX}/models/production/retail.json"
        )["version"]
        assert archives == {f"models/archives/retail/{champion}/model.tar.gz"}
        # and the symlink manifests the lake tables publish for Athena (Glue)
        symlinks = {k for k in in_s3 if "/_symlink/" in k}
        assert any(k.startswith("gold/retail/table/_symlink/gold/") for k in symlinks)
        assert in_s3 - archives - symlinks == local_files(project)
        glue = moto_client(endpoint, "glue")
        tables = glue.get_tables(DatabaseName=GLUE_DATABASE)["TableList"]
        names = {t["Name"] for t in tables}
        assert {"retail_silver", "retail_gold", "retail_state_customers"} <= names
        # a view gets its table with its first rows (the columns come from them)
        quarantine = read_json(
            endpoint, BUCKET, f"{PREFIX}/silver/retail/quarantine/_manifest.json"
        )
        rows = sum(p.get("rows", 0) for p in quarantine["parts"].values())
        assert ("retail_quarantine" in names) == (rows > 0)
        assert any(k.startswith("mlflow/artifacts/") for k in rel)  # MLflow artifacts
        # Same decision and the same model.
        pointer = read_json(endpoint, BUCKET, f"{PREFIX}/models/production/retail.json")
        local_pointer = json.loads(
            (project / "data/models/production/retail.json").read_text()
        )
        assert pointer["version"] == local_pointer["version"] == "v0001"
        assert pointer["reason"] == local_pointer["reason"]
        manifest = read_json(
            endpoint, BUCKET, f"{PREFIX}/models/versions/retail/v0001/manifest.json"
        )
        local_manifest = json.loads(
            (project / "data/models/versions/retail/v0001/manifest.json").read_text()
        )
        for key in ("model_name", "data_hash", "features", "training_periods"):
            assert manifest[key] == local_manifest[key]
        golden = read_json(
            endpoint, BUCKET, f"{PREFIX}/models/versions/retail/v0001/golden.json"
        )
        local_golden = json.loads(
            (project / "data/models/versions/retail/v0001/golden.json").read_text()
        )
        assert golden["rows"] == local_golden["rows"]
        for a, b in zip(golden["expected"], local_golden["expected"], strict=True):
            assert a["class"] == b["class"]
            for c, p in a["probabilities"].items():
                assert abs(p - b["probabilities"][c]) < 1e-9
        assert manifest["mlflow"]["tracking_uri"].startswith("sqlite:///")
        evaluation = read_json(
            endpoint, BUCKET, f"{PREFIX}/reports/retail/evaluation.json"
        )
        local_eval = json.loads(
            (project / "data/reports/retail/evaluation.json").read_text()
        )
        assert evaluation["challenger"] == local_eval["challenger"]
        # The model-store command reads the same S3 store through the aws config.
        status = run(
            [str(Path(sys.executable).parent / "mlops-model"), "status", "--use-case",
             "retail", "--env", "aws", "--project-path", str(project), "--json"],
            project, env,
        )  # fmt: skip
        assert json.loads(status.stdout)["pointer"]["version"] == "v0001"

        # The SageMaker model registry mirrors the champion (one Approved package)...
        import boto3

        sm = boto3.client(
            "sagemaker",
            endpoint_url=endpoint,
            region_name="eu-west-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",  # noqa: S106 (moto)
        )

        def approved() -> dict[str, str]:
            out = {}
            for s in sm.list_model_packages(ModelPackageGroupName="retail")[
                "ModelPackageSummaryList"
            ]:
                p = sm.describe_model_package(ModelPackageName=s["ModelPackageArn"])
                out[package_version(p)] = p["ModelApprovalStatus"]
            return out

        assert approved() == {"v0001": "Approved"}
        # (promotions, rollbacks and crashes in the registry: tests/aws/
        # test_model_registry.py; here the wiring of the run's hook and the CLI)
        sm.update_model_package(
            ModelPackageArn=sm.list_model_packages(ModelPackageGroupName="retail")[
                "ModelPackageSummaryList"
            ][0]["ModelPackageArn"],
            ModelApprovalStatus="Rejected",
            ApprovalDescription="what a crash between the steps would leave",
        )
        status = run(
            [str(Path(sys.executable).parent / "mlops-model"), "status", "--use-case",
             "retail", "--env", "aws", "--project-path", str(project)],
            project, env,
        )  # fmt: skip
        assert "reconciled: SageMaker model registry approved v0001" in status.stderr
        assert approved() == {"v0001": "Approved"}


def test_aws_environment_names_a_missing_bucket(project):
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLOPS_LAKE")}
    proc = subprocess.run(
        [sys.executable, "-m", "kedro", "run", "--env", "aws", "-p", "retail"],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode != 0
    assert "MLOPS_LAKE_BUCKET is not set" in proc.stdout + proc.stderr


@pytest.mark.parametrize(
    ("bucket", "prefix", "message"),
    [
        ("Bad_Bucket", "mlops", "not a valid S3 bucket name"),
        ("ok-bucket", "../x", "not a valid key prefix"),
    ],
)
def test_lake_root_validates(monkeypatch, bucket, prefix, message):
    monkeypatch.setenv(lake.BUCKET_VAR, bucket)
    monkeypatch.setenv(lake.PREFIX_VAR, prefix)
    with pytest.raises(lake.LakeConfigError, match=message):
        lake.lake_root()


def test_a_tracking_server_arn_is_a_tracking_uri_mlflow_understands():
    from mlflow.tracking._tracking_service.utils import _tracking_store_registry

    assert "arn" in _tracking_store_registry._registry  # the sagemaker-mlflow plugin


def test_lake_root_and_tracking(monkeypatch):
    monkeypatch.setenv(lake.BUCKET_VAR, "my-lake")
    monkeypatch.setenv(lake.PREFIX_VAR, "/a/b/")
    assert lake.lake_root() == "s3://my-lake/a/b"
    arn = "arn:aws:sagemaker:eu-west-1:123456789012:mlflow-tracking-server/mlops"
    monkeypatch.setenv(lake.TRACKING_VAR, arn)
    assert lake.mlflow_tracking() == arn
    monkeypatch.setenv(lake.TRACKING_VAR, "ftp://x")
    with pytest.raises(lake.LakeConfigError, match="MLOPS_MLFLOW_TRACKING_URI"):
        lake.mlflow_tracking()


@pytest.mark.parametrize(
    "uri",
    [
        "arn:aws:sagemaker:eu-west-1:123456789012:mlflow-tracking-server/mlops-dev",
        "arn:aws:sagemaker:eu-west-1:123456789012:mlflow-app/app-abc123",
        "https://mlflow.internal.example:5000",
        "http://127.0.0.1:5000",
    ],
)
def test_a_compiled_pipeline_logs_to_a_tracking_server(monkeypatch, uri):
    monkeypatch.setenv(lake.TRACKING_VAR, uri)
    assert lake.pipeline_tracking() == uri


@pytest.mark.parametrize(
    "uri", [None, "sqlite:///data/mlflow/mlflow.db", "file:/tmp/mlruns"]
)
def test_a_compiled_pipeline_refuses_a_store_its_steps_cannot_share(monkeypatch, uri):
    """Each step runs in a container of its own: a sqlite or file store would be a
    new, empty store in each, and step 2 could not resume step 1's run."""
    if uri is None:
        monkeypatch.delenv(lake.TRACKING_VAR, raising=False)
        expected = "is not set"
    else:
        monkeypatch.setenv(lake.TRACKING_VAR, uri)
        expected = "no shared file"
    with pytest.raises(lake.LakeConfigError, match=expected):
        lake.pipeline_tracking()
