"""drift: compare the newest gold batch with the champion's training data."""

from __future__ import annotations

from kedro.pipeline import Node, Pipeline

from mlops_platform.pipelines.binding import bind
from mlops_platform.pipelines.drift import nodes
from mlops_platform.use_cases.base import UseCase


def create_pipeline(use_case: UseCase) -> Pipeline:
    return Pipeline(
        [
            Node(
                bind(nodes.detect_drift, use_case),
                inputs=["gold_latest", "champion", "params:drift"],
                outputs=["report_drift", "decision_drift"],
                name="detect_drift",
                tags=["drift"],
            ),
            Node(
                bind(nodes.render_drift_report, use_case),
                inputs=["report_drift", "gold_latest", "champion"],
                outputs=["summary_drift_report", "plot_drift_report"],
                name="render_drift_report",
                tags=["drift"],
            ),
        ]
    )
