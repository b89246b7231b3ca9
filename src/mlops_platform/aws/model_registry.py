"""Mirror the production pointer into the SageMaker Model Registry (aws environment).

One model package group per use case (named after it); one model package per bundle
version that has been champion. The bundle in the model store stays the source of
truth. The package is one SageMaker can deploy: its container is the serving image
(``MLOPS_SERVING_IMAGE``, which answers SageMaker hosting's ``/ping`` and
``/invocations``) over the bundle's hosting archive (``ModelDataUrl``, a
``model.tar.gz`` that is a one-model store: :mod:`mlops_platform.aws.model_archive`),
and it records the bundle's version in ``CustomerMetadataProperties``.

Everything goes through one idempotent step, :meth:`SageMakerModelRegistry.sync`: make
the registry agree with the pointer. It registers the pointer's version if it has no
package yet (``PendingManualApproval``), rejects every other Approved package, and
only then approves the pointer's. So at no instant are two packages Approved, a crash
at any point leaves at most one Approved package, and the next sync (after every
promotion and rollback, and at the start of every run and ``mlops-model`` command)
finishes the job without creating a second package for the same version.

Enabled by ``conf/<env>/model_registry.yml`` (only ``conf/aws`` has one).
"""

from __future__ import annotations

import logging
from typing import Any

from botocore.exceptions import ClientError

from mlops_platform import faults
from mlops_platform.aws import model_archive

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
        # Describe, not ListModelPackageGroups: a call on the group's own ARN, which
        # the execution role grants (the list action needs Resource "*").
        try:
            self.client.describe_model_package_group(ModelPackageGroupName=use_case)
            return
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "ValidationException":
                raise
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

    def _register(self, store: Any, version: str, run_id: str | None) -> dict[str, Any]:
        use_case, store_root = store.use_case, store.root
        archive = model_archive.ensure(store, version)
        faults.point("registry.archive_written")
        created = self.client.create_model_package(
            ModelPackageGroupName=use_case,
            ModelPackageDescription=f"{use_case} {version}",
            ModelApprovalStatus="PendingManualApproval",
            InferenceSpecification={
                "Containers": [
                    {
                        "Image": self.serving_image,
                        "ModelDataUrl": archive,
                        "Environment": model_archive.container_environment(use_case),
                    }
                ],
                "SupportedContentTypes": ["application/json"],
                "SupportedResponseMIMETypes": ["application/json"],
            },
            # values must not be empty (botocore's model: length 1 to 256)
            CustomerMetadataProperties={
                VERSION_KEY: version,
                "model_store": store_root,
                **({"mlflow_run_id": run_id} if run_id else {}),
            },
        )
        return {
            "ModelPackageArn": created["ModelPackageArn"],
            "ModelApprovalStatus": "PendingManualApproval",
        }

    def follow(self, store: Any, run_id: str | None = None, why: str = "") -> list[str]:
        """:meth:`sync` to a :class:`~mlops_platform.model_store.ModelStore`'s pointer,
        under its promotion lease (a promotion cannot move the pointer while the
        registry is being made to agree with it)."""
        with store.lease():
            return self.sync(store, store.current_version(), run_id, why)

    def sync(
        self,
        store: Any,
        version: str | None,
        run_id: str | None = None,
        why: str = "",
    ) -> list[str]:
        """Make the registry agree with the pointer (``version``; None: no champion,
        nothing is Approved). Idempotent; returns what it changed."""
        use_case = store.use_case
        self._ensure_group(use_case)
        packages = self.packages(use_case)
        mine = [p for p in packages if package_version(p) == version]
        changes: list[str] = []
        target: dict[str, Any] | None = None
        if version is not None:
            if mine:
                target = mine[0]
            else:
                target = self._register(store, version, run_id)
                changes.append(f"registered {version}")
                faults.point("registry.after_register")
        for p in packages:
            if p["ModelApprovalStatus"] == "Approved" and p["ModelPackageArn"] != (
                target or {}
            ).get("ModelPackageArn"):
                self._set(
                    p["ModelPackageArn"],
                    "Rejected",
                    f"superseded by {version}" if version else "no champion",
                )
                changes.append(f"rejected {package_version(p)}")
                faults.point("registry.after_reject")
        if target is not None and target["ModelApprovalStatus"] != "Approved":
            self._set(target["ModelPackageArn"], "Approved", why or "champion")
            changes.append(f"approved {version}")
        if changes:
            logger.info("SageMaker model registry %s: %s", use_case, "; ".join(changes))
        return changes
