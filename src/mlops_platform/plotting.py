"""matplotlib, imported when a figure is drawn.

Node modules load with the pipeline registry, that is with every ``kedro`` command;
pyplot alone costs about half a second, and most runs draw nothing.
"""

from __future__ import annotations

import sys
from typing import Any


def pyplot() -> Any:
    """``matplotlib.pyplot``: with the file backend (no display on servers and CI)
    when this is the process's first use of it; a notebook that has already set
    pyplot up (``%matplotlib inline``) keeps its backend and shows the figures."""
    import matplotlib  # noqa: PLC0415

    if "matplotlib.pyplot" not in sys.modules:
        matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415

    return plt
