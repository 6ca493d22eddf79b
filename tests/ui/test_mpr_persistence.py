"""MPR measurements survive closing the MPR window and restarting the application: a length is
drawn with the mouse in the coronal plane of the real CT's MPR, and after a new Store and a new
MainWindow on the same home open the MPR of that series again, it is there on the same plane
with the same LPS points and the same mm, drawn where it was; deleting it forgets it in the
index. A length drawn in an oblique plane is listed when its plane is not on screen, and the
list brings its plane back.
"""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

from tests.ui.conftest import open_main_window
from tests.ui.test_measurement_persistence import is_green
from tests.ui.test_mpr_measure import drag, mm_per_screen_pixel, to_qt
from viewer.store import Store
from viewer.store.measurements import MeasurementStore


def open_mpr(qtbot, win):
    win.mpr_action.trigger()  # the main window's MPR action, with its MeasurementKeeper
    mpr = win.reconstructions[-1]
    qtbot.waitExposed(mpr)
    mpr.view.render()
    return mpr


def draw_length(qtbot, mpr, plane_name: str, a_rc: tuple[float, float], b_rc: tuple[float, float]):
    """Drag a length between two (row, column) fractions of plane ``plane_name`` on screen."""
    view = mpr.view
    mpr.tool_actions["length"].trigger()
    plane = view.scene.planes[plane_name]
    rows, cols = plane.grid.shape
    a = plane.grid.pixel_to_lps(a_rc[0] * rows, a_rc[1] * cols)
    b = plane.grid.pixel_to_lps(b_rc[0] * rows, b_rc[1] * cols)
    added = []
    view.measurement_added.connect(added.append)
    drag(view, to_qt(view, plane.lps_to_display(a)), to_qt(view, plane.lps_to_display(b)))
    assert len(added) == 1
    m = added[0]
    tolerance = 2 * mm_per_screen_pixel(view, plane_name)  # the mouse lands on whole screen pixels
    assert m.result["length"] == pytest.approx(np.linalg.norm(a - b), abs=tolerance)
    return m


def green_near(mpr, m) -> bool:
    """Whether the measurement's colour is drawn around its midpoint in the rendered frame."""
    view = mpr.view
    plane = view.scene.planes[mpr.view.plane_of(m).view]
    mid = to_qt(view, plane.lps_to_display(np.mean(np.asarray(m.points), axis=0)))
    ratio = view.vtk_widget.devicePixelRatioF()
    frame = view.grab_frame()
    y, x = round(mid.y() * ratio), round(mid.x() * ratio)
    return any(is_green(p) for p in frame[y - 2: y + 3, x - 2: x + 3].reshape(-1, 3))


def test_a_coronal_length_is_there_after_closing_mpr_and_restarting(qtbot, lightbox_home, ct_dir):
    store = Store.open(lightbox_home)
    try:
        win = open_main_window(qtbot, store, lightbox_home)
        with qtbot.waitSignal(win.volume_shown, timeout=60_000):
            win.open_path(ct_dir)
        study_uid, series_uid = win.current_study_uid, win.viewport.volume.headers[0].SeriesInstanceUID
        mpr = open_mpr(qtbot, win)
        drawn = draw_length(qtbot, mpr, "coronal", (0.35, 0.3), (0.6, 0.65))
        drawn_plane = mpr.view.plane_of(drawn)
        grid = mpr.view.scene.planes["coronal"].grid
        assert drawn_plane.view == "coronal"
        np.testing.assert_allclose(drawn_plane.normal, grid.normal, atol=1e-12)
        assert mpr.measurement_list.count() == 1 and "Coronal" in mpr.measurement_list.item(0).text()
        mpr.close()
        win.close()  # closeEvent: queued writes reach the index before the window goes
    finally:
        store.close()

    kept = MeasurementStore.open(lightbox_home / "index.sqlite")
    try:
        ((m, plane),) = kept.on_planes(series_uid)  # on disk, with its plane
        assert (m.id, m.points, plane) == (drawn.id, drawn.points, drawn_plane)
        assert kept.for_series(series_uid) == []  # not shown on the 2D pane's images
    finally:
        kept.close()

    store = Store.open(lightbox_home)  # the application starts again
    try:
        win = open_main_window(qtbot, store, lightbox_home)
        with qtbot.waitSignal(win.volume_shown, timeout=60_000):
            win.open_study(study_uid)
        mpr = open_mpr(qtbot, win)
        qtbot.waitUntil(lambda: len(mpr.view.measurements) == 1, timeout=30_000)
        ((shown, plane),) = mpr.view.measurements
        assert (shown.id, shown.kind, shown.points) == (drawn.id, "length", drawn.points)
        assert plane == drawn_plane and plane.same_plane(drawn_plane)
        assert mpr.view.scene.visible_measurements("coronal") == [shown]  # on its plane, at once
        assert shown.result["length"] == pytest.approx(drawn.result["length"], abs=1e-9)  # same mm, re-measured
        assert shown.result["unit"] == "mm"
        assert green_near(mpr, shown)  # and drawn where it was measured
        assert mpr.view.scene.visible_measurements("axial") == []
        assert mpr.measurement_list.count() == 1

        # scrolling away hides it, scrolling back shows it again
        mpr.view.scene.scroll("coronal", 5)
        assert not mpr.view.is_shown(shown) and "(not shown)" in mpr.measurement_list.item(0).text()
        mpr.view.scene.scroll("coronal", -5)
        assert mpr.view.is_shown(shown) and "(not shown)" not in mpr.measurement_list.item(0).text()

        # Delete in the measurement list forgets it in the index too
        removed = []
        mpr.view.measurement_removed.connect(removed.append)
        mpr.measurement_list.setCurrentRow(0)
        QTest.keyClick(mpr.measurement_list, Qt.Key.Key_Delete)
        assert [m.id for m in removed] == [drawn.id]
        assert mpr.measurement_list.count() == 0 and mpr.view.scene.visible_measurements("coronal") == []
        win.measurement_keeper.flush()
        kept = MeasurementStore.open(store.index_path)
        assert kept.on_planes(series_uid) == [] and kept.count() == 0
        kept.close()
        win.close()
    finally:
        store.close()


def test_an_oblique_length_is_listed_and_its_plane_comes_back(qtbot, main_window, ct_dir):
    win = main_window
    with qtbot.waitSignal(win.volume_shown, timeout=60_000):
        win.open_path(ct_dir)
    mpr = open_mpr(qtbot, win)
    mpr.view.scene.rotate("axial", 0.4)  # the coronal plane turns about the vertical: oblique
    mpr.view.scene.rotate("sagittal", -0.25)  # and tilts: double oblique
    mpr.view.render()
    drawn = draw_length(qtbot, mpr, "coronal", (0.4, 0.35), (0.55, 0.7))
    drawn_grid = mpr.view.scene.planes["coronal"].grid
    mpr.close()

    mpr = open_mpr(qtbot, win)  # opens at the standard planes
    qtbot.waitUntil(lambda: mpr.measurement_list.count() == 1, timeout=30_000)
    ((shown, _plane),) = mpr.view.measurements
    assert shown.id == drawn.id and not mpr.view.is_shown(shown)
    assert "(not shown)" in mpr.measurement_list.item(0).text()

    item = mpr.measurement_list.item(0)
    rect = mpr.measurement_list.visualItemRect(item)
    for click in (QTest.mouseClick, QTest.mouseDClick):  # a double-click is a press, then a double press
        click(mpr.measurement_list.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier,
              rect.center())  # double-click: show its plane
    grid = mpr.view.scene.planes["coronal"].grid
    np.testing.assert_allclose(grid.normal, drawn_grid.normal, atol=1e-9)
    np.testing.assert_allclose(grid.row_direction, drawn_grid.row_direction, atol=1e-9)
    assert abs(grid.lps_to_pixel(drawn_grid.origin)[2]) < 1e-6  # the very plane, not a parallel one
    assert mpr.view.is_shown(shown) and "(not shown)" not in mpr.measurement_list.item(0).text()
    assert shown.result["length"] == pytest.approx(drawn.result["length"], abs=1e-9)
    np.testing.assert_allclose(mpr.view.scene.crosshair.center, np.mean(np.asarray(drawn.points), axis=0),
                               atol=1e-6)  # the crosshair on the measurement
    assert green_near(mpr, shown)
    mpr.close()
