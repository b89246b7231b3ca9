"""MLOps platform: Kedro pipelines for the whole model lifecycle, per use case."""

__version__ = "0.1.0"
