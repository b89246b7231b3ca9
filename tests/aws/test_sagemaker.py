"""The compiled SageMaker pipeline: its structure, the pre-flight check, upsert and
start against a moto server, and proof that the steps really execute (every step's
exact command and environment, run here against the moto S3 bucket)."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import tarfile
import urllib.request
from pathlib import Path

import pytest
from kedro.io import DataCatalog, MemoryDataset
from kedro.pipeline import Pipeline, node
from kedro_datasets.json import JSONDataset

from mlops_platform.aws.moto_lake import (
    create_bucket,
    free_port,
    lake_env,
    list_keys,
    moto_client,
    moto_server,
    read_json,
    s3_client,
    upload_folder,
)
from mlops_platform.aws.sagemaker.config import SageMakerConfig
from mlops_platform.aws.sagemaker.generator import (
    CompileError,
    StepGroup,
    preflight,
)
from mlops_platform.scratch import scratch_project
from tests.aws.api_limits import violations
from tests.aws.definition_runner import Execution
from tests.aws.iam import decide, mlflow_requests
from tests.aws.roles import (
    RECORDER,
    audit,
    mlflow_server_arn,
    recorded,
    role_policy,
    sagemaker_role_arn,
)
from tests.aws.tracking_server import tracking_server
from tests.conftest import REPO
from tests.live import process_group, wait_http

pytestmark = pytest.mark.integration
BUCKET, PREFIX = "mlops-sm-lake", "mlops"
BIN = Path(sys.executable).parent


def _config(**resources) -> dict:
    return {
        "aws": {
            "execution_role": "arn:aws:iam::000000000000:role/r",
            "bucket": "b",
            "resources": resources,
        },
        "docker": {"image": "img"},
    }


def test_resources_by_step_name_then_tag_then_default():
    config = SageMakerConfig.parse(
        _config(
            __default__={"instance_type": "ml.t3.medium", "timeout_seconds": 60},
            training={"instance_type": "ml.m5.2xlarge"},
            **{"retail-training": {"instance_count": 2}},
        )
    )
    named = config.resources_for("retail-training", "training")
    assert (named.instance_type, named.instance_count, named.timeout_seconds) == (
        "ml.t3.medium",
        2,
        60,
    )  # fmt: skip  (the name's entry wins whole over the tag's, over __default__)
    tagged = config.resources_for("parking-training", "training")
    assert (tagged.instance_type, tagged.timeout_seconds) == ("ml.m5.2xlarge", 60)
    assert config.resources_for("x", "drift").instance_type == "ml.t3.medium"
    bare = SageMakerConfig.parse(_config())
    assert bare.resources_for("x").instance_type == "ml.m5.large"
    assert bare.pipeline_name("car_parks") == "mlops-car-parks"


def test_a_misspelt_setting_is_refused_by_name():
    with pytest.raises(ValueError, match=r"resources\.training\.instance_typ\b"):
        SageMakerConfig.parse(_config(training={"instance_typ": "ml.m5.2xlarge"}))


def _identity(x):
    return x


@pytest.mark.parametrize(
    ("argv", "overrides", "named"),
    [
        (["--pipeline", "retail.drift"], "{}", "applies to retail.data_engineering"),
        (["--pipeline", "retail.data_engineering"], "{}", None),
        (
            ["--pipeline", "parking.data_engineering", "--export", "a=/tmp/b.json"],
            "{}",
            "--export is not supported",
        ),
        (
            ["--pipeline", "retail.data_engineering"],
            '{"retail.data_engineering.full_refresh": true}',
            None,  # its batches log into child runs (test_compiled_steps_execute)
        ),
    ],
)
def test_step_batches(monkeypatch, capsys, argv, overrides, named):
    """``--batch-mb`` applies to a data_engineering step: what cannot work that way
    is refused before anything runs, naming why (the batches themselves, a full
    refresh among them: test_compiled_steps_execute)."""
    from mlops_platform.aws.sagemaker import step

    monkeypatch.setenv("MLOPS_PARAM_OVERRIDES", overrides)
    monkeypatch.delenv("MLOPS_STEP_USER", raising=False)
    if named is None:  # accepted: the step goes on (here: stopped at the start)
        monkeypatch.setattr(step, "hand_over", _stop)
        with pytest.raises(_Started):
            step.main([*argv, "--batch-mb", "100"])
        return
    assert step.main([*argv, "--batch-mb", "100"]) == 2
    assert named in capsys.readouterr().err
    assert step.main(["--pipeline", "retail.data_engineering", "--batch-mb", "0"]) == 2


class _Started(Exception):
    pass


def _stop(*_args: object) -> None:
    raise _Started


def test_preflight_refuses_memory_datasets_across_steps(tmp_path):
    a = Pipeline([node(_identity, "raw", "handoff", name="a")])
    b = Pipeline([node(_identity, "handoff", "out", name="b")])
    groups = [StepGroup("uc", "data_engineering", a), StepGroup("uc", "drift", b)]
    in_memory = DataCatalog(datasets={"handoff": MemoryDataset()})
    with pytest.raises(
        CompileError, match=r"'handoff'.*written by step uc-data-engineering"
    ):
        preflight(groups, in_memory)
    with pytest.raises(CompileError, match="not in the catalog"):
        preflight(groups, DataCatalog())
    persisted = DataCatalog(
        datasets={"handoff": JSONDataset(filepath=str(tmp_path / "h.json"))}
    )
    assert preflight(groups, persisted) == ["handoff"]


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    # Run 1 must promote for the steps after it to be exercised. With 700 customers
    # the test half-week held 233 customers and the gates could not tell the model
    # from the segment rule (lead +0.03 to +0.06, interval through 0: kept); with
    # 3,000 (make run's count) it leads by +0.13 (interval +0.10 to +0.16).
    project = scratch_project(REPO, tmp_path_factory.mktemp("sagemaker"))
    subprocess.run(
        [sys.executable, "-m", "mlops_platform.datagen", "retail", "--out",
         "data/raw/retail", "--weeks", "6", "--customers", "3000", "--stores", "50",
         "--quiet"],
        cwd=project, check=True,
    )  # fmt: skip
    return project


@pytest.fixture(scope="module")
def lake(project, tmp_path_factory):
    """The moto S3 lake, and the MLflow tracking server every step logs to: a real
    server process whose store no step can open (tests/aws/tracking_server.py says
    what it stands in for)."""
    with moto_server() as endpoint:
        env = lake_env(endpoint, BUCKET, PREFIX, "http://127.0.0.1:1")
        saved = {k: os.environ.get(k) for k in env}
        os.environ.update(env)
        try:
            create_bucket(endpoint, BUCKET)
            upload_folder(
                endpoint, project / "data/raw/retail", BUCKET, f"{PREFIX}/raw/retail"
            )
            with tracking_server(
                tmp_path_factory.mktemp("tracking"),
                f"s3://{BUCKET}/{PREFIX}/mlflow/artifacts",
            ) as server:
                os.environ["MLOPS_MLFLOW_TRACKING_URI"] = server.uri
                yield endpoint, server
        finally:
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v


def compile_definition(
    project: Path, out: Path, use_case: str = "retail", **env: str
) -> dict:
    proc = subprocess.run(
        [str(BIN / "mlops-sagemaker"), "compile", "--use-case", use_case,
         "--project-path", str(project), "--output", str(out)],
        cwd=project, capture_output=True, text=True, check=False,
        env={**os.environ, **env},
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return json.loads(out.read_text())


def test_compiled_structure(project, lake, tmp_path):
    # CI compiles without reaching the tracking server: compiling must not contact it
    # (kedro-mlflow's hook would create the experiment when the context is made).
    # A socket that listens and never answers stands for the server.
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        listener.setblocking(False)
        uri = f"http://127.0.0.1:{listener.getsockname()[1]}"
        d = compile_definition(
            project, tmp_path / "retail.json", MLOPS_MLFLOW_TRACKING_URI=uri
        )
        with pytest.raises(BlockingIOError):  # nobody connected
            listener.accept()
    assert d["Steps"][0]["Arguments"]["Environment"]["MLOPS_MLFLOW_TRACKING_URI"] == (
        uri
    )  # what the steps will use
    steps = {s["Name"]: s for s in d["Steps"]}
    assert list(steps) == [
        "retail-data-engineering",
        "retail-drift",
        "retail-train-or-keep",
    ]
    cond = steps["retail-train-or-keep"]["Arguments"]
    assert [s["Name"] for s in cond["IfSteps"]] == [
        "retail-training", "retail-evaluation", "retail-reporting",
    ]  # fmt: skip
    assert cond["ElseSteps"] == []
    (either,) = cond["Conditions"]
    assert either["Type"] == "Or"
    refs = json.dumps(either)
    assert "Steps.retail-drift.PropertyFiles.DriftDecision" in refs
    assert "Parameters.ForceRetrain" in refs
    processing = [
        steps["retail-data-engineering"],
        steps["retail-drift"],
        *cond["IfSteps"],
    ]
    types = {
        s["Name"]: s["Arguments"]["ProcessingResources"]["ClusterConfig"][
            "InstanceType"
        ]
        for s in processing
    }
    assert types == {  # conf/aws/sagemaker.yml: by stage tag, else __default__
        "retail-data-engineering": "ml.m5.xlarge",
        "retail-drift": "ml.t3.medium",
        "retail-training": "ml.m5.2xlarge",
        "retail-evaluation": "ml.t3.medium",
        "retail-reporting": "ml.t3.medium",
    }
    params = {p["Name"] for p in d["Parameters"]}
    assert params == {"ForceRetrain", "ParamOverrides"}
    for s in processing:
        env = s["Arguments"]["Environment"]
        # Parameters come from the image's conf/; one document overrides them.
        assert env["MLOPS_PARAM_OVERRIDES"] == {"Get": "Parameters.ParamOverrides"}
        # every step runs with the execution's parameters (a step that read the
        # default while another logged the override broke the MLflow run)
        assert "Parameters.ForceRetrain" in json.dumps(env["MLOPS_FORCE_RETRAIN"])
        assert not any(k.startswith("KEDRO_SAGEMAKER_PARAM") for k in env)
        assert "CacheConfig" not in s  # see generator.py: no step is safe to cache
        retried = {t for p in s["RetryPolicies"] for t in p["ExceptionType"]}
        assert retried == {  # SageMaker's faults, never the step's own (generator.py)
            "Step.SERVICE_FAULT", "Step.THROTTLING", "SageMaker.JOB_INTERNAL_ERROR",
            "SageMaker.CAPACITY_ERROR", "SageMaker.RESOURCE_LIMIT",
        }  # fmt: skip
        for policy in s["RetryPolicies"]:  # one bound each, within SageMaker's caps
            assert ("MaxAttempts" in policy) != ("ExpireAfterMin" in policy)
            assert 1 <= policy.get("MaxAttempts", 1) <= 20
            assert 0 < policy.get("ExpireAfterMin", 1) <= 14400
        if s["Name"] != "retail-data-engineering":
            assert "MlflowRun" in json.dumps(env["MLFLOW_RUN_ID"])
        # a backlog in batches of conf/aws/sagemaker.yml's raw_batch_mb, in
        # data_engineering only (the step refuses it elsewhere: test_step_batches)
        command = s["Arguments"]["AppSpecification"]["ContainerEntrypoint"]
        batches = s["Name"] == "retail-data-engineering"
        assert ("--batch-mb" in command) == batches, command
        if batches:
            assert command[command.index("--batch-mb") + 1] == "1000"
    assert "ForceRetrain" in params


def _processing_steps(steps: list[dict]) -> list[dict]:
    out = []
    for step in steps:
        if step["Type"] == "Processing":
            out.append(step)
        elif step["Type"] == "Condition":
            out += _processing_steps(step["Arguments"]["IfSteps"])
            out += _processing_steps(step["Arguments"]["ElseSteps"])
    return out


@pytest.mark.parametrize("use_case", ["retail", "parking", "sentiment"])
def test_every_step_within_the_real_api_limits(project, lake, tmp_path, use_case):
    """What SageMaker will send as CreateProcessingJob, checked against botocore's
    model of the real API (moto checks none of it); with the VPC settings too."""
    d = compile_definition(
        project,
        tmp_path / f"{use_case}.json",
        use_case,
        MLOPS_SAGEMAKER_SUBNETS="subnet-0123456789abcdef0",
        MLOPS_SAGEMAKER_SECURITY_GROUPS="sg-0123456789abcdef0",
    )
    defaults = {p["Name"]: p.get("DefaultValue") for p in d["Parameters"]}
    steps = _processing_steps(d["Steps"])
    assert len(steps) == 5
    for step in steps:
        request = {"ProcessingJobName": f"pipelines-{step['Name']}"[:63]}
        request |= step["Arguments"]
        assert violations("sagemaker", "CreateProcessingJob", request, defaults) == []
        assert len(step["Arguments"]["Environment"]) <= 20  # far from 100
        assert step["Name"].startswith(use_case)


def test_upsert_start_and_describe_on_moto(project, lake, tmp_path):
    proc = subprocess.run(
        [str(BIN / "mlops-sagemaker"), "run", "--use-case", "retail",
         "--project-path", str(project), "--param", "ForceRetrain=true"],
        cwd=project, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "upserted mlops-retail" in proc.stdout and "started arn:" in proc.stdout
    import boto3

    sm = boto3.client("sagemaker", endpoint_url=lake[0])
    described = sm.describe_pipeline(PipelineName="mlops-retail")
    definition = json.loads(described["PipelineDefinition"])
    assert [s["Name"] for s in definition["Steps"]][-1] == "retail-train-or-keep"
    executions = sm.list_pipeline_executions(PipelineName="mlops-retail")
    assert len(executions["PipelineExecutionSummaries"]) == 1
    # a second upsert updates the same pipeline; --wait follows the status (moto
    # reports Succeeded at once without running anything: this checks the loop only)
    again = subprocess.run(
        [str(BIN / "mlops-sagemaker"), "run", "--use-case", "retail",
         "--project-path", str(project), "--wait", "--poll-seconds", "0.1"],
        cwd=project, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert again.returncode == 0, again.stderr[-2000:]
    assert again.stdout.strip().endswith("Succeeded")
    named = [p["PipelineName"] for p in sm.list_pipelines()["PipelineSummaries"]]
    assert named.count("mlops-retail") == 1
    assert len(sm.list_pipeline_executions(PipelineName="mlops-retail")[
        "PipelineExecutionSummaries"]) == 2  # fmt: skip
    # upsert (what the pipeline delivery workflow runs) updates without starting
    # as .github/workflows/deploy-pipeline.yml runs it, with the role Terraform made;
    # every call it makes is checked against the GitHub deploy role's policy
    record, calls = tmp_path / "deployed.json", tmp_path / "deploy-calls.jsonl"
    upsert = subprocess.run(
        [str(BIN / "mlops-sagemaker"), "upsert", "--use-case", "retail",
         "--project-path", str(project), "--output", str(record),
         "--role-arn", sagemaker_role_arn()],
        cwd=project, capture_output=True, text=True, check=False,
        env={**os.environ, "PYTHONPATH": str(RECORDER),
             "MLOPS_AWS_CALL_LOG": str(calls)},
    )  # fmt: skip
    assert upsert.returncode == 0, upsert.stderr[-2000:]
    assert "started" not in upsert.stdout
    deployed = sm.describe_pipeline(PipelineName="mlops-retail")["PipelineDefinition"]
    assert json.loads(record.read_text()) == json.loads(deployed)  # what was upserted
    assert len(sm.list_pipeline_executions(PipelineName="mlops-retail")[
        "PipelineExecutionSummaries"]) == 2  # fmt: skip
    made = recorded(calls)
    assert {c["operation"] for c in made} >= {"CreatePipeline", "UpdatePipeline"}
    region = sm.meta.region_name
    problems = audit(made, role_policy("github_deploy_role", BUCKET, region), region)
    assert problems == [], "\n".join(problems)


def test_steps_run_in_the_vpc_terraform_made(project, lake, tmp_path):
    """MLOPS_SAGEMAKER_SUBNETS/_SECURITY_GROUPS (Terraform outputs) reach each step."""
    d = compile_definition(
        project,
        tmp_path / "vpc.json",
        MLOPS_SAGEMAKER_SUBNETS="subnet-0123456789abcdef0,subnet-0fedcba9876543210",
        MLOPS_SAGEMAKER_SECURITY_GROUPS="sg-0123456789abcdef0",
    )
    steps = [d["Steps"][0], d["Steps"][1], *d["Steps"][2]["Arguments"]["IfSteps"]]
    for step in steps:
        vpc = step["Arguments"]["NetworkConfig"]["VpcConfig"]
        assert vpc == {
            "SecurityGroupIds": ["sg-0123456789abcdef0"],
            "Subnets": ["subnet-0123456789abcdef0", "subnet-0fedcba9876543210"],
        }
    proc = subprocess.run(
        [str(BIN / "mlops-sagemaker"), "compile", "--use-case", "retail",
         "--project-path", str(project), "--output", str(tmp_path / "bad.json")],
        cwd=project, capture_output=True, text=True, check=False,
        env={**os.environ, "MLOPS_SAGEMAKER_SUBNETS": "subnet-0123456789abcdef0"},
    )  # fmt: skip
    assert proc.returncode != 0
    said = " ".join((proc.stdout + proc.stderr).split())  # undo the log's wrapping
    assert (
        "set both MLOPS_SAGEMAKER_SUBNETS and MLOPS_SAGEMAKER_SECURITY_GROUPS" in said
    )


def deploy_like_sagemaker(endpoint: str, version: str, root: Path) -> None:
    """What SageMaker hosting does with the Approved package: download its
    ``ModelDataUrl`` and unpack it into ``/opt/ml/model``, start its ``Image`` with
    ``serve`` and the package's ``Environment``, wait for ``GET /ping``, send
    ``POST /invocations``. Substituted here: the image is the serving package
    installed in the test's virtualenv (its console script, as the image's
    ENTRYPOINT; tests/test_dockerfiles.py checks the image installs that package),
    /opt/ml/model is a folder under ``root`` and the host and port are loopback's
    (SERVING_MODEL_STORE_URI, SERVING_HOST and SERVING_PORT are set to them)."""
    sm = moto_client(endpoint, "sagemaker")
    (package,) = [
        sm.describe_model_package(ModelPackageName=p["ModelPackageArn"])
        for p in sm.list_model_packages(ModelPackageGroupName="retail")[
            "ModelPackageSummaryList"
        ]
        if p["ModelApprovalStatus"] == "Approved"
    ]
    (container,) = package["InferenceSpecification"]["Containers"]
    assert container["Image"] == os.environ["MLOPS_SERVING_IMAGE"]
    url = container["ModelDataUrl"]
    assert (
        url == f"s3://{BUCKET}/{PREFIX}/models/archives/retail/{version}/model.tar.gz"
    )
    env = container["Environment"]
    assert env["SERVING_MODEL_STORE_URI"] == "/opt/ml/model"
    assert env["SERVING_USE_CASES"] == "retail" and env["SERVING_PORT"] == "8080"
    model_dir = root / "opt/ml/model"
    model_dir.mkdir(parents=True)
    archive = root / "model.tar.gz"
    s3_client(endpoint).download_file(
        BUCKET, url.removeprefix(f"s3://{BUCKET}/"), str(archive)
    )
    with tarfile.open(archive) as tar:
        tar.extractall(model_dir, filter="data")  # refuses links and absolute paths
    golden = json.loads(
        (model_dir / f"versions/retail/{version}/golden.json").read_text()
    )
    port = free_port()
    hosted = {
        **{k: v for k, v in os.environ.items() if not k.startswith("SERVING_")},
        **env,
        "SERVING_MODEL_STORE_URI": str(model_dir),
        "SERVING_HOST": "127.0.0.1",
        "SERVING_PORT": str(port),
    }
    with process_group(
        [str(BIN / "mlops-serve"), "serve"], env=hosted,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    ) as proc:  # fmt: skip
        # /ping answers 200 only once the bundle passed its checks (manifest
        # digests, golden rows through the runtime)
        wait_http(f"http://127.0.0.1:{port}/ping", proc, timeout=90)
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/invocations",
            data=json.dumps({"records": golden["rows"]}).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=30) as answer:  # noqa: S310
            body = json.loads(answer.read())
    assert body["model_version"] == version
    assert [p["class"] for p in body["predictions"]] == [
        e["class"] for e in golden["expected"]
    ]


def test_compiling_refuses_a_tracking_store_the_steps_cannot_share(project, lake):
    """Each step runs in a container of its own: with a sqlite store every step
    would log into an empty file of its own and step 2 could not resume step 1's
    run. Compiling refuses it, naming the variable."""
    proc = subprocess.run(
        [str(BIN / "mlops-sagemaker"), "compile", "--use-case", "retail",
         "--project-path", str(project)],
        cwd=project, capture_output=True, text=True, check=False,
        env={**os.environ, "MLOPS_MLFLOW_TRACKING_URI": "sqlite:///data/mlflow.db"},
    )  # fmt: skip
    assert proc.returncode != 0
    said = " ".join((proc.stdout + proc.stderr).split())
    assert "MLOPS_MLFLOW_TRACKING_URI='sqlite:///data/mlflow.db'" in said
    assert "no shared file, so MLflow must be a tracking server" in said


def test_compiled_steps_execute(project, lake, pipeline_image, shared, tmp_path):
    """Drift-gated run 1 (no champion: trains and promotes), run 2 (same data, champion
    kept: the condition skips training), compared with a local run. Every step runs
    in the pipeline image's layout, started as the image's USER (root), with only the
    AWS credentials and the endpoint of the moto server added to the image's
    environment.

    Run 1 also loses its instance twice, as SageMaker can: data_engineering is killed
    after it removed silver on S3, evaluation after it wrote the new bundle and
    before the pointer moved. Each step is retried by its retry policy (the harness's
    model of a lost instance: tests/aws/definition_runner.py) and the execution ends
    as if nothing had happened: one MLflow run, one new champion, complete."""
    endpoint, server = lake
    tracking = server.uri
    d = compile_definition(project, tmp_path / "retail.json")
    # data_engineering reads the lake's six weeks in two batches (mlops_platform.
    # backfill): the harness lowers the compiled limit (conf/aws/sagemaker.yml's
    # raw_batch_mb, 1,000 MB: checked in test_compiled_structure) to three files
    (de_step,) = [s for s in d["Steps"] if s["Name"] == "retail-data-engineering"]
    command = de_step["Arguments"]["AppSpecification"]["ContainerEntrypoint"]
    raw = sorted(project.glob("data/raw/retail/transactions_*.csv"))
    sizes = [f.stat().st_size for f in raw]
    assert len(sizes) == 6
    limit = (sum(sizes[:3]) + sizes[3] // 2) / 1e6
    command[command.index("--batch-mb") + 1] = str(limit)
    s3 = s3_client(endpoint)
    # what the platform gives a job (credentials, region), the moto endpoint for it
    env = {
        k: v
        for k, v in os.environ.items()
        if k.startswith("AWS_") or k == "MLFLOW_S3_ENDPOINT_URL"
    }
    # and the harness's call recorder (tests/aws/recorder): every AWS call a step
    # makes is checked below against the execution role's Terraform policy
    calls = shared / "calls" / "steps.jsonl"
    calls.parent.mkdir(mode=0o777)
    calls.parent.chmod(0o777)
    env |= {"PYTHONPATH": str(RECORDER), "MLOPS_AWS_CALL_LOG": str(calls)}
    run = {"project": project, "base_env": env, "s3": s3, "image": pipeline_image}

    # the deployed pipeline's name: the steps' calls name it (the overlap check)
    first = Execution(
        d, scratch=shared / "x1", pipeline_name="mlops-retail",
        faults={
            # silver's part files written to S3, its manifest (the ledger) not
            "retail-data-engineering": {
                "MLOPS_FAULT_KILL": "lake.records.parts_written"
            },
            "retail-evaluation": {"MLOPS_FAULT_KILL": "bundle_written"},
        },
        **run,
    )  # fmt: skip
    first.run()
    by_steps = server.requests()  # the MLflow calls of the first execution's steps
    # no step could have opened the server's store: it is the test user's, 0700
    assert server.store.stat().st_uid != 10001
    assert server.store.stat().st_mode & 0o077 == 0
    assert first.attempts == {
        "retail-data-engineering": 2, "retail-drift": 1, "retail-training": 1,
        "retail-evaluation": 2, "retail-reporting": 1,
    }  # fmt: skip
    assert "of this execution resumed (a retry)" in first.stdout[
        "retail-data-engineering"]  # fmt: skip
    # the retry read the backlog in two batches, each a session in the execution's
    # MLflow run (one top-level run: below)
    said = " ".join(first.stdout["retail-data-engineering"].split())
    # (Rich wraps the line and writes the logger's place into it)
    assert re.findall(r"retail backfill, batch (\d): (\d) ", said) == [
        ("1", "3"), ("2", "3"),
    ], said[-3000:]  # fmt: skip
    for step in first.ran:
        if step in first.stdout:  # processing steps: the project ran unprivileged
            assert "step runs as uid 10001" in first.stdout[step], first.logs[step]
    property_file = shared / "x1/retail-drift/processing/drift/drift_decision.json"
    assert property_file.stat().st_uid == 10001
    assert first.ran == [
        "retail-data-engineering", "retail-drift", "retail-train-or-keep",
        "retail-training", "retail-evaluation", "retail-reporting",
    ]  # fmt: skip
    assert first.property_files[("retail-drift", "DriftDecision")]["train"] is True
    # the first step checked, against the API, that no earlier execution runs
    assert (
        "overlap check: no earlier execution is running"
        in (first.stdout["retail-data-engineering"])
    )
    # the drift step's log line that CloudWatch's DriftDetected metric filter counts
    (line,) = [
        json.loads(x)
        for x in first.stdout["retail-drift"].splitlines()
        if x.startswith('{"event": "drift_decision"')
    ]
    assert line["use_case"] == "retail" and line["train"] is True
    assert line["drift_detected"] is False  # no champion yet: nothing to drift from
    pointer = read_json(endpoint, BUCKET, f"{PREFIX}/models/production/retail.json")
    # the killed attempt's bundle (v0001) was never pointed to: the retry's
    # reconcile removed it, and the retry's bundle has a name of its own
    champion = "v0002"
    assert pointer["version"] == champion and pointer["history"] == [], pointer
    manifest = read_json(
        endpoint, BUCKET, f"{PREFIX}/models/versions/retail/{champion}/manifest.json"
    )
    bundle = set(list_keys(endpoint, BUCKET, f"{PREFIX}/models/versions/retail/"))
    assert {k.split("/versions/retail/")[1].split("/")[0] for k in bundle} == {champion}
    for name in manifest["files"]:
        assert f"{PREFIX}/models/versions/retail/{champion}/{name}" in bundle
    log = [
        json.loads(line)
        for line in s3.get_object(
            Bucket=BUCKET, Key=f"{PREFIX}/models/audit/retail.jsonl"
        )["Body"].read().decode().splitlines()
    ]  # fmt: skip
    assert [(a["action"], a["version"]) for a in log] == [
        ("cleanup", "v0001"), ("promote", champion),
    ], log  # fmt: skip
    # the retry committed silver; the killed attempt's part files are gone
    ledger = read_json(
        endpoint, BUCKET, f"{PREFIX}/silver/retail/records/_manifest.json"
    )
    parts = set(list_keys(endpoint, BUCKET, f"{PREFIX}/silver/retail/records/parts/"))
    assert parts == {
        f"{PREFIX}/silver/retail/records/{e['file']}" for e in ledger["parts"].values()
    }
    # the data_engineering step published the online feature store beside the models
    online = read_json(endpoint, BUCKET, f"{PREFIX}/models/online/retail.json")
    assert online["rows"]["customers"] > 0 and online["definitions"] == 1
    assert f"{PREFIX}/models/{online['path']}" in set(
        list_keys(endpoint, BUCKET, f"{PREFIX}/models/features/retail/")
    )
    keys = set(list_keys(endpoint, BUCKET, f"{PREFIX}/sagemaker/{first.execution_id}/"))
    assert (
        f"{PREFIX}/sagemaker/{first.execution_id}/retail-drift/drift/drift_decision.json"
        in keys
    )

    # One MLflow run for the whole execution (nested candidate runs inside it).
    import mlflow

    client = mlflow.MlflowClient(tracking_uri=tracking)
    exp = client.get_experiment_by_name("mlops_platform")
    runs = client.search_runs([exp.experiment_id])
    top = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    assert len(top) == 1
    assert top[0].data.tags["sagemaker_execution_arn"].endswith(first.execution_id)
    assert len(runs) > 1  # the candidates, nested under it

    # The champion's model package is one SageMaker can deploy (below).
    deploy_like_sagemaker(endpoint, champion, tmp_path / "hosting")

    # The same result as a local run of the same data.
    local = subprocess.run(
        [sys.executable, "-m", "kedro", "run", "-p", "retail"], cwd=project,
        env={**os.environ, "KEDRO_LOGGING_CONFIG": str(REPO / "conf/logging.yml")},
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert local.returncode == 0, local.stderr[-3000:]
    local_pointer = json.loads(
        (project / "data/models/production/retail.json").read_text()
    )
    assert pointer["reason"] == local_pointer["reason"]
    s3_eval = read_json(endpoint, BUCKET, f"{PREFIX}/reports/retail/evaluation.json")
    local_eval = json.loads(
        (project / "data/reports/retail/evaluation.json").read_text()
    )
    assert s3_eval["challenger"] == local_eval["challenger"]

    training_key = f"{PREFIX}/reports/retail/training.json"
    etag = s3.head_object(Bucket=BUCKET, Key=training_key)["ETag"]
    before_second = len(server.requests())  # the lines since are the test's own
    # a full refresh asked for through the pipeline parameter: the lake again in two
    # batches, each with its own parameters (the first batch's full_refresh true in
    # the execution's run, the later sessions in child runs of it)
    refresh = {"retail.data_engineering.full_refresh": True}
    second = Execution(
        d, scratch=shared / "x2", pipeline_name="mlops-retail",
        parameters={"ParamOverrides": json.dumps(refresh)}, **run,
    )  # fmt: skip
    second.run()
    by_steps += server.requests()[before_second:]
    said = " ".join(second.stdout["retail-data-engineering"].split())
    assert re.findall(r"retail backfill, batch (\d): (\d) ", said) == [
        ("1", "3"), ("2", "3"),
    ], said[-3000:]  # fmt: skip
    (top2,) = [
        r
        for r in client.search_runs([exp.experiment_id])
        if r.data.tags.get("sagemaker_execution_arn", "").endswith(second.execution_id)
    ]
    children = {
        r.info.run_name: r
        for r in client.search_runs(
            [exp.experiment_id],
            filter_string=f"tags.mlflow.parentRunId = '{top2.info.run_id}'",
        )
    }
    assert set(children) == {"retail backfill, batch 2", "retail backfill, the rest"}
    refreshed = "retail.data_engineering.full_refresh"
    assert top2.data.params[refreshed] == "True"
    assert children["retail backfill, batch 2"].data.params[refreshed] == "False"
    assert {c.info.status for c in children.values()} == {"FINISHED"}
    assert second.ran == [
        "retail-data-engineering",
        "retail-drift",
        "retail-train-or-keep",
    ]
    assert second.skipped == [
        "retail-training",
        "retail-evaluation",
        "retail-reporting",
    ]
    decision = second.property_files[("retail-drift", "DriftDecision")]
    assert decision["train"] is False and "kept" in decision["reason"]
    assert s3.head_object(Bucket=BUCKET, Key=training_key)["ETag"] == etag
    assert read_json(endpoint, BUCKET, f"{PREFIX}/models/production/retail.json")[
        "version"] == champion  # fmt: skip

    # Every AWS call the steps made, as the image's user, allowed by the SageMaker
    # execution role's policy (infra/terraform/modules/sagemaker_role) and within the
    # real API's limits.
    made = recorded(calls)
    assert {c["uid"] for c in made} == {10001}
    operations = {f"{c['service']}.{c['operation']}" for c in made}
    assert {"s3.PutObject", "sagemaker.ListPipelineExecutions"} <= operations
    assert "sagemaker.CreateModelPackage" in operations  # the first promotion
    # the lake tables published for Athena (lake_catalog), checked below too
    assert {"glue.CreateTable", "glue.BatchCreatePartition"} <= operations
    policy = role_policy("sagemaker_role", BUCKET, s3.meta.region_name)
    problems = audit(made, policy, s3.meta.region_name)
    assert problems == [], "\n".join(problems)
    # MLflow artifacts went from the steps straight to the lake's prefix (as with the
    # managed server), checked above with the other S3 calls
    assert any(
        c["operation"] == "PutObject"
        and c["params"]["Key"].startswith(f"{PREFIX}/mlflow/artifacts/")
        for c in made
    )
    # Every MLflow call the steps made, as the sagemaker-mlflow action the managed
    # server authorises it by, allowed on the platform's tracking server.
    server_arn = mlflow_server_arn(s3.meta.region_name)
    mlflow_calls = mlflow_requests(by_steps, server_arn)
    assert len(mlflow_calls) > 20, by_steps[-20:]  # the log was read
    denied = sorted(
        {
            str(r) if isinstance(r, str) else f"{r.action} ({r.call})"
            for r in mlflow_calls
            if isinstance(r, str) or not decide(policy, r)[0]
        }
    )
    assert denied == [], "\n".join(denied)
