"""How a use case is served. The default needs no code: the request model is the
bundle's own input schema (:mod:`mlops_serving.schema`) and the output is rendered
by the model's task. A use case whose clients send something other than the model's
features (parking: raw readings, not a window of rates) adds one module with a request
model and the conversion to feature records."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from pydantic import BaseModel

from mlops_serving.schema import FeatureSchema


class RequestError(ValueError):
    """A request that validates field by field but makes no sense as a whole; the
    API answers 422 naming ``field``."""

    def __init__(self, field: str, problem: str, kind: str = "value") -> None:
        super().__init__(f"{field}: {problem}")
        self.field, self.problem, self.kind = field, problem, kind


class UseCase:
    def __init__(self, name: str) -> None:
        self.name = name

    def request_model(self, schema: FeatureSchema) -> type[BaseModel]:
        """The model of one record of a request (default: the model's features)."""
        return schema.record_model

    def to_record(self, validated: BaseModel, schema: FeatureSchema) -> dict[str, Any]:
        """One validated request record -> the model's feature record. Raise
        :class:`RequestError` for a request that cannot be answered."""
        return validated.__dict__

    def example(
        self, schema: FeatureSchema, golden_rows: list[dict[str, Any]]
    ) -> dict[str, Any]:
        """A valid request record for the API docs (default: a golden row)."""
        return schema.flat_record(golden_rows[0]) if golden_rows else {}

    def render(
        self,
        outputs: np.ndarray,
        schema: FeatureSchema,
        records: Sequence[dict[str, Any]] = (),
    ) -> list[dict[str, Any]]:
        """The model's outputs ``[n, k]`` as one answer per record, by task
        (``records``: the feature records, for a use case that echoes context)."""
        if schema.task == "classification":
            classes, labels = schema.classes, schema.class_labels
            best = outputs.argmax(axis=1)
            return [
                {
                    "class": classes[k],
                    "label": labels.get(classes[k], classes[k]),
                    "probability": row[k],
                    "probabilities": dict(zip(classes, row, strict=True)),
                }
                for row, k in zip(outputs.tolist(), best.tolist(), strict=True)
            ]
        return [{"prediction": v, "unit": schema.unit} for v in outputs[:, 0].tolist()]

    def emf_metrics(self, predictions: Sequence[dict[str, Any]]) -> dict[str, float]:
        """Use-case metrics for CloudWatch besides latency and count."""
        return {}
