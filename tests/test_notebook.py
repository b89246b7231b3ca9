"""The exploration notebook is committed without outputs. (It is executed against a
project that `kedro run` filled in tests/test_integration.py, which pays for that run
once.)"""

from __future__ import annotations

import json

import pytest

from tests.conftest import REPO

pytestmark = pytest.mark.integration
NOTEBOOK = REPO / "notebooks" / "01-retail-exploration.ipynb"


def test_outputs_are_stripped():
    nb = json.loads(NOTEBOOK.read_text())
    for cell in nb["cells"]:
        if cell["cell_type"] == "code":
            assert cell["outputs"] == [] and cell["execution_count"] is None
