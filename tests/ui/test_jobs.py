"""WorkerBridge delivers results on the GUI thread and goes quiet after shutdown."""

from __future__ import annotations

import threading

from viewer.ui.jobs import WorkerBridge


def test_results_arrive_on_the_gui_thread(qtbot):
    bridge = WorkerBridge()
    seen: list[tuple[int, bool]] = []
    bridge.submit(lambda x: x * 2, 21,
                  on_done=lambda v: seen.append((v, threading.current_thread() is threading.main_thread())))
    qtbot.waitUntil(lambda: bool(seen), timeout=5000)
    assert seen == [(42, True)]
    bridge.shutdown()


def test_errors_are_delivered_not_lost(qtbot):
    bridge = WorkerBridge()
    errors: list[BaseException] = []

    def fail() -> None:
        raise ValueError("bad file")

    bridge.submit(fail, on_error=errors.append)
    qtbot.waitUntil(lambda: bool(errors), timeout=5000)
    assert isinstance(errors[0], ValueError)
    bridge.shutdown()


def test_work_submitted_after_shutdown_is_not_run_and_does_not_raise(qtbot):
    bridge = WorkerBridge()
    bridge.shutdown()
    ran: list[int] = []
    future = bridge.submit(ran.append, 1, on_done=ran.append)
    assert future.cancelled()
    qtbot.wait(50)
    assert ran == []
