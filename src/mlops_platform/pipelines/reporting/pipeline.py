"""reporting: one summary per run from every stage's report (terminal layer)."""

from __future__ import annotations

from kedro.pipeline import Node, Pipeline

from mlops_platform.pipelines.binding import bind
from mlops_platform.pipelines.reporting import nodes
from mlops_platform.use_cases.base import UseCase


def create_pipeline(use_case: UseCase) -> Pipeline:
    return Pipeline(
        [
            Node(
                bind(nodes.summarise_lifecycle, use_case),
                inputs=[
                    "report_ingest",
                    "report_contract",
                    "report_split",
                    "decision_drift",
                    "report_training",
                    "metrics_evaluation",
                    "decision_promotion",
                ],
                outputs="summary_lifecycle",
                name="summarise_lifecycle",
                tags=["reporting"],
            ),
        ]
    )
