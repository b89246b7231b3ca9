"""The IAM coverage check's own parts (tests/aws/iam.py, terraform_eval.py, the call
recorder), tested apart from the end-to-end run that uses them."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.aws.iam import Statement, decide, mlflow_requests, requests_of
from tests.aws.roles import ACCOUNT, RECORDER, mlflow_server_arn, role_policy
from tests.aws.terraform_eval import Scope, Unsupported, evaluate

REGION = "eu-west-1"


def _call(service: str, operation: str, **params) -> dict:
    return {"service": service, "operation": operation, "params": params}


def test_s3_operations_map_to_their_iam_actions_and_arns():
    (head,) = requests_of(_call("s3", "HeadObject", Bucket="b", Key="k/x"), REGION, "1")
    assert (head.action, head.resource) == ("s3:GetObject", "arn:aws:s3:::b/k/x")
    (listing,) = requests_of(
        _call("s3", "ListObjectsV2", Bucket="b", Prefix="mlops/raw/"), REGION, "1"
    )
    assert listing.action == "s3:ListBucket" and listing.resource == "arn:aws:s3:::b"
    assert ("s3:prefix", "mlops/raw/") in listing.context
    copy = requests_of(
        _call("s3", "CopyObject", Bucket="b", Key="to", CopySource="b/from"),
        REGION,
        "1",
    )
    assert [(r.action, r.resource) for r in copy] == [
        ("s3:PutObject", "arn:aws:s3:::b/to"),
        ("s3:GetObject", "arn:aws:s3:::b/from"),
    ]
    with pytest.raises(KeyError, match="PutBucketPolicy"):
        requests_of(_call("s3", "PutBucketPolicy", Bucket="b"), REGION, "1")


def test_other_services_take_the_reference_s_resource_templates():
    (group,) = requests_of(
        _call("sagemaker", "DescribeModelPackageGroup", ModelPackageGroupName="retail"),
        REGION,
        ACCOUNT,
    )
    assert group.resource == (
        f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:model-package-group/retail"
    )
    arn = f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:model-package/retail/3"
    (update,) = requests_of(
        _call("sagemaker", "UpdateModelPackage", ModelPackageArn=arn), REGION, ACCOUNT
    )
    assert update.resource == arn  # named by its ARN in the request
    (listing,) = requests_of(
        _call("sagemaker", "ListModelPackages", ModelPackageGroupName="retail"),
        REGION,
        ACCOUNT,
    )
    assert listing.resource == "*"  # no package named: checked against "*"
    upsert = requests_of(
        _call("sagemaker", "CreatePipeline", PipelineName="p", RoleArn="arn:r"),
        REGION,
        ACCOUNT,
    )
    assert [r.action for r in upsert] == ["sagemaker:CreatePipeline", "iam:PassRole"]


def test_decisions_follow_iam_rules():
    (listing,) = requests_of(
        _call("s3", "ListObjectsV2", Bucket="b", Prefix="other/"), REGION, "1"
    )
    (head,) = requests_of(_call("s3", "HeadBucket", Bucket="b"), REGION, "1")
    prefix = Statement(
        "List",
        "Allow",
        ["s3:ListBucket"],
        ["arn:aws:s3:::b"],
        [{"test": "StringLike", "variable": "s3:prefix", "values": ["mlops/*"]}],
    )
    assert decide([prefix], listing) == (False, "no statement allows it")
    assert decide([prefix], head)[0] is False  # the key is absent: not met
    wide = Statement("All", "Allow", ["s3:*"], ["*"])
    assert decide([prefix, wide], listing) == (True, "allowed by All")
    deny = Statement("No", "Deny", ["s3:List*"], ["arn:aws:s3:::b"])
    assert decide([wide, deny], listing) == (False, "denied by No")
    odd = Statement(
        "Odd", "Allow", ["s3:*"], ["*"],
        [{"test": "Bool", "variable": "aws:SecureTransport", "values": ["true"]}],
    )  # fmt: skip
    allowed, why = decide([odd], listing)
    assert not allowed and "not modelled" in why


def test_the_old_registry_grant_would_have_been_caught():
    """ListModelPackages was granted on the groups' ARNs only; IAM checks it against
    "*"; the check says so. The role's policy now grants it."""
    (listing,) = requests_of(
        _call("sagemaker", "ListModelPackages", ModelPackageGroupName="retail"),
        REGION,
        ACCOUNT,
    )
    group = f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:model-package-group/retail"
    old = Statement("ModelRegistry", "Allow", ["sagemaker:ListModelPackages"], [group])
    assert decide([old], listing)[0] is False
    assert decide(role_policy("sagemaker_role", "lake", REGION), listing)[0] is True


ACCESS_LOG = [  # lines of an `mlflow server` (uvicorn) access log
    'INFO:     127.0.0.1:51000 - "GET /health HTTP/1.1" 200 OK',
    'INFO:     127.0.0.1:51002 - "GET /api/2.0/mlflow/experiments/get-by-name'
    '?experiment_name=mlops_platform HTTP/1.1" 200 OK',
    'INFO:     127.0.0.1:51004 - "POST /api/2.0/mlflow/runs/log-batch HTTP/1.1" 200 OK',
    'INFO:     127.0.0.1:51006 - "PATCH /api/2.0/mlflow/logged-models/m-0a1b2c3d '
    'HTTP/1.1" 200 OK',
]


def test_mlflow_calls_map_to_sagemaker_mlflow_actions_on_the_server():
    arn = mlflow_server_arn(REGION)
    found = mlflow_requests(ACCESS_LOG, arn)
    assert [r.action for r in found if not isinstance(r, str)] == [
        "sagemaker-mlflow:GetExperimentByName",
        "sagemaker-mlflow:LogBatch",
        "sagemaker-mlflow:FinalizeLoggedModel",
    ]
    assert {r.resource for r in found if not isinstance(r, str)} == {arn}
    (odd,) = mlflow_requests(['"GET /static-files/app.js HTTP/1.1" 200'], arn)
    assert isinstance(odd, str) and "no MLflow RPC" in odd


def test_a_role_without_the_mlflow_grant_would_have_been_caught():
    """Before the platform created a tracking server, mlflow_tracking_server_arn was
    null by default and the role had no sagemaker-mlflow statement: every MLflow call
    of the steps would have been denied. A statement missing one RPC is caught too."""
    policy = role_policy("sagemaker_role", "lake", REGION)
    calls = mlflow_requests(ACCESS_LOG, mlflow_server_arn(REGION))
    assert all(decide(policy, r)[0] for r in calls if not isinstance(r, str))
    without = [st for st in policy if st.sid != "MlflowTracking"]
    assert not any(decide(without, r)[0] for r in calls if not isinstance(r, str))
    (grant,) = [st for st in policy if st.sid == "MlflowTracking"]
    trimmed = Statement(
        grant.sid, "Allow",
        [a for a in grant.actions if a != "sagemaker-mlflow:LogBatch"], grant.resources,
    )  # fmt: skip
    denied = [r.action for r in calls if not isinstance(r, str)
              if not decide([*without, trimmed], r)[0]]  # fmt: skip
    assert denied == ["sagemaker-mlflow:LogBatch"]


def test_terraform_expressions():
    scope = Scope(
        {"var": {"groups": ["a", "b"], "arn": None, "pipes": {"x": "px"}},
         "module": {"eks": [{"cluster_arn": "c1"}]}},
        {"base": '"arn:${var.pipes["x"]}"'},
    )  # fmt: skip
    assert evaluate(
        '${flatten([for g in var.groups : ["${local.base}/${g}", "${g}/*"]])}', scope
    ) == ["arn:px/a", "a/*", "arn:px/b", "b/*"]
    assert evaluate("${var.arn == null ? [] : [var.arn]}", scope) == []
    assert evaluate("${length(var.groups) > 1 ? [1] : []}", scope) == [1]
    assert evaluate("${one(module.eks[*].cluster_arn)}", scope) == "c1"
    assert evaluate("${merge({ A = 1 }, { B = var.groups[1] })}", scope) == {
        "A": 1,
        "B": "b",
    }
    assert evaluate("${keys(var.pipes)}", scope) == ["x"]
    with pytest.raises(Unsupported, match="regex"):
        evaluate('${regex("a", "b")}', scope)


def test_the_recorder_records_every_call_of_a_process(tmp_path):
    log = tmp_path / "calls.jsonl"
    code = (
        "import boto3, botocore.exceptions as e\n"
        "c = boto3.client('s3', region_name='eu-west-1', aws_access_key_id='a',"
        " aws_secret_access_key='b', endpoint_url='http://127.0.0.1:9')\n"
        "for _ in range(2):\n"
        "    try: c.put_object(Bucket='bk', Key='k', Body=b'secret')\n"
        "    except e.EndpointConnectionError: pass\n"
    )
    env = {**os.environ, "PYTHONPATH": str(RECORDER), "MLOPS_AWS_CALL_LOG": str(log),
           "AWS_MAX_ATTEMPTS": "1"}  # fmt: skip
    subprocess.run([sys.executable, "-c", code], env=env, check=True, timeout=60)
    lines = [json.loads(x) for x in log.read_text().splitlines()]
    assert [(x["service"], x["operation"]) for x in lines] == [("s3", "PutObject")] * 2
    assert lines[0]["params"] == {"Bucket": "bk", "Key": "k"}  # the body left out
    env.pop("MLOPS_AWS_CALL_LOG")
    log.unlink()
    subprocess.run([sys.executable, "-c", code], env=env, check=True, timeout=60)
    assert not log.exists()  # off unless asked
