"""Requests for the prediction thread, coalesced into one model call.

A runtime that does not answer a request inline (:attr:`Runtime.inline_rows`) predicts
in the service's one prediction thread. While that thread runs a call, the requests
that arrive for the same model wait in a queue; the next call takes all of them (up to
``max_rows`` rows) as one ``[n, k]`` input and hands each request its own rows of the
output. Nothing waits for a batch to fill: alone, a request is predicted at once, as
before; under load, the calls grow with the queue. It pays where a call costs about
the same for 1 row as for 100: scikit-learn's pipeline spends 17-18 ms on one row and
19-22 ms on 100 (retail's champion, docs/benchmarks.md).

If a coalesced call raises, its requests are predicted one by one, so each gets its
own answer or error, as without coalescing.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from concurrent.futures import Executor

import numpy as np

from mlops_serving.runtime import Runtime
from mlops_serving.schema import Columns

Pending = tuple[Columns, "asyncio.Future[np.ndarray]"]


class Coalescer:
    def __init__(self, executor: Executor, max_rows: int) -> None:
        self.executor = executor
        self.max_rows = max_rows
        self.queues: dict[Runtime, list[Pending]] = {}
        self.calls = 0  # model calls made (a test reads it)
        self._tasks: set[asyncio.Task[None]] = set()  # referenced until done

    async def predict(self, runtime: Runtime, columns: Columns) -> np.ndarray:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[np.ndarray] = loop.create_future()
        queue = self.queues.get(runtime)
        if queue is None:  # no call for this model in flight: start draining
            self.queues[runtime] = [(columns, future)]
            task = loop.create_task(self._drain(runtime))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        else:
            queue.append((columns, future))
        return await future

    async def _drain(self, runtime: Runtime) -> None:
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
                self.calls += 1
                results = await loop.run_in_executor(
                    self.executor, predict_parts, runtime, parts
                )
                for (_, future), result in zip(take, results, strict=True):
                    if future.done():  # the request was cancelled (client gone)
                        continue
                    if isinstance(result, BaseException):
                        future.set_exception(result)
                    else:
                        future.set_result(result)
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
