"""Use cases: served from the bundle's own input schema, with an optional module
(``mlops_serving.usecases.<name>``, exposing ``USE_CASE``) when clients send something
other than the model's features or the answer needs more than the task gives."""

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
        if exc.name != f"{__name__}.{name}":
            raise
        return UseCase(name)
    use_case = getattr(module, "USE_CASE", None)
    if not isinstance(use_case, UseCase) or use_case.name != name:
        raise ValueError(f"mlops_serving.usecases.{name} has no USE_CASE for {name}")
    return use_case
