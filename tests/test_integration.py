"""The default pipeline on small data, in a temporary copy of the project.

Runs the real ``kedro run`` of every use case once (retail with scikit-learn
candidates, parking with a Keras LSTM beside boosted trees, sentiment on a small
slice of the real packaged reviews with NBSVM, TF-IDF and a Keras text network:
kedro-mlflow, the model store, the hooks), then, for retail only, a forced retrain
that promotes a second version and the rollback command; checks the files, the MLflow
runs, the registry alias and the audit log at each step. The end-to-end run is done
once for every use case (it is the slowest test); later runs name the retail
pipeline.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from mlops_platform.lake import LakeTable
from mlops_platform.scratch import scratch_project
from mlops_platform.use_cases import USE_CASES
from tests.browser import needs_browser, render
from tests.conftest import REPO

pytestmark = pytest.mark.integration


def _run(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "KEDRO_LOGGING_CONFIG": str(REPO / "conf/logging.yml")}
    proc = subprocess.run(  # noqa: PLW1510 (the assert below reports the output)
        args, cwd=cwd, env=env, capture_output=True, text=True, timeout=900
    )
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    return proc


def make_project(root: Path, retail_only: bool = False) -> Path:
    project = scratch_project(REPO, root, with_notebooks=True)
    _run(
        [sys.executable, "-m", "mlops_platform.datagen", "retail", "--out",
         "data/raw/retail", "--weeks", "6", "--customers", "3000", "--stores", "50",
         "--quiet"],
        project,
    )  # fmt: skip
    if retail_only:
        return project
    _run(
        [sys.executable, "-m", "mlops_platform.datagen", "parking", "--out",
         "data/raw/parking", "--days", "24", "--car-parks", "3", "--quiet"],
        project,
    )  # fmt: skip
    _run(
        [sys.executable, "-m", "mlops_platform.datagen", "sentiment", "--out",
         "data/raw/sentiment", "--days", "10", "--limit", "8000"],
        project,
    )  # fmt: skip
    return project


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    return make_project(tmp_path_factory.mktemp("integration"))


def _mlflow_client(project: Path):
    import mlflow

    mlflow.set_tracking_uri(f"sqlite:///{project}/data/mlflow/mlflow.db")
    return mlflow.MlflowClient()


def _alias(project: Path) -> str:
    client = _mlflow_client(project)
    return str(
        client.get_model_version_by_alias("mlops_platform.retail", "champion").version
    )


def test_lifecycle_promotion_and_rollback(project):
    kedro = [sys.executable, "-m", "kedro", "run", "--pipeline", "retail"]
    # Every use case, with the gates as configured. The retail world has make run's
    # 3,000 customers over 6 weeks: with 700 (about 300 test baskets once half the
    # newest week's customers train) neither the 0.52 accuracy floor nor a credible
    # lead over the segment rule could be shown (measured 2026-12-05: accuracy 0.513,
    # lead +0.056, interval -0.008 to +0.118), and the flow below needs a champion;
    # with 3,000 the lead was +0.13 (interval +0.10 to +0.16). One gate is given on
    # the command line, stricter than configured, to show MLflow logs what a run was
    # given (_check_readable_tracking).
    # The Keras candidates train for fewer epochs, with fewer word-pair buckets, than
    # configured: they still fit, export and are judged, but this run is about the
    # machinery, and their 12 and 25 epochs were half of its time (measured
    # 2026-12-06: sentiment's training 52 s and parking's 27 s of a 153 s run).
    # Neither was the challenger with its configured epochs on this world either.
    keras = "sentiment.training.candidates.keras_embedding_bag.params"
    first = _run(
        [
            sys.executable,
            "-m",
            "kedro",
            "run",
            "--params",
            "retail.evaluation.gates.min_improvement_over_strong_baseline=0.005,"
            f"{keras}.epochs=2,{keras}.bigram_buckets=16384,"
            "parking.training.candidates.lstm.params.epochs=3",
        ],
        project,
    )
    assert "## retail: lifecycle summary" in first.stdout
    # what a person reads (issue 17, item 7): progress and results, no chatter
    said = " ".join((first.stdout + first.stderr).split())  # Rich wraps log lines
    for noise in (
        "Loading data from",
        "Saving data to",
        "sagemaker.config",
        "Registering new custom resolver",
        "Using synchronous mode",
        "as logging configuration",
        "Running node:",
        "Successfully registered model",  # MLflow's prints: one line of ours instead
        "Created version",
        "pickle or cloudpickle format",  # mlflow.sklearn's skops advice
        "Creating initial MLflow database tables",  # INFO of libraries that set
        "Created temporary directory",  # their own levels on import (log_levels.py)
    ):
        assert noise not in said, noise
    # Rich puts the caller's file:line where it wraps a message: taken out here
    plain = re.sub(r" [\w.]+\.py:\d+(?= |$)", "", said)
    for uc in ("retail", "parking", "sentiment"):
        line = f"MLflow: mlops_platform.{uc} version 1 registered"
        assert line in plain, (uc, re.findall(r"MLflow: .{0,80}", plain))
    # one progress line per node: position, use case, stage (then the node)
    progress = re.findall(r"\[ *(\d+)/(\d+)\] (\w+) · (\w+) ·", said)
    assert len(progress) == int(progress[0][1]), progress[:3]
    assert {stage for *_, stage in progress} == {
        "data_engineering", "drift", "training", "evaluation", "reporting",
    }  # fmt: skip
    assert re.search(r"all \d+ nodes done in \d+ s", said)
    # then where the time went: every node once, by its namespaced name
    flat = re.sub(r"\s+", " ", plain)  # Rich wraps long lines
    spans = flat.split("node seconds (inputs loaded, run, outputs saved):")[1]
    spans = spans.split("## ")[0]  # up to the lifecycle summaries
    timed = re.findall(r"\b([a-z]+\.[a-z_]+) (\d+\.\d)\b", spans)
    assert len({name for name, _ in timed}) == len(progress), timed[:5]
    assert "MLflow run '" in said and "make mlflow-ui shows it" in said
    assert "lead over strong baseline customer_sensitivity: macro_f1" in first.stdout
    assert "## parking: lifecycle summary" in first.stdout
    assert "drift: no champion yet" in first.stdout
    _check_parking(project, first.stdout)
    _check_sentiment(project, first.stdout)

    data = project / "data"
    for path in (
        "silver/retail/records/_manifest.json",
        "silver/retail/quarantine/_manifest.json",
        "gold/retail/table/_manifest.json",
        "gold/retail/train.parquet",
        "gold/retail/test.parquet",
        "gold/retail/latest.parquet",
        "reports/retail/contract.json",
        "reports/retail/drift.json",
        "reports/retail/drift_report.md",
        "reports/retail/drift_report.png",
        "reports/retail/evaluation.json",
        "reports/retail/evaluation.png",
        "reports/retail/lifecycle.md",
        "models/staging/retail/challenger.pkl",
    ):
        assert (data / path).exists(), path
    ledger = json.loads((data / "silver/retail/records/_manifest.json").read_text())
    weekly = sorted(p.stem for p in (data / "raw/retail").glob("transactions_*.csv"))
    assert sorted(ledger["parts"]) == weekly  # one silver part per raw file

    pointer = json.loads((data / "models/production/retail.json").read_text())
    assert pointer["version"] == "v0001"
    bundle = data / "models/versions/retail/v0001"
    manifest = json.loads((bundle / "manifest.json").read_text())
    assert manifest["previous_champion"] is None
    # refit on train + validation, and half the test week's customers trained
    assert manifest["training_periods"] == [
        200607,
        200608,
        200609,
        200610,
        200611,
        200612,
    ]
    assert len(manifest["data_hash"]) == 64
    run_id = manifest["mlflow"]["run_id"]
    # the hook stamped the staged challenger before Kedro saved it
    assert manifest["registered_by_run"] == run_id

    client = _mlflow_client(project)
    run = client.get_run(run_id)
    assert "retail.test_challenger_accuracy" in run.data.metrics
    children = client.search_runs(
        [run.info.experiment_id],
        filter_string=f"tags.mlflow.parentRunId = '{run_id}' "
        "and tags.use_case = 'retail'",
    )
    assert {c.data.tags["candidate"] for c in children} == {
        "logistic_regression",
        "decision_tree",
        "random_forest",
        "hist_gradient_boosting",
    }
    assert all("validation_macro_f1" in c.data.metrics for c in children)
    assert _alias(project) == "1"
    _check_readable_tracking(client, run, manifest)
    # the run is tagged with its process (for closing orphans) and closed nothing
    assert run.data.tags["mlops.pid"].isdigit() and "mlops.host" in run.data.tags
    leftover = client.search_runs(
        [run.info.experiment_id], filter_string="attributes.status = 'RUNNING'"
    )
    assert leftover == [] and "mlops.closed_by" not in run.data.tags

    # Second run, same data: no drift, so only a forced retrain with a lenient
    # champion gate promotes; it must record the previous champion.
    second = _run(
        [
            *kedro,
            "--params",
            "retail.drift.force_retrain=true,"
            "retail.evaluation.gates.min_improvement_over_champion=-1.0,"
            "retail.evaluation.gates.min_improvement_over_strong_baseline=-1.0",
        ],
        project,
    )
    assert "force_retrain is set" in second.stdout
    pointer = json.loads((data / "models/production/retail.json").read_text())
    assert pointer["version"] == "v0002" and pointer["history"] == ["v0001"]
    manifest2 = json.loads(
        (data / "models/versions/retail/v0002/manifest.json").read_text()
    )
    assert manifest2["previous_champion"] == "v0001"
    assert _alias(project) == "2"

    rollback = _run(
        [
            sys.executable,
            "-m",
            "mlops_platform.model_store_cli",
            "rollback",
            "--use-case",
            "retail",
            "--reason",
            "integration test",
        ],
        project,
    )
    assert "rolled back v0002 -> v0001" in rollback.stdout
    assert (
        json.loads((data / "models/production/retail.json").read_text())["version"]
        == "v0001"
    )
    assert _alias(project) == "1"
    audit = [
        json.loads(x)
        for x in (data / "models/audit/retail.jsonl").read_text().splitlines()
    ]
    assert [a["action"] for a in audit] == ["promote", "promote", "rollback"]

    # A third run with no drift keeps the (rolled back) champion and says so.
    third = _run(kedro, project)
    assert "champion v0001 kept" in third.stdout


def _check_readable_tracking(client, run, manifest: dict) -> None:
    """What a reviewer reads in MLflow after the first run (issue 17): the run named
    after what it ran, one parameter per leaf, the gates' figures, no stray
    experiment, and the champion's version naming its bundle."""
    assert run.info.run_name.startswith(f"{', '.join(USE_CASES)}: all stages · ")
    params = run.data.params
    assert params["retail.drift.p_value"] == "0.01"
    assert params["retail.evaluation.gates.min_improvement_over_strong_baseline"] == (
        "0.005"
    )  # the value this run was given on the command line
    assert not [k for k, v in params.items() if "Params(" in v or "=" in v]
    assert run.data.tags["runner"] == "SequentialRunner"
    for metric in (
        "retail.lead_over_customer_sensitivity_macro_f1_low",
        "retail.test_baseline_customer_sensitivity_macro_f1",
        "retail.test_challenger_precision_LA",
        "parking.lead_over_persistence_mae",
    ):
        assert metric in run.data.metrics, metric
    assert [e.name for e in client.search_experiments()] == ["mlops_platform"]
    version = client.get_model_version_by_alias("mlops_platform.retail", "champion")
    assert version.tags["bundle_version"] == "v0001"
    assert version.tags["data_hash"] == manifest["data_hash"]
    assert "retail champion bundle v0001" in version.description


def _check_parking(project: Path, stdout: str) -> None:
    """Parking's first lifecycle: both flavours trained and tracked, forecasts scored
    against persistence, and a promoted bundle whatever flavour won."""
    data = project / "data"
    summary = stdout.split("## parking: lifecycle summary")[1]
    assert "lstm (keras): mae" in summary
    assert "hist_gradient_boosting (sklearn): mae" in summary
    assert "baseline persistence: mae" in summary
    training = json.loads((data / "reports/parking/training.json").read_text())
    lstm = training["candidates"]["lstm"]
    assert lstm["flavour"] == "keras"
    assert lstm["fit"]["epochs_run"] >= 1 and lstm["fit"]["val_loss"] > 0
    evaluation = json.loads((data / "reports/parking/evaluation.json").read_text())
    assert evaluation["task"] == "regression"
    assert set(evaluation["baselines"]) == {
        "train_mean",
        "persistence",
        "same_time_yesterday",
    }
    quarantine = LakeTable.open(str(data / "silver/parking/quarantine")).read()
    reasons = " ".join(quarantine["quarantine_reason"])
    assert "count_above_capacity" in reasons and "duplicate_reading" in reasons
    decision = json.loads(
        (data / "reports/parking/promotion_decision.json").read_text()
    )
    # On this seed the challenger beats persistence and the day before: promoted.
    assert decision["promote"], decision["reason"]
    bundle = data / "models/versions/parking/v0001"
    manifest = json.loads((bundle / "manifest.json").read_text())
    flavour = manifest["model"]["flavor"]
    assert flavour == training["candidates"][training["challenger"]]["flavour"]
    assert (bundle / manifest["model"]["file"]).exists()
    assert manifest["runtimes"]["onnx"]["available"], manifest["runtimes"]["onnx"]
    assert manifest["runtimes"]["onnx"]["parity"]["max_abs_diff"] <= 0.01
    schema = json.loads((bundle / "input_schema.json").read_text())
    assert schema["task"] == "regression" and schema["unit"] == "cars"
    window = next(f for f in schema["fields"] if f["kind"] == "window")
    assert window["length"] == 24 and window["step_minutes"] == 5
    client = _mlflow_client(project)
    version = client.get_model_version_by_alias("mlops_platform.parking", "champion")
    assert str(version.version) == "1"
    run = client.get_run(manifest["mlflow"]["run_id"])
    assert "parking.test_challenger_mae" in run.data.metrics
    children = client.search_runs(
        [run.info.experiment_id],
        filter_string=f"tags.mlflow.parentRunId = '{run.info.run_id}' "
        "and tags.use_case = 'parking'",
    )
    flavours = {c.data.tags["candidate"]: c.data.tags["flavour"] for c in children}
    assert (
        flavours["lstm"] == "keras" and flavours["hist_gradient_boosting"] == "sklearn"
    )
    # The promoted bundle answers a forecast through the serving package, as deployed.
    from fastapi.testclient import TestClient
    from mlops_serving.app import create_app
    from mlops_serving.settings import load_settings

    settings = load_settings(
        model_store_uri=str(data / "models"), use_cases=["parking"], poll_interval_s=60
    )
    request = json.loads((REPO / "serving/examples/parking_request.json").read_text())
    with TestClient(create_app(settings)) as client:
        answer = client.post("/v1/parking/predict", json=request)
        assert answer.status_code == 200, answer.text
        forecast = answer.json()["predictions"][0]
        assert forecast["model_version"] == "v0001" and forecast["unit"] == "cars"
        assert 0 <= forecast["count"] <= request["capacity"]


def _check_sentiment(project: Path, stdout: str) -> None:
    """Sentiment's first lifecycle on 8,000 real reviews: three candidates of two
    flavours, duplicates quarantined by line, a promoted bundle whose ONNX graph holds
    the text pipeline, answering the README's example through the serving package."""
    data = project / "data"
    summary = stdout.split("## sentiment: lifecycle summary")[1]
    for name in ("nbsvm (sklearn)", "tfidf_logreg (sklearn)", "keras_embedding_bag"):
        assert name in summary
    training = json.loads((data / "reports/sentiment/training.json").read_text())
    keras = training["candidates"]["keras_embedding_bag"]
    assert keras["flavour"] == "keras" and keras["fit"]["vocabulary"] > 1000
    quarantine = LakeTable.open(str(data / "silver/sentiment/quarantine")).read()
    if len(quarantine):  # the slice may or may not hold one of the 96 duplicates
        assert quarantine["quarantine_reason"].str.contains("same text as").all()
    decision = json.loads(
        (data / "reports/sentiment/promotion_decision.json").read_text()
    )
    assert decision["promote"], decision["reason"]
    evaluation = json.loads((data / "reports/sentiment/evaluation.json").read_text())
    assert evaluation["challenger"]["accuracy"] >= 0.85
    manifest = json.loads(
        (data / "models/versions/sentiment/v0001/manifest.json").read_text()
    )
    onnx = manifest["runtimes"]["onnx"]
    assert onnx["available"] and onnx["parity"]["max_abs_diff"] <= 1e-4, onnx
    from fastapi.testclient import TestClient
    from mlops_serving.app import create_app
    from mlops_serving.settings import load_settings

    settings = load_settings(
        model_store_uri=str(data / "models"),
        use_cases=["sentiment"],
        poll_interval_s=60,
    )
    request = json.loads((REPO / "serving/examples/sentiment_request.json").read_text())
    with TestClient(create_app(settings)) as client:
        answer = client.post("/v1/sentiment/predict", json=request)
        assert answer.status_code == 200, answer.text
        review = answer.json()["predictions"][0]
        assert review["model_version"] == "v0001" and review["class"] == "positive"


def test_kedro_viz_build_shows_the_medallion_layers(project):
    proc = _run([sys.executable, "-m", "kedro", "viz", "build"], project)
    assert "circular" not in (proc.stdout + proc.stderr).lower()
    main = json.loads((project / "build" / "api" / "main").read_text())
    assert main["layers"] == ["raw", "silver", "gold", "models", "reporting"]
    names = {n["name"] for n in main["nodes"]}
    assert {
        "retail.silver_transactions",
        "retail.gold_train",
        "retail.model_store",
    } <= names


@needs_browser
def test_kedro_viz_opens_with_the_layers_visible_at_the_url_make_viz_prints(project):
    """What a person sees: the built site in Chromium (served on loopback, offline).
    Collapsed, each use case is one box; at the URL `make viz` prints
    (``?expandAllPipelines=true``) the gold-building nodes are drawn."""
    import functools
    import threading
    from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

    if not (project / "build" / "index.html").exists():
        _run([sys.executable, "-m", "kedro", "viz", "build"], project)
    handler = functools.partial(
        SimpleHTTPRequestHandler, directory=str(project / "build")
    )
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}/"
    try:
        collapsed = render(base, 20_000)
        expanded = render(base + "?expandAllPipelines=true", 20_000)
    finally:
        server.shutdown()
    drawn = re.compile(r'class="pipeline-node__text"[^>]*>([^<]+)')
    assert "build_gold_table" not in drawn.findall(collapsed)
    assert drawn.findall(expanded).count("build_gold_table") == 3, expanded[:2000]
    layers = re.findall(r'data-id="layer-label--([a-z]+)"', expanded)
    assert layers == ["raw", "silver", "gold", "models", "reporting"]
    viz = subprocess.run(
        ["make", "-n", "viz"], cwd=REPO, capture_output=True, text=True, check=True
    )
    assert "?expandAllPipelines=true" in viz.stdout


@needs_browser
def test_mlflow_ui_opens_on_the_runs_table_at_the_address_make_mlflow_ui_prints(
    project,
):
    """What a person sees: the real MLflow UI (``mlflow ui`` on loopback) on the
    project's store, in Chromium, at the address `make mlflow-ui` prints: the runs
    table with the run's name. Without the address's view parameter, MLflow 3.17
    opens the GenAI overview (traces), which is why it is there."""
    import shlex

    from mlops_platform.aws.moto_lake import free_port
    from tests.live import process_group, wait_http

    if not (project / "data/mlflow/mlflow.db").exists():  # this test run alone
        _run(
            [sys.executable, "-m", "kedro", "run", "-p", "retail.data_engineering"],
            project,
        )
    # The commands `make mlflow-ui` runs, as `make -n` prints them. Substituted: the
    # port (a free one instead of 5000) and the virtualenv's entry points (this
    # interpreter's modules: the scratch project has no .venv of its own).
    printed = subprocess.run(
        ["make", "-n", "mlflow-ui"], cwd=REPO, capture_output=True, text=True,
        check=True,
    ).stdout  # fmt: skip
    (url_line,) = re.findall(r"\$\((.*mlops_platform\.tracking ui-url.*)\)", printed)
    (ui_line,) = [x for x in printed.splitlines() if " ui --backend-store-uri " in x]
    port = free_port()
    base = f"http://127.0.0.1:{port}"

    def local(line: str) -> list[str]:
        line = line.replace("127.0.0.1:5000", f"127.0.0.1:{port}")
        argv = shlex.split(line.replace("--port 5000", f"--port {port}"))
        if argv[0] == ".venv/bin/python":
            return [sys.executable, *argv[1:]]
        assert argv[0] == ".venv/bin/mlflow", line
        return [sys.executable, "-m", "mlflow", *argv[1:]]

    ui = local(ui_line)
    assert ui[ui.index("--workers") + 1] == "1"  # four took 15 s longer to answer
    # `mlflow ui` serves from a child process: the whole group is stopped
    with process_group(
        ui, cwd=project, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    ) as server:
        wait_http(base + "/health", server)
        url = _run(local(url_line), project).stdout.strip()
        shown = _text(render(url, 20_000))
        overview = _text(render(url.split("?")[0].removesuffix("/runs"), 20_000))
    name = (
        _mlflow_client(project)
        .search_runs(
            [url.split("/experiments/")[1].split("/")[0]],
            filter_string="tags.mlflow.parentRunId IS NULL",
            max_results=1,
        )[0]
        .info.run_name
    )
    assert "Run Name" in shown and name in shown, shown[:2000]
    assert "Traces 0" not in shown
    assert "Run Name" not in overview and "Traces" in overview, overview[:2000]


def _text(dom: str) -> str:
    """A page's visible text, roughly: scripts, styles and tags removed."""
    dom = re.sub(r"<(script|style)\b.*?</\1>", " ", dom, flags=re.S)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", dom))


def _execute(project: Path, name: str):
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(project / "notebooks" / name, as_version=4)
    os.environ["KEDRO_LOGGING_CONFIG"] = str(REPO / "conf/logging.yml")
    NotebookClient(
        nb,
        timeout=300,
        kernel_name="python3",
        resources={"metadata": {"path": str(project / "notebooks")}},
    ).execute()
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    errors = [o for o in outputs if o.get("output_type") == "error"]
    assert not errors, errors[0].get("evalue")
    # the project's MLflow store is the one under data/, wherever the kernel starts
    assert not (project / "notebooks" / "data").exists()
    return outputs


def test_the_notebook_executes_on_the_runs_output(project):
    """The exploration notebook against the project the lifecycle test filled (the
    champion is v0001 again after its rollback); run here so that the end-to-end run
    is paid once."""
    outputs = _execute(project, "01-retail-exploration.ipynb")
    text = "".join(
        str(o.get("text", "")) + str(o.get("data", {}).get("text/plain", ""))
        for o in outputs
    )
    assert "baskets" in text
    assert "v0001" in text


def test_the_plots_notebook_draws_every_use_case(project):
    """Three figures per use case (the label over time, the champion on its test
    period, the drift report's figure), drawn by the pipelines' own functions."""
    outputs = _execute(project, "02-lifecycle-plots.ipynb")
    images = [o for o in outputs if "image/png" in o.get("data", {})]
    assert len(images) == 3 * len(USE_CASES), len(images)
