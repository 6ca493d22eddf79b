"""Background jobs the user can watch and cancel: imports, retrieves, sends, exports.

A :class:`Job` is the GUI-side record of one worker task; :class:`JobRunner` starts the work on
the worker pool with a cancel token and a progress callback and keeps the record current on
the GUI thread; :class:`JobsPanel` lists jobs with a progress bar, a cancel button and a
summary of failures that opens on click. Work functions stay Qt-free: they take
``progress=`` and ``cancel=`` keyword arguments and return a report.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from viewer.core.errors import Cancelled
from viewer.core.tasks import CancelToken, Progress
from viewer.ui.jobs import WorkerBridge

RUNNING, DONE, PARTIAL, FAILED, CANCELLED = "running", "done", "partial", "failed", "cancelled"


class Job(QObject):
    """One background task as the GUI sees it."""

    changed = Signal()
    finished = Signal(object)  # the work's result (None when it failed or was cancelled)

    def __init__(self, title: str) -> None:
        super().__init__()
        self.title = title
        self.token = CancelToken()
        self.status = RUNNING
        self.progress: Progress | None = None
        self.summary = ""
        self.details: list[str] = []
        self.result: Any = None

    def cancel(self) -> None:
        self.token.cancel()

    def _progress(self, progress: Progress) -> None:
        self.progress = progress
        self.changed.emit()

    def _finish(self, status: str, summary: str, details: list[str], result: Any = None) -> None:
        self.status, self.summary, self.details, self.result = status, summary, details, result
        self.changed.emit()
        self.finished.emit(result)


def describe_result(result: Any) -> tuple[str, str, list[str]]:
    """Status, one-line summary and detail lines of a work report (duck-typed).

    Reports say ``cancelled``, ``ok`` and list problems in ``failures`` (objects with ``path``
    and ``reason``), ``failed_sop_uids`` and ``error`` (a retrieve's report); a ``summary()``
    method gives the line if present.
    """
    if result is None:
        return DONE, "done", []
    failures = list(getattr(result, "failures", []) or [])
    details = [_issue_text(f) for f in failures] + _retrieve_issues(result)
    for extra in ("conflicts", "skipped_files"):
        details += [f"{extra[:-1].replace('_', ' ')}: {getattr(f, 'path', '')}: {getattr(f, 'reason', f)}"
                    for f in getattr(result, extra, []) or []]
    details += [f"warning: {w}" for w in getattr(result, "warnings", []) or []]
    summary = result.summary() if callable(getattr(result, "summary", None)) else _counts(result)
    if getattr(result, "cancelled", False):
        return CANCELLED, summary, details
    ok = getattr(result, "ok", True)
    return (DONE if ok else PARTIAL), summary, details


def _retrieve_issues(result: Any) -> list[str]:
    """What went wrong in a C-GET/C-MOVE/WADO-RS retrieve (viewer.net.retrieve.RetrieveReport).

    The peer lists the instances it could not send in Failed SOP Instance UID List (0008,0058),
    PS3.4 C.4.2.1.4 / C.4.3.1.3.1; when it only counts them, the count is all there is to say.
    """
    lines = []
    error = getattr(result, "error", None)
    if error:
        lines.append(f"error: {error}")
    failed_uids = [str(u) for u in getattr(result, "failed_sop_uids", None) or []]
    lines += [f"not retrieved: SOP Instance UID {uid}" for uid in failed_uids]
    failed = getattr(result, "failed", 0)
    if isinstance(failed, int) and failed > len(failed_uids) and hasattr(result, "failed_sop_uids"):
        lines.append(f"{failed - len(failed_uids)} more sub-operations failed; the peer did not say which "
                     "(its log names them)")
    remaining = getattr(result, "remaining", 0)
    if isinstance(remaining, int) and remaining > 0:
        lines.append(f"{remaining} instances were not sent (remaining when the retrieve ended)")
    status = getattr(result, "status", None)
    if hasattr(result, "failed_sop_uids") and isinstance(status, int) and status not in (0, 0xFE00) \
            and not lines:
        lines.append(f"final status 0x{status:04X} {getattr(result, 'status_text', '')}".rstrip())
    return lines


def _issue_text(issue: Any) -> str:
    """A failed item as 'what: why', whether it is a (what, why) pair or has path/reason."""
    if isinstance(issue, tuple) and len(issue) == 2:
        return f"{issue[0]}: {issue[1]}"
    return f"{getattr(issue, 'path', '')}: {getattr(issue, 'reason', issue)}"


def _counts(result: Any) -> str:
    names = ("imported", "duplicate", "conflict", "skipped", "failed", "files", "sent", "completed", "warning")
    parts = [f"{getattr(result, n)} {n}" for n in names if isinstance(getattr(result, n, None), int)]
    return ", ".join(parts) or "done"


class JobRunner(QObject):
    """Starts work functions as jobs and announces them."""

    job_added = Signal(object)

    def __init__(self, workers: WorkerBridge, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.workers = workers
        self.jobs: list[Job] = []

    def start(self, title: str, work: Callable[..., Any], *args: Any) -> Job:
        job = Job(title)
        self.jobs.append(job)
        self.job_added.emit(job)

        def done(result: Any) -> None:
            job._finish(*describe_result(result), result=result)

        def failed(exc: BaseException) -> None:
            if isinstance(exc, Cancelled):
                job._finish(CANCELLED, "cancelled", [])
            else:
                job._finish(FAILED, str(exc), [f"{type(exc).__name__}: {exc}"])

        self.workers.submit(work, *args, on_done=done, on_error=failed, on_progress=job._progress,
                            cancel=job.token)
        return job


class JobRow(QWidget):
    def __init__(self, job: Job, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.job = job
        self.title = QLabel(job.title)
        self.bar = QProgressBar()
        self.bar.setMaximumHeight(14)
        self.bar.setTextVisible(True)
        self.state = QLabel()
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.clicked.connect(job.cancel)
        self.details_button = QPushButton("Details")
        self.details_button.clicked.connect(self.show_details)
        self.details_button.hide()
        layout = QHBoxLayout(self)
        layout.setContentsMargins(4, 2, 4, 2)
        layout.addWidget(self.title, 2)
        layout.addWidget(self.bar, 3)
        layout.addWidget(self.state, 3)
        layout.addWidget(self.cancel_button)
        layout.addWidget(self.details_button)
        job.changed.connect(self.update_view)
        self.update_view()

    def update_view(self) -> None:
        job = self.job
        progress = job.progress
        if job.status == RUNNING:
            if progress is not None and progress.total:
                self.bar.setRange(0, progress.total)
                self.bar.setValue(min(progress.done, progress.total))
            else:
                self.bar.setRange(0, 0)  # busy indicator until the total is known
            self.state.setText(progress.message if progress is not None else "starting…")
            return
        self.bar.setRange(0, 1)
        self.bar.setValue(1 if job.status in (DONE, PARTIAL) else 0)
        self.state.setText(f"{job.status}: {job.summary}")
        self.cancel_button.hide()
        self.details_button.setVisible(bool(job.details))

    def show_details(self) -> None:
        box = QMessageBox(self)
        box.setWindowTitle(self.job.title)
        box.setText(f"{self.job.status}: {self.job.summary}")
        box.setDetailedText("\n".join(self.job.details))
        box.exec()


class JobsPanel(QWidget):
    """The list of jobs, newest at the top, with a button that clears the finished ones."""

    def __init__(self, runner: JobRunner, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.runner = runner
        self.scroll = QScrollArea()
        self.scroll.setWidgetResizable(True)
        inner = QWidget()
        self.rows_layout = QVBoxLayout(inner)
        self.rows_layout.setAlignment(Qt.AlignmentFlag.AlignTop)
        self.empty = QLabel("No jobs yet. Imports, retrieves and sends appear here.")
        self.rows_layout.addWidget(self.empty)
        self.scroll.setWidget(inner)
        self.clear_button = QPushButton("Clear finished")
        self.clear_button.setToolTip("Remove the jobs that are done, failed or cancelled from this list")
        self.clear_button.clicked.connect(self.clear_finished)
        self.clear_button.setEnabled(False)
        top = QHBoxLayout()
        top.setContentsMargins(4, 2, 4, 0)
        top.addStretch(1)
        top.addWidget(self.clear_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(top)
        layout.addWidget(self.scroll, 1)
        self.rows: list[JobRow] = []
        runner.job_added.connect(self.add)

    def add(self, job: Job) -> None:
        self.empty.hide()
        row = JobRow(job)
        self.rows.append(row)
        self.rows_layout.insertWidget(0, row)
        job.changed.connect(self._update_clear_button)

    def _update_clear_button(self) -> None:
        self.clear_button.setEnabled(any(r.job.status != RUNNING for r in self.rows))

    def clear_finished(self) -> int:
        """Remove finished jobs (done, partial, failed, cancelled); running ones stay. Returns how many."""
        finished = [r for r in self.rows if r.job.status != RUNNING]
        for row in finished:
            self.rows.remove(row)
            self.rows_layout.removeWidget(row)
            row.deleteLater()
            if row.job in self.runner.jobs:
                self.runner.jobs.remove(row.job)
        self.empty.setVisible(not self.rows)
        self._update_clear_button()
        return len(finished)
