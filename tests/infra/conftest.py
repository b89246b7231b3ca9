"""Shared helpers for the static infrastructure checks (make infra-check)."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
INFRA = REPO / "infra"
TF = INFRA / "terraform"
K8S = INFRA / "k8s"
WORKFLOWS = REPO / ".github" / "workflows"
TOOLS = REPO / ".venv-infra" / "bin"
sys.path.insert(0, str(INFRA / "scripts"))


def tool(name: str) -> str:
    """A command-line tool: the tools venv (make infra-tools) first, then PATH."""
    candidate = TOOLS / name
    if candidate.exists():
        return str(candidate)
    found = shutil.which(name)
    if found is None:
        pytest.fail(
            f"{name} not found in .venv-infra/bin or on PATH: run 'make infra-tools' "
            "(checkov, actionlint) or install it (terraform, kubectl)"
        )
    return found
