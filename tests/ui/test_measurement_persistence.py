"""Measurements survive closing the application: drawn with the mouse on the real CT, found again
on the same image after a new main window (and a new Store) opens the study from the cache."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtTest import QTest

from tests.ui.conftest import open_main_window, screen_pixel
from tests.ui.test_viewport import drag
from viewer.store import Store
from viewer.store.measurements import MeasurementStore


def widget_point(view, k: int, j: float, i: float) -> QPoint:
    row, col = screen_pixel(view.scene.renderer, view.volume.affine, k, j, i, view.vtk_widget.height())
    return QPoint(col, row)


def is_green(pixel: np.ndarray) -> bool:
    """The colour of a finished measurement (measure_props.DONE_COLOR) over a grey image."""
    r, g, b = (int(c) for c in pixel[:3])
    return g > 150 and g - r > 60 and g - b > 60


def draw_length(view, k: int, a: tuple[int, int], b: tuple[int, int]) -> None:
    start, end = widget_point(view, k, *a), widget_point(view, k, *b)
    drag(view.vtk_widget, [start + (end - start) * float(t) for t in np.linspace(0, 1, 10)])


def test_a_length_drawn_on_the_ct_is_there_after_reopening(qtbot, lightbox_home, ct_dir):
    store = Store.open(lightbox_home)
    try:
        win = open_main_window(qtbot, store, lightbox_home)
        with qtbot.waitSignal(win.volume_shown, timeout=60_000):
            win.open_path(ct_dir)
        study_uid = win.current_study_uid
        view = win.viewport
        k = view.slice_index
        win.reading_toolbar.tool_actions["length"].trigger()  # the toolbar's length tool
        added = []
        view.measurement_added.connect(added.append)
        draw_length(view, k, (256, 150), (256, 250))  # 100 columns along row 256
        assert len(added) == 1
        drawn = added[0]
        assert drawn.result["length"] == pytest.approx(100 * 1.07421875, abs=2 * view.scene.mm_per_pixel)
        image = (view.current_uid(), view.image_key()[1])
        win.close()  # closeEvent: queued writes reach the index before the window goes
    finally:
        store.close()

    kept = MeasurementStore.open(lightbox_home / "index.sqlite")
    try:
        assert [m.id for m in kept.for_image(*image)] == [drawn.id]  # on disk, keyed by the image
    finally:
        kept.close()

    store = Store.open(lightbox_home)  # the application starts again
    try:
        win = open_main_window(qtbot, store, lightbox_home)
        with qtbot.waitSignal(win.measurements_restored, timeout=60_000) as restored:
            win.open_study(study_uid)
        view, count = restored.args
        assert count == 1 and view is win.viewport
        assert view.slice_index == k  # the study opens where it did, on the measured image
        (shown,) = view.visible_measurements()
        assert (shown.id, shown.kind, shown.sop_instance_uid, shown.frame) == (drawn.id, "length", *image)
        assert shown.points == drawn.points
        assert shown.result["length"] == pytest.approx(drawn.result["length"], abs=1e-9)  # same mm, recomputed
        assert view.scene.measurements.count == 1
        frame = view.grab_frame()
        mid = widget_point(view, k, 256, 200)
        near = frame[mid.y() - 2: mid.y() + 3, mid.x() - 2: mid.x() + 3].reshape(-1, 3)
        assert any(is_green(p) for p in near)  # and it is drawn where it was measured
        view.scroll(1)
        assert view.visible_measurements() == []  # only on its own image
        # Deleting it (Delete key with the mouse away from it: the newest on the image) forgets it
        view.scroll(-1)
        removed = []
        view.measurement_removed.connect(removed.append)
        QTest.keyClick(view.vtk_widget, Qt.Key.Key_Delete)
        assert [m.id for m in removed] == [drawn.id]
        win.measurement_keeper.flush()
        kept = MeasurementStore.open(store.index_path)
        assert kept.for_image(*image) == []
        kept.close()
        win.close()
    finally:
        store.close()


def test_a_moved_end_point_is_kept(qtbot, lightbox_home, ct_dir):
    store = Store.open(lightbox_home)
    try:
        win = open_main_window(qtbot, store, lightbox_home)
        with qtbot.waitSignal(win.volume_shown, timeout=60_000):
            win.open_path(ct_dir)
        view = win.viewport
        k = view.slice_index
        g = view.scene.slice_geometry()
        m = view.add_measurement("length", [g.to_patient(256, 150), g.to_patient(256, 250)])
        a, b = widget_point(view, k, 256, 250), widget_point(view, k, 256, 300)
        drag(view.vtk_widget, [a, (a + b) / 2, b])
        assert m.result["length"] == pytest.approx(150 * 1.07421875, abs=2 * view.scene.mm_per_pixel)
        win.measurement_keeper.flush()
        kept = MeasurementStore.open(store.index_path)
        (stored,) = kept.for_image(m.sop_instance_uid)
        kept.close()
        assert stored.points == m.points and stored.result["length"] == m.result["length"]
        win.close()
    finally:
        store.close()


def test_measuring_a_series_outside_the_cache_is_quietly_not_kept(qtbot, main_window, mr_dir):
    """A series shown from files that were never imported: measuring works, nothing is kept,
    and the reader is not interrupted by an error."""
    from viewer.core.volume import load_volume

    win = main_window
    failures = []
    win.measurement_keeper.failed.connect(failures.append)
    with qtbot.waitSignal(win.measurements_restored, timeout=30_000) as restored:
        win.grid.show_series_in(win.viewport, load_volume(sorted(mr_dir.glob("*.IMA"))))
    assert restored.args[1] == 0
    view = win.viewport
    g = view.scene.slice_geometry()
    m = view.add_measurement("length", [g.to_patient(100, 100), g.to_patient(100, 150)])
    win.measurement_keeper.flush()
    assert failures == [] and view.visible_measurements() == [m]
    kept = MeasurementStore.open(win.store.index_path)
    assert kept.count() == 0
    kept.close()
