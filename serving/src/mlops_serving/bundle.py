"""Load a promoted bundle and prove it before it serves.

Steps, any of which refuses the bundle with a reason naming the file or row:
manifest (format, use case, version) -> sha256 of every file read -> input schema
matches the use case's request model -> runtime loads -> the golden rows reproduce the
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

from mlops_serving.runtime import OnnxRuntime, Runtime, SklearnRuntime
from mlops_serving.store import ModelStoreReader
from mlops_serving.usecases.base import UseCase

SUPPORTED_FORMATS = (1, 2)


class BundleRefused(RuntimeError):
    """The bundle must not serve; the message says why."""


def utc_now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass(frozen=True)
class LoadedModel:
    use_case: str
    version: str
    runtime: Runtime
    classes: list[str]
    class_labels: dict[str, str]
    categories: dict[str, frozenset[str]]
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
            "golden_max_probability_diff": self.golden_max_diff,
            "classes": self.classes,
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
    use_case.check_schema(schema)  # SchemaMismatch is a ValueError: refused below

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
            onnx_info.get("missing_category", "missing"),
        )
    else:
        runtime = SklearnRuntime(
            _verified(store, base, manifest["model"]["file"], manifest),
            list(manifest.get("features") or [f["name"] for f in schema["fields"]]),
        )

    classes = [str(c) for c in schema["classes"]]
    rows, expected = golden.get("rows") or [], golden.get("expected") or []
    if not rows or len(rows) != len(expected):
        raise BundleRefused(f"{base}/golden.json: no golden rows to check")
    tol = float(golden.get("probability_tolerance", 1e-4))
    proba = runtime.predict_proba(use_case.columns(rows))
    max_diff = 0.0
    for i, (p, exp) in enumerate(zip(proba, expected, strict=True)):
        got_class = classes[int(np.argmax(p))]
        if got_class != exp["class"]:
            raise BundleRefused(
                f"{base}/golden.json row {i}: {runtime.name} runtime answers "
                f"{got_class}, training-time model answered {exp['class']}"
            )
        for k, c in enumerate(classes):
            diff = abs(float(p[k]) - float(exp["probabilities"][c]))
            if not diff <= tol:  # also catches NaN
                raise BundleRefused(
                    f"{base}/golden.json row {i}: P({c}) {float(p[k]):.6f} differs "
                    f"from {exp['probabilities'][c]:.6f} by more than {tol:g}"
                )
            max_diff = max(max_diff, diff)
    for _ in range(20):  # warm-up: first calls allocate
        runtime.predict_proba(use_case.columns(rows[:1]))
    runtime.predict_proba(use_case.columns(rows))

    categories = {
        f["name"]: frozenset(map(str, f.get("categories") or []))
        for f in schema["fields"]
        if f["type"] != "number"
    }
    headline = {
        k: (v if not isinstance(v, float) or math.isfinite(v) else None)
        for k, v in (metrics.get("headline") or {}).items()
    }
    return LoadedModel(
        use_case=use_case.name,
        version=version,
        runtime=runtime,
        classes=classes,
        class_labels={
            str(k): str(v) for k, v in schema.get("class_labels", {}).items()
        },
        categories=categories,
        manifest=manifest,
        pointer=pointer,
        headline=headline,
        loaded_at=utc_now(),
        load_seconds=time.perf_counter() - started,
        golden_rows=len(rows),
        golden_max_diff=max_diff,
    )
