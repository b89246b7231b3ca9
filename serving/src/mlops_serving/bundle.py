"""Load a promoted bundle and prove it before it serves.

Steps, any of which refuses the bundle with a reason naming the file or row:
manifest (format, use case, version) -> sha256 of every file read -> the request model
is built from the input schema -> runtime loads -> the golden rows reproduce the
outputs stored at training time -> warm-up.
"""

from __future__ import annotations

import hashlib
import json
import math
import posixpath
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, create_model

from mlops_serving.runtime import OnnxRuntime, Runtime, SklearnRuntime
from mlops_serving.schema import FeatureSchema, SchemaError, build_schema
from mlops_serving.store import ModelStoreReader
from mlops_serving.usecases.base import Route, UseCase

SUPPORTED_FORMATS = (1, 2, 3, 4)


class BundleRefused(RuntimeError):
    """The bundle must not serve; the message says why."""


def utc_now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass(frozen=True)
class RouteModels:
    route: Route
    request_model: type[BaseModel]
    adapter: TypeAdapter[Any]
    #: one request record straight from JSON bytes (the single-record fast path)
    record_adapter: TypeAdapter[Any]
    #: ``{"records": [...]}`` straight from JSON bytes, 1 to the batch limit records
    #: (the batch fast path; a body it refuses goes the way that names every problem)
    batch_adapter: TypeAdapter[Any]
    example: dict[str, Any]


def route_models(
    route: Route,
    schema: FeatureSchema,
    golden_rows: list[dict[str, Any]],
    max_batch: int,
) -> RouteModels:
    request_model = route.request_model(schema)
    return RouteModels(
        route=route,
        request_model=request_model,
        adapter=TypeAdapter(list[request_model]),  # type: ignore[valid-type]
        record_adapter=TypeAdapter(request_model),
        batch_adapter=TypeAdapter(_batch_model(request_model, max_batch)),
        example=route.example(schema, golden_rows),
    )


@dataclass(frozen=True)
class LoadedModel:
    use_case: str
    version: str
    runtime: Runtime
    schema: FeatureSchema
    #: per route name, its request models built for this model's schema
    routes: dict[str, RouteModels]
    manifest: dict[str, Any]
    pointer: dict[str, Any]
    headline: dict[str, Any]
    loaded_at: str
    load_seconds: float
    golden_rows: int
    golden_max_diff: float

    def describe(self) -> dict[str, Any]:
        m = self.manifest
        return {
            "version": self.version,
            "model_name": m.get("model_name"),
            "runtime": self.runtime.name,
            "trained_at": m.get("trained_at"),
            "promoted_at": self.pointer.get("promoted_at"),
            "promotion_reason": self.pointer.get("reason"),
            "headline_metrics": self.headline,
            "loaded_at": self.loaded_at,
            "load_seconds": round(self.load_seconds, 3),
            "golden_rows_checked": self.golden_rows,
            "golden_max_diff": self.golden_max_diff,
            "task": self.schema.task,
            **({"classes": self.schema.classes} if self.schema.classes else {}),
            **({"unit": self.schema.unit} if self.schema.unit else {}),
            "mlflow_run_id": (m.get("mlflow") or {}).get("run_id"),
        }


def _json(raw: bytes, name: str) -> dict[str, Any]:
    try:
        value = json.loads(raw)
    except ValueError as exc:
        raise BundleRefused(f"{name}: not valid JSON ({exc})") from exc
    if not isinstance(value, dict):
        raise BundleRefused(f"{name}: expected a JSON object")
    return value


def _verified(
    store: ModelStoreReader, base: str, name: str, manifest: dict[str, Any]
) -> bytes:
    entry = manifest.get("files", {}).get(name)
    if not entry:
        raise BundleRefused(f"{base}/{name}: not listed in manifest.json")
    raw = store.read(posixpath.join(base, name))
    digest = hashlib.sha256(raw).hexdigest()
    if digest != entry.get("sha256"):
        raise BundleRefused(
            f"{base}/{name}: sha256 {digest[:12]} does not match the manifest "
            f"({str(entry.get('sha256'))[:12]})"
        )
    return raw


def load_model(
    store: ModelStoreReader,
    use_case: UseCase,
    pointer: dict[str, Any],
    runtime_preference: str = "auto",
    max_batch: int = 1000,
) -> LoadedModel:
    started = time.perf_counter()
    version, base = pointer["version"], pointer["path"]
    manifest = _json(store.read(posixpath.join(base, "manifest.json")), "manifest")
    if manifest.get("format_version") not in SUPPORTED_FORMATS:
        raise BundleRefused(
            f"{base}: format_version {manifest.get('format_version')!r} is not one of "
            f"{SUPPORTED_FORMATS}"
        )
    if manifest.get("use_case") != use_case.name or manifest.get("version") != version:
        raise BundleRefused(
            f"{base}: manifest is {manifest.get('use_case')} "
            f"{manifest.get('version')}, the pointer says {use_case.name} {version}"
        )
    schema = _json(_verified(store, base, "input_schema.json", manifest), "schema")
    golden = _json(_verified(store, base, "golden.json", manifest), "golden.json")
    metrics = _json(_verified(store, base, "metrics.json", manifest), "metrics.json")
    try:
        features = build_schema(schema, use_case.name)
    except SchemaError as exc:
        raise BundleRefused(f"{base}/input_schema.json: {exc}") from exc

    onnx_info = (manifest.get("runtimes") or {}).get("onnx") or {}
    use_onnx = runtime_preference == "onnx" or (
        runtime_preference == "auto" and onnx_info.get("available")
    )
    runtime: Runtime
    if use_onnx:
        if not onnx_info.get("available"):
            raise BundleRefused(
                f"{base}: runtime 'onnx' requested but the bundle has no model.onnx "
                f"({onnx_info.get('reason', 'format 1 bundle')})"
            )
        runtime = OnnxRuntime(
            _verified(store, base, onnx_info.get("file", "model.onnx"), manifest),
            onnx_info,
        )
    else:
        flavour = (manifest.get("model") or {}).get("flavor", "sklearn")
        if flavour != "sklearn":
            raise BundleRefused(
                f"{base}: a {flavour} model is served through model.onnx only, and "
                f"this bundle has none ({onnx_info.get('reason', 'no export')})"
            )
        runtime = SklearnRuntime(
            _verified(store, base, manifest["model"]["file"], manifest),
            list(manifest.get("features") or [f["name"] for f in schema["fields"]]),
            features.task,
        )

    unread = sorted(runtime.columns - features.column_names)
    if unread:
        raise BundleRefused(
            f"{base}/input_schema.json does not describe inputs the model reads: "
            f"{unread[:10]}"
        )
    rows = [features.flat_record(r) for r in golden.get("rows") or []]
    expected = golden.get("expected") or []
    if not rows or len(rows) != len(expected):
        raise BundleRefused(f"{base}/golden.json: no golden rows to check")
    tol = float(golden.get("tolerance", golden.get("probability_tolerance", 1e-4)))
    outputs = runtime.predict(features.columns(rows))
    check = _check_class if features.task == "classification" else _check_value
    max_diff = 0.0
    for i, (out, exp) in enumerate(zip(outputs, expected, strict=True)):
        problem, diff = check(out, exp, features, tol)
        if problem:
            raise BundleRefused(
                f"{base}/golden.json row {i}: {runtime.name} runtime {problem}"
            )
        max_diff = max(max_diff, diff)
    for _ in range(20):  # warm-up: first calls allocate
        runtime.predict(features.columns(rows[:1]))
    runtime.predict(features.columns(rows))

    golden_rows = list(golden.get("rows") or [])
    headline = {
        k: (v if not isinstance(v, float) or math.isfinite(v) else None)
        for k, v in (metrics.get("headline") or {}).items()
    }
    return LoadedModel(
        use_case=use_case.name,
        version=version,
        runtime=runtime,
        schema=features,
        routes={
            r.name: route_models(r, features, golden_rows, max_batch)
            for r in use_case.routes()
        },
        manifest=manifest,
        pointer=pointer,
        headline=headline,
        loaded_at=utc_now(),
        load_seconds=time.perf_counter() - started,
        golden_rows=len(rows),
        golden_max_diff=max_diff,
    )


def _batch_model(record: type[BaseModel], max_batch: int) -> type[BaseModel]:
    return create_model(
        f"{record.__name__}Batch",
        __config__=ConfigDict(extra="forbid", strict=True),
        records=(list[record], Field(..., min_length=1, max_length=max_batch)),  # type: ignore[valid-type]
    )


def _check_class(
    out: np.ndarray, exp: dict[str, Any], schema: FeatureSchema, tol: float
) -> tuple[str, float]:
    classes = schema.classes
    got = classes[int(np.argmax(out))]
    if got != exp["class"]:
        return f"answers {got}, the training-time model answered {exp['class']}", 0.0
    worst = 0.0
    for k, c in enumerate(classes):
        diff = abs(float(out[k]) - float(exp["probabilities"][c]))
        if not diff <= tol:  # also catches NaN
            return (
                f"gives P({c}) {float(out[k]):.6f}, the training-time model "
                f"{exp['probabilities'][c]:.6f} (more than {tol:g} apart)",
                diff,
            )
        worst = max(worst, diff)
    return "", worst


def _check_value(
    out: np.ndarray, exp: dict[str, Any], schema: FeatureSchema, tol: float
) -> tuple[str, float]:
    diff = abs(float(out[0]) - float(exp["prediction"]))
    if not diff <= tol:
        return (
            f"predicts {float(out[0]):.6f}, the training-time model "
            f"{float(exp['prediction']):.6f} (more than {tol:g} apart)",
            diff,
        )
    return "", diff
