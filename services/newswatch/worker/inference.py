"""The thread the classifier runs on, so the event loop keeps consuming and producing meanwhile.

thread = InferenceThread()
result = await asyncio.wrap_future(thread.submit(classify_resilient, classifier, articles, policy))
thread.shutdown()      # after a timeout: abandon a stuck call, start a fresh thread
"""

from __future__ import annotations

import contextlib
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future, InvalidStateError
from typing import Any

__all__ = ["InferenceThread"]


class InferenceThread:
    """A one-thread executor whose thread is a daemon: one stuck in the classifier cannot block the exit.

    (``ThreadPoolExecutor`` joins its threads at interpreter exit.) After a classifier timeout the worker
    shuts this one down, abandoning the stuck thread, and starts a fresh one.
    """

    def __init__(self) -> None:
        self._queue: queue.SimpleQueue[tuple[Future[Any], Callable[..., Any], tuple[Any, ...]] | None]
        self._queue = queue.SimpleQueue()
        threading.Thread(target=self._work, name="newswatch-inference", daemon=True).start()

    def submit(self, fn: Callable[..., Any], *args: Any) -> Future[Any]:
        future: Future[Any] = Future()
        self._queue.put((future, fn, args))
        return future

    def shutdown(self) -> None:
        """Stop after the call in progress; calls still queued are cancelled."""
        self._queue.put(None)

    def _work(self) -> None:
        while (item := self._queue.get()) is not None:
            future, fn, args = item
            if not future.set_running_or_notify_cancel():
                continue
            try:
                result = fn(*args)
            except BaseException as exc:  # handed to the awaiting coroutine
                with contextlib.suppress(InvalidStateError):
                    future.set_exception(exc)
            else:
                with contextlib.suppress(InvalidStateError):
                    future.set_result(result)
        while True:  # cancel what was queued behind the stop
            try:
                rest = self._queue.get_nowait()
            except queue.Empty:
                return
            if rest is not None:
                rest[0].cancel()
