from mlops_platform.pipelines.drift.pipeline import create_pipeline

__all__ = ["create_pipeline"]
