"""The project's logging configuration wins over levels libraries set on import.

``conf/logging.yml`` sets, say, ``great_expectations`` and ``mlflow`` to WARNING.
Kedro applies it when the session starts, but some libraries set levels of their own
when they are imported, later: mlflow (its ``mlflow`` logger to INFO), kedro-mlflow
(``kedro_mlflow`` to INFO), Great Expectations (``great_expectations.data_context.
types.base`` to INFO, a module's logger). Their INFO lines then reached every run.
:func:`reapply` puts the configured levels back and makes a library's own setting
on a logger below a configured one inherit again. Call it after such an import.
"""

from __future__ import annotations

import logging
from typing import Any


def _configured() -> dict[str, Any]:
    from kedro.framework.project import LOGGING  # noqa: PLC0415

    loggers = LOGGING.data.get("loggers") or {}
    return {
        name: conf["level"]
        for name, conf in loggers.items()
        if isinstance(conf, dict) and conf.get("level")
    }


def reapply(configured: dict[str, Any] | None = None) -> list[str]:
    """Restore the configured levels; returns the loggers that had drifted."""
    configured = _configured() if configured is None else configured
    changed = []
    for name, level in configured.items():
        target = logging.getLogger(name)
        wanted = logging.getLevelName(level) if isinstance(level, str) else level
        if target.level != wanted:
            target.setLevel(wanted)
            changed.append(name)
    for name, obj in list(logging.Logger.manager.loggerDict.items()):
        if not isinstance(obj, logging.Logger) or name in configured:
            continue
        if obj.level == logging.NOTSET:
            continue
        if any(name.startswith(f"{parent}.") for parent in configured):
            obj.setLevel(logging.NOTSET)  # inherit the configured parent's level
            changed.append(name)
    return changed
