"""The kustomize base and overlays: rendered by kubectl, validated against the
Kubernetes schemas shipped by kubernetes-validate (offline), and held to the serving
contract (probes, limits, non-root, read-only root filesystem, IRSA, autoscaling)."""

from __future__ import annotations

import subprocess

import kubernetes_validate
import pytest
import yaml
from k8s_release import render

from tests.infra.conftest import K8S, tool

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
        "Namespace", "ServiceAccount", "ConfigMap", "Service", "Deployment",
        "HorizontalPodAutoscaler", "PodDisruptionBudget", "Ingress", "NetworkPolicy",
    }  # fmt: skip
    for doc in docs.values():
        kubernetes_validate.validate(doc, K8S_VERSION, strict=True)


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
