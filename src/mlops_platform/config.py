"""How the project's configuration is read: by Kedro (settings.py) and by tools that
only need the configuration and must start fast without a Kedro session (the
``mlops-model`` command)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mlops_platform.aws.lake import RESOLVERS

CONFIG_LOADER_ARGS: dict[str, Any] = {
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


def config_loader(project_path: Path, env: str | None = None) -> Any:
    """The project's OmegaConfigLoader, as a Kedro session would build it."""
    import warnings  # noqa: PLC0415

    from kedro.config import OmegaConfigLoader  # noqa: PLC0415

    # kedro 1.7 calls omegaconf's deprecated name: noise for the user (as settings.py)
    warnings.filterwarnings(
        "ignore", message=r"register_new_resolver\(\) is deprecated"
    )
    return OmegaConfigLoader(
        conf_source=str(project_path / "conf"), env=env, **CONFIG_LOADER_ARGS
    )
