"""kedro-mlflow's hook, with what a reviewer reads in MLflow made readable.

kedro-mlflow starts one MLflow run per ``kedro run`` and logs every parameter a
node reads. Used as is in this project, a reviewer saw a run named ``__default__``,
parameters logged as Python reprs (``split=SplitParams(validation_periods=1, ...)``:
Kedro validates parameters into Pydantic models before kedro-mlflow sees them, and
kedro-mlflow flattens only dicts), a ``runner`` tag holding an object's repr, an
empty ``Default`` experiment beside the project's, and MLflow 3's GenAI overview
when the experiment opened. This subclass (registered in ``settings.py`` instead of
the plugin's own instance) changes only those:

- the run is named after what it runs: the use cases, the stages, the time
  (:func:`mlops_platform.pipeline_registry.describe_run`);
- parameters are flattened to one MLflow parameter per leaf
  (``retail.drift.p_value``), written in one batch per node;
- the experiment is tagged as classic model development, and the empty ``Default``
  experiment the local SQLite store creates is deleted
  (:func:`mlops_platform.tracking.tidy_experiment`);
- a relative SQLite store (``sqlite:///data/mlflow/mlflow.db``) is the project's
  wherever the session starts: a notebook under ``notebooks/`` made a second one.

Everything else (starting, resuming and ending the run) is kedro-mlflow's.
"""

from __future__ import annotations

import logging
import re
from typing import Any

import mlflow
from kedro.framework.hooks import hook_impl
from kedro_mlflow.framework.hooks.mlflow_hook import MlflowHook
from mlflow.utils.validation import MAX_PARAM_VAL_LENGTH

from mlops_platform.log_levels import reapply
from mlops_platform.tracking import (
    anchored_tracking_uri,
    flatten_params,
    tidy_experiment,
)

logger = logging.getLogger(__name__)


class ReadableMlflowHook(MlflowHook):
    def __init__(self) -> None:
        super().__init__()
        self._logged: set[str] = set()

    @hook_impl
    def after_context_created(self, context: Any) -> None:
        reapply()  # mlflow and kedro-mlflow set INFO on import, after conf/logging.yml
        self._anchor_tracking_uri(context)
        super().after_context_created(context)
        if self._already_active_mlflow:
            # the caller (a SageMaker step) set the run and its experiment up
            return
        experiment = self.mlflow_config.tracking.experiment._experiment
        tidy_experiment(
            self.mlflow_config.server._mlflow_client,
            experiment.experiment_id,
            self.mlflow_config.server.mlflow_tracking_uri,
        )

    @staticmethod
    def _anchor_tracking_uri(context: Any) -> None:
        """A relative SQLite store is the project's: anchor it at the project, not at
        the working directory (a notebook under ``notebooks/`` made a second store
        there). The loader's explicit value is what kedro-mlflow then reads."""
        from kedro.config import MissingConfigException  # noqa: PLC0415

        loader = context.config_loader
        try:
            conf = loader["mlflow"]
        except (KeyError, MissingConfigException):
            return
        server = conf.get("server") or {}
        uri = server.get("mlflow_tracking_uri")
        anchored = anchored_tracking_uri(uri, context.project_path)
        if anchored != uri:
            server["mlflow_tracking_uri"] = anchored
            conf["server"] = server
            loader["mlflow"] = conf

    @hook_impl
    def before_pipeline_run(
        self, run_params: dict[str, Any], pipeline: Any, catalog: Any
    ) -> None:
        from mlops_platform.pipeline_registry import describe_run  # noqa: PLC0415

        self._logged = set()
        run = self.mlflow_config.tracking.run
        configured = run.name
        if configured is None:
            run.name = describe_run(pipeline)
        try:
            super().before_pipeline_run(run_params, pipeline, catalog)
        finally:
            run.name = configured
        active = mlflow.active_run()
        if active is not None:
            logger.info(
                "MLflow run '%s' (%s): make mlflow-ui shows it",
                active.info.run_name,
                active.info.run_id,
            )
        # Kedro passes the runner as str(runner): an object's repr, address included
        runner = re.match(r"<([\w.]+) object at", str(run_params.get("runner")))
        if mlflow.active_run() is not None and runner:
            mlflow.set_tag("runner", runner.group(1).rsplit(".", 1)[-1])

    @hook_impl
    def before_node_run(
        self, node: Any, catalog: Any, inputs: dict[str, Any], is_async: bool
    ) -> None:
        params = {
            k: v
            for k, v in inputs.items()
            if k.startswith("params:") or k == "parameters"
        }
        # the parent resumes the run (and would log the reprs: it gets no parameters)
        rest = {k: v for k, v in inputs.items() if k not in params}
        super().before_node_run(node, catalog, rest, is_async)
        if not self._is_mlflow_enabled or not params:
            return
        flat = flatten_params({k.removeprefix("params:"): v for k, v in params.items()})
        fresh = {
            self.sanitize_param_name(k): v
            for k, v in flat.items()
            if self.sanitize_param_name(k) not in self._logged
        }
        short = {k: v for k, v in fresh.items() if len(v) <= MAX_PARAM_VAL_LENGTH}
        if short:
            mlflow.log_params(short)
        for k, v in fresh.items():
            if k not in short:  # kedro-mlflow's long_params_strategy decides
                self._log_param(k, v)
        self._logged.update(fresh)
