"""Use cases: one module each, found by name (``mlops_serving.usecases.<name>``).

A module exposes ``USE_CASE``, an instance of :class:`~.base.UseCase`. Adding a use
case is adding a module; the app builds its routes from the interface.
"""

from __future__ import annotations

import importlib
import re

from mlops_serving.usecases.base import UseCase


def load_use_case(name: str) -> UseCase:
    if not re.fullmatch(r"[a-z][a-z0-9_]*", name):
        raise ValueError(f"invalid use case name {name!r}")
    try:
        module = importlib.import_module(f"{__name__}.{name}")
    except ModuleNotFoundError as exc:
        raise ValueError(
            f"no serving module for use case {name!r} (mlops_serving/usecases/"
            f"{name}.py)"
        ) from exc
    use_case = getattr(module, "USE_CASE", None)
    if not isinstance(use_case, UseCase):
        raise ValueError(f"mlops_serving.usecases.{name} has no USE_CASE")
    return use_case
