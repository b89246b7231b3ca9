from mlops_platform.pipelines.data_engineering.pipeline import create_pipeline

__all__ = ["create_pipeline"]
