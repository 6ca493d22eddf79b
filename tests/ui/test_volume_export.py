"""STL export from the 3D window runs on a worker thread (pytest-qt, real CT): the GUI thread's
event loop keeps firing a timer while the surface is being made, progress shows in the status
bar, the file is a valid STL, Cancel stops it mid-way leaving the previous file as it was, and
an unwritable place ends in a message saying what to do.
"""

from __future__ import annotations

import threading

import numpy as np
import pytest
from PySide6.QtCore import Qt, QTimer
from PySide6.QtTest import QTest
from vtkmodules.vtkIOGeometry import vtkSTLReader

from viewer.core.errors import Cancelled
from viewer.core.volume import load_volume
from viewer.render import surface


@pytest.fixture(scope="module")
def ct(ct_dir):
    return load_volume(ct_dir)


@pytest.fixture
def window(qtbot, ct):
    from viewer.ui.reconstruction_window import ReconstructionWindow

    w = ReconstructionWindow(ct, "3d", (40, 400))
    qtbot.addWidget(w)
    w.show()
    qtbot.waitExposed(w)
    return w


def stl_triangles(path) -> int:
    reader = vtkSTLReader()
    reader.SetFileName(str(path))
    reader.MergingOff()  # every facet as written (merging drops the ones that degenerate)
    reader.Update()
    return reader.GetOutput().GetNumberOfPolys()


def test_export_keeps_the_gui_thread_live_and_writes_a_valid_stl(qtbot, window, tmp_path, monkeypatch):
    state = {"running": False, "thread": None}
    real = surface.export_stl

    def watched(*args, **kwargs):  # the real export, telling the test when and where it runs
        state["running"], state["thread"] = True, threading.current_thread()
        try:
            return real(*args, **kwargs)
        finally:
            state["running"] = False

    monkeypatch.setattr(surface, "export_stl", watched)
    ticks_while_running = []
    timer = QTimer()
    timer.setInterval(5)
    timer.timeout.connect(lambda: ticks_while_running.append(1) if state["running"] else None)
    timer.start()
    bar_seen, reports = [], []
    window.export_progress.connect(lambda p: (reports.append(p), bar_seen.append(window.export_bar.isVisible())))
    out = tmp_path / "bone.stl"
    with qtbot.waitSignal(window.export_finished, timeout=120_000) as finished:
        window.export_stl(str(out), 300)
        assert not window.export_stl_action.isEnabled()  # one export at a time
    timer.stop()
    info = finished.args[0]
    assert state["thread"] is not threading.main_thread()
    assert len(ticks_while_running) >= 3  # the event loop ran timers while the surface was made
    assert len(reports) > 3 and all(bar_seen)  # stage by stage, in the status bar's progress bar
    assert [p.done for p in reports] == sorted(p.done for p in reports)
    assert stl_triangles(out) == info.triangles > 10_000  # vtkSTLReader reads it back
    assert [p.name for p in tmp_path.iterdir()] == ["bone.stl"]  # no temporary file left
    assert f"{info.triangles:,} triangles" in window.statusBar().currentMessage()
    assert window.export_stl_action.isEnabled() and not window.export_bar.isVisible()


def test_cancel_stops_mid_way_and_leaves_the_previous_file(qtbot, window, tmp_path, monkeypatch):
    """Cancel is clicked when the second slab starts; the worker waits for that click, so the
    cancel lands mid-contouring every time, not just when the machine happens to be slow."""
    real = surface.export_stl
    clicked = threading.Event()

    def gated(volume, path, threshold, *, progress, cancel):
        def report(p):
            progress(p)
            if p.done == 1:
                clicked.wait(30)
        return real(volume, path, threshold, progress=report, cancel=cancel)

    monkeypatch.setattr(surface, "export_stl", gated)

    def on_progress(p):
        if p.done == 1:
            QTest.mouseClick(window.export_cancel, Qt.MouseButton.LeftButton)
            clicked.set()

    window.export_progress.connect(on_progress)
    out = tmp_path / "bone.stl"
    out.write_bytes(b"yesterday's export")
    with qtbot.waitSignal(window.export_finished, timeout=120_000) as finished:
        window.export_stl(str(out), 300)
    assert isinstance(finished.args[0], Cancelled)
    assert out.read_bytes() == b"yesterday's export"
    assert [p.name for p in tmp_path.iterdir()] == ["bone.stl"]
    assert "cancelled" in window.statusBar().currentMessage()
    assert window.export_stl_action.isEnabled()


def test_an_unwritable_place_shows_a_message_to_act_on(qtbot, window, tmp_path, monkeypatch):
    from PySide6.QtWidgets import QMessageBox

    shown = []
    monkeypatch.setattr(QMessageBox, "warning", staticmethod(lambda parent, title, text, *a: shown.append(text)))
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    with qtbot.waitSignal(window.export_finished, timeout=120_000):
        window.export_stl(str(blocker / "bone.stl"), 300)
    (message,) = shown
    assert str(blocker / "bone.stl") in message and "choose a folder you can write to" in message
    assert window.export_stl_action.isEnabled()


def test_closing_the_window_cancels_a_running_export(qtbot, window, tmp_path, monkeypatch):
    real = surface.export_stl
    started, outcome = threading.Event(), []

    def watched(*args, **kwargs):
        started.set()
        try:
            return real(*args, **kwargs)
        except BaseException as exc:
            outcome.append(exc)
            raise

    monkeypatch.setattr(surface, "export_stl", watched)
    token = window.export_stl(str(tmp_path / "bone.stl"), 300)
    assert started.wait(30)
    window.close()
    assert token.cancelled
    qtbot.waitUntil(lambda: bool(outcome) or (tmp_path / "bone.stl").exists(), timeout=60_000)
    if outcome:  # cancelled at the next stage (the usual case): nothing written, nothing left
        assert isinstance(outcome[0], Cancelled)
        assert list(tmp_path.iterdir()) == []
    np.testing.assert_equal([p.name for p in tmp_path.iterdir() if p.name.endswith(".part")], [])
