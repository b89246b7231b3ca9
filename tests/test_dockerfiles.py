"""The images, checked without a docker engine: hadolint-clean, copy only files that
exist (and that .dockerignore lets through), install with the pinned constraints the
README's install uses; the serving image runs as non-root and has a HEALTHCHECK; the
pipeline image starts as root and its entrypoint drops to a non-root user."""

from __future__ import annotations

import fnmatch
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.aws.image_layout import instructions

REPO = Path(__file__).resolve().parents[1]
SERVING = REPO / "infra" / "docker" / "serving.Dockerfile"
PIPELINE = REPO / "infra" / "docker" / "pipeline.Dockerfile"
BOTH = pytest.mark.parametrize(
    "dockerfile", [SERVING, PIPELINE], ids=["serving", "pipeline"]
)


@BOTH
def test_hadolint_clean(dockerfile):
    hadolint = shutil.which("hadolint") or str(Path(sys.executable).parent / "hadolint")
    done = subprocess.run(
        [hadolint, str(dockerfile)], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr


def _ignored(path: str, patterns: list[str]) -> bool:
    ignored = False
    for pattern in patterns:  # last match wins, as in .dockerignore
        negate = pattern.startswith("!")
        if fnmatch.fnmatch(path, pattern.lstrip("!")):  # fnmatch's * crosses "/"
            ignored = not negate
    return ignored


def _tracked(path: Path) -> list[str]:
    out = subprocess.run(
        ["git", "ls-files", "--", str(path.relative_to(REPO))],
        cwd=REPO, capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    return [line for line in out.splitlines() if line]


# Left out of images on purpose: machine-local and test configuration.
NOT_SHIPPED = ("conf/local/", "conf/test/")


@BOTH
def test_copies_only_existing_files_that_reach_the_context(dockerfile):
    patterns = [
        p.strip()
        for p in (REPO / ".dockerignore").read_text().splitlines()
        if p.strip() and not p.startswith("#")
    ]
    copies = [rest for op, rest in instructions(dockerfile) if op == "COPY"]
    sources = [
        src
        for rest in copies
        if "--from=" not in rest
        for src in [w for w in rest.split() if not w.startswith("--")][:-1]
    ]
    assert sources
    for src in sources:
        path = REPO / src
        assert path.exists(), f"COPY {src}: no such file in the repository"
        files = [f for f in _tracked(path) if not f.startswith(NOT_SHIPPED)]
        assert files, f"COPY {src}: nothing tracked by git"
        for rel in files:
            assert not _ignored(rel, patterns), f"{rel} is excluded by .dockerignore"
        for rel in _tracked(path):
            if rel.startswith(NOT_SHIPPED) and not rel.endswith(".gitkeep"):
                assert _ignored(rel, patterns), f"{rel} would be shipped"


def _common(ops: list[tuple[str, str]]) -> str:
    froms = [rest for op, rest in ops if op == "FROM"]
    assert len(froms) == 2 and froms[1].endswith("AS runtime")
    args = dict(rest.split("=", 1) for op, rest in ops if op == "ARG")
    assert args["PYTHON_IMAGE"].startswith("python:3.11.")  # exact patch release
    return " ".join(rest for op, rest in ops if op == "RUN")


def test_serving_image():
    ops = instructions(SERVING)
    run = _common(ops)
    assert "-c constraints.txt" in run and '".[s3]"' in run
    assert any(op == "HEALTHCHECK" and "/health" in rest for op, rest in ops)
    assert [rest for op, rest in ops if op == "USER"] == ["10001:10001"]
    # SageMaker hosting runs `<image> serve` and talks to port 8080 on every address:
    # the entrypoint is the package's command (which takes `serve`), listening so.
    assert dict(ops)["ENTRYPOINT"] == '["mlops-serve"]'
    env = " ".join(rest for op, rest in ops if op == "ENV")
    assert "SERVING_HOST=0.0.0.0" in env and "SERVING_PORT=8080" in env
    # The constraints pin what the package needs, and nothing from the platform.
    pins = (REPO / "serving" / "constraints.txt").read_text()
    for name in ("fastapi==", "onnxruntime==", "uvicorn==", "boto3=="):
        assert name in pins
    for name in ("kedro", "mlflow", "scikit-learn", "pandas=="):
        assert name not in pins


def test_pipeline_image_installs_the_project_like_the_readme():
    ops = instructions(PIPELINE)
    run = _common(ops)
    # The Makefile's install: uv pip install -c constraints.txt (of the project); here
    # pip, the same pins, the project as a wheel, without the dev and viz extras.
    assert "pip wheel --no-deps" in run
    assert "-c constraints.txt /build/dist/mlops_platform-*.whl" in run
    makefile = (REPO / "Makefile").read_text()
    assert re.search(
        r"uv pip install --python \$\(BIN\)/python \\\s+-c constraints.txt -e", makefile
    )
    # Starts as root to own SageMaker's root-owned output mounts; the entrypoint drops
    # to MLOPS_STEP_USER first (tests/aws/test_image_layout.py runs it that way).
    assert [rest for op, rest in ops if op == "USER"][-1] == "0:0"
    env = " ".join(rest for op, rest in ops if op == "ENV")
    assert "MLOPS_STEP_USER=10001:10001" in env
    entry = dict(ops)["ENTRYPOINT"]
    assert "mlops_platform.aws.sagemaker.step" in entry
    assert ("WORKDIR", "/home/kedro") in ops
