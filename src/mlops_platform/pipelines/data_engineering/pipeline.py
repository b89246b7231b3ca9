"""data_engineering: new raw files -> contract-checked silver parts -> gold of the
changed periods -> time split (docs/incremental.md)."""

from __future__ import annotations

from kedro.pipeline import Node, Pipeline

from mlops_platform.pipelines.binding import bind
from mlops_platform.pipelines.data_engineering import nodes
from mlops_platform.use_cases.base import UseCase


def create_pipeline(use_case: UseCase) -> Pipeline:
    """Un-namespaced; the registry wraps it in the use case's namespace."""
    contract_output = f"silver_{use_case.silver_name}"
    online = (
        [
            Node(
                bind(nodes.publish_online_features, use_case),
                inputs=[contract_output, "gold_table"],
                outputs=["online_features", "report_online_features"],
                name="publish_online_features",
                tags=["data_engineering", "online_features"],
            )
        ]
        if use_case.online_entities
        else []
    )
    return Pipeline(
        [
            *online,
            Node(
                bind(nodes.ingest_raw_files, use_case),
                inputs=["raw_files", "params:data_engineering"],
                outputs=["raw_batch", "report_ingest", "raw_plan"],
                name="ingest_raw_files",
                tags=["data_engineering"],
            ),
            Node(
                bind(nodes.enforce_data_contract, use_case),
                inputs=[
                    "raw_batch",
                    "raw_files",
                    "raw_plan",
                    "params:data_engineering",
                ],
                outputs=["valid_batch", "quarantine_batch", "report_contract"],
                name="enforce_data_contract",
                tags=["data_engineering"],
            ),
            Node(
                bind(nodes.update_silver, use_case),
                inputs=["raw_plan", "valid_batch", "quarantine_batch", "raw_files"],
                outputs=["silver_quarantine", contract_output, "report_silver"],
                name="update_silver",
                tags=["data_engineering"],
            ),
            Node(
                bind(nodes.build_gold_table, use_case),
                inputs=[contract_output, "gold_previous", "params:data_engineering"],
                outputs=["gold_table", "report_gold"],
                name="build_gold_table",
                tags=["data_engineering"],
            ),
            Node(
                bind(nodes.split_by_time, use_case),
                inputs=["gold_table", "params:data_engineering"],
                outputs=[
                    "gold_train",
                    "gold_validation",
                    "gold_test",
                    "gold_latest",
                    "report_split",
                ],
                name="split_by_time",
                tags=["data_engineering"],
            ),
        ]
    )
