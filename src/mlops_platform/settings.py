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

# `mlops-sagemaker compile` and `upsert` read the pipelines, the catalog and the
# configuration, nothing else: they run in CI, which must not need the MLflow tracking
# server (kedro-mlflow's hook sets the experiment up whenever a context is created).
# They set this variable; no run does.
COMPILING = "MLOPS_COMPILE_ONLY"

# kedro-mlflow's own hook instance is never registered: runs use its subclass, which
# names runs and flattens parameters for people (mlops_platform/mlflow_hook.py).
# Registered last so it runs first: the MLflow run is active for the other hooks.
DISABLE_HOOKS_FOR_PLUGINS = ("kedro_mlflow",)
if os.environ.get(COMPILING) == "1":
    HOOKS: tuple = (LifecycleHooks(),)
else:
    from mlops_platform.mlflow_hook import ReadableMlflowHook

    HOOKS = (LifecycleHooks(), ReadableMlflowHook())

CONFIG_LOADER_CLASS = OmegaConfigLoader
CONFIG_LOADER_ARGS = config.CONFIG_LOADER_ARGS  # shared with mlops-model
