"""Requests for the same model coalesced into one model call.

Two ways, one rule: a call takes the requests that are already waiting and never waits
for more.

- **The prediction thread.** A runtime that does not answer a request inline
  (:attr:`Runtime.inline_rows`) predicts in the service's one prediction thread. While
  that thread runs a call, the requests that arrive for the same model wait in a queue;
  the next call takes all of them (up to ``max_rows`` rows) as one ``[n, k]`` input and
  hands each request its own rows of the output. It pays where a call costs about the
  same for 1 row as for 100: scikit-learn's pipeline spends 17-18 ms on one row and
  19-22 ms on 100 (retail's champion, docs/benchmarks.md).
- **One turn of the event loop.** A request a runtime answers inline is predicted at
  the end of the event loop's turn in which it reached the model, in one call with the
  other requests for the same model that reached it in that turn (up to
  ``inline_rows`` rows). Under load a worker reads several requests in one turn, and
  one call for them costs less than one each: the call's own overhead, and the
  model's memory, out of the CPU's caches under load, is read once (retail's 525
  trees with 4 MB of other memory touched between calls: 133 us for one row, 43 us a
  row for eight). A request the worker knows to be alone
  (:func:`mlops_serving.http.unanswered`) is predicted at once; under another
  server, a request alone waits one turn of the loop, which does nothing else
  meanwhile.

A record's answer does not depend on what it shared a call with, beyond the last bit:
onnxruntime's arithmetic over several rows is vectorised and may round differently
(retail's probabilities: 1 ulp, tested).

If a coalesced call raises, its requests are predicted one by one, so each gets its
own answer or error, as without coalescing. Requests for different models (a hot swap
between two requests) never share a call: the queues are per runtime.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from concurrent.futures import Executor

import numpy as np

from mlops_serving.runtime import Runtime
from mlops_serving.schema import Columns

Pending = tuple[Columns, "asyncio.Future[np.ndarray]"]
CallObserver = Callable[[str, int], None]  # (label, rows) of each model call


class _Turn:
    """The requests for one runtime in one turn of the event loop."""

    __slots__ = ("items", "label", "rows")

    def __init__(self, label: str) -> None:
        self.items: list[Pending] = []
        self.rows = 0
        self.label = label


class Coalescer:
    def __init__(
        self,
        executor: Executor,
        max_rows: int,
        observe: CallObserver | None = None,
    ) -> None:
        self.executor = executor
        self.max_rows = max_rows
        self.observe = observe
        self.queues: dict[Runtime, list[Pending]] = {}
        self.turns: dict[Runtime, _Turn] = {}
        self.calls = 0  # model calls made (a test reads it)
        self._tasks: set[asyncio.Task[None]] = set()  # referenced until done

    def _called(self, label: str, rows: int) -> None:
        self.calls += 1
        if self.observe is not None:
            self.observe(label, rows)

    def predict_now(
        self, runtime: Runtime, columns: Columns, label: str = ""
    ) -> np.ndarray:
        """``runtime``'s outputs for ``columns``, predicted right here, alone (a
        request the worker knows no other request beside)."""
        self._called(label, columns.n_rows)
        return runtime.predict(columns)

    async def predict_in_turn(
        self, runtime: Runtime, columns: Columns, label: str = ""
    ) -> np.ndarray:
        """``runtime``'s outputs for ``columns`` (at most ``runtime.inline_rows``
        rows), predicted on the event loop at the end of this turn, in one call with
        the other requests for ``runtime`` of the turn."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[np.ndarray] = loop.create_future()
        turn = self.turns.get(runtime)
        if turn is None or turn.rows + columns.n_rows > runtime.inline_rows:
            # the first of the turn, or the turn's call is full: a call of its own.
            # Callbacks run in the order they are scheduled, so this one runs after
            # the steps of the requests the loop has already read.
            turn = self.turns[runtime] = _Turn(label)
            loop.call_soon(self._call_turn, runtime, turn)
        turn.items.append((columns, future))
        turn.rows += columns.n_rows
        return await future

    def _call_turn(self, runtime: Runtime, turn: _Turn) -> None:
        if self.turns.get(runtime) is turn:
            del self.turns[runtime]
        live = [item for item in turn.items if not item[1].done()]  # not cancelled
        if not live:
            return
        self._called(turn.label, sum(c.n_rows for c, _ in live))
        try:
            results = predict_parts(runtime, [columns for columns, _ in live])
        except BaseException as exc:  # a bug or an interrupt: no request may hang
            for _, future in live:
                if not future.done():
                    future.set_exception(exc)
            raise
        _settle(live, results)

    async def predict(
        self, runtime: Runtime, columns: Columns, label: str = ""
    ) -> np.ndarray:
        """``runtime``'s outputs for ``columns``, predicted in the prediction thread,
        in one call with the requests for ``runtime`` queued meanwhile."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[np.ndarray] = loop.create_future()
        queue = self.queues.get(runtime)
        if queue is None:  # no call for this model in flight: start draining
            self.queues[runtime] = [(columns, future)]
            task = loop.create_task(self._drain(runtime, label))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        else:
            queue.append((columns, future))
        return await future

    async def _drain(self, runtime: Runtime, label: str) -> None:
        """Calls for ``runtime`` until its queue is empty; the queue exists (and new
        requests join it) as long as this runs. Everything here runs on the event
        loop, so the queue changes only between awaits."""
        loop = asyncio.get_running_loop()
        queue, limit = self.queues[runtime], self.max_rows
        take: list[Pending] = []
        try:
            while queue:
                take = []
                rows = 0
                while queue and (not take or rows + queue[0][0].n_rows <= limit):
                    item = queue.pop(0)
                    take.append(item)
                    rows += item[0].n_rows
                parts = [columns for columns, _ in take]
                self._called(label, rows)
                results = await loop.run_in_executor(
                    self.executor, predict_parts, runtime, parts
                )
                _settle(take, results)
        except BaseException as exc:  # cancelled (shutdown) or a bug: none may hang
            for _, future in take + queue:
                if future.done():
                    continue
                if isinstance(exc, asyncio.CancelledError):
                    future.cancel()
                else:
                    future.set_exception(exc)
            raise
        finally:
            del self.queues[runtime]


def _settle(
    pending: Sequence[Pending], results: Sequence[np.ndarray | BaseException]
) -> None:
    for (_, future), result in zip(pending, results, strict=True):
        if future.done():  # the request was cancelled (client gone)
            continue
        if isinstance(result, BaseException):
            future.set_exception(result)
        else:
            future.set_result(result)


def predict_parts(
    runtime: Runtime, parts: Sequence[Columns]
) -> list[np.ndarray | Exception]:
    """Each part's outputs from one call over all of them (one by one if it fails)."""
    if len(parts) > 1:
        try:
            outputs = runtime.predict(Columns.concat(parts))
        except Exception:  # noqa: S110 (each part gets its own outcome below)
            pass
        else:
            ends = np.cumsum([p.n_rows for p in parts])
            return list(np.split(outputs, ends[:-1]))
    results: list[np.ndarray | Exception] = []
    for part in parts:
        try:
            results.append(runtime.predict(part))
        except Exception as exc:
            results.append(exc)
    return results
