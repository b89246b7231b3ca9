"""The GitHub workflows: actionlint-clean, every action pinned to a commit SHA, AWS only
through OIDC, least-privilege permissions, and the delivery steps the platform needs."""

from __future__ import annotations

import re
import shutil
import subprocess

import yaml

from tests.infra.conftest import REPO, WORKFLOWS, tool

FILES = sorted(WORKFLOWS.glob("*.yml"))
SHA_PIN = re.compile(r"^[\w.-]+/[\w./-]+@[0-9a-f]{40} # v\d+(\.\d+)*$")


def load(path):
    doc = yaml.safe_load(path.read_text())
    doc["on"] = doc.pop(True, doc.get("on"))  # YAML 1.1 reads `on:` as True
    return doc


def actionlint(folder) -> subprocess.CompletedProcess:
    return subprocess.run(
        [tool("actionlint"), "-no-color"], cwd=folder,
        capture_output=True, text=True, check=False,
    )  # fmt: skip


def test_actionlint_is_clean():
    assert FILES, "no workflows"
    proc = actionlint(REPO)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_actionlint_catches_a_broken_workflow(tmp_path):
    shutil.copytree(WORKFLOWS, tmp_path / ".github" / "workflows")
    broken = tmp_path / ".github" / "workflows" / "ci.yml"
    broken.write_text(
        broken.read_text().replace(
            "runs-on: ubuntu-24.04", "runs-on: ${{ matrix.nope }}", 1
        )
    )
    (tmp_path / ".git").mkdir()
    proc = actionlint(tmp_path)
    assert proc.returncode == 1 and "matrix" in proc.stdout


def test_every_action_is_pinned_to_a_commit_sha():
    for path in FILES:
        for line in path.read_text().splitlines():
            m = re.match(r"\s*(?:-\s*)?uses:\s*(.+)$", line)
            if not m:
                continue
            ref = m.group(1).strip()
            if ref.startswith("./"):
                continue  # a reusable workflow of this repository
            assert SHA_PIN.match(ref), f"{path.name}: {ref} is not pinned to a SHA"


def test_aws_only_through_oidc_and_least_privilege():
    text = "\n".join(p.read_text() for p in FILES)
    for secret in (
        "aws-access-key-id",
        "aws-secret-access-key",
        "AWS_SECRET_ACCESS_KEY",
    ):
        assert secret not in text
    for path in FILES:
        doc = load(path)
        assert "permissions" in doc, f"{path.name}: no top-level permissions"
        top = doc["permissions"]
        assert top in ({}, {"contents": "read"}), f"{path.name}: broad default"
        for name, job in doc["jobs"].items():
            perms = job.get("permissions", top)
            assert perms.get("contents", "none") in ("read", "none")
            steps = job.get("steps", [])
            uses_aws = any(
                "configure-aws-credentials" in s.get("uses", "") for s in steps
            )
            calls = job.get("uses", "")
            if uses_aws or calls.startswith("./"):
                assert perms.get("id-token") == "write", f"{path.name}:{name}"
            else:
                assert "id-token" not in perms, f"{path.name}:{name} needs no OIDC"
            for s in steps:
                if "configure-aws-credentials" in s.get("uses", ""):
                    assert s["with"]["role-to-assume"].startswith("${{ vars.")
                    assert set(s["with"]) == {"role-to-assume", "aws-region"}


def test_delivery_does_what_the_platform_needs():
    ci = load(WORKFLOWS / "ci.yml")
    runs = [s.get("run", "") for j in ci["jobs"].values() for s in j["steps"]]
    assert {"make lint", "make test", "make infra-check"} <= set(runs)

    serving = (WORKFLOWS / "deploy-serving.yml").read_text()
    for needle in (
        "infra/scripts/push-image.sh",        # immutable tag, digest out
        "infra/scripts/k8s_release.py",       # apply by digest
        "rollout status deployment/mlops-serving",
        "infra/scripts/smoke_test.py",        # /ready and a prediction
        "rollout undo deployment/mlops-serving",
    ):  # fmt: skip
        assert needle in serving
    delivery = load(WORKFLOWS / "serving-delivery.yml")
    assert "serving/**" in delivery["on"]["push"]["paths"]
    build = "\n".join(str(s) for s in delivery["jobs"]["build"]["steps"])
    assert "trivy-action" in build and "'exit-code': '1'" in build
    dispatch = delivery["on"]["workflow_dispatch"]["inputs"]["action"]["options"]
    assert "restart" in dispatch
    assert "rollout restart" in str(delivery["jobs"]["restart"]["steps"])

    pipeline = load(WORKFLOWS / "pipeline-delivery.yml")
    assert {"src/**", "conf/**"} <= set(pipeline["on"]["push"]["paths"])
    deploy = (WORKFLOWS / "deploy-pipeline.yml").read_text()
    assert "mlops-sagemaker upsert" in deploy and "mlops-sagemaker run" not in deploy
    # the model packages name a serving image that exists, by digest
    assert "MLOPS_SERVING_IMAGE: ${{ steps.serving.outputs.image }}" in deploy
    assert "aws ecr describe-images" in deploy
