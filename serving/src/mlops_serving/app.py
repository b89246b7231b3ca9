"""The FastAPI application: routes, request parsing and the OpenAPI document."""

from __future__ import annotations

import hmac
import importlib.util
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Collection
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from fastapi.staticfiles import StaticFiles
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic_core import from_json, to_json

from mlops_serving import __version__
from mlops_serving.bundle import RouteModels
from mlops_serving.coalesce import Coalescer
from mlops_serving.http import MAX_JSON_DEPTH, nesting_depth, unanswered
from mlops_serving.manager import ModelManager, Slot
from mlops_serving.observability import (
    ASGIApp,
    Metrics,
    ObservabilityMiddleware,
    Receive,
    Scope,
    Send,
    metric_name,
)
from mlops_serving.schema import FeatureSchema
from mlops_serving.settings import Settings
from mlops_serving.store import ModelStoreReader, open_store
from mlops_serving.usecases import load_use_case
from mlops_serving.usecases.base import RequestError, Route

logger = logging.getLogger("mlops_serving.app")
JSON_HEADERS = [(b"content-type", b"application/json")]


# ----------------------------------------------------------------- response models
class ErrorItem(BaseModel):
    field: str = Field(description="where: records[3].store_region, body, ...")
    problem: str
    type: str


class ErrorResponse(BaseModel):
    error: str
    detail: list[ErrorItem] = Field(default_factory=list)
    request_id: str | None = None


class ClassPrediction(BaseModel):
    """A classification model's answer."""

    model_config = ConfigDict(populate_by_name=True)
    class_: str = Field(alias="class", description="class code, e.g. LA / MM / UM")
    label: str = Field(description="human label, e.g. High price sensitivity")
    probability: float = Field(description="the probability of the predicted class")
    probabilities: dict[str, float]
    model_version: str
    unknown_categories: list[str] = Field(
        description="fields whose category the model never saw (scored as unknown)"
    )


class ValuePrediction(BaseModel):
    """A regression or forecasting model's answer."""

    prediction: float = Field(description="the predicted value, in `unit`")
    unit: str = Field(description="e.g. cars")
    model_version: str
    unknown_categories: list[str]


class PredictResponse(BaseModel):
    use_case: str
    model_version: str
    request_id: str
    predictions: list[ClassPrediction | ValuePrediction]


class ApiError(Exception):
    def __init__(
        self, status: int, error: str, detail: list[dict[str, str]] | None = None
    ) -> None:
        self.status, self.error, self.detail = status, error, detail or []


def _error_body(exc: ApiError, request_id: str | None) -> dict[str, Any]:
    return {"error": exc.error, "detail": exc.detail, "request_id": request_id}


def _error_response(request: Request, exc: ApiError) -> JSONResponse:
    request_id = request.scope.get("state", {}).get("request_id")
    return JSONResponse(_error_body(exc, request_id), status_code=exc.status)


class ClientGone(Exception):
    """The client disconnected before its request body arrived."""


def _field(loc: tuple[Any, ...], batch: bool) -> str:
    parts = list(loc)
    out = ""
    if batch and parts and isinstance(parts[0], int):
        out = f"records[{parts.pop(0)}]"
    elif not batch and parts and isinstance(parts[0], int):
        parts.pop(0)
    for p in parts:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out or "body"


async def read_body(scope: Scope, receive: Receive, limit: int) -> bytes:
    """The request body, refused (413) past ``limit`` bytes: at once when
    Content-Length says so, else as soon as the bytes received pass it."""
    for key, value in scope["headers"]:
        if key == b"content-length":
            if not value.isdigit():
                raise ApiError(400, "invalid Content-Length header")
            if int(value) > limit:
                raise ApiError(
                    413,
                    f"request body of {int(value)} bytes exceeds the {limit} byte "
                    "limit",
                )
            break
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientGone
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise ApiError(413, f"request body exceeds the {limit} byte limit")
        chunks.append(chunk)
        if not message.get("more_body", False):
            return chunks[0] if len(chunks) == 1 else b"".join(chunks)


# ------------------------------------------------------------------------ the app
class Service:
    def __init__(self, settings: Settings, store: ModelStoreReader) -> None:
        self.settings = settings
        self.metrics = Metrics()
        self.use_cases = [load_use_case(n) for n in settings.use_cases]
        self.manager = ModelManager(settings, store, self.use_cases, self.metrics)
        # Batches a runtime does not answer inline (Runtime.inline_rows) are predicted
        # here: one thread, as a worker answers one request at a time; the event loop
        # stays free for /health, /metrics and the next request's bytes.
        self.executor = ThreadPoolExecutor(1, thread_name_prefix="mlops-predict")
        # requests queued for that thread meanwhile share its next call; requests
        # answered inline share a call with those of the same turn of the event loop
        calls = self.metrics.model_call_rows
        self.coalescer = Coalescer(
            self.executor,
            settings.max_batch_size,
            lambda use_case, rows: self.metrics.child(calls, use_case).observe(rows),
        )

    def parse(
        self, models: RouteModels, schema: FeatureSchema, body: bytes, online: Any
    ) -> tuple[list[dict], bool]:
        # no deeper than its count of opening brackets (those in strings included):
        # only a body with more than the limit is measured (a parking request, 26)
        opens = body.count(b"[") + body.count(b"{")
        depth = nesting_depth(body) if opens > MAX_JSON_DEPTH else 0
        if depth > MAX_JSON_DEPTH:
            raise ApiError(
                400,
                f"JSON nested {depth} levels deep; at most {MAX_JSON_DEPTH} are read",
                [{"field": "body", "problem": "nested too deeply", "type": "depth"}],
            )
        if b'"records"' not in body:  # not a batch: one record, parsed and validated
            try:  # in one pass by pydantic-core (a batch body here cost 21 ms)
                single = models.record_adapter.validate_json(body)
            except ValidationError:
                pass  # a mistake: the path below names every wrong field
            else:
                return [self._record(models, schema, online, single, 0, False)], False
        else:  # a batch: parsed and validated in one pass too (100 retail records:
            try:  # 0.6 ms, against 1.0-1.4 ms for from_json then validate_python)
                batch = models.batch_adapter.validate_json(body)
            except ValidationError:
                pass  # the path below names the problem, as for a single record
            else:
                return [
                    self._record(models, schema, online, record, i, True)
                    for i, record in enumerate(batch.records)
                ], True
        try:
            payload = from_json(body)  # pydantic-core's parser: names line and column
        except ValueError as exc:
            raise ApiError(400, f"malformed JSON: {exc}") from exc
        if not isinstance(payload, dict):
            raise ApiError(
                422,
                "the body must be one record (a JSON object) or "
                '{"records": [record, ...]}',
                [{"field": "body", "problem": "not a JSON object", "type": "type"}],
            )
        batch = "records" in payload
        if batch:
            extra = sorted(set(payload) - {"records"})
            if extra:
                raise ApiError(
                    422,
                    "a batch body has only 'records'",
                    [
                        {"field": k, "problem": "extra field", "type": "extra"}
                        for k in extra
                    ],
                )
            records = payload["records"]
            if not isinstance(records, list):
                raise ApiError(
                    422,
                    "records must be a list of records",
                    [{"field": "records", "problem": "not a list", "type": "type"}],
                )
            if not records:
                raise ApiError(
                    422,
                    "empty batch",
                    [{"field": "records", "problem": "no records", "type": "empty"}],
                )
            limit = self.settings.max_batch_size
            if len(records) > limit:
                raise ApiError(
                    413,
                    f"batch of {len(records)} records exceeds the maximum of {limit}",
                    [
                        {
                            "field": "records",
                            "problem": f"{len(records)} > {limit}",
                            "type": "too_long",
                        }
                    ],
                )
        else:
            records = [payload]
        try:
            validated = models.adapter.validate_python(records)
        except ValidationError as exc:
            detail = [
                {
                    "field": _field(e["loc"], batch),
                    "problem": e["msg"],
                    "type": e["type"],
                }
                for e in exc.errors(include_url=False, include_input=False)[:50]
            ]
            raise ApiError(
                422, f"{exc.error_count()} invalid field(s)", detail
            ) from None
        return [
            self._record(models, schema, online, record, i, batch)
            for i, record in enumerate(validated)
        ], batch

    @staticmethod
    def _record(
        models: RouteModels,
        schema: FeatureSchema,
        online: Any,
        record: Any,
        i: int,
        batch: bool,
    ) -> dict[str, Any]:
        try:
            return models.route.to_record(record, schema, online)
        except RequestError as exc:
            where = f"records[{i}].{exc.field}" if batch else exc.field
            raise ApiError(
                422,
                "1 invalid field(s)",
                [{"field": where, "problem": exc.problem, "type": exc.kind}],
            ) from None

    async def answer(
        self,
        slot: Slot,
        body: bytes,
        state: dict[str, Any],
        route: str = "predict",
        in_flight: Collection[Any] | None = None,
    ) -> bytes:
        """The JSON answer to a prediction request's body on ``route`` (raises
        :class:`ApiError`). Leaves ``model_version``, ``log`` and ``emf`` in
        ``state`` for the request's log line and metrics
        (:class:`ObservabilityMiddleware`). ``in_flight``: the requests the worker
        has read and not answered, this one included, if the server says
        (:func:`mlops_serving.http.unanswered`)."""
        use_case = slot.use_case
        model = slot.current  # read once: this request is answered by this model
        if model is None:
            raise ApiError(503, f"no {use_case.name} model loaded yet")
        state["model_version"] = model.version
        models = model.routes[route]
        online = slot.online  # read once too: one store per request
        if models.route.needs_online and online is None:
            raise ApiError(
                503,
                f"no {use_case.name} online feature store loaded yet: "
                "/v1/models says why",
            )
        if models.route.needs_online and online is not None:
            trained_on = model.schema.options.get("feature_definitions")
            if trained_on != online.meta.get("definitions"):
                raise ApiError(
                    503,
                    f"{use_case.name} model {model.version} was trained on feature "
                    f"definitions {trained_on or 'from before they were versioned'}, "
                    f"the online store {online.version} holds version "
                    f"{online.meta.get('definitions')}: answering would not be the "
                    "model's answer; a model trained on the store's definitions is "
                    "needed (the next pipeline run retrains)",
                )
        records, _ = self.parse(models, model.schema, body, online)
        schema = model.schema
        columns = schema.columns(records)
        runtime = model.runtime
        if columns.n_rows > runtime.inline_rows:
            outputs = await self.coalescer.predict(runtime, columns, use_case.name)
        elif in_flight is not None and len(in_flight) <= 1:
            # the only request read: nobody to share a call with, none to wait for
            outputs = self.coalescer.predict_now(runtime, columns, use_case.name)
        else:
            outputs = await self.coalescer.predict_in_turn(
                runtime, columns, use_case.name
            )
        if not np.isfinite(outputs).all():
            bad = np.flatnonzero(~np.isfinite(outputs).all(axis=1))
            raise ApiError(
                422,
                "the model returned no finite output for some records",
                [
                    {
                        "field": f"records[{i}]",
                        "problem": "non-finite output",
                        "type": "value",
                    }
                    for i in bad[:50].tolist()
                ],
            )
        predictions = use_case.render(outputs, schema, records)
        # Categories training never saw, per record: a set difference per field
        # first (C speed), the records looked at only when a field has one.
        unknown: dict[int, list[str]] = {}
        m = self.metrics
        for f, cats in schema.categories.items():
            values = columns.categorical[f]
            unseen = set(values) - cats
            unseen.discard(None)
            if not unseen:
                continue
            hits = [i for i, v in enumerate(values) if v in unseen]
            for i in hits:
                unknown.setdefault(i, []).append(f)
            m.child(m.unknown_categories, use_case.name, f).inc(len(hits))
        for i, pred in enumerate(predictions):
            pred["model_version"] = model.version
            pred["unknown_categories"] = unknown.get(i, [])
        per_class: dict[str, int] = {}
        if schema.classes:
            for pred in predictions:
                per_class[pred["class"]] = per_class.get(pred["class"], 0) + 1
            for cls, n in per_class.items():
                m.child(m.predictions, use_case.name, model.version, cls).inc(n)
        else:
            m.child(m.predictions, use_case.name, model.version, "value").inc(
                len(records)
            )
            values = m.child(m.predicted_values, use_case.name)
            for value in outputs[:, 0].tolist():
                values.observe(value)
        if self.settings.emf_enabled:
            extra = {
                k: (v, "None") for k, v in use_case.emf_metrics(predictions).items()
            }
            # Predicted_<class code> per request: the dashboard's predictions per class
            # (infra/terraform/modules/observability reads these fields).
            for cls, n in per_class.items():
                extra[f"Predicted_{metric_name(cls)}"] = (n, "Count")
            state["emf"] = (
                self.settings.emf_namespace,
                use_case.name,
                model.version,
                {"PredictionCount": (len(records), "Count"), **extra},
            )
        state["log"] = {"use_case": use_case.name, "records": len(records)}
        return to_json(
            {
                "use_case": use_case.name,
                "model_version": model.version,
                "request_id": state.get("request_id"),
                "predictions": predictions,
            }
        )

    async def predict_asgi(
        self, slot: Slot, route: str, scope: Scope, receive: Receive, send: Send
    ) -> None:
        """``POST /v1/<use case>/predict`` as a plain ASGI handler: the same answer as
        FastAPI's route (:meth:`answer`), without the framework's per-request layers
        (routing, dependency solving, exception middlewares), which cost more than
        the model (docs/benchmarks.md, "Where a request's time goes")."""
        state = scope["state"]
        try:
            body = await read_body(scope, receive, self.settings.max_body_bytes)
            payload = await self.answer(slot, body, state, route, unanswered(scope))
            status = 200
        except ApiError as exc:
            payload = to_json(_error_body(exc, state.get("request_id")))
            status = exc.status
        except ClientGone:
            state["client_gone"] = True
            return
        except Exception:
            logger.exception(
                "%s: prediction failed",
                slot.use_case.name,
                extra={"fields": {"request_id": state.get("request_id")}},
            )
            error = ApiError(500, "internal error: the service log has the details")
            payload, status = to_json(_error_body(error, state.get("request_id"))), 500
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    *JSON_HEADERS,
                    (b"content-length", str(len(payload)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": payload})


FrontHandler = Callable[[Scope, Receive, Send], Awaitable[None]]


class ServingApp(FastAPI):
    """FastAPI with a thin ASGI front. Every request passes the observability layer
    first (request id, timing, Prometheus, the log line and EMF); ``POST`` to a path
    in :attr:`front_routes` is then answered right there, everything else by
    FastAPI's stack (its routes, OpenAPI, /docs, the ops endpoints). The prediction
    routes stay registered with FastAPI too, so the OpenAPI document describes them
    and FastAPI answers them the same way if the front is bypassed."""

    front_routes: dict[str, FrontHandler]
    observed: ASGIApp

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.observed(scope, receive, send)

    async def _dispatch(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "POST":
            handler = self.front_routes.get(scope["path"])
            if handler is not None:
                await handler(scope, receive, send)
                return
        await super().__call__(scope, receive, send)


def create_app(settings: Settings, store: ModelStoreReader | None = None) -> FastAPI:
    service = Service(
        settings,
        store or open_store(settings.model_store_uri, settings.s3_endpoint_url),
    )
    manager = service.manager

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await manager.start()
        try:
            yield
        finally:
            await manager.stop()

    app = ServingApp(
        title="mlops-serving",
        version=__version__,
        description=(
            "Predictions from the models promoted by mlops_platform. Each model is "
            "loaded from the production model store, checked against its golden rows "
            "and hot-swapped when the production pointer changes."
        ),
        lifespan=lifespan,
        # served below from the package's own assets: FastAPI's defaults load the
        # pages' JavaScript and CSS from a CDN, a blank page offline
        docs_url=None,
        redoc_url=None,
    )
    app.state.service = service
    _add_offline_docs(app)
    errors: dict[int | str, dict[str, Any]] = {
        code: {"model": ErrorResponse, "description": text}
        for code, text in (
            (400, "malformed JSON"),
            (413, "body or batch too large"),
            (422, "invalid records; each error names the field"),
            (503, "no model loaded yet"),
        )
    }

    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> JSONResponse:
        return _error_response(request, exc)

    @app.get("/health", tags=["ops"], summary="the process is alive")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get(
        "/ready",
        tags=["ops"],
        summary="every configured model is loaded",
        responses={503: {"description": "not every model is loaded yet"}},
    )
    async def ready() -> JSONResponse:
        body = {
            "ready": manager.ready,
            "models": {
                n: (s.current.version if s.current else None)
                for n, s in manager.slots.items()
            },
        }
        return JSONResponse(body, status_code=200 if manager.ready else 503)

    # SageMaker hosting's contract (a model package deployed to an endpoint): GET
    # /ping answers 200 once the model is loaded, POST /invocations predicts.
    @app.get(
        "/ping",
        tags=["ops"],
        summary="SageMaker hosting's health check: 200 once every model is loaded",
        responses={503: {"description": "not every model is loaded yet"}},
    )
    async def ping() -> JSONResponse:
        return await ready()  # the same answer as /ready

    @app.get("/v1/models", tags=["models"], summary="what each use case is serving")
    async def models() -> dict[str, Any]:
        return manager.status()

    @app.get(
        "/metrics",
        tags=["ops"],
        summary="Prometheus metrics (text exposition format)",
        response_class=PlainTextResponse,
    )
    async def metrics() -> Response:
        return Response(
            generate_latest(service.metrics.registry), media_type=CONTENT_TYPE_LATEST
        )

    @app.post(
        "/admin/reload",
        tags=["ops"],
        summary="check the production pointers now (Bearer admin token)",
        responses={
            401: {"model": ErrorResponse, "description": "wrong or missing token"},
            403: {"model": ErrorResponse, "description": "admin routes are off"},
        },
    )
    async def reload(request: Request) -> dict[str, Any]:
        token = settings.admin_token
        if token is None:
            raise ApiError(403, "admin routes are off: set SERVING_ADMIN_TOKEN")
        given = request.headers.get("authorization", "")
        expected = f"Bearer {token.get_secret_value()}"
        if not hmac.compare_digest(given.encode(), expected.encode()):
            raise ApiError(401, "invalid or missing bearer token")
        results = await manager.check_all(force=True)
        return {"checked": results, **manager.status()}

    app.front_routes = {}
    for uc in service.use_cases:
        slot = manager.slots[uc.name]
        for route in uc.routes():
            _add_predict_route(app, service, slot, route, errors)
            app.front_routes[f"/v1/{uc.name}/{route.name}"] = partial(
                service.predict_asgi, slot, route.name
            )
    if len(service.use_cases) == 1:  # SageMaker hosting: one model per container
        (uc,) = service.use_cases
        first = uc.routes()[0]
        _add_predict_route(
            app, service, manager.slots[uc.name], first, errors, INVOCATIONS
        )
        app.front_routes[INVOCATIONS] = partial(
            service.predict_asgi, manager.slots[uc.name], first.name
        )

    routes = {r.path for r in app.routes if hasattr(r, "path")}
    app.observed = ObservabilityMiddleware(
        app._dispatch, metrics=service.metrics, routes=routes
    )
    _customise_openapi(app, service)
    return app


#: SageMaker hosting's prediction path: the first route of the one use case served.
INVOCATIONS = "/invocations"

#: Where the documentation pages' assets are served from.
DOCS_ASSETS = "/docs-assets"


def docs_assets_dir() -> Path:
    """Swagger UI's and ReDoc's JavaScript and CSS, installed with the pinned
    ``fastapi-offline`` package (its files only; the app stays a FastAPI app)."""
    spec = importlib.util.find_spec("fastapi_offline")
    if spec is None or spec.origin is None:
        raise RuntimeError(
            "fastapi-offline is not installed: the /docs and /redoc pages have no "
            "assets (pip install mlops-serving installs it)"
        )
    return Path(spec.origin).parent / "static"


def _add_offline_docs(app: FastAPI) -> None:
    """``/docs`` (Swagger UI) and ``/redoc`` with every asset served by this process:
    the pages render with no network (tests/test_docs_pages.py, headless Chromium)."""
    app.mount(DOCS_ASSETS, StaticFiles(directory=docs_assets_dir()), name="docs-assets")
    title = f"{app.title} {app.version}"

    @app.get("/docs", include_in_schema=False)
    async def swagger() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url="/openapi.json",
            title=f"{title}: Swagger UI",
            swagger_js_url=f"{DOCS_ASSETS}/swagger-ui-bundle.js",
            swagger_css_url=f"{DOCS_ASSETS}/swagger-ui.css",
            swagger_favicon_url=f"{DOCS_ASSETS}/favicon.png",
        )

    @app.get("/redoc", include_in_schema=False)
    async def redoc() -> HTMLResponse:
        return get_redoc_html(
            openapi_url="/openapi.json",
            title=f"{title}: ReDoc",
            redoc_js_url=f"{DOCS_ASSETS}/redoc.standalone.js",
            redoc_favicon_url=f"{DOCS_ASSETS}/favicon.png",
            with_google_fonts=False,
        )


def _add_predict_route(
    app: FastAPI,
    service: Service,
    slot: Slot,
    route: Route,
    errors: dict[int | str, Any],
    path: str | None = None,
) -> None:
    uc = slot.use_case
    path = path or f"/v1/{uc.name}/{route.name}"

    async def predict(request: Request) -> Response:
        state = request.scope.setdefault("state", {})
        try:
            body = await read_body(
                request.scope, request.receive, service.settings.max_body_bytes
            )
        except ClientGone:  # as the front does: nobody to answer, counted as 499
            state["client_gone"] = True
            return Response(status_code=499)
        return Response(
            await service.answer(
                slot, body, state, route.name, unanswered(request.scope)
            ),
            media_type="application/json",
        )

    app.add_api_route(
        path,
        predict,
        methods=["POST"],
        tags=[uc.name],
        summary=route.summary,
        description=(
            f'Send one record (a JSON object) or `{{"records": [...]}}` with 1 to '
            f"{service.settings.max_batch_size} records. Every field is required; "
            "`null` means missing. Unknown categories are scored the way the model "
            "was trained to score them and reported in `unknown_categories`."
            + (f" {route.description}" if route.description else "")
        ),
        responses={200: {"model": PredictResponse}, **errors},
        name=f"{route.name}_{uc.name}" if path.startswith("/v1/") else "invocations",
    )


def _customise_openapi(app: FastAPI, service: Service) -> None:
    """Request bodies are parsed by hand (one record or a batch); document them."""
    cache: dict[str, Any] = {}

    def openapi() -> dict[str, Any]:
        # Request models come from the loaded bundles: rebuilt when one is swapped.
        versions = tuple(
            (n, s.current.version if s.current else None)
            for n, s in service.manager.slots.items()
        )
        if app.openapi_schema and cache.get("versions") == versions:
            return app.openapi_schema
        cache["versions"] = versions
        from fastapi.openapi.utils import get_openapi  # noqa: PLC0415

        schema = get_openapi(
            title=app.title,
            version=app.version,
            description=app.description,
            routes=app.routes,
        )
        for uc in service.use_cases:
            model = service.manager.slots[uc.name].current
            if model is None:  # documented once a model is loaded
                continue
            for models in model.routes.values():
                _document_route(schema, service, uc.name, models)
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


def _document_route(
    schema: dict[str, Any], service: Service, use_case: str, models: RouteModels
) -> None:
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    record = models.request_model.model_json_schema(
        ref_template="#/components/schemas/{model}"
    )
    components.update(record.pop("$defs", {}))
    name = record.get("title", f"{use_case}Record")
    components[name] = record
    batch_name = f"{name}Batch"
    components[batch_name] = {
        "title": batch_name,
        "type": "object",
        "properties": {
            "records": {
                "type": "array",
                "items": {"$ref": f"#/components/schemas/{name}"},
                "minItems": 1,
                "maxItems": service.settings.max_batch_size,
            }
        },
        "required": ["records"],
        "additionalProperties": False,
    }
    body = {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "oneOf": [
                        {"$ref": f"#/components/schemas/{name}"},
                        {"$ref": f"#/components/schemas/{batch_name}"},
                    ]
                },
                "examples": {
                    "one record": {"value": models.example},
                    "batch": {"value": {"records": [models.example, models.example]}},
                },
            }
        },
    }
    schema["paths"][f"/v1/{use_case}/{models.route.name}"]["post"]["requestBody"] = body
    invocations = schema["paths"].get(INVOCATIONS, {}).get("post")
    first = service.manager.slots[use_case].use_case.routes()[0].name
    if invocations is not None and models.route.name == first:
        invocations["requestBody"] = body
