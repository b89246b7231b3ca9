"""HTTP inference for models promoted by mlops_platform (see docs/model_bundle.md).

This package never imports Kedro, MLflow or ``mlops_platform``: it reads the model
store's bundle contract from a local folder or ``s3://``.
"""

__version__ = "0.1.0"
