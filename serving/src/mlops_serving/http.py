"""Below the application: the request head's size, JSON nesting depth, and the
requests a worker has read and not answered.

**Head size.** uvicorn's httptools protocol (the fast one, used by default) buffers a
request's header lines until they are complete, with no size limit: a 100 MB header
was accepted, and eight of them took a worker to 843 MB. :class:`BoundedHeadProtocol`
counts the bytes of each request's head as they arrive and answers
``431 Request Header Fields Too Large`` (and closes the connection) once they pass
``max_head_bytes``, before anything reaches the application: while a head is still
arriving, by the bytes read (httptools buffers an unfinished header, so that is the
memory bound: the limit plus one read); when a read completes it, by the head's
parsed size (that read may also carry the body, or a whole request).

**Nesting.** ``json.loads`` recurses once per level: a 10 KB body of brackets ends in a
``RecursionError`` at a depth that depends on the stack in use. :func:`nesting_depth`
measures the depth first, with strings blanked out so brackets inside them do not count.
It works on the body's skeleton (its brackets, quotes and backslashes, kept by
``bytes.translate`` at C speed) rather than blanking the strings of the whole body
(docs/benchmarks.md has what each costs for a batch).

**Unanswered requests.** :class:`BoundedHeadProtocol` also hands the application, in
each request's scope, uvicorn's own set of the worker's running requests
(:func:`unanswered`): a request alone there is predicted at once rather than at the
end of the event loop's turn, where others would share its model call
(mlops_serving.coalesce).
"""

from __future__ import annotations

import re
from collections.abc import Collection, MutableMapping
from typing import Any

import numpy as np
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

MAX_HEAD_BYTES = 64 * 1024
MAX_JSON_DEPTH = 32
# a JSON string, escapes included ("unrolled": 2.7x faster than an alternation)
_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_QUOTE = ord('"')
# every byte but the six a depth depends on
_NOT_SKELETON = bytes(sorted(set(range(256)) - set(b'[]{}"\\')))
_STEP = np.zeros(256, dtype=np.int8)
_STEP[[ord("["), ord("{")]] = 1
_STEP[[ord("]"), ord("}")]] = -1


def nesting_depth(body: bytes) -> int:
    """The deepest nesting of arrays and objects in a JSON document (0 for a scalar).

    A body with at most one bracket answers its count of brackets at once (its depth
    is 0 or 1, whether or not that bracket sits in a string: far from any limit, and
    that is every single-record request but parking's). Otherwise the body is
    reduced to its skeleton: brackets, quotes, backslashes (a UTF-8 multi-byte
    character never contains an ASCII byte, so none is mistaken for one). Without a
    backslash the quotes pair up in order, so a bracket after an odd number of them
    is in a string; with one, the strings are blanked in the whole body first,
    escapes understood. The depth is the running sum's maximum (numpy)."""
    skeleton = body.translate(None, _NOT_SKELETON)
    opens = skeleton.count(b"[") + skeleton.count(b"{")
    if opens <= 1:
        return opens
    if b"\\" in skeleton:
        skeleton = _STRING.sub(b'""', body).translate(None, _NOT_SKELETON)
    codes = np.frombuffer(skeleton, dtype=np.uint8)
    steps = _STEP[codes].astype(np.int32)
    if b'"' in skeleton:  # a bracket after an odd number of quotes is in a string
        steps[np.cumsum(codes == _QUOTE, dtype=np.int32) & 1 == 1] = 0
    return int(np.cumsum(steps).max(initial=0))


UNANSWERED = "mlops_serving.unanswered"


def unanswered(scope: MutableMapping[str, Any]) -> Collection[Any] | None:
    """The requests the worker has read and not answered yet, this one included (the
    tasks uvicorn runs them in), or None when the server does not say (any server but
    ``mlops-serve``'s, such as a test client)."""
    extensions = scope.get("extensions")
    return extensions.get(UNANSWERED) if extensions else None


class HeadTooLarge(Exception):
    """Raised from the parser's callback to stop a request whose head is too large."""


class BoundedHeadProtocol(HttpToolsProtocol):
    max_head_bytes = MAX_HEAD_BYTES

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._in_head = True
        self._head_bytes = 0  # bytes of the reads spent inside one unfinished head
        self._head_size = 0  # the parsed head: request target and header lines
        self._heads_done = 0
        self._refusing = False

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._in_head = True
        self._head_bytes = 0
        self._head_size = 0

    def on_url(self, url: bytes) -> None:
        self._head_size += len(url)
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._head_size += len(name) + len(value) + 4  # ": " and CRLF
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self._in_head = False
        self._heads_done += 1
        if self._head_size > self.max_head_bytes:
            # before uvicorn starts the request: it never reaches the application
            self._refusing = True
            raise HeadTooLarge
        # uvicorn adds the request's task to this set as it starts it, and removes
        # it when the response is complete
        extensions: dict[str, Any] = self.scope.setdefault("extensions", {})
        extensions[UNANSWERED] = self.tasks
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._in_head = True
        self._head_bytes = 0

    def send_400_response(self, msg: str) -> None:
        # uvicorn answers 400 to any error raised while parsing, ours included
        if self._refusing:
            self._send_431()
        else:
            super().send_400_response(msg)

    def data_received(self, data: bytes) -> None:
        reading_head, heads_done = self._in_head, self._heads_done
        super().data_received(data)
        # The memory bound: reads spent inside one head that has not ended yet
        # (httptools buffers a header until it is complete). A read that completes a
        # head is checked by the head's parsed size instead: it may also carry a
        # body, or a whole request (the next head just begun).
        if self._refusing or not reading_head or not self._in_head:
            return
        if self._heads_done != heads_done:
            return
        self._head_bytes += len(data)
        if self._head_bytes > self.max_head_bytes:
            self._send_431()

    def _send_431(self) -> None:
        if self.transport.is_closing():
            return
        msg = (
            f"request head over {self.max_head_bytes} bytes (request line and headers)"
        ).encode()
        self.transport.write(
            b"HTTP/1.1 431 Request Header Fields Too Large\r\n"
            b"content-type: text/plain; charset=utf-8\r\n"
            b"content-length: " + str(len(msg)).encode() + b"\r\n"
            b"connection: close\r\n\r\n" + msg
        )
        self.transport.close()
