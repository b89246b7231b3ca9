"""What every ``kedro`` command pays before its first node: the imports.

Kedro imports every installed CLI plugin, the project's settings (hooks) and the
pipeline registry (every node module of every use case) for every command, ``kedro
run --pipeline retail.data_engineering`` included. Heavy libraries that only some nodes
need are imported inside those nodes (``plotting.pyplot``, the use cases' ``models``
modules, scipy.stats in drift, the ONNX export). This checks the class, not the
instance: a fresh interpreter does what ``kedro`` does at start-up and lists the heavy
modules it ended up with.

Measured (docs/benchmarks.md): a ``kedro run`` that finds nothing new took 14.8 s
before (kedro-sagemaker's CLI plugin imported the SageMaker SDK; the registry imported
scikit-learn, scipy.stats and pyplot), 7.0 s after.
"""

from __future__ import annotations

import json
import subprocess
import sys

from tests.conftest import REPO

HEAVY = (
    "sagemaker",
    "sklearn",
    "scipy.stats",
    "matplotlib.pyplot",
    "tensorflow",
    "keras",
    "great_expectations",
    "onnx",
    "onnxruntime",
    "skl2onnx",
)

PROBE = """
import json, sys
from kedro.framework.cli.utils import load_entry_points
from kedro.framework.startup import bootstrap_project
bootstrap_project(sys.argv[1])          # settings.py: hooks, config loader
load_entry_points("global"); load_entry_points("project")   # CLI plugins
from kedro.framework.project import pipelines
dict(pipelines)                          # the registry: every node module
print(json.dumps(sorted(m for m in sys.argv[2:] if m in sys.modules)))
"""


def test_a_kedro_command_imports_no_heavy_library_before_its_nodes():
    out = subprocess.run(
        [sys.executable, "-c", PROBE, str(REPO), *HEAVY],
        capture_output=True,
        text=True,
        check=True,
        cwd=REPO,
    )
    loaded = json.loads(out.stdout.strip().splitlines()[-1])
    assert loaded == [], (
        f"imported at start-up: {loaded}; import them inside the nodes that use them"
    )


def test_the_probe_sees_an_import(tmp_path):
    """The probe's own check can fail: a module imported at start-up is reported."""
    out = subprocess.run(
        [sys.executable, "-c", "import sklearn\n" + PROBE, str(REPO), "sklearn"],
        capture_output=True,
        text=True,
        check=True,
        cwd=REPO,
    )
    assert json.loads(out.stdout.strip().splitlines()[-1]) == ["sklearn"]
