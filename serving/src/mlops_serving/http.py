"""Limits below the application: the request head's size, and JSON nesting depth.

**Head size.** uvicorn's httptools protocol (the fast one, used by default) buffers a
request's header lines until they are complete, with no size limit: a 100 MB header
was accepted, and eight of them took a worker to 843 MB. :class:`BoundedHeadProtocol`
counts the bytes of each request's head as they arrive and answers
``431 Request Header Fields Too Large`` (and closes the connection) once they pass
``max_head_bytes``, before anything reaches the application. A chunk that completes the
head is not counted (it may carry body bytes), so the bytes buffered for a head are
bounded by the limit plus one read.

**Nesting.** ``json.loads`` recurses once per level: a 10 KB body of brackets ends in a
``RecursionError`` at a depth that depends on the stack in use. :func:`nesting_depth`
measures the depth first, with strings blanked out so brackets inside them do not count.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

MAX_HEAD_BYTES = 64 * 1024
MAX_JSON_DEPTH = 32
_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_STEP = np.zeros(256, dtype=np.int8)
_STEP[[ord("["), ord("{")]] = 1
_STEP[[ord("]"), ord("}")]] = -1


def nesting_depth(body: bytes) -> int:
    """The deepest nesting of arrays and objects in a JSON document (0 for a scalar).

    Cheap when the body has few brackets; otherwise strings are blanked (C-speed regex)
    and the depth is the running sum's maximum (numpy)."""
    opens = body.count(b"[") + body.count(b"{")
    if opens <= 1:
        return opens
    if b'"' in body:
        body = _STRING.sub(b'""', body)
    steps = _STEP[np.frombuffer(body, dtype=np.uint8)].astype(np.int32)
    return int(np.cumsum(steps).max(initial=0))


class BoundedHeadProtocol(HttpToolsProtocol):
    max_head_bytes = MAX_HEAD_BYTES

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._in_head = True
        self._head_bytes = 0

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._in_head = True
        self._head_bytes = 0

    def on_headers_complete(self) -> None:
        self._in_head = False
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._in_head = True
        self._head_bytes = 0

    def data_received(self, data: bytes) -> None:
        reading_head = self._in_head
        super().data_received(data)
        if not (reading_head and self._in_head):
            return
        self._head_bytes += len(data)
        if self._head_bytes > self.max_head_bytes and not self.transport.is_closing():
            msg = (
                f"request head over {self.max_head_bytes} bytes "
                "(request line and headers)"
            ).encode()
            self.transport.write(
                b"HTTP/1.1 431 Request Header Fields Too Large\r\n"
                b"content-type: text/plain; charset=utf-8\r\n"
                b"content-length: " + str(len(msg)).encode() + b"\r\n"
                b"connection: close\r\n\r\n" + msg
            )
            self.transport.close()
