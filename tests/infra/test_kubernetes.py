"""The kustomize base and overlays: rendered by kubectl, validated against the
Kubernetes schemas shipped by kubernetes-validate (offline), and held to the serving
contract (probes, limits, non-root, read-only root filesystem, IRSA, autoscaling)."""

from __future__ import annotations

import re
import subprocess

import kubernetes_validate
import pytest
import yaml
from cost_estimate import variable_defaults
from k8s_release import render

from tests.infra.conftest import K8S, TF, tool

OVERLAYS = ("dev", "prod")
K8S_VERSION = "1.34"  # EKS version in infra/terraform/modules/eks


def kustomize(folder) -> list[dict]:
    proc = subprocess.run(
        [tool("kubectl"), "kustomize", str(folder)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    return [d for d in yaml.safe_load_all(proc.stdout) if d]


def by_kind(docs: list[dict]) -> dict[str, dict]:
    return {d["kind"]: d for d in docs}


@pytest.fixture(scope="module", params=OVERLAYS)
def overlay(request):
    return request.param, by_kind(kustomize(K8S / "overlays" / request.param))


def test_every_rendered_object_matches_the_kubernetes_schema(overlay):
    _, docs = overlay
    assert set(docs) == {
        "ServiceAccount", "ConfigMap", "Service", "Deployment",
        "HorizontalPodAutoscaler", "PodDisruptionBudget", "Ingress", "NetworkPolicy",
    }  # fmt: skip
    for doc in docs.values():
        kubernetes_validate.validate(doc, K8S_VERSION, strict=True)
    (namespace,) = kustomize(K8S / "cluster")
    kubernetes_validate.validate(namespace, K8S_VERSION, strict=True)


# What Kubernetes' aggregated "edit" ClusterRole lets a subject create and update in a
# namespace (the resources of the rules labelled aggregate-to-edit, by API group), which
# EKS's AmazonEKSEditPolicy maps to. Namespaces are not among them (edit may only read
# them), nor is anything cluster-scoped.
EDIT_ROLE_KINDS = {
    ("", "Pod"), ("", "ConfigMap"), ("", "Endpoints"), ("", "PersistentVolumeClaim"),
    ("", "ReplicationController"), ("", "Secret"), ("", "ServiceAccount"),
    ("", "Service"),
    ("apps", "DaemonSet"), ("apps", "Deployment"), ("apps", "ReplicaSet"),
    ("apps", "StatefulSet"),
    ("autoscaling", "HorizontalPodAutoscaler"),
    ("batch", "CronJob"), ("batch", "Job"),
    ("policy", "PodDisruptionBudget"),
    ("networking.k8s.io", "Ingress"), ("networking.k8s.io", "NetworkPolicy"),
}  # fmt: skip


@pytest.mark.parametrize("env", OVERLAYS)
def test_ci_can_apply_the_release_with_the_access_terraform_grants_it(env, tmp_path):
    """CI's deploy role gets AmazonEKSEditPolicy scoped to the serving namespace (the
    eks module's access entry): every object of a release must be one the edit role
    may create, in that namespace. A Namespace in the release was refused on a real
    cluster; it is the cluster administrator's (infra/k8s/cluster, applied once)."""
    eks = (TF / "modules" / "eks" / "main.tf").read_text()
    assert re.search(
        r'"deploy-\$\{label\}" => \{[^}]*policy = "AmazonEKSEditPolicy", '
        r"namespaces = \[var\.serving_namespace\]",
        eks,
    ), "the deploy role's access entry changed: revisit this test"
    namespace = variable_defaults(TF / "modules" / "platform")["serving_namespace"]
    digest = "sha256:" + "cd" * 32
    image = f"123456789012.dkr.ecr.eu-west-1.amazonaws.com/mlops-serving@{digest}"
    release = kustomize(render(env, image, tmp_path / "release"))
    refused = [
        f"{d['kind']} {d['metadata']['name']} in {d['metadata'].get('namespace')}"
        for d in release
        if (d["apiVersion"].rpartition("/")[0], d["kind"]) not in EDIT_ROLE_KINDS
        or d["metadata"].get("namespace") != namespace
    ]
    assert refused == []
    (ns,) = kustomize(K8S / "cluster")
    assert ns["kind"] == "Namespace" and ns["metadata"]["name"] == namespace
    assert ns["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == (
        "restricted"
    )


def test_schema_validation_rejects_a_typo():
    (deployment,) = [
        d for d in kustomize(K8S / "overlays" / "dev") if d["kind"] == "Deployment"
    ]
    deployment["spec"]["template"]["spec"]["containers"][0]["readinessProbe"][
        "httpGett"
    ] = {"path": "/ready"}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, K8S_VERSION, strict=True)


def test_serving_pods_follow_the_contract(overlay):
    env, docs = overlay
    deployment = docs["Deployment"]
    assert deployment["metadata"]["namespace"] == "mlops-serving"
    assert deployment["spec"]["replicas"] >= 2
    assert deployment["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0
    pod = deployment["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] == 10001  # the image's user
    assert pod["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault"
    zones = [c["topologyKey"] for c in pod["topologySpreadConstraints"]]
    assert "topology.kubernetes.io/zone" in zones
    (c,) = pod["containers"]
    assert c["readinessProbe"]["httpGet"]["path"] == "/ready"
    assert c["livenessProbe"]["httpGet"]["path"] == "/health"
    assert {"cpu", "memory"} <= set(c["resources"]["requests"])
    assert {"cpu", "memory"} <= set(c["resources"]["limits"])
    sc = c["securityContext"]
    assert sc["readOnlyRootFilesystem"] is True
    assert sc["allowPrivilegeEscalation"] is False
    assert sc["capabilities"]["drop"] == ["ALL"]
    assert c["image"].startswith("mlops-serving@sha256:")  # released by digest only
    config = docs["ConfigMap"]
    assert c["envFrom"][0]["configMapRef"]["name"] == config["metadata"]["name"]
    assert config["data"]["SERVING_MODEL_STORE_URI"].startswith(f"s3://mlops-{env}-")
    assert config["data"]["SERVING_HOST"] == "0.0.0.0"  # noqa: S104 - in the pod
    sa = docs["ServiceAccount"]
    assert pod["serviceAccountName"] == sa["metadata"]["name"]
    role = sa["metadata"]["annotations"]["eks.amazonaws.com/role-arn"]
    assert role.endswith(f":role/mlops-{env}-serving")  # serving_irsa_role's name
    hpa = docs["HorizontalPodAutoscaler"]["spec"]
    assert 2 <= hpa["minReplicas"] < hpa["maxReplicas"]
    assert hpa["metrics"][0]["resource"]["name"] == "cpu"
    assert docs["PodDisruptionBudget"]["spec"]["minAvailable"] < hpa["minReplicas"]
    ingress = docs["Ingress"]
    assert ingress["spec"]["ingressClassName"] == "alb"
    notes = ingress["metadata"]["annotations"]
    assert notes["alb.ingress.kubernetes.io/healthcheck-path"] == "/ready"
    assert notes["alb.ingress.kubernetes.io/target-type"] == "ip"


def test_prod_is_larger_than_dev():
    dev = by_kind(kustomize(K8S / "overlays" / "dev"))
    prod = by_kind(kustomize(K8S / "overlays" / "prod"))
    for key in ("minReplicas", "maxReplicas"):
        assert (
            prod["HorizontalPodAutoscaler"]["spec"][key]
            > dev["HorizontalPodAutoscaler"]["spec"][key]
        )


def test_a_release_pins_the_image_by_digest(tmp_path):
    digest = "sha256:" + "ab" * 32
    image = f"123456789012.dkr.ecr.eu-west-1.amazonaws.com/mlops-serving@{digest}"
    out = render("prod", image, tmp_path / "release")
    docs = by_kind(kustomize(out))
    (c,) = docs["Deployment"]["spec"]["template"]["spec"]["containers"]
    assert c["image"] == image
    with pytest.raises(ValueError, match="expected <registry>/<repository>@sha256"):
        render("prod", image.replace(f"@{digest}", ":latest"), tmp_path / "x")
    with pytest.raises(ValueError, match="no overlay 'staging'"):
        render("staging", image, tmp_path / "y")
