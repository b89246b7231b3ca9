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


ENGINE_PROBE = """
import sys
{block}
from mlops_platform import contracts
from mlops_platform.use_cases import USE_CASES
contracts.prepare_engine()
contracts.prepare_engine()  # once per process
from tests.conftest import FIXTURES, partitions_of
retail = USE_CASES["retail"]
frame, _ = retail.ingest(partitions_of(FIXTURES))
try:
    contracts.enforce_contract(frame, retail.contract)
except ImportError as exc:
    print("ImportError", exc)
else:
    engine = contracts._ENGINE_IMPORT
    print("validated", engine.name, "great_expectations" in sys.modules)
"""


def test_the_contract_engine_imported_in_the_background_is_the_one_used():
    """The ingest node starts Great Expectations' import on a thread; the contract
    waits for it. The import happens once, and one that fails in the background
    fails again, with its own error, where the contract needs it."""
    ran = subprocess.run(
        [sys.executable, "-c", ENGINE_PROBE.format(block="")],
        capture_output=True, text=True, check=True, cwd=REPO,
    )  # fmt: skip
    last = ran.stdout.strip().splitlines()[-1]  # after the contract's log lines
    assert last.split() == ["validated", "import-great-expectations", "True"]
    broken = ENGINE_PROBE.format(block="sys.modules['great_expectations'] = None")
    ran = subprocess.run(
        [sys.executable, "-c", broken],
        capture_output=True, text=True, check=True, cwd=REPO,
    )  # fmt: skip
    last = ran.stdout.strip().splitlines()[-1]
    assert last.startswith("ImportError"), ran.stdout + ran.stderr
