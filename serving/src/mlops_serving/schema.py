"""The request shape of a model, built from its bundle's ``input_schema.json``.

The bundle carries one definition of the model's inputs (written by the pipeline from
the use case's typed feature schema): each field's kind (numeric, categorical, text,
window), description, the categories and ranges seen in training, and the task. The
service builds its request model, its column conversion and its OpenAPI document from
it when a bundle loads, so no feature list is written in this package, and a new model
with new inputs brings its own request model when it is swapped in.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from operator import itemgetter
from typing import Annotated, Any

import numpy as np
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, create_model

MAX_STRING = 64
MAX_TEXT = 100_000
MAX_ABS_NUMBER = 1e30


class SchemaError(ValueError):
    """An input schema the service cannot build a request model from."""


@dataclass(frozen=True)
class Columns:
    """Validated records as model columns: the numeric fields as one ``[n, k]``
    matrix (NaN for missing; columns in ``numeric_names`` order), categories
    (``None`` for missing), texts and windows (``[n, length]``, their steps named in
    ``window_columns``). :attr:`numeric` gives every numeric column by name."""

    categorical: dict[str, list[str | None]]
    n_rows: int
    matrix: np.ndarray | None = None
    numeric_names: tuple[str, ...] = ()
    windows: dict[str, np.ndarray] = field(default_factory=dict)
    window_columns: dict[str, tuple[str, ...]] = field(default_factory=dict)
    text: dict[str, list[str]] = field(default_factory=dict)

    @classmethod
    def concat(cls, parts: Sequence[Columns]) -> Columns:
        """The rows of ``parts`` (columns of one schema), one after another."""
        first = parts[0]
        matrices = [p.matrix for p in parts if p.matrix is not None]
        return cls(
            categorical={
                f: [v for p in parts for v in p.categorical[f]]
                for f in first.categorical
            },
            n_rows=sum(p.n_rows for p in parts),
            matrix=np.vstack(matrices) if matrices else None,
            numeric_names=first.numeric_names,
            windows={
                w: np.vstack([p.windows[w] for p in parts]) for w in first.windows
            },
            window_columns=first.window_columns,
            text={f: [v for p in parts for v in p.text[f]] for f in first.text},
        )

    @cached_property
    def numeric(self) -> dict[str, np.ndarray]:
        """Each numeric field and window step as an ``[n]`` column (views)."""
        out: dict[str, np.ndarray] = {}
        if self.matrix is not None:
            out.update(zip(self.numeric_names, self.matrix.T, strict=True))
        for name, values in self.windows.items():
            out.update(zip(self.window_columns[name], values.T, strict=True))
        return out


@dataclass(frozen=True)
class FeatureSchema:
    """What a bundle says about its inputs and outputs."""

    use_case: str
    task: str
    output: str
    fields: list[dict[str, Any]]
    classes: list[str]
    class_labels: dict[str, str]
    unit: str
    record_model: type[BaseModel]
    categories: dict[str, frozenset[str]]
    # use-case settings the bundle records (parking: horizon_minutes, ...)
    options: dict[str, Any] = field(default_factory=dict)
    #: the fields of each kind, in input-schema order
    numeric_names: tuple[str, ...] = ()
    categorical_names: tuple[str, ...] = ()
    text_names: tuple[str, ...] = ()
    window_columns: dict[str, tuple[str, ...]] = field(default_factory=dict)

    @cached_property
    def _numeric_row(self) -> Callable[[dict[str, Any]], tuple[Any, ...]]:
        """A record's numeric values in ``numeric_names`` order (one C call)."""
        names = self.numeric_names
        if len(names) == 1:  # itemgetter of one name answers the value, not a tuple
            return lambda r: (r[names[0]],)
        return itemgetter(*names)

    @property
    def column_names(self) -> set[str]:
        """Every column the records provide (a window's steps by their names)."""
        out: set[str] = set()
        for f in self.fields:
            out.update(f["columns"] if f["kind"] == "window" else [f["name"]])
        return out

    def columns(self, records: Sequence[dict[str, Any]]) -> Columns:
        n = len(records)
        matrix = None
        if self.numeric_names:
            # One call for every numeric field: an [n, k] matrix (None -> NaN in
            # numpy's float conversion), fed as it is to a stacked graph.
            row = self._numeric_row
            matrix = np.array([row(r) for r in records], dtype=np.float64).reshape(
                n, len(self.numeric_names)
            )
        windows = {
            name: np.array([r[name] for r in records], dtype=np.float64).reshape(
                n, len(cols)
            )
            for name, cols in self.window_columns.items()
        }
        return Columns(
            categorical={f: [r[f] for r in records] for f in self.categorical_names},
            n_rows=n,
            matrix=matrix,
            numeric_names=self.numeric_names,
            windows=windows,
            window_columns=self.window_columns,
            text={f: [r[f] for r in records] for f in self.text_names},
        )

    def flat_record(self, record: dict[str, Any]) -> dict[str, Any]:
        """A gold-row record (window steps as columns) as this schema's record."""
        out: dict[str, Any] = {}
        for f in self.fields:
            if f["kind"] == "window":
                out[f["name"]] = [record[c] for c in f["columns"]]
            else:
                out[f["name"]] = record[f["name"]]
        return out


def _not_blank(text: str) -> str:
    if not text.strip():
        raise ValueError("empty or only whitespace")
    return text


def _kind(f: dict[str, Any]) -> str:
    # Format 2 bundles have "type" only (number / category).
    if "kind" in f:
        return str(f["kind"])
    return {"number": "numeric", "category": "categorical"}.get(f.get("type", ""), "")


def _seen_range(field: dict[str, Any]) -> str:
    """``; seen in training: 0 to 1`` from the bundle's recorded range, if any."""
    low, high = field.get("min"), field.get("max")
    if not isinstance(low, int | float) or not isinstance(high, int | float):
        return ""
    return f"; seen in training: {low:.4g} to {high:.4g}"


def build_schema(input_schema: dict[str, Any], use_case: str) -> FeatureSchema:
    raw_fields = input_schema.get("fields")
    if not isinstance(raw_fields, list) or not raw_fields:
        raise SchemaError(f"{use_case}: input_schema.json has no fields")
    fields: list[dict[str, Any]] = []
    model_fields: dict[str, Any] = {}
    for raw in raw_fields:
        f = {**raw, "kind": _kind(raw)}
        name = f.get("name")
        if not isinstance(name, str) or not name.isidentifier():
            raise SchemaError(f"{use_case}: field name {name!r} is not an identifier")
        description = f.get("description", "")
        if f["kind"] == "numeric":
            model_fields[name] = (
                float | None,
                Field(
                    ...,
                    ge=-MAX_ABS_NUMBER,
                    le=MAX_ABS_NUMBER,
                    allow_inf_nan=False,
                    description=(description or "a number")
                    + _seen_range(f)
                    + "; null if missing",
                ),
            )
        elif f["kind"] == "categorical":
            cats = sorted(map(str, f.get("categories") or []))
            shown = ", ".join(cats[:30]) + (" ..." if len(cats) > 30 else "")
            model_fields[name] = (
                str | None,
                Field(
                    ...,
                    max_length=max([MAX_STRING, *map(len, cats)]),
                    description=(description or "a category")
                    + f"; seen in training: {shown}; null if missing; an unseen "
                    "value is scored as the model was trained to score unknowns, "
                    "and reported in unknown_categories",
                ),
            )
        elif f["kind"] == "window":
            cols = f.get("columns") or []
            if not cols:
                raise SchemaError(f"{use_case}: window {name} has no columns")
            model_fields[name] = (
                list[float],
                Field(
                    ...,
                    min_length=len(cols),
                    max_length=len(cols),
                    description=(description or "a time series window")
                    + f"; exactly {len(cols)} values, oldest first",
                ),
            )
        elif f["kind"] == "text":
            model_fields[name] = (
                Annotated[str, AfterValidator(_not_blank)],
                Field(
                    ...,
                    min_length=1,
                    max_length=MAX_TEXT,
                    description=(description or "a text")
                    + f"; 1 to {MAX_TEXT:,} characters, not only whitespace",
                ),
            )
        else:
            raise SchemaError(
                f"{use_case}: field {name} has unknown kind {f['kind']!r}"
            )
        fields.append(f)
    record_model = create_model(
        f"{use_case.title().replace('_', '')}Record",
        __config__=ConfigDict(extra="forbid", strict=True),
        **model_fields,
    )
    task = str(input_schema.get("task", "classification"))
    return FeatureSchema(
        use_case=use_case,
        task=task,
        output=str(
            input_schema.get(
                "output", "probabilities" if task == "classification" else "prediction"
            )
        ),
        fields=fields,
        classes=[str(c) for c in input_schema.get("classes", [])],
        class_labels={
            str(k): str(v) for k, v in (input_schema.get("class_labels") or {}).items()
        },
        unit=str(input_schema.get("unit", "")),
        record_model=record_model,
        categories={
            f["name"]: frozenset(map(str, f.get("categories") or []))
            for f in fields
            if f["kind"] == "categorical"
        },
        options=dict(input_schema.get("options") or {}),
        numeric_names=tuple(f["name"] for f in fields if f["kind"] == "numeric"),
        categorical_names=tuple(
            f["name"] for f in fields if f["kind"] == "categorical"
        ),
        text_names=tuple(f["name"] for f in fields if f["kind"] == "text"),
        window_columns={
            f["name"]: tuple(f["columns"]) for f in fields if f["kind"] == "window"
        },
    )
