"""Kedro project settings."""

from __future__ import annotations

import warnings

from mlops_platform import offline

offline.apply()

warnings.filterwarnings("ignore", message=r"register_new_resolver\(\) is deprecated")
warnings.filterwarnings("ignore", message=r".*Add type hints to the `predict` method")

from kedro.config import OmegaConfigLoader  # noqa: E402

from mlops_platform import config  # noqa: E402
from mlops_platform.hooks import LifecycleHooks  # noqa: E402

HOOKS = (LifecycleHooks(),)

CONFIG_LOADER_CLASS = OmegaConfigLoader
CONFIG_LOADER_ARGS = config.CONFIG_LOADER_ARGS  # shared with mlops-model
