"""matplotlib, imported when a figure is drawn.

Node modules load with the pipeline registry, that is with every ``kedro`` command;
pyplot alone costs about half a second, and most runs draw nothing.
"""

from __future__ import annotations

from typing import Any


def pyplot() -> Any:
    """``matplotlib.pyplot`` with the file backend (no display on servers and CI)."""
    import matplotlib  # noqa: PLC0415

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415

    return plt
