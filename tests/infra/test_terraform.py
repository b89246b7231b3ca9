"""Terraform, checked without providers (they cannot be downloaded here): formatting,
the module contract, every module call and reference against what it names (what
``terraform validate`` would catch), the security properties the platform promises,
and checkov with zero failures and a written reason for every skip."""

from __future__ import annotations

import copy
import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
from cost_estimate import load_tf

from tests.infra.conftest import INFRA, REPO, TF, tool

MODULES = sorted(p for p in (TF / "modules").iterdir() if p.is_dir())
ENVS = sorted(p for p in (TF / "envs").iterdir() if p.is_dir())
META_ARGS = {"source", "for_each", "count", "depends_on", "providers", "version"}


def parse(folder: Path) -> dict[str, list[Any]]:
    """All blocks of a Terraform folder, merged by block type."""
    merged: dict[str, list[Any]] = {}
    for path in sorted(folder.glob("*.tf")):
        for kind, blocks in load_tf(path).items():
            merged.setdefault(kind, []).extend(blocks)
    return merged


def named(blocks: list[dict[str, Any]]) -> dict[str, Any]:
    return {name: body for block in blocks for name, body in block.items()}


def resources(tree: dict[str, list[Any]], rtype: str) -> dict[str, Any]:
    out = {}
    for block in tree.get("resource", []):
        for kind, items in block.items():
            if kind == rtype:
                out.update(items)
    return out


def data_sources(tree: dict[str, list[Any]], dtype: str) -> dict[str, Any]:
    out = {}
    for block in tree.get("data", []):
        for kind, items in block.items():
            if kind == dtype:
                out.update(items)
    return out


ALL = {p.name: parse(p) for p in MODULES}


def test_terraform_fmt():
    proc = subprocess.run(
        [tool("terraform"), "fmt", "-check", "-recursive", "-diff", str(TF)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.parametrize("module", MODULES, ids=lambda p: p.name)
def test_module_contract(module):
    assert {p.name for p in module.glob("*.tf")} == {
        "main.tf", "variables.tf", "outputs.tf", "versions.tf",
    }  # fmt: skip
    tree = ALL[module.name]
    for name, spec in named(tree.get("variable", [])).items():
        assert spec.get("description"), f"{module.name}: variable {name} undescribed"
        assert spec.get("type"), f"{module.name}: variable {name} untyped"
    for name, spec in named(tree.get("output", [])).items():
        assert spec.get("description"), f"{module.name}: output {name} undescribed"
    (versions,) = tree["terraform"]
    aws = versions["required_providers"][0]["aws"]
    assert aws["source"] == "hashicorp/aws" and aws["version"] == ">= 6.0, < 7.0"


@pytest.mark.parametrize("env", ENVS, ids=lambda p: p.name)
def test_environment_roots_pin_providers_and_keep_remote_state(env):
    tree = parse(env)
    (versions,) = tree["terraform"]
    aws = versions["required_providers"][0]["aws"]
    assert re.fullmatch(r"\d+\.\d+\.\d+", aws["version"]), "exact provider version"
    (backend,) = versions["backend"]
    s3 = backend["s3"]
    assert s3["encrypt"] is True and s3["use_lockfile"] is True
    assert s3["key"] == f"mlops-platform/{env.name}/terraform.tfstate"
    assert (env / "terraform.tfvars").is_file()


def _references(folder: Path, kind: str) -> set[str]:
    text = "\n".join(re.sub(r"#[^\n]*", "", p.read_text()) for p in folder.glob("*.tf"))
    return set(re.findall(rf"\b{kind}\.([A-Za-z_][A-Za-z0-9_-]*)", text))


@pytest.mark.parametrize("folder", [*MODULES, *ENVS], ids=lambda p: p.name)
def test_every_reference_resolves(folder):
    """What `terraform validate` would check: variables, locals, module arguments and
    outputs all exist where they are used."""
    tree = parse(folder)
    variables = named(tree.get("variable", []))
    locals_ = {k for block in tree.get("locals", []) for k in block}
    assert _references(folder, "var") <= set(variables), "undeclared variable"
    assert _references(folder, "local") <= locals_, "undeclared local"
    text = "\n".join(p.read_text() for p in folder.glob("*.tf"))
    for name, call in named(tree.get("module", [])).items():
        target = (folder / call["source"]).resolve()
        assert target.is_dir(), f"module {name}: no folder {call['source']}"
        callee = parse(target)
        declared = named(callee.get("variable", []))
        passed = set(call) - META_ARGS
        assert passed <= set(declared), f"module {name}: {passed - set(declared)}"
        required = {v for v, spec in declared.items() if "default" not in spec}
        assert required <= passed, f"module {name}: missing {required - passed}"
        outputs = set(named(callee.get("output", [])))
        used = set(re.findall(rf"module\.{name}(?:\[[^\]]+\])?\.(\w+)", text))
        used |= set(re.findall(rf"for \w+ in module\.{name} : \w+\.(\w+)", text))
        assert used <= outputs, f"module {name}: no output {used - outputs}"


# ------------------------------------------------------------ security properties
def security_violations(trees: dict[str, dict[str, list[Any]]]) -> list[str]:
    """What the platform promises about its AWS resources, over parsed modules."""
    bad: list[str] = []
    buckets = {m: resources(t, "aws_s3_bucket") for m, t in trees.items()}
    for module, found in buckets.items():
        if found and module != "s3_bucket":
            bad.append(f"{module}: a bucket outside the s3_bucket module")
    s3 = trees["s3_bucket"]
    sse = resources(s3, "aws_s3_bucket_server_side_encryption_configuration")["this"]
    default = sse["rule"][0]["apply_server_side_encryption_by_default"][0]
    if default.get("sse_algorithm") != "aws:kms" or "kms_master_key_id" not in default:
        bad.append("s3_bucket: not SSE-KMS with a customer key")
    pab = resources(s3, "aws_s3_bucket_public_access_block").get("this", {})
    for flag in (
        "block_public_acls", "block_public_policy",
        "ignore_public_acls", "restrict_public_buckets",
    ):  # fmt: skip
        if pab.get(flag) is not True:
            bad.append(f"s3_bucket: public access block {flag} is not true")
    versioning = resources(s3, "aws_s3_bucket_versioning").get("this", {})
    if versioning.get("versioning_configuration", [{}])[0].get("status") != "Enabled":
        bad.append("s3_bucket: versioning not enabled")
    statements = data_sources(s3, "aws_iam_policy_document")["this"]["statement"]
    tls = [s for s in statements if s.get("sid") == "DenyInsecureTransport"]
    if not tls or tls[0]["condition"][0]["values"] != ["false"]:
        bad.append("s3_bucket: no TLS-only deny statement")

    repo = resources(trees["ecr_repository"], "aws_ecr_repository").get("this", {})
    if (
        repo.get("image_scanning_configuration", [{}])[0].get("scan_on_push")
        is not True
    ):
        bad.append("ecr_repository: scan on push is off")
    if repo.get("image_tag_mutability") != "IMMUTABLE":
        bad.append("ecr_repository: tags are mutable")
    if repo.get("encryption_configuration", [{}])[0].get("encryption_type") != "KMS":
        bad.append("ecr_repository: not KMS-encrypted")
    if "this" not in resources(trees["ecr_repository"], "aws_ecr_lifecycle_policy"):
        bad.append("ecr_repository: no lifecycle policy")

    for module, tree in trees.items():
        for name, group in resources(tree, "aws_cloudwatch_log_group").items():
            if "retention_in_days" not in group:
                bad.append(f"{module}: log group {name} keeps logs forever")
            if "kms_key_id" not in group:
                bad.append(f"{module}: log group {name} not KMS-encrypted")
        for name, topic in resources(tree, "aws_sns_topic").items():
            if "kms_master_key_id" not in topic:
                bad.append(f"{module}: SNS topic {name} not encrypted")
        for name, queue in resources(tree, "aws_sqs_queue").items():
            if "kms_master_key_id" not in queue:
                bad.append(f"{module}: SQS queue {name} not encrypted")
        if resources(tree, "aws_nat_gateway"):
            bad.append(f"{module}: a NAT gateway (the network is endpoint-only)")
        for name, doc in data_sources(tree, "aws_iam_policy_document").items():
            for st in doc.get("statement", []):
                if st.get("effect", "Allow") != "Allow":
                    continue
                actions = st.get("actions", [])
                if "*" in st.get("resources", []) and any("*" in a for a in actions):
                    if (module, st.get("sid")) == ("kms_key", "AccountAdministration"):
                        continue  # a key policy's "*" is the key itself
                    bad.append(f"{module}: {name}/{st.get('sid')}: {actions} on *")
        calls = named(tree.get("module", []))
        for name, policy in resources(tree, "aws_iam_role_policy").items():
            ref = str(policy.get("policy", ""))
            # a policy document here, or one of a module of ours (scanned above as
            # that module's own documents), e.g. model_store_read_policy
            via = ref.removeprefix("${module.").split(".")[0]
            ours = ref.startswith("${module.") and str(
                calls.get(via, {}).get("source", "")
            ).startswith("../")
            if not (ref.startswith("${data.") or ours):
                bad.append(f"{module}: inline policy {name} is not a policy document")

    trail = resources(trees["audit_trail"], "aws_cloudtrail")["this"]
    if trail.get("enable_log_file_validation") is not True or "kms_key_id" not in trail:
        bad.append("audit_trail: no log validation or no KMS")
    cluster = resources(trees["eks"], "aws_eks_cluster")["this"]
    if cluster["encryption_config"][0]["resources"] != ["secrets"]:
        bad.append("eks: secrets not envelope-encrypted")
    template = resources(trees["eks"], "aws_launch_template")["node"]
    if template["metadata_options"][0]["http_tokens"] != "required":
        bad.append("eks: nodes allow IMDSv1")
    key = resources(trees["kms_key"], "aws_kms_key")["this"]
    if key.get("enable_key_rotation") is not True:
        bad.append("kms_key: rotation off")
    return bad


def test_security_properties_hold():
    assert security_violations(ALL) == []


ECR = ("aws_ecr_repository", "this", "image_scanning_configuration", 0)
PAB = ("aws_s3_bucket_public_access_block", "this")
FLOW = ("aws_cloudwatch_log_group", "flow_logs")


@pytest.mark.parametrize(
    ("module", "path", "value", "expected"),
    [
        ("ecr_repository", (*ECR, "scan_on_push"), False, "scan on push is off"),
        ("s3_bucket", (*PAB, "restrict_public_buckets"), False, "restrict_public"),
        ("network", (*FLOW, "retention_in_days"), None, "keeps logs forever"),
    ],
)
def test_security_check_catches_a_regression(module, path, value, expected):
    trees = copy.deepcopy(ALL)
    for block in trees[module]["resource"]:
        if path[0] in block and path[1] in block[path[0]]:
            target = block[path[0]][path[1]]
            for key in path[2:-1]:
                target = target[key]
            if value is None:
                del target[path[-1]]
            else:
                target[path[-1]] = value
    assert any(expected in v for v in security_violations(trees))


def test_wildcard_action_on_every_resource_is_caught():
    trees = copy.deepcopy(ALL)
    doc = data_sources(trees["model_store_read_policy"], "aws_iam_policy_document")[
        "this"
    ]
    doc["statement"].append({"actions": ["s3:*"], "resources": ["*"]})
    assert any("['s3:*'] on *" in v for v in security_violations(trees))


def test_alerts_and_schedule_match_only_what_matters():
    text = (TF / "modules" / "notifications" / "main.tf").read_text()
    assert 'ModelApprovalStatus   = ["Approved"]' in text
    assert 'currentPipelineExecutionStatus = ["Failed"]' in text
    schedule = named(ALL["pipeline_schedule"]["variable"])["schedule_expression"]
    assert schedule["default"] == "cron(0 1 * * ? *)"  # daily at 01:00
    endpoints = named(ALL["network"]["variable"])["interface_endpoints"]["default"]
    assert {"ecr.api", "ecr.dkr", "logs", "sts", "sagemaker.api"} <= set(endpoints)


def test_budgets_stay_below_the_target():
    for env in ENVS:
        (call,) = [b["platform"] for b in parse(env)["module"] if "platform" in b]
        assert 0 < call["monthly_budget_usd"] < 500


# ------------------------------------------------------------------------ checkov
def checkov(*args: str) -> dict[str, Any]:
    proc = subprocess.run(
        [tool("checkov"), *args, "--skip-download", "-o", "json"],  # not --quiet:
        # it would drop the skipped checks from the report
        capture_output=True, text=True, check=False, cwd=REPO,
        env={"BC_SKIP_MAPPING": "TRUE", "PATH": "/usr/bin:/bin"},
    )  # fmt: skip
    assert proc.stdout.strip(), proc.stderr[-3000:]
    reports = json.loads(proc.stdout)
    return {
        "reports": reports if isinstance(reports, list) else [reports],
        "rc": proc.returncode,
    }


def _failures_and_skips(result: dict[str, Any]) -> tuple[list[str], list[dict]]:
    failed, skipped = [], []
    for report in result["reports"]:
        results = report.get("results", {})
        failed += [
            f"{r['check_id']} {r['resource']} ({r['file_path']})"
            for r in results.get("failed_checks", [])
        ]
        skipped += results.get("skipped_checks", [])
    return failed, skipped


SKIPPED = {
    "CKV_AWS_18",
    "CKV_AWS_144",
    "CKV2_AWS_62",  # s3_bucket
    "CKV_AWS_109",
    "CKV_AWS_111",
    "CKV_AWS_356",  # kms_key: key policy "*"; sagemaker_role: ListModelPackages
    "CKV_AWS_338",
    "CKV_AWS_394",  # network
    "CKV2_AWS_5",  # platform: the pipeline jobs' security group
    "CKV2_AWS_10",
    "CKV_AWS_252",  # audit_trail
    "CKV_K8S_35",  # serving settings from the environment
    "CKV_DOCKER_7",
    "CKV_DOCKER_2",  # ARG base image; batch image without healthcheck
    "CKV_DOCKER_8",  # pipeline image starts as root, its entrypoint drops to 10001
    "CKV_GHA_7",  # workflow_dispatch inputs
    "CKV_AWS_91",  # ecs_service: requests logged by the service, not ALB access logs
}


def test_checkov_finds_no_failure_and_every_skip_has_a_reason():
    result = checkov(
        "-d", str(INFRA),
        "--framework", "terraform", "kubernetes", "kustomize", "dockerfile",
    )  # fmt: skip
    failed, skipped = _failures_and_skips(result)
    assert failed == [], "\n".join(failed)
    passed = sum(r["summary"]["passed"] for r in result["reports"])
    assert passed > 500  # it really scanned terraform, k8s and both Dockerfiles
    gha = checkov("-d", str(REPO / ".github"), "--framework", "github_actions")
    gha_failed, gha_skipped = _failures_and_skips(gha)
    assert gha_failed == [], "\n".join(gha_failed)
    for s in [*skipped, *gha_skipped]:
        reason = (s.get("check_result") or {}).get("suppress_comment", "")
        assert len(reason) > 20, f"{s['check_id']} on {s['resource']}: no reason"
    # a new skip is a decision: it must be added here, next to its written reason
    assert {s["check_id"] for s in [*skipped, *gha_skipped]} == SKIPPED


def test_checkov_fails_an_insecure_bucket(tmp_path):
    module = tmp_path / "s3_bucket"
    module.mkdir()
    main = (TF / "modules" / "s3_bucket" / "main.tf").read_text()
    main = re.sub(
        r'resource "aws_s3_bucket_public_access_block" "this" \{.*?\n\}\n',
        "",
        main,
        flags=re.S,
    )
    (module / "main.tf").write_text(main)
    for name in ("variables.tf", "outputs.tf", "versions.tf"):
        (module / name).write_text((TF / "modules" / "s3_bucket" / name).read_text())
    failed, _ = _failures_and_skips(
        checkov("-d", str(module), "--framework", "terraform")
    )
    assert any(f.startswith("CKV2_AWS_6 ") for f in failed), failed


def test_ecs_path_keeps_the_seeds_promises():
    """The ECS Fargate path (module ecs_service): at least two tasks across zones
    behind an HTTPS load balancer checking /ready, CPU target tracking at 70%,
    alarms on 5xx, latency and unhealthy targets, a read-only non-root container, and
    a task role that can only read the model store."""
    tree = ALL["ecs_service"]
    text = (TF / "modules" / "ecs_service" / "main.tf").read_text()
    variables = named(tree["variable"])
    assert variables["min_tasks"]["default"] == 2
    assert "var.min_tasks >= 2" in str(variables["min_tasks"]["validation"])
    assert variables["cpu_target_percent"]["default"] == 70
    (service,) = resources(tree, "aws_ecs_service").values()
    assert service["launch_type"] == "FARGATE"
    assert service["network_configuration"][0]["assign_public_ip"] is False
    assert service["deployment_circuit_breaker"][0]["rollback"] is True
    (group,) = resources(tree, "aws_lb_target_group").values()
    assert group["health_check"][0]["path"] == "/ready"
    listeners = resources(tree, "aws_lb_listener")
    assert listeners["https"]["ssl_policy"].startswith("ELBSecurityPolicy-TLS13")
    assert listeners["http"]["default_action"][0]["type"] == "redirect"
    (policy,) = resources(tree, "aws_appautoscaling_policy").values()
    tracking = policy["target_tracking_scaling_policy_configuration"][0]
    assert tracking["target_value"] == "${var.cpu_target_percent}"
    metric = tracking["predefined_metric_specification"][0]
    assert metric["predefined_metric_type"] == "ECSServiceAverageCPUUtilization"
    alarms = resources(tree, "aws_cloudwatch_metric_alarm")
    assert set(alarms) == {
        "errors_5xx", "latency_p99", "unhealthy_targets", "too_few_healthy",
    }  # fmt: skip
    assert re.search(r"readonlyRootFilesystem\s*=\s*true", text)
    assert re.search(r'user\s*=\s*"10001:10001"', text)
    # the task role gets the serving policy, the same one as the EKS pods' role
    assert (
        named(tree["module"])["read_models"]["source"] == "../model_store_read_policy"
    )
    assert "policy = module.read_models.json" in text
    read = data_sources(ALL["model_store_read_policy"], "aws_iam_policy_document")
    actions = {a for s in read["this"]["statement"] for a in s["actions"]}
    assert actions == {"s3:GetObject", "s3:ListBucket", "kms:Decrypt"}
    # the platform can run serving on EKS, ECS or both
    platform = named(ALL["platform"]["variable"])
    assert platform["serving_platforms"]["default"] == ["eks"]
    calls = named(ALL["platform"]["module"])
    assert calls["ecs_service"]["count"] == "${local.ecs ? 1 : 0}"
    assert calls["eks"]["count"] == "${local.eks ? 1 : 0}"


def test_eks_add_ons_reach_aws_with_roles_of_their_own():
    """The pods cannot reach the node role (IMDS hop limit 1 in the launch template),
    so an add-on that calls AWS needs a role of its own. The CloudWatch
    observability add-on ships the serving pods' EMF lines the alarms read: without
    one, CloudWatch got nothing. The HPA needs a metrics server, which EKS does not
    run unless asked."""
    tree = ALL["eks"]
    text = "\n".join(p.read_text() for p in (TF / "modules" / "eks").glob("*.tf"))
    hop = resources(tree, "aws_launch_template")["node"]["metadata_options"][0]
    assert hop["http_put_response_hop_limit"] == 1  # why the roles are needed
    addons = named(tree["variable"])["addons"]["default"]
    assert {"amazon-cloudwatch-observability", "metrics-server"} <= set(addons)
    assert "service_account_role_arn    = lookup(local.addon_roles, each.key" in text
    assert re.search(
        r'"amazon-cloudwatch-observability"\s*=\s*aws_iam_role\.cloudwatch_agent\.arn',
        text,
    )
    subjects = named(tree["locals"])["irsa_subjects"]
    assert subjects["cloudwatch_agent"] == (
        "system:serviceaccount:amazon-cloudwatch:cloudwatch-agent"
    )
    role = resources(tree, "aws_iam_role")["cloudwatch_agent"]
    assert role["assume_role_policy"] == (
        '${data.aws_iam_policy_document.irsa_assume["cloudwatch_agent"].json}'
    )
    (statement,) = data_sources(tree, "aws_iam_policy_document")["irsa_assume"][
        "statement"
    ]
    (sub,) = [c for c in statement["condition"] if c["variable"].endswith(":sub")]
    assert sub["values"] == ["${each.value}"]
    attached = resources(tree, "aws_iam_role_policy_attachment")["cloudwatch_agent"]
    policy = ":iam::aws:policy/CloudWatchAgentServerPolicy"
    assert attached["policy_arn"].endswith(policy)
    assert attached["role"] == "${aws_iam_role.cloudwatch_agent.name}"


def test_an_alarm_fires_when_cloudwatch_hears_nothing_from_the_serving_pods():
    """Every serving alarm of the EKS path but this one treats missing data as not
    breaching, so a cluster whose pods send CloudWatch nothing stayed silent. This
    one reads Container Insights' pod count for the serving namespace Terraform
    names, and missing data breaches."""
    obs = ALL["observability"]
    alarms = resources(obs, "aws_cloudwatch_metric_alarm")
    silent = {
        name for name, a in alarms.items() if a["treat_missing_data"] == "notBreaching"
    }
    assert {"error_rate", "latency_p99"} <= silent  # no traffic is not an error
    unreported = alarms["serving_pods_unreported"]
    assert unreported["treat_missing_data"] == "breaching"
    assert unreported["namespace"] == "ContainerInsights"
    assert unreported["metric_name"] == "namespace_number_of_running_pods"
    assert unreported["dimensions"] == {
        "ClusterName": "${var.cluster_name}",
        "Namespace": "${var.serving_namespace}",
    }
    assert unreported["comparison_operator"] == "LessThanThreshold"
    assert unreported["threshold"] == 1
    passed = named(ALL["platform"]["module"])["observability"]
    assert passed["serving_namespace"] == "${var.serving_namespace}"


def test_an_eks_platform_names_someone_who_can_administer_it():
    """The cluster's creator gets no admin access (access entries only), so with no
    admin role nobody could install the load balancer controller or create the
    serving namespace: the platform refuses an empty list when serving runs on EKS.
    The controller cannot read the VPC from IMDS (hop limit 1): the platform outputs
    it for the install command in docs/deploy.md."""
    eks = resources(ALL["eks"], "aws_eks_cluster")["this"]
    access = eks["access_config"][0]
    assert access["bootstrap_cluster_creator_admin_permissions"] is False
    variable = named(ALL["platform"]["variable"])["eks_admin_role_arns"]
    (rule,) = variable["validation"]
    assert rule["condition"] == (
        "${length(var.eks_admin_role_arns) > 0 || "
        '!contains(var.serving_platforms, "eks")}'
    )
    outputs = named(ALL["platform"]["output"])
    assert outputs["vpc_id"]["value"] == "${module.network.vpc_id}"
    guide = (REPO / "docs" / "deploy.md").read_text()
    assert "--set region=<region> --set vpcId=<vpc_id>" in guide


def test_the_cluster_autoscaler_may_resize_only_this_clusters_node_groups():
    """Issue 14: the node group's comment claimed an autoscaler that did not exist.
    The Cluster Autoscaler's IRSA role, evaluated as IAM would: it may resize an
    Auto Scaling group that EKS tagged as this cluster's, not another cluster's and
    not an untagged one; the guide installs it under the service account the role
    trusts."""
    from tests.aws.iam import Request, decide, module_policy

    region, account = "eu-west-1", "123456789012"
    data = {
        "aws_partition": {"current": {"partition": "aws"}},
        "aws_caller_identity": {"current": {"account_id": account}},
        "aws_region": {"current": {"region": region, "name": region}},
    }
    policy = module_policy(
        TF / "modules" / "eks", {"name": "mlops-dev"}, {"data": data},
        name="cluster_autoscaler",
    )  # fmt: skip
    asg = (
        f"arn:aws:autoscaling:{region}:{account}:autoScalingGroup:"
        "0f1e2d3c-aaaa-bbbb-cccc-0123456789ab:autoScalingGroupName/eks-mlops-dev-spot"
    )

    def resize(tags: dict[str, str]) -> bool:
        context = tuple((f"aws:ResourceTag/{k}", v) for k, v in tags.items())
        request = Request("autoscaling:SetDesiredCapacity", asg, context)
        return decide(policy, request)[0]

    assert resize({"k8s.io/cluster-autoscaler/mlops-dev": "owned"})
    assert not resize({"k8s.io/cluster-autoscaler/mlops-prod": "owned"})
    assert not resize({})
    assert decide(policy, Request("autoscaling:DescribeAutoScalingGroups", "*"))[0]
    tree = ALL["eks"]
    subjects = named(tree["locals"])["irsa_subjects"]
    assert subjects["cluster_autoscaler"] == (
        "system:serviceaccount:kube-system:cluster-autoscaler"
    )
    role = resources(tree, "aws_iam_role")["cluster_autoscaler"]
    assert role["assume_role_policy"] == (
        '${data.aws_iam_policy_document.irsa_assume["cluster_autoscaler"].json}'
    )
    guide = (REPO / "docs" / "deploy.md").read_text()
    assert (
        "helm install cluster-autoscaler autoscaler/cluster-autoscaler -n kube-system"
        in guide
    )
    assert "--set rbac.serviceAccount.name=cluster-autoscaler" in guide
    assert "--set autoDiscovery.clusterName=mlops-dev" in guide
    node_group = resources(tree, "aws_eks_node_group")["this"]
    assert node_group["lifecycle"][0]["ignore_changes"] == [
        "${scaling_config[0].desired_size}"
    ]  # the autoscaler's changes survive the next apply
