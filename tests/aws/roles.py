"""The IAM roles of infra/terraform, evaluated for the world of a moto test run, and
the check that every AWS call a process made is allowed by its role and within the
real API's limits.

The roles' inputs are what the platform module passes them (``module_inputs``, with the
env's settings), except the values only AWS would assign, bound here: the account
(moto's default, which every ARN moto returns carries), the region, the lake bucket
(the test's own, so the recorded requests and the policy name the same bucket), the
KMS key and repository ARNs.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from tests.aws.api_limits import violations
from tests.aws.iam import (
    Request,
    decide,
    module_inputs,
    module_policy,
    requests_of,
    resource_argument,
)
from tests.conftest import REPO

sys.path.insert(0, str(REPO / "infra" / "scripts"))
from cost_estimate import platform_settings

TF = REPO / "infra" / "terraform"
ACCOUNT = "123456789012"  # moto's default account
RECORDER = Path(__file__).parent / "recorder"  # PYTHONPATH for a recorded process


def _data(region: str) -> dict[str, Any]:
    return {
        "aws_partition": {"current": {"partition": "aws"}},
        "aws_caller_identity": {"current": {"account_id": ACCOUNT}},
        "aws_region": {"current": {"region": region, "name": region}},
    }


def _outputs(bucket: str, region: str) -> dict[str, Any]:
    ecr = f"arn:aws:ecr:{region}:{ACCOUNT}:repository"
    return {
        "lake": {"bucket_arn": f"arn:aws:s3:::{bucket}", "bucket_name": bucket},
        "kms": {"key_arn": f"arn:aws:kms:{region}:{ACCOUNT}:key/test"},
        "ecr": {
            "pipeline": {"repository_arn": f"{ecr}/mlops-pipeline"},
            "serving": {"repository_arn": f"{ecr}/mlops-serving"},
        },
        "eks": [],
        "sagemaker_role": {"role_arn": sagemaker_role_arn()},
        "mlflow": [{"arn": mlflow_server_arn(region)}],  # created by the platform
    }


def mlflow_server_arn(region: str, env: str = "dev") -> str:
    """The tracking server the platform creates (module mlflow_tracking_server, named
    after the environment): what MLOPS_MLFLOW_TRACKING_URI names on AWS."""
    name = f"{platform_settings(env).get('name_prefix', 'mlops')}-{env}"
    return f"arn:aws:sagemaker:{region}:{ACCOUNT}:mlflow-tracking-server/{name}"


def sagemaker_role_arn(env: str = "dev") -> str:
    name = f"{platform_settings(env).get('name_prefix', 'mlops')}-{env}"
    return f"arn:aws:iam::{ACCOUNT}:role/{name}-sagemaker-execution"


def glue_database(region: str = "eu-west-1", env: str = "dev") -> str:
    """The Glue database the platform creates for the lake tables, by its
    Terraform expression."""
    platform = TF / "modules" / "platform"
    bindings = {"module": _outputs("lake", region), "data": _data(region)}
    return str(resource_argument(platform, "aws_glue_catalog_database", "lake",
                                 "name", platform_settings(env), bindings))  # fmt: skip


def role_policy(module: str, bucket: str, region: str, env: str = "dev") -> list:
    bindings = {
        "module": _outputs(bucket, region),
        "data": _data(region),
        "aws_glue_catalog_database": {"lake": {"name": glue_database(region, env)}},
    }
    inputs = module_inputs(TF / "modules" / "platform", module, platform_settings(env),
                           bindings)  # fmt: skip
    role = {"this": {"arn": f"arn:aws:iam::{ACCOUNT}:role/{inputs['name']}"}}
    return module_policy(
        TF / "modules" / module, inputs, {"data": _data(region), "aws_iam_role": role}
    )


def serving_role_policy(bucket: str, region: str, env: str = "dev") -> list:
    """The serving pods' role (serving_irsa_role): its one policy is the model store
    read policy module, with the inputs the platform module gives the role (the ECS
    tasks' role uses the same module)."""
    outputs = _outputs(bucket, region)
    outputs["eks"] = [  # the role exists only with a cluster: bind one
        {
            "oidc_provider_arn": f"arn:aws:iam::{ACCOUNT}:oidc-provider/test",
            "oidc_provider_host": "oidc.test",
        }
    ]
    bindings = {"module": outputs, "data": _data(region)}
    inputs = module_inputs(TF / "modules" / "platform", "serving_irsa_role",
                           platform_settings(env), bindings)  # fmt: skip
    read = {k: inputs[k] for k in ("bucket_arn", "models_prefix", "kms_key_arn")}
    return module_policy(
        TF / "modules" / "model_store_read_policy", read, {"data": _data(region)}
    )


def recorded(log: Path) -> list[dict[str, Any]]:
    if not log.exists():
        return []
    return [json.loads(line) for line in log.read_text().splitlines() if line]


def audit(calls: list[dict[str, Any]], policy: list, region: str) -> list[str]:
    """Every problem with the calls: not allowed by the policy, or outside the API's
    limits (botocore's service model). Empty when all is well."""
    problems: list[str] = []
    seen: set[Request] = set()
    for call in calls:
        for breach in violations(call["service"], call["operation"], call["params"]):
            problems.append(f"{call['service']}.{call['operation']}: {breach}")
        for request in requests_of(call, region, ACCOUNT):
            if request in seen:
                continue
            seen.add(request)
            allowed, why = decide(policy, request)
            if not allowed:
                problems.append(f"not allowed: {request}: {why}")
    return problems
