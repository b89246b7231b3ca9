"""``make demo-drift`` on small data, in a temporary copy of the project.

A file of its own, not in tests/test_integration.py: it builds its own project (it
needs a lake with no champion), so pytest-xdist (``--dist loadfile``) can run it on
the other worker while the integration file's lifecycle runs.
"""

from __future__ import annotations

import json
import sys

import pytest

from tests.test_integration import _run, make_project

pytestmark = pytest.mark.integration


def test_drift_demo_scenario(tmp_path):
    """make demo-drift: first run, a drifted week (drift found, challenger judged
    against the champion on that same week), then an undrifted week (champion kept)."""
    # The small world cannot beat the segment rule credibly (see the lifecycle
    # test): the margin is lowered so the demo has a champion to drift from. Two of
    # the four candidates train (the demo is about drift and the champion, not the
    # choice among candidates, which the lifecycle test covers): the forest and the
    # tree are left out.
    project = make_project(tmp_path, retail_only=True)  # the demo's use case
    off = "retail.training.candidates.{}.enabled=false"
    proc = _run(
        [
            sys.executable,
            "-m",
            "mlops_platform.demo_drift",
            "--params",
            "retail.evaluation.gates.min_improvement_over_strong_baseline=-1.0,"
            + ",".join(off.format(c) for c in ("random_forest", "decision_tree")),
        ],
        project,
    )
    summaries = proc.stdout.split("## retail: lifecycle summary")[1:]
    assert len(summaries) == 3
    first, drifted, calm = summaries
    assert "drift: no champion yet" in first
    assert "- drift: drift:" in drifted
    assert "test: challenger" in drifted and "test: champion v0001" in drifted
    assert "- decision:" in drifted
    assert "no drift" in calm and "champion kept" in calm
    evaluation = json.loads(
        (project / "data/reports/retail/evaluation.json").read_text()
    )
    assert evaluation["champion"]["version"] is not None
    assert "champion before: v0001" in proc.stdout
