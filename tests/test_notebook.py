"""The exploration notebook runs against a project that `kedro run` filled."""

from __future__ import annotations

import json
import os

import nbformat
import pytest
from nbclient import NotebookClient

from tests.conftest import REPO
from tests.test_integration import _run, make_project

pytestmark = pytest.mark.integration
NOTEBOOK = REPO / "notebooks" / "01-retail-exploration.ipynb"


def test_outputs_are_stripped():
    nb = json.loads(NOTEBOOK.read_text())
    for cell in nb["cells"]:
        if cell["cell_type"] == "code":
            assert cell["outputs"] == [] and cell["execution_count"] is None


def test_notebook_executes(tmp_path):
    import sys

    project = make_project(tmp_path)
    _run([sys.executable, "-m", "kedro", "run", "-p", "retail"], project)
    nb = nbformat.read(project / "notebooks" / NOTEBOOK.name, as_version=4)
    os.environ["KEDRO_LOGGING_CONFIG"] = str(REPO / "conf/logging.yml")
    NotebookClient(
        nb,
        timeout=300,
        kernel_name="python3",
        resources={"metadata": {"path": str(project / "notebooks")}},
    ).execute()
    outputs = "".join(
        str(o.get("text", "")) + str(o.get("data", {}).get("text/plain", ""))
        for c in nb.cells
        if c.cell_type == "code"
        for o in c.outputs
    )
    assert "baskets" in outputs
    assert "v0001" in outputs
    assert not any(
        o.get("output_type") == "error"
        for c in nb.cells
        if c.cell_type == "code"
        for o in c.outputs
    )
