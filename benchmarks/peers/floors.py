"""The floors of the serving benchmark: what one uvicorn worker answers when the
application does nothing but read the body and return a fixed answer.

    uvicorn floors:fastapi_app   # FastAPI, one route (the issue's "bare FastAPI")
    uvicorn floors:asgi_app      # plain ASGI, no framework

``FLOOR_PATH`` is the route (``/v1/retail/predict``), ``FLOOR_ANSWER`` a file holding
the answer's bytes (a real answer of the service, so the response is as large).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request, Response

PATH = os.environ.get("FLOOR_PATH", "/predict")
ANSWER = (
    Path(os.environ["FLOOR_ANSWER"]).read_bytes()
    if "FLOOR_ANSWER" in os.environ
    else b"{}"
)

fastapi_app = FastAPI()


@fastapi_app.post(PATH)
async def predict(request: Request) -> Response:
    await request.body()
    return Response(ANSWER, media_type="application/json")


@fastapi_app.get("/ready")
async def ready() -> dict[str, str]:
    return {"status": "ok"}


HEADERS = [
    (b"content-type", b"application/json"),
    (b"content-length", str(len(ANSWER)).encode()),
]


async def asgi_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    more = scope["method"] == "POST"
    while more:  # read the whole body, as the service does
        message = await receive()
        more = message.get("more_body", False)
    body = ANSWER if scope["path"] == PATH else b'{"status": "ok"}'
    headers = HEADERS if body is ANSWER else [(b"content-type", b"application/json")]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})
