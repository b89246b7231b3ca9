"""SageMaker Pipelines compiled from the Kedro pipelines (``mlops-sagemaker``)."""
