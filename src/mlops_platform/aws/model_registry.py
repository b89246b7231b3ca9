"""Mirror promotions and rollbacks into the SageMaker Model Registry (aws environment).

One model package group per use case (named after it). Each promotion registers the
new bundle as a model package with status ``Approved`` and sets the previously approved
package to ``Rejected`` ("superseded by vNNNN"), so exactly one package is Approved: the
champion, like the MLflow alias. A rollback approves the package of the version it
restores and rejects the one it replaces. The bundle in the model store stays the source
of truth; the package points at it (``ModelDataUrl``: the bundle's ``model.onnx``) and
records its version in ``CustomerMetadataProperties``.

Enabled by ``conf/<env>/model_registry.yml`` (only ``conf/aws`` has one).
"""

from __future__ import annotations

import logging
from typing import Any

logger = logging.getLogger(__name__)
VERSION_KEY = "bundle_version"


def package_version(package: dict[str, Any]) -> str | None:
    """The bundle version of a package: its metadata, else its description (moto 5.2
    drops CustomerMetadataProperties on update_model_package)."""
    meta = package.get("CustomerMetadataProperties") or {}
    if VERSION_KEY in meta:
        return str(meta[VERSION_KEY])
    words = str(package.get("ModelPackageDescription", "")).split()
    return words[-1] if words else None


class SageMakerModelRegistry:
    def __init__(self, serving_image: str, client: Any = None) -> None:
        if client is None:
            import boto3  # noqa: PLC0415

            client = boto3.client("sagemaker")
        self.client = client
        self.serving_image = serving_image

    @classmethod
    def from_config(
        cls, config: dict[str, Any] | None
    ) -> SageMakerModelRegistry | None:
        section = (config or {}).get("sagemaker") or {}
        if not section.get("enabled"):
            return None
        return cls(serving_image=section["serving_image"])

    def _ensure_group(self, use_case: str) -> None:
        groups = self.client.list_model_package_groups(NameContains=use_case)
        if any(
            g["ModelPackageGroupName"] == use_case
            for g in groups.get("ModelPackageGroupSummaryList", [])
        ):
            return
        self.client.create_model_package_group(
            ModelPackageGroupName=use_case,
            ModelPackageGroupDescription=f"mlops_platform {use_case} champions",
        )

    def packages(self, use_case: str) -> list[dict[str, Any]]:
        pages = self.client.get_paginator("list_model_packages").paginate(
            ModelPackageGroupName=use_case
        )
        return [
            self.client.describe_model_package(ModelPackageName=s["ModelPackageArn"])
            for page in pages
            for s in page.get("ModelPackageSummaryList", [])
        ]

    def _set(self, arn: str, status: str, why: str) -> None:
        self.client.update_model_package(
            ModelPackageArn=arn, ModelApprovalStatus=status, ApprovalDescription=why
        )

    def mirror_promotion(
        self, use_case: str, version: str, store_root: str, run_id: str | None
    ) -> str:
        self._ensure_group(use_case)
        previous = [
            p for p in self.packages(use_case) if p["ModelApprovalStatus"] == "Approved"
        ]
        created = self.client.create_model_package(
            ModelPackageGroupName=use_case,
            ModelPackageDescription=f"{use_case} {version}",
            ModelApprovalStatus="Approved",
            InferenceSpecification={
                "Containers": [
                    {
                        "Image": self.serving_image,
                        "ModelDataUrl": (
                            f"{store_root.rstrip('/')}/versions/{use_case}/{version}"
                            "/model.onnx"
                        ),
                    }
                ],
                "SupportedContentTypes": ["application/json"],
                "SupportedResponseMIMETypes": ["application/json"],
            },
            CustomerMetadataProperties={
                VERSION_KEY: version,
                "model_store": store_root,
                "mlflow_run_id": run_id or "",
            },
        )
        arn = str(created["ModelPackageArn"])
        for p in previous:
            self._set(p["ModelPackageArn"], "Rejected", f"superseded by {version}")
        logger.info(
            "SageMaker model registry: %s %s approved (%s)", use_case, version, arn
        )
        return arn

    def mirror_rollback(self, use_case: str, restored: str, replaced: str) -> None:
        by_version = {package_version(p): p for p in self.packages(use_case)}
        if restored not in by_version:
            logger.warning(
                "SageMaker model registry: no package for %s %s; not mirrored",
                use_case,
                restored,
            )
            return
        self._set(
            by_version[restored]["ModelPackageArn"],
            "Approved",
            f"rollback from {replaced}",
        )
        if replaced in by_version:
            self._set(
                by_version[replaced]["ModelPackageArn"],
                "Rejected",
                f"rolled back to {restored}",
            )
