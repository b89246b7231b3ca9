"""make teardown: the dry run prints exactly what would go and deletes nothing; the
real run empties versioned buckets, repositories, model registry and pipelines (moto
on loopback stands in for AWS; terraform destroy itself is not run here, and moto
cannot delete model packages, so only the dry run covers them)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request

import boto3
import pytest

from mlops_platform.aws.moto_lake import REGION, lake_env, moto_server
from tests.infra.conftest import INFRA

SCRIPT = INFRA / "scripts" / "teardown.py"
LAKE, AUDIT = "mlops-dev-lake-000000000000", "mlops-dev-audit-000000000000"
OUTPUTS = {
    "lake_bucket": LAKE,
    "audit_bucket": AUDIT,
    "ecr_repository_names": {"serving": "mlops-serving", "pipeline": "mlops-pipeline"},
    "pipeline_names": {"retail": "mlops-retail"},
}


@pytest.fixture
def estate(tmp_path, request):
    # moto 5.2 implements neither DeleteModelPackage nor DeleteModelPackageGroup: the
    # real run is tested without a model registry
    packages = getattr(request, "param", 2)
    with moto_server() as endpoint:
        # moto keeps its state in the process: start from an empty account (the
        # URL is the loopback moto server)
        reset = urllib.request.Request(f"{endpoint}/moto-api/reset", method="POST")  # noqa: S310
        urllib.request.urlopen(reset).close()  # noqa: S310
        env = {**os.environ, **lake_env(endpoint, LAKE, "mlops", "sqlite:///x.db")}
        session = boto3.Session(
            aws_access_key_id="testing", aws_secret_access_key="testing",  # noqa: S106
            region_name=REGION,
        )  # fmt: skip
        s3 = session.client("s3", endpoint_url=endpoint)
        for bucket in (LAKE, AUDIT):
            s3.create_bucket(
                Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION}
            )
            s3.put_bucket_versioning(
                Bucket=bucket, VersioningConfiguration={"Status": "Enabled"}
            )
        s3.put_object(Bucket=LAKE, Key="mlops/raw/retail/t1.csv", Body=b"a")
        s3.put_object(Bucket=LAKE, Key="mlops/raw/retail/t1.csv", Body=b"b")
        s3.put_object(Bucket=LAKE, Key="mlops/tmp/x", Body=b"x")
        s3.delete_object(Bucket=LAKE, Key="mlops/tmp/x")  # leaves a delete marker
        s3.put_object(Bucket=AUDIT, Key="AWSLogs/000000000000/t.json.gz", Body=b"{}")
        ecr = session.client("ecr", endpoint_url=endpoint)
        for repo in ("mlops-serving", "mlops-pipeline"):
            ecr.create_repository(repositoryName=repo)
        for tag in ("c0ffee1", "c0ffee2"):
            media = "application/vnd.docker.distribution.manifest.v2+json"
            manifest = json.dumps({"schemaVersion": 2, "mediaType": media, "tag": tag})
            ecr.put_image(
                repositoryName="mlops-serving",
                imageManifest=manifest,
                imageManifestMediaType=media,
                imageTag=tag,
            )
        sm = session.client("sagemaker", endpoint_url=endpoint)
        if packages:
            sm.create_model_package_group(ModelPackageGroupName="retail")
        for _ in range(packages):
            sm.create_model_package(
                ModelPackageGroupName="retail",
                ModelApprovalStatus="Approved",
                InferenceSpecification={
                    "Containers": [{"Image": "x.dkr.ecr.eu-west-1.amazonaws.com/y:1"}],
                    "SupportedContentTypes": ["application/json"],
                    "SupportedResponseMIMETypes": ["application/json"],
                },
            )
        sm.create_pipeline(
            PipelineName="mlops-retail",
            PipelineDefinition=json.dumps({"Version": "2020-12-01", "Steps": []}),
            RoleArn="arn:aws:iam::000000000000:role/mlops-dev-sagemaker-execution",
        )
        # the ECS path's load balancer, deletion protection on (as the module sets it)
        ec2 = session.client("ec2", endpoint_url=endpoint)
        vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
        subnets = [
            ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.0.{i}.0/24",
                              AvailabilityZone=f"{REGION}{z}")["Subnet"]["SubnetId"]
            for i, z in enumerate("ab")
        ]  # fmt: skip
        elb = session.client("elbv2", endpoint_url=endpoint)
        lb = elb.create_load_balancer(Name="mlops-dev-serving", Subnets=subnets)
        lb_arn = lb["LoadBalancers"][0]["LoadBalancerArn"]
        elb.modify_load_balancer_attributes(
            LoadBalancerArn=lb_arn,
            Attributes=[{"Key": "deletion_protection.enabled", "Value": "true"}],
        )
        outputs = tmp_path / "outputs.json"
        outputs.write_text(json.dumps({**OUTPUTS, "ecs_load_balancer_arn": lb_arn}))
        yield endpoint, env, outputs, s3, ecr, sm


def teardown(env, outputs, endpoint, *args):
    return subprocess.run(
        [sys.executable, str(SCRIPT), "--env", "dev", "--outputs-json", str(outputs),
         "--endpoint-url", endpoint, *args],
        capture_output=True, text=True, check=False, env=env, timeout=120,
    )  # fmt: skip


def inventory(s3, ecr, sm):
    versions = {
        b: len(
            (p := s3.list_object_versions(Bucket=b)).get("Versions", [])
            + p.get("DeleteMarkers", [])
        )
        for b in (LAKE, AUDIT)
    }
    images = {
        r: len(ecr.list_images(repositoryName=r)["imageIds"])
        for r in ("mlops-serving", "mlops-pipeline")
    }
    groups = sm.list_model_package_groups()["ModelPackageGroupSummaryList"]
    packages = sum(
        len(
            sm.list_model_packages(ModelPackageGroupName=g["ModelPackageGroupName"])[
                "ModelPackageSummaryList"
            ]
        )
        for g in groups
    )
    pipelines = len(sm.list_pipelines()["PipelineSummaries"])
    return versions, images, packages, pipelines


def test_dry_run_prints_exactly_what_would_go_and_deletes_nothing(estate):
    endpoint, env, outputs, s3, ecr, sm = estate
    before = inventory(s3, ecr, sm)
    assert before == (
        {LAKE: 4, AUDIT: 1},
        {"mlops-serving": 2, "mlops-pipeline": 0},
        2,
        1,
    )
    proc = teardown(env, outputs, endpoint, "--dry-run")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0] == "teardown of dev:"
    assert f"bucket {LAKE}: 4 object versions/markers" in lines
    assert f"bucket {AUDIT}: 1 object versions/markers" in lines
    deletes = [x for x in lines if x.startswith(f"  delete s3://{LAKE}/")]
    assert sorted(x.split(" version ")[0] for x in deletes) == [
        f"  delete s3://{LAKE}/mlops/raw/retail/t1.csv",
        f"  delete s3://{LAKE}/mlops/raw/retail/t1.csv",
        f"  delete s3://{LAKE}/mlops/tmp/x",
        f"  delete s3://{LAKE}/mlops/tmp/x",  # the version and its delete marker
    ]
    assert "repository mlops-serving: 2 images" in lines
    assert "repository mlops-pipeline: 0 images" in lines
    assert sum("(c0ffee" in x for x in lines) == 2
    assert "model package group retail: 2 packages" in lines
    assert "  delete model package group retail" in lines
    assert "delete SageMaker pipeline mlops-retail" in lines
    protected = [x for x in lines if x.startswith("turn off deletion protection")]
    assert len(protected) == 1 and "mlops-dev-serving" in protected[0]
    assert "then: terraform destroy of infra/terraform/envs/dev" in lines
    assert lines[-1] == "dry run: nothing was deleted"
    assert inventory(s3, ecr, sm) == before


@pytest.mark.parametrize("estate", [0], indirect=True)
def test_teardown_empties_everything_terraform_cannot(estate):
    endpoint, env, outputs, s3, ecr, sm = estate
    refused = subprocess.run(
        [sys.executable, str(SCRIPT), "--env", "dev", "--outputs-json", str(outputs),
         "--endpoint-url", endpoint, "--empty-only"],
        input="prod\n", capture_output=True, text=True, check=False, env=env,
    )  # fmt: skip
    assert refused.returncode == 1 and "nothing was deleted" in refused.stdout
    assert inventory(s3, ecr, sm)[0] == {LAKE: 4, AUDIT: 1}
    proc = teardown(env, outputs, endpoint, "--empty-only", "--yes")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[-1] == "emptied"
    versions, images, _, pipelines = inventory(s3, ecr, sm)
    assert versions == {LAKE: 0, AUDIT: 0} and set(images.values()) == {0}
    assert pipelines == 0
    # the load balancer can now be destroyed by terraform
    elb = boto3.client(
        "elbv2", endpoint_url=endpoint, region_name=REGION,
        aws_access_key_id="testing", aws_secret_access_key="testing",  # noqa: S106
    )  # fmt: skip
    arn = json.loads(outputs.read_text())["ecs_load_balancer_arn"]
    attributes = elb.describe_load_balancer_attributes(LoadBalancerArn=arn)
    flags = {a["Key"]: a["Value"] for a in attributes["Attributes"]}
    assert flags["deletion_protection.enabled"] == "false"
    again = teardown(env, outputs, endpoint, "--dry-run")
    assert "turn off deletion protection" not in again.stdout
    assert f"bucket {LAKE}: 0 object versions/markers" in again.stdout
    assert "delete SageMaker pipeline" not in again.stdout
