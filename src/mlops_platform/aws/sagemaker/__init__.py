"""SageMaker Pipelines compiled from the Kedro pipelines (on top of kedro-sagemaker)."""
