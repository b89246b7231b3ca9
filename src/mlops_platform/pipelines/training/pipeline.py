"""training: candidates as scikit-learn Pipelines, gated by the drift decision."""

from __future__ import annotations

from kedro.pipeline import Node, Pipeline

from mlops_platform.pipelines.binding import bind
from mlops_platform.pipelines.training import nodes
from mlops_platform.use_cases.base import UseCase


def create_pipeline(use_case: UseCase) -> Pipeline:
    return Pipeline(
        [
            Node(
                bind(nodes.train_candidates, use_case),
                inputs=[
                    "gold_train",
                    "gold_validation",
                    "decision_drift",
                    "params:training",
                ],
                outputs=["staging_challenger", "report_training"],
                name="train_candidates",
                tags=["training"],
            ),
        ]
    )
