"""Every stack of a series is reachable in the GUI (issue 3): strip entries, selector, keys, drags."""

from __future__ import annotations

from PySide6.QtCore import QPointF, Qt
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QApplication

from tests.multistack import CT_SLICES, MR_SLICES, build_multistack_series
from tests.ui.test_browser import import_and_wait

MAIN, OTHER = (MR_SLICES, 256, 256), (CT_SLICES, 512, 512)


def _drop(qtbot, win, mime, target):
    at = QPointF(20, 20)
    QApplication.sendEvent(target.vtk_widget, QDragEnterEvent(at.toPoint(), Qt.DropAction.CopyAction, mime,
                                                              Qt.MouseButton.LeftButton,
                                                              Qt.KeyboardModifier.NoModifier))
    with qtbot.waitSignal(win.volume_shown, timeout=60_000) as shown:
        QApplication.sendEvent(target.vtk_widget, QDropEvent(at, Qt.DropAction.CopyAction, mime,
                                                             Qt.MouseButton.LeftButton,
                                                             Qt.KeyboardModifier.NoModifier))
    return shown.args[0]


def test_each_stack_of_a_series_can_be_opened(qtbot, main_window, tmp_path, mr_dir, ct_dir):
    win = main_window
    study_uid, series_uid, _ = build_multistack_series(mr_dir, ct_dir, tmp_path / "series")
    import_and_wait(qtbot, win, [tmp_path / "series"])
    strip = win.thumbnails
    win.browser.select_study(study_uid)
    qtbot.waitUntil(lambda: strip.pending == 0 and strip.count() == 2, timeout=30_000)
    assert [strip.item(i).text().split("\n")[1] for i in range(2)] == ["stack 1/2 · 10 im", "stack 2/2 · 4 im"]
    # double-clicking the second entry opens the second stack (not the biggest)
    second = strip.item_of(series_uid, 1)
    with qtbot.waitSignal(win.volume_shown, timeout=60_000) as shown:
        strip.itemDoubleClicked.emit(second)
    assert shown.args[0].voxels.shape == OTHER and win.viewport.volume is shown.args[0]
    # the status bar's selector says which stack is shown and offers the other
    switcher = win._stack_switcher
    qtbot.waitUntil(lambda: switcher.selector.isVisible() and switcher.selector.count() == 2)
    assert switcher.selector.currentIndex() == 1 and "Stack 2/2" in switcher.selector.currentText()
    # Ctrl+PgUp / Ctrl+PgDn step through the stacks of the shown series
    win.activateWindow()
    qtbot.waitUntil(win.isActiveWindow)
    win.focus_viewport()
    with qtbot.waitSignal(win.volume_shown, timeout=60_000) as shown:
        qtbot.keyClick(win.viewport.vtk_widget, Qt.Key.Key_PageUp, Qt.KeyboardModifier.ControlModifier)
    assert shown.args[0].voxels.shape == MAIN
    assert switcher.selector.currentIndex() == 0
    with qtbot.waitSignal(win.volume_shown, timeout=60_000) as shown:
        switcher.selector.activated.emit(1)  # choosing in the selector
    assert shown.args[0].voxels.shape == OTHER
    # a drag of the second entry into another viewport shows that stack there, and the selector follows it
    win.grid.set_layout(1, 2)
    target = win.grid.viewports[1]
    volume = _drop(qtbot, win, strip.mimeData([strip.item_of(series_uid, 1)]), target)
    assert volume.voxels.shape == OTHER and target.volume is volume
    assert win.grid.active_viewport is target and switcher.selector.currentIndex() == 1
    volume = _drop(qtbot, win, strip.mimeData([strip.item_of(series_uid, 0)]), target)
    assert volume.voxels.shape == MAIN and switcher.selector.currentIndex() == 0
