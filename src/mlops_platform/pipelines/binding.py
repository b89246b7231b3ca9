"""Bind a use case into a generic node function without hiding its signature.

``bind(detect_drift, use_case)`` returns a function of the remaining arguments whose
signature and resolved parameter type hints are those of the original minus
``use_case``, so Kedro still validates typed ``params:`` inputs and kedro-viz still
shows the real source. Return annotations are not resolved: a node module may name
its return type under ``TYPE_CHECKING`` only (matplotlib's ``Figure``), so that
loading the pipelines does not import what only running the node needs.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any, get_type_hints

from mlops_platform.use_cases.base import UseCase


def bind(func: Callable[..., Any], use_case: UseCase) -> Callable[..., Any]:
    signature = inspect.signature(func)
    params = list(signature.parameters.values())
    if not params or params[0].name != "use_case":
        raise TypeError(f"{func.__name__} must take 'use_case' as its first argument")
    hints = _parameter_hints(func)

    @functools.wraps(func)
    def bound(*args: Any, **kwargs: Any) -> Any:
        return func(use_case, *args, **kwargs)

    bound.__signature__ = signature.replace(parameters=params[1:])  # type: ignore[attr-defined]
    bound.__annotations__ = {k: v for k, v in hints.items() if k != "use_case"}
    return bound


def _parameter_hints(func: Callable[..., Any]) -> dict[str, Any]:
    def shim() -> None: ...

    shim.__annotations__ = {
        k: v for k, v in inspect.get_annotations(func).items() if k != "return"
    }
    return get_type_hints(shim, globalns=func.__globals__)
