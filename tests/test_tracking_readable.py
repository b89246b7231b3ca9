"""What a reviewer reads in MLflow (issue 17, item 5), piece by piece, on a real
MLflow SQLite store: run names, flattened parameters, the gates' figures as
metrics, the experiment's kind and the stray ``Default`` experiment, model versions
linked to their bundle, and the UI's address.

The hook's wiring into a real ``kedro run`` and the UI rendering that address in a
browser are checked in ``tests/test_integration.py``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace

import mlflow
import pytest
from mlflow import MlflowClient
from mlflow.entities import ViewType

from mlops_platform.hooks import gate_metrics
from mlops_platform.params import DriftParams, TrainingParams
from mlops_platform.pipeline_registry import describe_run, register_pipelines
from mlops_platform.tracking import (
    EXPERIMENT_KIND,
    describe_model_version,
    flatten_params,
    registered_model_name,
    tidy_experiment,
    ui_url,
)
from mlops_platform.use_cases import USE_CASES
from tests.conftest import REPO


@pytest.fixture
def store(tmp_path):
    uri = f"sqlite:///{tmp_path}/mlflow.db"
    mlflow.set_tracking_uri(uri)
    yield uri, MlflowClient(uri)
    mlflow.set_tracking_uri(None)


def test_parameters_validated_into_models_are_flattened_to_leaves():
    training = TrainingParams.model_validate(
        {
            "selection_metric": "macro_f1",
            "candidates": {
                "logistic_regression": {"params": {"C": 0.5}},
            },
        }
    )  # fmt: skip
    flat = flatten_params(
        {"retail.drift": DriftParams(p_value=0.02), "retail.training": training}
    )
    assert flat["retail.drift.p_value"] == "0.02"
    assert flat["retail.drift.max_performance_drop"] == "None"
    assert flat["retail.training.selection_metric"] == "macro_f1"
    assert flat["retail.training.candidates.logistic_regression.params.C"] == "0.5"
    # no value is a model's repr, and no key a model with its fields inside
    assert not any("Params(" in v or "=" in v for v in flat.values()), flat
    assert flatten_params({"a": {}, "b": [1, 2]}) == {"a": "{}", "b": "[1, 2]"}


def test_a_run_is_named_after_its_use_cases_stages_and_time():
    pipelines = register_pipelines()
    when = datetime(2026, 12, 4, 21, 9, tzinfo=UTC)
    names = ", ".join(USE_CASES)
    assert describe_run(pipelines["__default__"], when) == (
        f"{names}: all stages · 2026-12-04 21:09 UTC"
    )
    some = pipelines["retail.drift"] + pipelines["retail.training"]
    assert describe_run(some, when) == "retail: drift, training · 2026-12-04 21:09 UTC"
    # use cases with different stage sets are named apart
    mixed = pipelines["retail"] + pipelines["parking.evaluation"]
    assert describe_run(mixed, when).startswith(
        "retail: all stages; parking: evaluation"
    )
    # a run from one node names that node's stage
    one = pipelines["__default__"].only_nodes("sentiment.detect_drift")
    assert describe_run(one, when).startswith("sentiment: drift ·")


def test_gate_figures_are_metrics_with_their_intervals():
    report = {
        "comparisons": {
            "baseline customer_sensitivity": {
                "metric": "macro_f1",
                "difference": 0.078,
                "interval": [0.047, 0.11],
            },
            "champion v0003": {"metric": "macro_f1", "difference": -0.01,
                               "interval": [-0.03, 0.01]},
        },
        "challenger": {"per_class": {"LA": {"precision": 0.52},
                                     "UM": {"precision": 0.6}}},
        "champion": None,
    }  # fmt: skip
    assert gate_metrics("retail", report) == {
        "retail.lead_over_customer_sensitivity_macro_f1": 0.078,
        "retail.lead_over_customer_sensitivity_macro_f1_low": 0.047,
        "retail.lead_over_customer_sensitivity_macro_f1_high": 0.11,
        # one metric across runs, whatever the champion's version
        "retail.lead_over_champion_macro_f1": -0.01,
        "retail.lead_over_champion_macro_f1_low": -0.03,
        "retail.lead_over_champion_macro_f1_high": 0.01,
        "retail.test_challenger_precision_LA": 0.52,
        "retail.test_challenger_precision_UM": 0.6,
    }


def test_the_empty_default_experiment_goes_and_the_project_one_is_classic(store):
    uri, client = store
    project = client.create_experiment("mlops_platform")
    tidy_experiment(client, project, uri)
    assert client.get_experiment(project).tags[EXPERIMENT_KIND[0]] == EXPERIMENT_KIND[1]
    assert client.get_experiment("0").lifecycle_stage == "deleted"
    active = [e.name for e in client.search_experiments(view_type=ViewType.ACTIVE_ONLY)]
    assert active == ["mlops_platform"]
    tidy_experiment(client, project, uri)  # twice: nothing more to do, no error


def test_a_default_experiment_with_runs_is_kept(store):
    uri, client = store
    client.create_run("0")
    project = client.create_experiment("mlops_platform")
    tidy_experiment(client, project, uri)
    assert client.get_experiment("0").lifecycle_stage == "active"


def test_on_a_shared_server_the_default_experiment_is_left_alone(store):
    # Substituted: no tracking server runs here, so the client is this SQLite store
    # and only the URI the rule reads is a server's. The rule reads nothing else.
    _, client = store
    project = client.create_experiment("mlops_platform")
    tidy_experiment(client, project, "https://mlflow.example.internal")
    assert client.get_experiment("0").lifecycle_stage == "active"


def test_a_promoted_version_names_its_bundle(store, tmp_path):
    _, client = store
    name = registered_model_name("retail")
    client.create_registered_model(name)
    run = client.create_run(client.create_experiment("e")).info.run_id
    registered = client.create_model_version(name, f"runs:/{run}/m", run_id=run).version
    manifest = {
        "version": "v0002",
        "data_hash": "ab" * 32,
        "model_name": "hist_gradient_boosting",
        "model": {"flavor": "sklearn"},
        "training_periods": [200607, 200608, 200616],
        "test_periods": [200618],
        "created_at": "2026-12-04T21:12:43Z",
        "previous_champion": "v0001",
    }
    fake_store = SimpleNamespace(root=str(tmp_path / "models"))
    describe_model_version("retail", registered, fake_store, "v0002", manifest)
    version = client.get_model_version(name, registered)
    assert version.tags["bundle_version"] == "v0002"
    assert version.tags["data_hash"] == "ab" * 32
    assert version.tags["bundle"] == f"{tmp_path}/models/versions/retail/v0002"
    assert version.tags["training_periods"] == "200607 to 200616"
    assert "hist_gradient_boosting (sklearn)" in version.description
    assert "previous champion v0001" in version.description


def test_the_ui_address_opens_the_runs_table_in_the_classic_view(store, tmp_path):
    uri, client = store
    base = "http://127.0.0.1:5000"
    missing = f"sqlite:///{tmp_path}/none/mlflow.db"
    assert ui_url(missing, "mlops_platform", base).endswith(
        "/#/?workflowType=machine_learning"
    )
    assert not (tmp_path / "none").exists()  # asking did not create a store
    project = client.create_experiment("mlops_platform")
    assert ui_url(uri, "mlops_platform", base) == (
        f"{base}/#/experiments/{project}/runs?workflowType=machine_learning"
    )


def test_a_challenger_is_logged_and_registered_in_one_line_of_ours(
    store, capfd, caplog
):
    """The sklearn flavour logs the model and the project registers it: MLflow's
    "Successfully registered model" / "Created version" prints (stderr, outside
    logging) and mlflow.sklearn's pickle advice are replaced by one log line. Any
    other warning of mlflow.sklearn still shows (the filter drops one message)."""
    import logging

    import pandas as pd
    from sklearn.linear_model import LogisticRegression

    from mlops_platform.flavours import get_flavour
    from mlops_platform.tracking import register_model, without_pickle_advice

    _, client = store
    x = pd.DataFrame({"a": [0.0, 1.0, 2.0, 3.0], "b": [1.0, 0.0, 1.0, 0.0]})
    model = LogisticRegression().fit(x, [0, 1, 0, 1])
    name = registered_model_name("retail")
    caplog.set_level(logging.INFO, logger="mlops_platform")
    capfd.readouterr()
    with mlflow.start_run():
        uri = get_flavour("sklearn").log_mlflow(model, "retail_challenger", x.head(2))
        assert register_model(uri, name) == "1"
        assert register_model(uri, name) == "2"
    printed = capfd.readouterr()
    said = printed.out + printed.err + caplog.text
    assert "Successfully registered model" not in said
    assert "Created version" not in said
    assert "pickle or cloudpickle" not in said
    assert f"MLflow: {name} version 2 registered" in caplog.text
    versions = client.search_model_versions(f"name='{name}'")
    assert sorted(str(v.version) for v in versions) == ["1", "2"]
    # the stream MLflow prints to is on again, and other warnings pass the filter
    from mlflow.utils.logging_utils import MLFLOW_LOGGING_STREAM

    assert MLFLOW_LOGGING_STREAM.enabled
    seen: list[str] = []
    handler = logging.Handler()
    handler.emit = lambda r: seen.append(r.getMessage())  # type: ignore[method-assign]
    target = logging.getLogger("mlflow.sklearn")
    target.addHandler(handler)
    try:
        with without_pickle_advice():
            target.warning(
                "Saving scikit-learn models in the pickle or cloudpickle format "
                "requires exercising caution (MLflow's words)"
            )
            target.warning("another warning")
    finally:
        target.removeHandler(handler)
    assert seen == ["another warning"]


def test_levels_a_library_sets_on_import_give_way_to_the_projects(monkeypatch):
    """mlflow, kedro-mlflow and Great Expectations set INFO on their loggers when
    imported, after conf/logging.yml was applied; reapply puts the file's levels back
    (the real file's levels, the real libraries' loggers)."""
    import logging

    import great_expectations.data_context.types.base  # noqa: F401
    import yaml

    from mlops_platform import log_levels

    conf = yaml.safe_load((REPO / "conf/logging.yml").read_text())
    levels = {k: v["level"] for k, v in conf["loggers"].items() if "level" in v}
    monkeypatch.setattr(log_levels, "_configured", lambda: levels)
    gx_base = logging.getLogger("great_expectations.data_context.types.base")
    saved = {n: logging.getLogger(n).level for n in [*levels, gx_base.name]}
    try:
        logging.getLogger("mlflow").setLevel(logging.INFO)  # as their imports do
        logging.getLogger("kedro_mlflow").setLevel(logging.INFO)
        gx_base.setLevel(logging.INFO)
        changed = log_levels.reapply()
        assert {"mlflow", "kedro_mlflow", gx_base.name} <= set(changed)
        assert not gx_base.isEnabledFor(logging.INFO)
        assert not logging.getLogger("mlflow.store.db.utils").isEnabledFor(logging.INFO)
        assert logging.getLogger("mlops_platform.hooks").isEnabledFor(logging.INFO)
        assert log_levels.reapply() == []  # nothing drifted since
    finally:
        for name, level in saved.items():
            logging.getLogger(name).setLevel(level)
