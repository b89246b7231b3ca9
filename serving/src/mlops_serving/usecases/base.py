"""How a use case is served. The default needs no code: the request model is the
bundle's own input schema (:mod:`mlops_serving.schema`) and the output is rendered
by the model's task. A use case whose clients send something other than the model's
features (parking: raw readings, not a window of rates) adds one module with a request
model and the conversion to feature records."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from pydantic import BaseModel

from mlops_serving.online import OnlineStore
from mlops_serving.schema import FeatureSchema


class RequestError(ValueError):
    """A request that validates field by field but makes no sense as a whole; the
    API answers 422 naming ``field``."""

    def __init__(self, field: str, problem: str, kind: str = "value") -> None:
        super().__init__(f"{field}: {problem}")
        self.field, self.problem, self.kind = field, problem, kind


@dataclass(frozen=True)
class Route:
    """``POST /v1/<use case>/<name>``: what a client sends (``request_model``) and how
    one validated record becomes the model's feature record (``to_record``, given the
    use case's online store when ``needs_online``). Every route answers with the same
    model and the same rendering; ``predict`` (the model's own features) is every use
    case's first route."""

    name: str
    summary: str
    description: str
    request_model: Callable[[FeatureSchema], type[BaseModel]]
    to_record: Callable[[BaseModel, FeatureSchema, OnlineStore | None], dict[str, Any]]
    example: Callable[[FeatureSchema, list[dict[str, Any]]], dict[str, Any]]
    needs_online: bool = False


class UseCase:
    # Entity tables the use case's routes look up in its online store (published by
    # the platform, mlops_platform.online_store), and the version of the feature
    # definitions the service computes (a store of another version is refused).
    online_entities: tuple[str, ...] = ()
    online_definitions: int = 0

    def __init__(self, name: str) -> None:
        self.name = name

    def routes(self) -> list[Route]:
        return [
            Route(
                "predict",
                f"{self.name}: predict one record or a batch",
                "",
                self.request_model,
                lambda validated, schema, _online: self.to_record(validated, schema),
                self.example,
            )
        ]

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
