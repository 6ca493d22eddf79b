"""Running work off the GUI thread and hearing back on it.

Workers never touch a QObject: they run plain callables on a thread pool, and
:class:`WorkerBridge` re-emits their results, errors and progress as Qt signals, which Qt
queues onto the GUI thread because the bridge lives there.
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from PySide6.QtCore import QObject, Signal

from viewer.core.tasks import CancelToken, Progress

log = logging.getLogger(__name__)


class _Relay(QObject):
    done = Signal(object, object)  # callback, result
    progress = Signal(object, object)  # callback, Progress


class WorkerBridge(QObject):
    """A thread pool whose completions are delivered on the GUI thread."""

    def __init__(self, max_workers: int = 4, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._pool = ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="lightbox")
        self._relay = _Relay()
        self._relay.done.connect(lambda callback, value: callback(value))
        self._relay.progress.connect(lambda callback, value: callback(value))
        self._pending: set[Future] = set()
        self._closed = False

    def submit(
        self,
        work: Callable[..., Any],
        *args: Any,
        on_done: Callable[[Any], None] | None = None,
        on_error: Callable[[BaseException], None] | None = None,
        on_progress: Callable[[Progress], None] | None = None,
        cancel: CancelToken | None = None,
    ) -> Future:
        """Run ``work(*args[, progress=...][, cancel=...])`` on a worker thread.

        After :meth:`shutdown` the work is not run and a cancelled future comes back: late
        signals (a retrieve finishing as the window closes) must not raise in the event loop.
        """
        if self._closed:
            future: Future = Future()
            future.cancel()
            return future
        kwargs: dict[str, Any] = {}
        if on_progress is not None:
            kwargs["progress"] = lambda p: self._relay.progress.emit(on_progress, p)
        if cancel is not None:
            kwargs["cancel"] = cancel

        def run() -> None:
            try:
                result = work(*args, **kwargs)
            except BaseException as exc:  # delivered to the GUI, never lost in the pool
                log.debug("worker failed: %s", "".join(traceback.format_exception(exc)))
                if on_error is not None:
                    self._relay.done.emit(on_error, exc)
                return
            if on_done is not None:
                self._relay.done.emit(on_done, result)

        future = self._pool.submit(run)
        self._pending.add(future)
        future.add_done_callback(self._pending.discard)
        return future

    @property
    def busy(self) -> bool:
        return bool(self._pending)

    def shutdown(self) -> None:
        self._closed = True
        self._pool.shutdown(wait=False, cancel_futures=True)
