"""Prometheus metrics, structured JSON logs with a request id, CloudWatch EMF lines.

One JSON line per request goes to stdout. For prediction requests that line also
carries an ``_aws`` Embedded Metric Format block (PredictionLatency, PredictionCount and
use-case metrics such as PredictedCarCount, dimensions UseCase and ModelVersion), so
CloudWatch Logs turns it into metrics: no AWS API call on the request path.
"""

from __future__ import annotations

import functools
import json
import logging
import random
import re
import sys
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
)
from pydantic_core import to_json

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

LATENCY_BUCKETS = (
    0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
)  # fmt: skip
REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")


class Metrics:
    def __init__(self) -> None:
        disable_created_metrics()  # no *_created series: half the output, no use
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.requests = Counter(
            "serving_requests_total",
            "HTTP requests",
            ["route", "method", "status", "model_version"],
            registry=r,
        )
        self.latency = Histogram(
            "serving_request_duration_seconds",
            "HTTP request latency",
            ["route", "method", "status", "model_version"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.predictions = Counter(
            "serving_predictions_total",
            "Predicted records per class ('value' for regression models)",
            ["use_case", "model_version", "predicted_class"],
            registry=r,
        )
        self.predicted_values = Histogram(
            "serving_predicted_value",
            "Predicted values of regression and forecasting models (e.g. cars)",
            ["use_case"],
            buckets=(0, 1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000),
            registry=r,
        )
        self.unknown_categories = Counter(
            "serving_unknown_categories_total",
            "Records with a category the model never saw, per field",
            ["use_case", "field"],
            registry=r,
        )
        self.model_call_rows = Histogram(
            "serving_model_call_rows",
            "Records per model call: requests that arrive together share one call "
            "(mlops_serving.coalesce)",
            ["use_case"],
            buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024),
            registry=r,
        )
        self.reloads = Counter(
            "serving_model_reloads_total",
            "Model loads by outcome (loaded or refused)",
            ["use_case", "outcome"],
            registry=r,
        )
        self.model_info = Gauge(
            "serving_model_info",
            "1 for the model version being served",
            ["use_case", "model_version", "runtime"],
            registry=r,
        )
        self.load_seconds = Gauge(
            "serving_model_load_seconds",
            "Seconds the last successful load took (fetch, verify, golden, warm-up)",
            ["use_case"],
            registry=r,
        )
        self._children: dict[tuple[Any, tuple[str, ...]], Any] = {}

    def child(self, metric: Any, *labels: str) -> Any:
        """``metric.labels(*labels)``, remembered: the request path asks for the same
        few series every time (prometheus_client's own lookup takes a lock and
        checks every label). Only for series that are never removed."""
        key = (metric, labels)
        found = self._children.get(key)
        if found is None:
            found = self._children[key] = metric.labels(*labels)
        return found


_second: list[Any] = [None, ""]  # the last second formatted, and its text


def _timestamp(created: float) -> str:
    """ISO 8601 UTC with milliseconds; the date and time part formatted once a
    second (time.strftime is most of the cost)."""
    second = int(created)
    if _second[0] != second:
        _second[:] = [second, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))]
    return f"{_second[1]}.{int(created * 1000) % 1000:03d}Z"


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": _timestamp(record.created),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        entry.update(getattr(record, "fields", {}))
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


request_log = logging.getLogger("mlops_serving.request")


class RequestLines:
    """The per-request line, written straight to the stream of the handler that
    :func:`configure_logging` installs: the same JSON object the formatter would
    make (``ts``, ``level``, ``logger``, ``msg`` and the fields), without a
    LogRecord, the handler's lock and ``json.dumps`` (16 us a line through logging,
    this is 4.5, both to /dev/null, measured). Respects the
    ``mlops_serving.request`` logger's level. Until logging is configured (a library
    user, a test), or once that stream fails, lines go through ``logging`` as any
    other record."""

    stream: Any = None

    def write(self, fields: dict[str, Any]) -> None:
        if not request_log.isEnabledFor(logging.INFO):
            return
        stream = self.stream
        if stream is None:
            request_log.info("request", extra={"fields": fields})
            return
        entry = {
            "ts": _timestamp(time.time()),
            "level": "info",
            "logger": request_log.name,
            "msg": "request",
            **fields,
        }
        line = to_json(entry, fallback=str) + b"\n"
        try:
            # bytes to the text stream's buffer (flushed after every line, so the
            # text layer never holds anything to come before it)
            raw = getattr(stream, "buffer", None)
            if raw is not None:
                stream.flush()
                raw.write(line)
                raw.flush()
            else:
                stream.write(line.decode())
                stream.flush()
        except (OSError, ValueError):  # closed or broken: logging reports it its way,
            self.stream = None  # and a request never fails over its log line
            request_log.info("request", extra={"fields": fields})


request_lines = RequestLines()


def configure_logging(level: str) -> None:
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger("mlops_serving")
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    root.propagate = False
    for name in ("uvicorn", "uvicorn.error"):
        lg = logging.getLogger(name)
        lg.handlers[:] = [handler]
        lg.propagate = False
    request_lines.stream = handler.stream


@functools.lru_cache(maxsize=4096)
def metric_name(value: str) -> str:
    """A class code as a CloudWatch metric name part (letters, digits, underscore)."""
    return re.sub(r"[^A-Za-z0-9_]", "_", value)[:64] or "_"


_emf_directives: dict[tuple[Any, ...], list[dict[str, Any]]] = {}


def emf_block(
    namespace: str, use_case: str, version: str, metrics: dict[str, tuple[float, str]]
) -> dict[str, Any]:
    """The CloudWatch EMF fields to merge into a JSON log line."""
    key = (namespace, *((name, unit) for name, (_, unit) in metrics.items()))
    directives = _emf_directives.get(key)
    if directives is None:  # the same few metric sets every request: built once
        directives = [
            {
                "Namespace": namespace,
                # By use case (what alarms and the dashboard use, stable across
                # promotions) and by use case and model version.
                "Dimensions": [["UseCase"], ["UseCase", "ModelVersion"]],
                "Metrics": [
                    {"Name": name, "Unit": unit} for name, (_, unit) in metrics.items()
                ],
            }
        ]
        if len(_emf_directives) < 1024:  # per-class sets of a many-class model
            _emf_directives[key] = directives
    return {
        "_aws": {
            "Timestamp": int(time.time() * 1000),
            "CloudWatchMetrics": directives,
        },
        "UseCase": use_case,
        "ModelVersion": version,
        **{name: value for name, (value, _) in metrics.items()},
    }


class ObservabilityMiddleware:
    """Pure ASGI (no per-request task switching): request id, timing, one log line,
    Prometheus counters. Handlers put ``model_version``, ``log`` (extra fields) and
    ``emf`` (namespace, use case, version, metrics) into ``scope["state"]``."""

    def __init__(self, app: ASGIApp, metrics: Metrics, routes: set[str]) -> None:
        self.app = app
        self.metrics = metrics
        self.routes = routes
        self._series: dict[tuple[str, ...], tuple[Any, Any]] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        rid = None
        for key, value in scope.get("headers", ()):
            if key == b"x-request-id":
                candidate = value.decode("latin-1")
                if REQUEST_ID.fullmatch(candidate):
                    rid = candidate
                break
        # 32 hex digits as uuid4().hex, without its getrandom system call: an id to
        # find a request by, not a secret
        rid = rid or f"{random.getrandbits(128):032x}"
        state = scope.setdefault("state", {})
        state["request_id"] = rid
        status: dict[str, int] = {}
        header = (b"x-request-id", rid.encode())

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
                message["headers"] = [*message.get("headers", ()), header]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            elapsed = time.perf_counter() - started
            # no answer sent: the client left first (499, nginx's code), or a crash
            code = status.get("code") or (499 if state.get("client_gone") else 500)
            path = scope.get("path", "")
            route = path if path in self.routes else "unmatched"
            version = state.get("model_version", "none")
            labels = (route, scope.get("method", ""), str(code), version)
            series = self._series.get(labels)
            if series is None:
                m = self.metrics
                series = self._series[labels] = (
                    m.child(m.requests, *labels),
                    m.child(m.latency, *labels),
                )
            series[0].inc()
            series[1].observe(elapsed)
            ms = round(elapsed * 1000, 3)
            if route not in ("/metrics", "/health", "/ready", "/ping"):
                fields = {
                    "request_id": rid,
                    "method": scope.get("method"),
                    "path": path,
                    "status": code,
                    "duration_ms": ms,
                    "model_version": version,
                    **state.get("log", {}),
                }
                emf = state.get("emf")
                if emf is not None:
                    namespace, use_case, emf_version, values = emf
                    values = {
                        "PredictionLatency": (ms, "Milliseconds"),
                        **values,
                    }
                    fields.update(emf_block(namespace, use_case, emf_version, values))
                request_lines.write(fields)
