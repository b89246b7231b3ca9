"""Fixtures shared by the AWS tests: the pipeline image's layout, rebuilt here."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest

from tests.aws.image_layout import (
    build_stage_venv,
    namespaces_available,
    rebuild,
    stage_substitutes,
)
from tests.conftest import REPO

PIPELINE_IMAGE = REPO / "infra" / "docker" / "pipeline.Dockerfile"


@pytest.fixture(scope="session")
def shared():
    """A folder every user may enter (pytest's own temporary folders are root's only):
    the rebuilt image and what its unprivileged user must reach live here."""
    folder = Path(tempfile.mkdtemp(prefix="mlops-aws-"))
    folder.chmod(0o755)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="session")
def pipeline_image(shared):
    """infra/docker/pipeline.Dockerfile's final stage rebuilt here; what is substituted
    (the build stage's virtualenv, the base image's system) is said in
    tests/aws/image_layout.py and checked in tests/aws/test_image_layout.py."""
    why = namespaces_available()
    if why is not None:
        pytest.skip(f"the image's layout cannot be entered here: {why}")
    venv = build_stage_venv(PIPELINE_IMAGE, REPO, shared / "build")
    image = rebuild(PIPELINE_IMAGE, REPO, shared / "image", stage_substitutes(venv))
    image.built_workdir = tuple(
        sorted(p.name for p in image.host(image.workdir).iterdir())
    )
    return image
