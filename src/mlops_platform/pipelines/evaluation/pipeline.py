"""evaluation: test metrics, baselines, champion vs challenger, gates, promotion."""

from __future__ import annotations

from kedro.pipeline import Node, Pipeline

from mlops_platform.pipelines.binding import bind
from mlops_platform.pipelines.evaluation import nodes
from mlops_platform.use_cases.base import UseCase


def create_pipeline(use_case: UseCase) -> Pipeline:
    return Pipeline(
        [
            Node(
                bind(nodes.evaluate_models, use_case),
                inputs=[
                    "staging_challenger",
                    "champion",
                    "gold_train",
                    "gold_test",
                    "params:evaluation",
                ],
                outputs=["metrics_evaluation", "plot_evaluation"],
                name="evaluate_models",
                tags=["evaluation"],
            ),
            Node(
                bind(nodes.decide_promotion, use_case),
                inputs=["metrics_evaluation", "params:evaluation"],
                outputs="decision_promotion",
                name="decide_promotion",
                tags=["evaluation"],
            ),
            Node(
                bind(nodes.prepare_promotion, use_case),
                inputs=[
                    "decision_promotion",
                    "metrics_evaluation",
                    "staging_challenger",
                    "gold_train",
                    "gold_validation",
                    "gold_test",
                    "params:evaluation",
                    "params:drift",
                ],
                outputs="model_store",
                name="promote_if_better",
                tags=["evaluation", "promotion"],
            ),
        ]
    )
