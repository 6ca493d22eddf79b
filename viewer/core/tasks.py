"""Cancel tokens and progress reports for long operations.

Workers run off the GUI thread; they check a :class:`CancelToken` between units of work
(files, frames, DIMSE responses) and report :class:`Progress` through a plain callback, so
the same code serves the CLI, tests and the Qt bridge (which re-emits on the GUI thread).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass

from viewer.core.errors import Cancelled


class CancelToken:
    """A thread-safe flag set by whoever wants the work to stop."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def raise_if_cancelled(self) -> None:
        """Raise :class:`Cancelled` once the token is set; call between units of work."""
        if self._event.is_set():
            raise Cancelled("cancelled by the user")


@dataclass(frozen=True)
class Progress:
    """How far a job is: ``done`` of ``total`` units (``total`` 0 when unknown)."""

    done: int
    total: int = 0
    message: str = ""

    @property
    def fraction(self) -> float | None:
        return self.done / self.total if self.total else None


ProgressCallback = Callable[[Progress], None]


def no_progress(_: Progress) -> None:
    """A progress callback that ignores reports."""
