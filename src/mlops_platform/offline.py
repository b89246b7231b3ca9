"""This project runs offline: no telemetry or analytics from any part of the stack."""

from __future__ import annotations

import os

OFFLINE_ENV = {
    "DO_NOT_TRACK": "1",
    "KEDRO_DISABLE_TELEMETRY": "true",
    "GX_ANALYTICS_ENABLED": "false",
    "MLFLOW_DISABLE_TELEMETRY": "true",
    "MPLBACKEND": "Agg",
}


def apply() -> None:
    """Set the variables unless the caller already chose otherwise."""
    for name, value in OFFLINE_ENV.items():
        os.environ.setdefault(name, value)
