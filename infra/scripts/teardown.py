"""Tear an environment down so that nothing is left behind (and nothing is billed).

    python infra/scripts/teardown.py --env dev --dry-run   # print exactly what goes
    python infra/scripts/teardown.py --env dev --yes       # do it

Terraform cannot delete a versioned bucket that still holds versions, nor an ECR
repository with images (the modules set force_destroy/force_delete to false on
purpose), and it never created the SageMaker pipelines and model packages (delivery
and the pipeline did). So, in order:

1. read the environment's names from ``terraform output -json platform``;
2. list every object version and delete marker of the lake and audit buckets, every
   image of both repositories, every model package of the use cases' groups, the
   groups and the pipelines, and the ECS path's load balancer if its deletion
   protection is on (it is by default);
3. ``--dry-run``: print that list and stop; otherwise delete it all;
4. ``terraform destroy``; if a bucket filled up again meanwhile (CloudTrail delivers
   until the trail is gone), empty it once more and retry once.

The Terraform state bucket is not touched (it holds the record of what was destroyed),
and the KMS key is only scheduled for deletion after its waiting period.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

TF = Path(__file__).resolve().parents[1] / "terraform"


@dataclass
class Plan:
    objects: dict[str, list[dict[str, str]]] = field(default_factory=dict)
    images: dict[str, list[dict[str, str]]] = field(default_factory=dict)
    model_packages: dict[str, list[str]] = field(default_factory=dict)
    pipelines: list[str] = field(default_factory=list)
    # load balancers with deletion protection on (the ECS path's ALB in prod)
    protected_load_balancers: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        out = []
        for bucket, versions in self.objects.items():
            out.append(f"bucket {bucket}: {len(versions)} object versions/markers")
            out += [
                f"  delete s3://{bucket}/{v['Key']} version {v['VersionId']}"
                for v in versions
            ]
        for repo, images in self.images.items():
            out.append(f"repository {repo}: {len(images)} images")
            out += [
                f"  delete image {repo}@{i['imageDigest']}"
                + (f" ({i['imageTag']})" if i.get("imageTag") else "")
                for i in images
            ]
        for group, packages in self.model_packages.items():
            out.append(f"model package group {group}: {len(packages)} packages")
            out += [f"  delete model package {arn}" for arn in packages]
            out.append(f"  delete model package group {group}")
        out += [f"delete SageMaker pipeline {name}" for name in self.pipelines]
        out += [
            f"turn off deletion protection of load balancer {arn}"
            for arn in self.protected_load_balancers
        ]
        return out


def terraform_outputs(env: str, terraform: str) -> dict[str, Any]:
    proc = subprocess.run(
        [terraform, f"-chdir={TF / 'envs' / env}", "output", "-json", "platform"],
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        raise SystemExit(
            f"terraform output failed for {env} (is it initialised and applied?):\n"
            f"{proc.stderr}"
        )
    return json.loads(proc.stdout)  # type: ignore[no-any-return]


def clients(endpoint_url: str | None) -> dict[str, Any]:
    import boto3  # noqa: PLC0415

    return {
        name: boto3.client(name, endpoint_url=endpoint_url)
        for name in ("s3", "ecr", "sagemaker", "elbv2")
    }


def _missing(exc: Exception, *codes: str) -> bool:
    response = getattr(exc, "response", {}) or {}
    return response.get("Error", {}).get("Code") in codes


def build_plan(outputs: dict[str, Any], aws: dict[str, Any]) -> Plan:
    plan = Plan()
    for bucket in (outputs["lake_bucket"], outputs.get("audit_bucket")):
        if not bucket:
            continue
        versions: list[dict[str, str]] = []
        try:
            pages = (
                aws["s3"].get_paginator("list_object_versions").paginate(Bucket=bucket)
            )
            for page in pages:
                for kind in ("Versions", "DeleteMarkers"):
                    versions += [
                        {"Key": v["Key"], "VersionId": v["VersionId"]}
                        for v in page.get(kind, [])
                    ]
        except Exception as exc:
            if not _missing(exc, "NoSuchBucket"):
                raise
            continue
        plan.objects[bucket] = sorted(
            versions, key=lambda v: (v["Key"], v["VersionId"])
        )
    for repo in outputs["ecr_repository_names"].values():
        try:
            pages = (
                aws["ecr"].get_paginator("list_images").paginate(repositoryName=repo)
            )
            images = [i for page in pages for i in page.get("imageIds", [])]
        except Exception as exc:
            if not _missing(exc, "RepositoryNotFoundException"):
                raise
            continue
        plan.images[repo] = sorted(
            images, key=lambda i: (i["imageDigest"], i.get("imageTag", ""))
        )
    sm = aws["sagemaker"]
    for group in outputs["pipeline_names"]:
        try:
            sm.describe_model_package_group(ModelPackageGroupName=group)
        except Exception as exc:
            if not _missing(exc, "ValidationException", "ResourceNotFound"):
                raise
            continue
        arns = [
            p["ModelPackageArn"]
            for page in sm.get_paginator("list_model_packages").paginate(
                ModelPackageGroupName=group
            )
            for p in page["ModelPackageSummaryList"]
        ]
        plan.model_packages[group] = sorted(arns)
    for name in outputs["pipeline_names"].values():
        try:
            sm.describe_pipeline(PipelineName=name)
        except Exception as exc:
            if not _missing(exc, "ResourceNotFound", "ValidationException"):
                raise
            continue
        plan.pipelines.append(name)
    arn = outputs.get("ecs_load_balancer_arn")
    if arn:
        try:
            attributes = aws["elbv2"].describe_load_balancer_attributes(
                LoadBalancerArn=arn
            )["Attributes"]
        except Exception as exc:
            if not _missing(exc, "LoadBalancerNotFound"):
                raise
        else:
            if any(
                a["Key"] == "deletion_protection.enabled" and a["Value"] == "true"
                for a in attributes
            ):
                plan.protected_load_balancers.append(arn)
    return plan


def execute(plan: Plan, aws: dict[str, Any]) -> None:
    for bucket, versions in plan.objects.items():
        for start in range(0, len(versions), 1000):
            batch = versions[start : start + 1000]
            result = aws["s3"].delete_objects(
                Bucket=bucket, Delete={"Objects": batch, "Quiet": True}
            )
            if result.get("Errors"):
                raise SystemExit(f"{bucket}: could not delete {result['Errors'][:3]}")
    for repo, images in plan.images.items():
        for start in range(0, len(images), 100):
            ids = [
                {"imageDigest": i["imageDigest"]} for i in images[start : start + 100]
            ]
            result = aws["ecr"].batch_delete_image(repositoryName=repo, imageIds=ids)
            if result.get("failures"):
                raise SystemExit(f"{repo}: could not delete {result['failures'][:3]}")
    for group, arns in plan.model_packages.items():
        for arn in arns:
            aws["sagemaker"].delete_model_package(ModelPackageName=arn)
        aws["sagemaker"].delete_model_package_group(ModelPackageGroupName=group)
    for name in plan.pipelines:
        aws["sagemaker"].delete_pipeline(PipelineName=name)
    # terraform destroy cannot delete a protected load balancer
    for arn in plan.protected_load_balancers:
        aws["elbv2"].modify_load_balancer_attributes(
            LoadBalancerArn=arn,
            Attributes=[{"Key": "deletion_protection.enabled", "Value": "false"}],
        )


def destroy(env: str, terraform: str) -> bool:
    command = [terraform, f"-chdir={TF / 'envs' / env}", "destroy", "-auto-approve"]
    print("$ " + " ".join(command), flush=True)
    return subprocess.run(command, check=False).returncode == 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="empty and destroy an environment (infra/scripts/teardown.py)"
    )
    parser.add_argument("--env", required=True, choices=["dev", "prod"])
    parser.add_argument("--dry-run", action="store_true", help="print, delete nothing")
    parser.add_argument("--yes", action="store_true", help="no confirmation prompt")
    parser.add_argument(
        "--empty-only", action="store_true", help="empty, then stop before destroy"
    )
    parser.add_argument(
        "--outputs-json",
        type=Path,
        default=None,
        help="the platform output as JSON (default: terraform output -json platform)",
    )
    parser.add_argument("--terraform", default=os.environ.get("TERRAFORM", "terraform"))
    parser.add_argument(
        "--endpoint-url", default=None, help="AWS endpoint (a moto server in tests)"
    )
    args = parser.parse_args(argv)

    outputs = (
        json.loads(args.outputs_json.read_text())
        if args.outputs_json
        else terraform_outputs(args.env, args.terraform)
    )
    aws = clients(args.endpoint_url)
    plan = build_plan(outputs, aws)
    print(f"teardown of {args.env}:")
    for line in plan.lines():
        print(line)
    if not args.empty_only:
        print(f"then: terraform destroy of infra/terraform/envs/{args.env}")
    if args.dry_run:
        print("dry run: nothing was deleted")
        return 0
    if not args.yes:
        answer = input(f"type the environment name ({args.env}) to go on: ")
        if answer.strip() != args.env:
            print("not confirmed: nothing was deleted")
            return 1
    execute(plan, aws)
    print("emptied")
    if args.empty_only:
        return 0
    if destroy(args.env, args.terraform):
        return 0
    print("destroy failed; emptying the buckets again and retrying once")
    execute(build_plan(outputs, aws), aws)
    return 0 if destroy(args.env, args.terraform) else 1


if __name__ == "__main__":
    sys.exit(main())
