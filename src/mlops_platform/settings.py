"""Kedro project settings."""

from __future__ import annotations

import os
import warnings

from mlops_platform import offline

offline.apply()

warnings.filterwarnings("ignore", message=r"register_new_resolver\(\) is deprecated")
warnings.filterwarnings("ignore", message=r".*Add type hints to the `predict` method")

from kedro.config import OmegaConfigLoader  # noqa: E402

from mlops_platform import config  # noqa: E402
from mlops_platform.hooks import LifecycleHooks  # noqa: E402

HOOKS = (LifecycleHooks(),)

# `mlops-sagemaker compile` and `upsert` read the pipelines, the catalog and the
# configuration, nothing else: they run in CI, which must not need the MLflow tracking
# server (kedro-mlflow's hook sets the experiment up whenever a context is created).
# They set this variable; no run does.
COMPILING = "MLOPS_COMPILE_ONLY"
DISABLE_HOOKS_FOR_PLUGINS = (
    ("kedro_mlflow",) if os.environ.get(COMPILING) == "1" else ()
)

CONFIG_LOADER_CLASS = OmegaConfigLoader
CONFIG_LOADER_ARGS = config.CONFIG_LOADER_ARGS  # shared with mlops-model
