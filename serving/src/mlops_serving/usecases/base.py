"""The interface a served use case implements, and the tabular classifier base.

A use case owns its request model (typed fields, documented in OpenAPI with an
example), the conversion of validated records into model columns, the check that a
bundle's input schema is the one its request model describes, and how one prediction
is rendered.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, create_model

from mlops_serving.runtime import Columns

MAX_STRING = 64
MAX_ABS_NUMBER = 1e30


class SchemaMismatch(ValueError):
    """A bundle expects inputs this service's request model does not describe."""


class UseCase(ABC):
    name: str
    task: str
    record_model: type[BaseModel]
    example: dict[str, Any]

    @abstractmethod
    def columns(self, records: Sequence[dict[str, Any]]) -> Columns: ...

    @abstractmethod
    def check_schema(self, input_schema: dict[str, Any]) -> None: ...

    @abstractmethod
    def render(
        self, proba: np.ndarray, classes: Sequence[str], labels: dict[str, str]
    ) -> list[dict[str, Any]]: ...

    def emf_metrics(self, predictions: Sequence[dict[str, Any]]) -> dict[str, float]:
        """Use-case metrics for CloudWatch besides latency and count."""
        return {}


class TabularClassifier(UseCase):
    """Raw features in, class code, label and probabilities out."""

    task = "classification"

    def __init__(
        self,
        name: str,
        numeric: Sequence[str],
        categorical: Sequence[str],
        example: dict[str, Any],
        descriptions: dict[str, str] | None = None,
        title: str | None = None,
    ) -> None:
        self.name = name
        self.numeric = tuple(numeric)
        self.categorical = tuple(categorical)
        self.features = [*self.numeric, *self.categorical]
        self.example = example
        descriptions = descriptions or {}
        fields: dict[str, Any] = {}
        for col in self.numeric:
            fields[col] = (
                float | None,
                Field(
                    ...,
                    ge=-MAX_ABS_NUMBER,
                    le=MAX_ABS_NUMBER,
                    allow_inf_nan=False,
                    description=descriptions.get(col, "number; null if missing"),
                ),
            )
        for col in self.categorical:
            fields[col] = (
                str | None,
                Field(
                    ...,
                    max_length=MAX_STRING,
                    description=descriptions.get(
                        col,
                        "category; null if missing; an unseen value is scored as the "
                        "model was trained to score unknowns, and counted",
                    ),
                ),
            )
        self.record_model = create_model(
            title or f"{name.title()}Record",
            __config__=ConfigDict(
                extra="forbid",
                strict=True,
                json_schema_extra={"examples": [example]},
            ),
            **fields,
        )
        if set(example) != set(self.features):
            raise ValueError(f"{name}: example fields differ from the features")

    def columns(self, records: Sequence[dict[str, Any]]) -> Columns:
        numeric = {
            col: np.array(
                [math.nan if r[col] is None else r[col] for r in records],
                dtype=np.float64,
            )
            for col in self.numeric
        }
        categorical = {col: [r[col] for r in records] for col in self.categorical}
        return Columns(numeric=numeric, categorical=categorical, n_rows=len(records))

    def check_schema(self, input_schema: dict[str, Any]) -> None:
        got = {
            f["name"]: ("number" if f["type"] == "number" else "category")
            for f in input_schema.get("fields", [])
        }
        want = {c: "number" for c in self.numeric} | {
            c: "category" for c in self.categorical
        }
        if got != want:
            missing = sorted(set(want) - set(got))
            extra = sorted(set(got) - set(want))
            retyped = sorted(c for c in set(got) & set(want) if got[c] != want[c])
            raise SchemaMismatch(
                f"{self.name}: the bundle's input schema does not match this "
                f"service's request model (not in bundle: {missing}; only in bundle: "
                f"{extra}; different type: {retyped})"
            )

    def render(
        self, proba: np.ndarray, classes: Sequence[str], labels: dict[str, str]
    ) -> list[dict[str, Any]]:
        best = proba.argmax(axis=1)
        out = []
        for row, k in zip(proba.tolist(), best.tolist(), strict=True):
            code = classes[k]
            out.append(
                {
                    "class": code,
                    "label": labels.get(code, code),
                    "probabilities": dict(zip(classes, row, strict=True)),
                }
            )
        return out
