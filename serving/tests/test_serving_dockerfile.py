"""The serving image, checked without a docker engine: hadolint-clean, copies only
files that exist (and that .dockerignore lets through), installs with the same
constraints, runs as non-root with a HEALTHCHECK."""

from __future__ import annotations

import fnmatch
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DOCKERFILE = REPO / "infra" / "docker" / "serving.Dockerfile"


def instructions() -> list[tuple[str, str]]:
    text = DOCKERFILE.read_text().replace("\\\n", " ")
    out = []
    for raw in text.splitlines():
        line = raw.strip()
        if line and not line.startswith("#"):
            op, _, rest = line.partition(" ")
            out.append((op.upper(), rest.strip()))
    return out


def test_hadolint_clean():
    hadolint = shutil.which("hadolint") or str(Path(sys.executable).parent / "hadolint")
    done = subprocess.run(
        [hadolint, str(DOCKERFILE)], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr


def _ignored(path: str, patterns: list[str]) -> bool:
    ignored = False
    for pattern in patterns:  # last match wins, as in .dockerignore
        negate = pattern.startswith("!")
        if fnmatch.fnmatch(path, pattern.lstrip("!")):  # fnmatch's * crosses "/"
            ignored = not negate
    return ignored


def test_copies_only_existing_files_that_reach_the_context():
    patterns = [
        p.strip()
        for p in (REPO / ".dockerignore").read_text().splitlines()
        if p.strip() and not p.startswith("#")
    ]
    copies = [rest for op, rest in instructions() if op == "COPY"]
    sources = [
        src for rest in copies if "--from=" not in rest for src in rest.split()[:-1]
    ]
    assert sources
    for src in sources:
        path = REPO / src
        assert path.exists(), f"COPY {src}: no such file in the repository"
        files = (
            [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]
        )
        for f in files:
            rel = f.relative_to(REPO).as_posix()
            if "__pycache__" in rel:
                continue
            assert not _ignored(rel, patterns), f"{rel} is excluded by .dockerignore"


def test_install_pinned_non_root_healthcheck():
    ops = instructions()
    froms = [rest for op, rest in ops if op == "FROM"]
    assert len(froms) == 2 and froms[1].endswith("AS runtime")
    args = dict(rest.split("=", 1) for op, rest in ops if op == "ARG")
    assert args["PYTHON_IMAGE"].startswith("python:3.11.")  # exact patch release
    run = " ".join(rest for op, rest in ops if op == "RUN")
    assert "-c constraints.txt" in run and '".[s3]"' in run
    assert ("USER", "10001:10001") in ops
    assert any(op == "HEALTHCHECK" and "/health" in rest for op, rest in ops)
    # The constraints pin what the package needs, and nothing from the platform.
    pins = (REPO / "serving" / "constraints.txt").read_text()
    for name in ("fastapi==", "onnxruntime==", "uvicorn==", "boto3=="):
        assert name in pins
    for name in ("kedro", "mlflow", "scikit-learn", "pandas=="):
        assert name not in pins
