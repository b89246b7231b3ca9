"""Everything that adapts kedro-sagemaker 0.4.0 to Kedro 1.x, in one place.

kedro-sagemaker 0.4.0 was written for Kedro 0.19. On Kedro 1.x these of its calls
break: ``DataCatalog.list()``, ``DataCatalog._get_dataset()`` and ``add()`` (removed),
``KedroSession.create(extra_params=...)`` (now ``runtime_params``) and its runner's
``run(..., session_id)`` (now ``run_id`` and ``only_missing_outputs``). The project
does not use the plugin's CLI or runner (each step runs a whole Kedro pipeline with
the standard runner, see ``step.py``); it reuses the plugin's generator, configuration
model and parameter plumbing, and replaces the one generator method that touches the
catalog. A test pins the plugin version this was written against.
"""

from __future__ import annotations

from collections.abc import Iterator
from importlib.metadata import version
from typing import Any

from kedro.io import DataCatalog
from kedro_sagemaker.generator import KedroSageMakerGenerator

PLUGIN_VERSION = "0.4.0"
INSTALLED_VERSION = version("kedro-sagemaker")


class PluginVersionError(RuntimeError):
    """The installed kedro-sagemaker is not the version this module adapts."""


def check_plugin_version() -> None:
    if INSTALLED_VERSION != PLUGIN_VERSION:
        raise PluginVersionError(
            f"mlops_platform.aws.sagemaker adapts kedro-sagemaker {PLUGIN_VERSION} to "
            f"Kedro 1.x; {INSTALLED_VERSION} is installed. Review kedro1_compat.py."
        )


def dataset_type(catalog: DataCatalog, name: str) -> str | None:
    """The dataset's class path, without instantiating it (factories included)."""
    return catalog.get_type(name) if name in catalog else None


def get_dataset(catalog: DataCatalog, name: str) -> Any:
    """Kedro 1.x: ``catalog[name]`` (was ``_get_dataset(name)``)."""
    return catalog[name]


class Kedro1Generator(KedroSageMakerGenerator):
    """The plugin's generator with its catalog access ported to Kedro 1.x (parameters
    are passed by our generator as one document, not by the plugin's mechanism)."""

    kedro_context: Any

    def _datasets_of_type(
        self, t: type, inputs_or_outputs: list[str], catalog: DataCatalog
    ) -> Iterator[str]:
        for ds in inputs_or_outputs:
            if ds in catalog and isinstance(get_dataset(catalog, ds), t):
                yield ds
