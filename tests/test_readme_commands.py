"""Every command the README shows works, so the README cannot drift from the code.

Each command in the README's code blocks and tables is either run here (the cheap
ones: `make -n` of every make target, the CLIs' --help, `kedro jupyter lab`) or named
in ``COVERED`` with the test that runs it (the expensive ones: a whole lifecycle, a
server, a benchmark); a command in neither fails the first test, and so does a
``COVERED`` entry whose test no longer exists. Figures the README states about the
test suite are checked against the suite itself.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from mlops_platform.aws.moto_lake import free_port
from tests.conftest import REPO
from tests.live import process_group, wait_http

README = REPO / "README.md"

#: command (a regex on the README's text of it) -> the test that runs it
COVERED: dict[str, str] = {
    r"make run$": "tests/test_integration.py::test_lifecycle_promotion_and_rollback",
    r"make test$": ".ci/run (CI runs make test on a clean checkout)",
    r"make viz$": "tests/test_integration.py::"
    "test_kedro_viz_opens_with_the_layers_visible_at_the_url_make_viz_prints",
    r"make viz-build$": "tests/test_integration.py::"
    "test_kedro_viz_build_shows_the_medallion_layers",
    # the real UI at the address the recipe prints, in Chromium
    r"make mlflow-ui$|mlflow ui ": "tests/test_integration.py::"
    "test_mlflow_ui_opens_on_the_runs_table_at_the_address_make_mlflow_ui_prints",
    r"mlops-model (status|history)": "tests/test_model_store_cli.py::"
    "test_the_default_view_is_short_and_names_what_matters",
    r"mlops-model status .*--verify": "tests/test_model_store_cli.py::"
    "test_a_sound_bundle_verifies",
    r"kedro jupyter lab": "tests/test_readme_commands.py::"
    "test_kedro_jupyter_lab_serves_the_notebook_with_the_project_kernel",
    r"make serve( USE_CASE=\w+)?$|curl ": "serving/tests/test_serving_api.py",
    r"curl .*/v1/retail/baskets": "serving/tests/test_serving_retail_baskets.py::"
    "test_the_readme_example_is_answered",
    r"make loadtest$": "serving/tests/test_serving_sentiment.py::"
    "test_the_locust_file_runs_headless_against_a_real_server",
    r"kedro run --env aws|mlops-sagemaker|make aws-demo$": "tests/aws",
    r"make infra-check$": "tests/infra",
    r"make demo-drift$": "tests/pipelines/test_drift.py",
    r"make rollback$": "tests/test_integration.py::"
    "test_lifecycle_promotion_and_rollback",
    # benchmarks, lint, cost, teardown: their recipes expand (make -n); benchmarks
    # run by hand, their figures dated in docs/benchmarks.md
    r"make (benchmark(-\w+)?|lint|cost|teardown ENV=dev DRY_RUN=1)$": (
        "tests/test_readme_commands.py::test_every_make_target_the_readme_names_exists"
    ),
    r"kedro run --pipeline|kedro run --params": "tests/test_integration.py",
    r"python -m mlops_platform.datagen \w+ --help": "tests/test_readme_commands.py::"
    "test_the_generators_help_runs",
}


def readme_commands() -> list[str]:
    """Commands in the README's bash blocks and in its tables' inline code."""
    text = README.read_text()
    commands = []
    for block in re.findall(r"```bash\n(.*?)```", text, re.S):
        for raw in block.splitlines():
            line = raw.split("  #")[0].split(" # ")[0].strip().rstrip("\\").strip()
            if line and not line.startswith(("#", "-d ")):
                commands.append(line)
    for row in re.findall(r"^\|.*\|$", text, re.M):
        for code in re.findall(r"`([^`]+)`", row):
            if re.match(r"(make |\.venv/bin/|kedro |mlflow |curl )", code):
                commands.append(code.strip())
    return commands


def make_targets() -> set[str]:
    text = (REPO / "Makefile").read_text()
    return set(re.findall(r"^([a-z][a-z-]*):", text, re.M))


def test_every_readme_command_is_run_by_a_test():
    commands = readme_commands()
    assert len(commands) > 30, commands
    uncovered = [c for c in commands if not any(re.search(p, c) for p in COVERED)]
    assert not uncovered, f"README commands no test runs: {uncovered}"
    for where in COVERED.values():
        path, _, name = where.partition("::")
        if path.startswith(".ci"):
            assert (REPO / ".ci/run").exists()
            continue
        target = REPO / path
        assert target.exists(), where
        if name:
            assert re.search(rf"def {name}\(", target.read_text()), where


def test_every_make_target_the_readme_names_exists():
    """`make -n` of each make command in the README (and docs/): the target exists
    and its recipe expands with the variables shown."""
    docs = [README, *sorted((REPO / "docs").glob("*.md")), REPO / "serving/README.md"]
    commands = set()
    for doc in docs:
        text = doc.read_text()
        code = re.findall(r"```.*?```", text, re.S) + re.findall(r"`[^`\n]+`", text)
        for m in re.finditer(
            r"\bmake ([a-z][a-z-]*)((?: [A-Z_]+=[\w.,|-]+)*)", "\n".join(code)
        ):
            commands.add((m.group(1), m.group(2).strip()))
    assert ("run", "") in commands and ("demo-drift", "USE_CASE=sentiment") in commands
    missing = sorted({t for t, _ in commands} - make_targets())
    assert not missing, f"make targets in the docs but not in the Makefile: {missing}"
    for target, variables in sorted(commands):
        args = ["make", "-n", target, *[v for v in variables.split() if "|" not in v]]
        proc = subprocess.run(
            args, cwd=REPO, capture_output=True, text=True, timeout=60, check=False
        )
        assert proc.returncode == 0, (args, proc.stderr[-2000:])


def test_make_help_lists_every_target():
    phony = re.search(r"^\.PHONY: (.*)$", (REPO / "Makefile").read_text(), re.M)
    assert phony
    shown = subprocess.run(
        ["make", "help"], cwd=REPO, capture_output=True, text=True, check=True
    ).stdout
    listed = set(re.findall(r"^make (\S+)", shown, re.M))
    assert set(phony.group(1).split()) <= listed, set(phony.group(1).split()) - listed
    assert listed <= make_targets()


@pytest.mark.parametrize("use_case", ["retail", "parking", "sentiment"])
def test_the_generators_help_runs(use_case, capsys):
    """`python -m mlops_platform.datagen <use case> --help`, in this process (the
    module's main, as ``-m`` runs it; the Makefile's data target runs the same
    module as a process on every make run)."""
    from mlops_platform.datagen.__main__ import main

    with pytest.raises(SystemExit) as exit_:
        main([use_case, "--help"])
    assert exit_.value.code == 0
    assert "--out" in capsys.readouterr().out


def test_kedro_jupyter_lab_serves_the_notebook_with_the_project_kernel(tmp_path):
    """The README's `kedro jupyter lab`: JupyterLab starts, lists the notebook and
    offers the project's kernel. Jupyter's data, config and runtime folders are
    redirected to a temporary one (the kernel spec Kedro installs would otherwise land
    in the user's home); --allow-root only where the test runs as root."""
    port, token = free_port(), "readme-test"
    env = {
        **os.environ,
        "JUPYTER_DATA_DIR": str(tmp_path / "data"),
        "JUPYTER_CONFIG_DIR": str(tmp_path / "config"),
        "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime"),
    }
    args = [
        str(Path(sys.executable).parent / "kedro"), "jupyter", "lab", "--no-browser",
        f"--port={port}", "--ip=127.0.0.1", f"--IdentityProvider.token={token}",
        *(["--allow-root"] if os.geteuid() == 0 else []),
    ]  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    # `kedro jupyter lab` runs JupyterLab as its child: the group is stopped
    with (
        (tmp_path / "lab.log").open("w") as log,
        process_group(args, cwd=REPO, env=env, stdout=log, stderr=log) as proc,
    ):
        specs = json.loads(wait_http(f"{base}/api/kernelspecs?token={token}", proc))
        assert "kedro_mlops_platform" in specs["kernelspecs"], specs
        listing = json.loads(
            wait_http(f"{base}/api/contents/notebooks?token={token}", proc)
        )
        names = {c["name"] for c in listing["content"]}
        assert "01-retail-exploration.ipynb" in names
        assert b"JupyterLab" in wait_http(f"{base}/lab?token={token}", proc)


def test_the_readme_states_the_suites_size(request):
    """The README's "N tests" is the number this suite collects, when the whole
    suite runs (a run of some files only cannot tell)."""
    stated = re.search(r"make test +# the test suite: (\d+) tests", README.read_text())
    assert stated, "README: no test count next to make test"
    config = request.config
    paths = {Path(a).resolve() for a in config.args}
    whole = (
        not config.getoption("keyword")
        and not config.getoption("markexpr")
        and not config.getoption("deselect")
        and paths
        in (
            {REPO.resolve()},
            {(REPO / "tests").resolve(), (REPO / "serving/tests").resolve()},
        )
    )
    if not whole:
        pytest.skip("only part of the suite is collected in this run")
    collected = len(request.session.items)
    assert int(stated.group(1)) == collected, (stated.group(1), collected)


def _make_variable(name: str) -> int:
    found = re.search(rf"^{name} \?= (\d+)$", (REPO / "Makefile").read_text(), re.M)
    assert found, name
    return int(found.group(1))


def test_the_readmes_data_figures_are_what_make_run_writes(tmp_path):
    """ "What `make run` did": the sizes it states are the Makefile's, and the line
    count is the generator's at those sizes (generated here, in a temporary folder,
    with make run's arguments: 3.5 s)."""
    text = " ".join(README.read_text().split())
    weeks, customers, stores = (
        _make_variable(f"RETAIL_{v}") for v in ("WEEKS", "CUSTOMERS", "STORES")
    )
    days, car_parks = (
        _make_variable("PARKING_DAYS"),
        _make_variable("PARKING_CAR_PARKS"),
    )
    written = _make_variable("SENTIMENT_WRITTEN_DAYS")
    for stated in (
        f"Wrote {written} daily batches of real IMDB reviews",
        f"(the {_make_variable('SENTIMENT_DAYS')}th day is kept",
        f"generated {days} days of car-park readings",
        f"{car_parks} car parks",
        f"{weeks} weeks of synthetic LGSR files",
        f"{customers:,} customers, {stores} stores",
    ):
        assert stated in text, stated
    out = subprocess.run(
        [sys.executable, "-m", "mlops_platform.datagen", "retail", "--out",
         str(tmp_path), "--weeks", str(weeks), "--customers", str(customers),
         "--stores", str(stores), "--seed", str(_make_variable("RETAIL_SEED"))],
        capture_output=True, text=True, check=True, timeout=300,
    )  # fmt: skip
    lines = re.search(r"retail: ([\d,]+) lines", out.stdout).group(1)
    assert f"; {lines} lines," in text, lines
