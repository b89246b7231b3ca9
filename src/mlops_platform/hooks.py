"""Project hooks: MLflow logging beyond kedro-mlflow's run, and the run summary.

Nodes stay pure; this is where their outputs reach MLflow:
- after ``<uc>.train_candidates``: one nested run per candidate (params, validation
  metrics, fit time), then the challenger logged with its signature and an input
  example and registered as ``mlops_platform.<uc>`` in the Model Registry;
- after ``<uc>.detect_drift`` and ``<uc>.evaluate_models``: metrics, reports, figures;
- after ``<uc>.model_store`` is saved with a promotion: the ``champion`` alias moves to
  the registered version of this run (only once the bundle and pointer are written);
- after the pipeline: every use case's summary is printed.
"""

from __future__ import annotations

import logging
import re
import sys
import time
from typing import Any

from kedro.config import MissingConfigException
from kedro.framework.hooks import hook_impl
from kedro.pipeline import Node

from mlops_platform.model_store import PromotionRequest
from mlops_platform.pipeline_registry import stage_of_nodes
from mlops_platform.tracking import (
    close_orphan_runs,
    ensure_champion_alias,
    mark_run_owner,
    register_model,
    registered_model_name,
)
from mlops_platform.use_cases import USE_CASES

logger = logging.getLogger(__name__)


def _split(name: str) -> tuple[str | None, str]:
    ns, _, local = name.rpartition(".")
    return (ns or None), local


def _mlflow() -> Any | None:
    try:
        import mlflow  # noqa: PLC0415
    except ImportError:  # pragma: no cover
        return None
    return mlflow if mlflow.active_run() is not None else None


def _slug(text: str) -> str:
    return re.sub(r"[^\w.\-/]+", "_", text).strip("_")


def gate_metrics(ns: str, report: dict[str, Any]) -> dict[str, float]:
    """The figures the gates judge, as MLflow metrics: each paired comparison's lead
    (challenger minus baseline or champion, on the metric's better side) with its
    interval, and the per-class precision the precision floor reads."""
    out: dict[str, float] = {}
    for name, c in (report.get("comparisons") or {}).items():
        if not isinstance(c, dict) or c.get("difference") is None:
            continue
        # "baseline persistence" -> persistence; "champion v0003" -> champion (one
        # metric across runs; the version is in the report)
        other = (
            name.removeprefix("baseline ")
            if name.startswith("baseline ")
            else (name.split()[0])
        )
        key = f"{ns}.lead_over_{_slug(other)}_{c['metric']}"
        out[key] = float(c["difference"])
        if c.get("interval"):
            out[f"{key}_low"], out[f"{key}_high"] = map(float, c["interval"])
    for who in ("challenger", "champion"):
        for cls, r in ((report.get(who) or {}).get("per_class") or {}).items():
            out[f"{ns}.test_{who}_precision_{_slug(str(cls))}"] = float(r["precision"])
    return out


class LifecycleHooks:
    def __init__(self) -> None:
        self._summaries: dict[str, str] = {}
        # summary lines on what the store did, added under the gate's decision: a
        # refused commit (the champion changed while this run was judging) and the
        # champion in force with its bundle
        self._store_lines: dict[str, str] = {}
        self._owner_marked = False
        self._registry: Any = None
        # progress: node name -> stage, and how many nodes of the run have started
        self._stage_of: dict[str, str] = {}
        self._total = 0
        self._started = 0
        self._began = time.monotonic()
        # each node's span, from its first input loaded to its last output saved
        self._span: dict[str, list[float]] = {}

    @hook_impl
    def after_context_created(self, context: Any) -> None:
        from mlops_platform.aws.model_registry import (  # noqa: PLC0415
            SageMakerModelRegistry,
        )

        try:
            config = context.config_loader["model_registry"]
        except (KeyError, MissingConfigException):
            config = None
        self._registry = SageMakerModelRegistry.from_config(config)

    @hook_impl
    def before_pipeline_run(
        self, run_params: dict[str, Any], pipeline: Any, catalog: Any
    ) -> None:
        """Every run starts by finishing what an interrupted promotion or rollback
        left, for each use case it runs (ModelStore.reconcile)."""
        self._summaries = {}
        self._store_lines = {}
        self._owner_marked = False
        self._stage_of = stage_of_nodes()
        self._total, self._started = len(pipeline.nodes), 0
        self._began = time.monotonic()
        self._span = {}
        names = set(pipeline.datasets())
        for use_case in USE_CASES:
            name = f"{use_case}.model_store"
            if name not in names:
                continue
            try:
                store = catalog.get(name).store
                store.reconcile()  # logs what it repaired
                if self._registry is not None:  # a crash may have left it behind
                    self._registry.follow(store)
            except Exception as exc:  # reported; the run's own steps will say more
                logger.warning("%s: model store not reconciled: %s", use_case, exc)

    @hook_impl
    def before_dataset_loaded(self, dataset_name: str, node: Node) -> None:
        now = time.monotonic()
        self._span.setdefault(node.name, [now, now])

    @hook_impl
    def before_node_run(self, node: Node) -> None:
        """One progress line per node (Kedro's own node and task lines are off in
        conf/logging.yml); once per run, when kedro-mlflow's run is active: tag it
        with this process and close the runs a killed earlier run left RUNNING."""
        now = time.monotonic()
        self._span.setdefault(node.name, [now, now])  # a node without inputs
        self._started += 1
        ns, local = _split(node.name)
        width = len(str(self._total))
        logger.info(
            "[%*d/%d] %s · %s · %s",
            width,
            self._started,
            self._total,
            ns or "-",
            self._stage_of.get(node.name, "-"),
            local,
        )
        if self._owner_marked:
            return
        mlflow = _mlflow()
        if mlflow is None:
            return
        self._owner_marked = True
        run = mlflow.active_run()
        try:
            mark_run_owner(run.info.run_id)
            close_orphan_runs(run.info.experiment_id, run.info.run_id)
        except Exception as exc:  # bookkeeping: never stops the run
            logger.warning("MLflow: orphan runs not checked: %s", exc)

    @hook_impl
    def after_node_run(
        self, node: Node, inputs: dict[str, Any], outputs: dict[str, Any]
    ) -> None:
        now = time.monotonic()
        self._span.setdefault(node.name, [now, now])[1] = now
        ns, local = _split(node.name)
        mlflow = _mlflow()
        if mlflow is None or ns not in USE_CASES:
            return
        if local == "train_candidates":
            self._log_training(mlflow, ns, inputs, outputs)
        elif local == "detect_drift":
            report = outputs[f"{ns}.report_drift"]
            decision = outputs[f"{ns}.decision_drift"]
            mlflow.log_dict(report, f"{ns}/drift_report.json")
            mlflow.set_tag(f"{ns}.drift_decision", decision["reason"][:500])
            if report.get("drift_detected") is not None:
                mlflow.log_metrics(
                    {
                        f"{ns}.drift_detected": float(report["drift_detected"]),
                        f"{ns}.drifted_feature_share": float(report["drifted_share"]),
                    }
                )
        elif local == "evaluate_models":
            report = outputs[f"{ns}.metrics_evaluation"]
            mlflow.log_dict(report, f"{ns}/evaluation_report.json")
            mlflow.log_figure(outputs[f"{ns}.plot_evaluation"], f"{ns}/evaluation.png")
            names = list(report.get("metrics", {}))
            metrics = {}
            for who in ("challenger", "champion"):
                r = report.get(who) or {}
                for k in names:
                    if k in r:
                        metrics[f"{ns}.test_{who}_{k}"] = float(r[k])
            for name, b in report["baselines"].items():
                for k in names:
                    metrics[f"{ns}.test_baseline_{name}_{k}"] = float(b[k])
            metrics.update(gate_metrics(ns, report))
            mlflow.log_metrics(metrics)
        elif local == "decide_promotion":
            decision = outputs[f"{ns}.decision_promotion"]
            mlflow.set_tag(f"{ns}.promotion", decision["reason"][:500])

    def _log_training(
        self, mlflow: Any, ns: str, inputs: dict[str, Any], outputs: dict[str, Any]
    ) -> None:
        from mlops_platform.flavours import get_flavour  # noqa: PLC0415

        report = outputs[f"{ns}.report_training"]
        challenger = outputs[f"{ns}.staging_challenger"]
        if not report.get("trained"):
            mlflow.set_tag(f"{ns}.training", report.get("reason", "skipped")[:500])
            return
        for name, r in report["candidates"].items():
            with mlflow.start_run(run_name=f"{ns}.{name}", nested=True):
                mlflow.set_tags(
                    {
                        "use_case": ns,
                        "candidate": name,
                        "flavour": r.get("flavour", ""),
                        "challenger": str(name == report["challenger"]),
                    }
                )
                mlflow.log_params({k: str(v)[:250] for k, v in r["params"].items()})
                mlflow.log_metrics(
                    {f"validation_{k}": v for k, v in r["validation"].items()}
                )
                mlflow.log_metric("fit_seconds", r["fit_seconds"])
                fit = r.get("fit") or {}
                for step, value in enumerate(fit.get("val_loss_history", [])):
                    mlflow.log_metric("val_loss", value, step=step)
        use_case = USE_CASES[ns]
        example = use_case.model_input(inputs[f"{ns}.gold_validation"].head(5))
        uri = get_flavour(challenger.flavour or "sklearn").log_mlflow(
            challenger.model, f"{ns}_challenger", example
        )
        register_model(uri, registered_model_name(ns))
        mlflow.set_tag(f"{ns}.challenger", challenger.name)
        # after_node_run comes before Kedro saves the outputs: the staged challenger
        # carries the run its registered version belongs to
        challenger.registered_by_run = mlflow.active_run().info.run_id

    @hook_impl
    def after_dataset_saved(self, dataset_name: str, data: Any, node: Node) -> None:
        now = time.monotonic()
        self._span.setdefault(node.name, [now, now])[1] = now
        ns, local = _split(dataset_name)
        if ns not in USE_CASES:
            return
        if local.startswith("plot_"):
            import matplotlib.pyplot as plt  # noqa: PLC0415

            plt.close(data)  # saved: free it (long sessions would accumulate figures)
        elif local == "summary_lifecycle":
            self._summaries[ns] = data
        elif local == "model_store" and isinstance(data, PromotionRequest):
            mlflow = _mlflow()
            run_id = mlflow.active_run().info.run_id if mlflow is not None else None
            store = data.outcome.get("store")
            if run_id is not None:
                # promoted, kept or refused: the alias follows the pointer (and an
                # alias a crash left behind is repaired here, on the next run)
                ensure_champion_alias(ns, store)
            lines = []
            if "refused" in data.outcome:
                lines.append(
                    "- commit: NOT promoted; the store refused the promotion at "
                    f"commit time: {data.outcome['refused']}"
                )
            version = store.current_version() if store is not None else None
            if store is not None and version is not None:
                lines.append(
                    f"- champion now: {version} "
                    f"(bundle {store.root}/versions/{ns}/{version})"
                )
            self._store_lines[ns] = "\n".join(lines)
            if self._registry is not None and store is not None:
                # promoted, kept or refused: the registry follows the pointer
                self._registry.follow(store, run_id, data.reason)

    @hook_impl
    def after_pipeline_run(self) -> None:
        logger.info(
            "all %d nodes done in %.0f s", self._total, time.monotonic() - self._began
        )
        if self._span:  # where the time went: loading, running and saving each node
            spans = sorted(
                ((end - start, name) for name, (start, end) in self._span.items()),
                reverse=True,
            )
            logger.info(
                "node seconds (inputs loaded, run, outputs saved): %s",
                ", ".join(f"{n} {s:.1f}" for s, n in spans),  # namespaced names
            )
        for ns, text in self._summaries.items():
            extra = self._store_lines.get(ns)
            sys.stdout.write("\n" + text + (extra + "\n" if extra else ""))
        sys.stdout.flush()
