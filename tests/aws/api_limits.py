"""Check a request against the real AWS API's limits, offline.

moto accepts what the real service refuses (it does not check SageMaker's 100
environment entries per processing job, for one). botocore's service model carries the
API's own constraints: required members, list and map sizes, string lengths and
patterns, number ranges. ``violations`` walks a request against that model and names
every breach by its path; botocore's own ParamValidator checks types and minimums only.

Pipeline variables in a compiled SageMaker definition (``{"Get": "Parameters.X"}``,
``{"Std:Join": ...}``) stand where a string goes: a parameter is checked with its
default value, anything else is skipped (it is only known at execution time).
"""

from __future__ import annotations

import re
from typing import Any

import botocore.session
from botocore.model import Shape


def _java_regex(pattern: str) -> re.Pattern[str] | None:
    # botocore patterns are Java regexes; \p{...} classes have no Python equivalent.
    if "\\p{" in pattern:
        return None
    try:
        return re.compile(pattern, re.DOTALL)
    except re.error:
        return None


def _resolve(value: Any, defaults: dict[str, Any]) -> tuple[bool, Any]:
    """(known, value) for a pipeline variable or a plain value."""
    if isinstance(value, dict) and set(value) == {"Get"}:
        ref = str(value["Get"])
        if ref.startswith("Parameters."):
            name = ref.removeprefix("Parameters.")
            if name in defaults:
                return True, defaults[name]
        return False, None
    if isinstance(value, dict) and any(k.startswith("Std:") for k in value):
        return False, None
    return True, value


def violations(
    service: str,
    operation: str,
    request: dict[str, Any],
    parameter_defaults: dict[str, Any] | None = None,
) -> list[str]:
    model = botocore.session.get_session().get_service_model(service)
    shape = model.operation_model(operation).input_shape
    out: list[str] = []
    _walk(shape, request, operation, out, parameter_defaults or {})
    return out


def _walk(
    shape: Shape, value: Any, path: str, out: list[str], defaults: dict[str, Any]
) -> None:
    known, value = _resolve(value, defaults)
    if not known:
        return
    meta = shape.metadata
    kind = shape.type_name
    if kind == "structure":
        if not isinstance(value, dict):
            out.append(f"{path}: expected a structure, got {type(value).__name__}")
            return
        for name in shape.required_members:
            if name not in value:
                out.append(f"{path}.{name}: required")
        for name, member in value.items():
            if name not in shape.members:
                out.append(f"{path}.{name}: not a member of {shape.name}")
                continue
            _walk(shape.members[name], member, f"{path}.{name}", out, defaults)
    elif kind == "list":
        if not isinstance(value, list):
            out.append(f"{path}: expected a list")
            return
        _size(path, len(value), meta, out, "items")
        for i, item in enumerate(value):
            _walk(shape.member, item, f"{path}[{i}]", out, defaults)
    elif kind == "map":
        if not isinstance(value, dict):
            out.append(f"{path}: expected a map")
            return
        _size(path, len(value), meta, out, "entries")
        for k, v in value.items():
            _walk(shape.key, k, f"{path} key {k!r}", out, defaults)
            _walk(shape.value, v, f"{path}[{k!r}]", out, defaults)
    elif kind == "string":
        text = str(value)
        _size(path, len(text), meta, out, "characters")
        if shape.enum and text not in shape.enum:
            out.append(f"{path}: {text!r} not one of {shape.enum}")
        pattern = _java_regex(meta.get("pattern", "")) if meta.get("pattern") else None
        if pattern is not None and not pattern.fullmatch(text):
            out.append(f"{path}: {text[:60]!r} does not match {meta['pattern']!r}")
    elif kind in ("integer", "long", "float", "double"):
        number = float(value)
        if "min" in meta and number < meta["min"]:
            out.append(f"{path}: {value} < minimum {meta['min']}")
        if "max" in meta and number > meta["max"]:
            out.append(f"{path}: {value} > maximum {meta['max']}")


def _size(path: str, n: int, meta: dict[str, Any], out: list[str], what: str) -> None:
    if "min" in meta and n < meta["min"]:
        out.append(f"{path}: {n} {what}, minimum {meta['min']}")
    if "max" in meta and n > meta["max"]:
        out.append(f"{path}: {n} {what}, maximum {meta['max']}")
