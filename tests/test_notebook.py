"""The notebooks are committed without outputs. (They are executed against a project
that `kedro run` filled in tests/test_integration.py, which pays for that run once.)"""

from __future__ import annotations

import json

import pytest

from tests.conftest import REPO

pytestmark = pytest.mark.integration
NOTEBOOKS = sorted((REPO / "notebooks").glob("*.ipynb"))


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.name)
def test_outputs_are_stripped(notebook):
    nb = json.loads(notebook.read_text())
    for cell in nb["cells"]:
        if cell["cell_type"] == "code":
            assert cell["outputs"] == [] and cell["execution_count"] is None


def test_every_notebook_is_executed_by_the_integration_test():
    integration = (REPO / "tests" / "test_integration.py").read_text()
    assert len(NOTEBOOKS) >= 2
    for notebook in NOTEBOOKS:
        assert f'"{notebook.name}"' in integration, notebook.name
