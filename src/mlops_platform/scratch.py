"""A scratch copy of this Kedro project (config only, fresh ``data/``) for test runs,
benchmarks and demos that must not touch the working ``data/`` folder. The package
itself is imported from the installed environment."""

from __future__ import annotations

import shutil
from pathlib import Path

LAYERS = ("raw", "silver", "gold", "models", "reports", "mlflow")


def scratch_project(repo: Path, root: Path, with_notebooks: bool = False) -> Path:
    project = root / "project"
    project.mkdir(parents=True)
    names = ("conf", "notebooks") if with_notebooks else ("conf",)
    for name in names:
        shutil.copytree(
            repo / name, project / name, ignore=shutil.ignore_patterns("local")
        )
    (project / "conf" / "local").mkdir()
    for name in ("pyproject.toml", ".telemetry"):
        shutil.copy(repo / name, project / name)
    (project / "src").mkdir()  # Kedro wants the source folder to exist
    for layer in LAYERS:
        (project / "data" / layer).mkdir(parents=True)
    return project
