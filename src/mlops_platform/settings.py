"""Kedro project settings."""

from __future__ import annotations

import warnings

from mlops_platform import offline

offline.apply()

warnings.filterwarnings("ignore", message=r"register_new_resolver\(\) is deprecated")
warnings.filterwarnings("ignore", message=r".*Add type hints to the `predict` method")

from kedro.config import OmegaConfigLoader  # noqa: E402

from mlops_platform.aws.lake import RESOLVERS  # noqa: E402
from mlops_platform.hooks import LifecycleHooks  # noqa: E402

HOOKS = (LifecycleHooks(),)

CONFIG_LOADER_CLASS = OmegaConfigLoader
CONFIG_LOADER_ARGS = {
    "base_env": "base",
    "default_run_env": "local",
    "config_patterns": {
        "parameters": ["parameters*", "parameters*/**", "**/parameters*"],
        "mlflow": ["mlflow*", "mlflow*/**"],
        "sagemaker": ["sagemaker*"],
        "model_registry": ["model_registry*"],
    },
    # ${lake:} and ${mlflow_tracking:}: the S3 data lake of conf/aws (aws/lake.py)
    "custom_resolvers": RESOLVERS,
}
