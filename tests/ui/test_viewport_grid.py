"""Layouts, the active viewport, series drops, synchronised scrolling/W/L/zoom and the toolbar."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QMainWindow

from tests.ui.conftest import screen_pixel
from tests.ui.test_viewport import make_volume, wheel
from viewer.core.pixels.voi import Window
from viewer.ui.jobs import WorkerBridge
from viewer.ui.layout_grid import SERIES_MIME, LayoutGrid, SeriesDrop, series_mime_data
from viewer.ui.screenshot import grab_window, qimage_to_array
from viewer.ui.sync import ViewportSync
from viewer.ui.toolbar import ReadingToolbar


class Reading(QMainWindow):
    """The grid in a top-level window whose closeEvent finalizes every viewport."""

    def __init__(self, rows: int = 2, cols: int = 2, workers: WorkerBridge | None = None) -> None:
        super().__init__()
        self.workers = workers
        self.grid = LayoutGrid(rows, cols, workers=workers)
        self.sync = ViewportSync(grid=self.grid)
        self.toolbar = ReadingToolbar(self.grid, self.sync)
        self.addToolBar(self.toolbar)
        self.setCentralWidget(self.grid)
        self.resize(1000, 800)

    def closeEvent(self, event) -> None:
        if self.workers is not None:
            self.workers.shutdown()
        self.grid.shutdown()
        super().closeEvent(event)


@pytest.fixture
def reading(qtbot):
    win = Reading(workers=WorkerBridge())
    qtbot.addWidget(win)
    win.show()
    qtbot.waitExposed(win)
    return win


def click(view) -> None:
    QTest.mouseClick(view.vtk_widget, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier,
                     view.vtk_widget.rect().center())


def test_layouts_and_the_active_viewport(reading):
    grid = reading.grid
    assert len(grid.viewports) == 4 and grid.active_viewport is grid.viewports[0]
    first = grid.viewports[0]
    first.show_volume(make_volume(np.zeros((2, 16, 16), np.int16)), Window(40, 400))
    for rows, cols in ((1, 1), (1, 2), (2, 1), (3, 3), (2, 3)):
        grid.set_layout(rows, cols)
        QApplication.processEvents()
        assert len(grid.viewports) == rows * cols and all(v.isVisible() for v in grid.viewports)
        assert sum(v.isVisible() for v in grid.all_viewports) == rows * cols
    assert grid.viewports[0] is first and first.volume is not None  # kept across layouts
    target = grid.viewports[4]
    click(target)
    assert grid.active_viewport is target
    frames = {f.viewport: f for f in grid._frames}
    assert frames[target].active and not frames[first].active
    assert "#f0b400" in frames[target].styleSheet()
    with pytest.raises(ValueError):
        grid.set_layout(5, 1)


def test_series_dropped_on_a_viewport_is_loaded_there(qtbot, reading, mr_dir):
    grid = reading.grid
    target = grid.viewports[3]
    paths = sorted(str(p) for p in mr_dir.iterdir() if p.suffix.upper() == ".IMA")
    mime = series_mime_data("1.2.3", paths)
    assert SeriesDrop.from_mime(mime) == SeriesDrop("1.2.3", paths)
    widget = target.vtk_widget
    enter = QDragEnterEvent(QPointF(widget.width() / 2, widget.height() / 2), Qt.DropAction.CopyAction, mime,
                            Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(widget, enter)  # Qt delivers a drop only after the drag entered
    assert enter.isAccepted()
    drop = QDropEvent(QPointF(widget.width() / 2, widget.height() / 2), Qt.DropAction.CopyAction, mime,
                      Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    with qtbot.waitSignal(grid.series_shown, timeout=60_000) as shown:
        QApplication.sendEvent(widget, drop)
        assert drop.isAccepted()
    view, volume = shown.args
    assert view is target and target.volume is volume and volume.voxels.shape[0] == 100
    assert grid.active_viewport is target
    assert all(v.volume is None for v in grid.viewports[:3])
    other = series_mime_data()
    other.setData("text/plain", b"x")
    assert SeriesDrop.from_mime(other) is None and SERIES_MIME == "application/x-lightbox-series"


def test_sync_scroll_lands_on_the_same_patient_position(reading):
    grid = reading.grid
    a, b, c, d = grid.viewports
    # same frame of reference, different slice spacing and start: 40 x 2.5 mm vs 90 x 1.0 mm
    thick = make_volume(np.zeros((40, 32, 32), np.int16), step=2.5, origin=(-90, -90, 0))
    thin = make_volume(np.zeros((90, 32, 32), np.int16), step=1.0, origin=(-90, -90, 7.0))
    sagittal = make_volume(np.zeros((20, 32, 32), np.int16), iop=([0, 1, 0], [0, 0, -1]))
    other_patient = make_volume(np.zeros((40, 32, 32), np.int16), frame_uid="9.9", patient="SOMEONE")
    for view, vol in ((a, thick), (b, thin), (c, sagittal), (d, other_patient)):
        view.show_volume(vol, Window(40, 400))
    wheel(a.vtk_widget, 12)  # slice 12 of the thick series: z = 30 mm
    assert a.slice_index == 12
    assert b.slice_index == 23  # z = 7 + 23 = 30 mm
    assert float(b.slice_position()[2]) == pytest.approx(float(a.slice_position()[2]))
    assert c.slice_index == 0 and d.slice_index == 0  # other orientation, other patient: untouched
    wheel(b.vtk_widget, 5)  # 35 mm on the thin series: nearest thick slice is 14 (35 mm)
    assert a.slice_index == 14
    reading.sync.scroll_enabled = False
    wheel(a.vtk_widget, 2)
    assert b.slice_index == 28


def test_sync_with_a_prior_uses_the_users_offset(reading):
    a, b = reading.grid.viewports[:2]
    current = make_volume(np.zeros((40, 32, 32), np.int16), frame_uid="1.1")
    prior = make_volume(np.zeros((40, 32, 32), np.int16), frame_uid="2.2", origin=(-90, -90, -50.0))
    a.show_volume(current, Window(40, 400))
    b.show_volume(prior, Window(40, 400))
    b.set_slice(24)  # the user finds the same anatomy: prior z = -50 + 60 = 10 mm, current z = 0
    QTest.keyClick(a.vtk_widget, Qt.Key.Key_Home)
    reading.sync.capture_offsets()
    wheel(a.vtk_widget, 4)
    assert b.slice_index == 28


def test_an_alignment_is_forgotten_when_a_viewport_shows_another_series(reading):
    """Gap from issue 5: offsets were kept per viewport, so after aligning a prior 80 mm away,
    two series sharing one frame of reference scrolled 22.5 mm apart."""
    a, b = reading.grid.viewports[:2]
    sync = reading.sync
    voxels = np.zeros((40, 32, 32), np.int16)
    current = make_volume(voxels, frame_uid="1.2.3.1", origin=(-90, -90, 0))
    prior = make_volume(voxels, frame_uid="1.2.3.2", origin=(-90, -90, 130))
    reading.grid.show_series_in(a, current, Window(40, 400))
    reading.grid.show_series_in(b, prior, Window(40, 400))
    a.set_slice(20)
    b.set_slice(0)
    sync.capture_offsets()  # what "align shown slices" and open_comparison do
    assert sync.offsets  # the prior pair is aligned
    series = make_volume(voxels, frame_uid="9.9.9", origin=(-90, -90, 0), patient="OTHER")
    recon = make_volume(voxels, frame_uid="9.9.9", origin=(-90, -90, 0), patient="OTHER")
    reading.grid.show_series_in(a, series, Window(40, 400))
    assert not sync.offsets  # a's alignment went with its series
    reading.grid.show_series_in(b, recon, Window(40, 400))
    sync.capture_offsets()  # same frame of reference: nothing to capture
    assert not sync.offsets
    wheel(a.vtk_widget, 5)
    assert float(b.slice_position()[2]) == pytest.approx(float(a.slice_position()[2]))
    # a new prior in b is aligned afresh where it is shown, not with the old 80 mm
    other_prior = make_volume(voxels, frame_uid="1.2.3.3", origin=(-90, -90, 20), patient="OTHER")
    reading.grid.show_series_in(b, other_prior, Window(40, 400))
    b.set_slice(10)  # z = 20 + 25 = 45 mm while a shows z = a's position
    gap = float(b.slice_position()[2] - a.slice_position()[2])
    wheel(a.vtk_widget, 2)  # +5 mm in a: b follows by the same 5 mm
    assert float(b.slice_position()[2] - a.slice_position()[2]) == pytest.approx(gap)
    b.clear()
    assert not sync.offsets


def test_linked_window_and_zoom(reading):
    a, b = reading.grid.viewports[:2]
    a.show_volume(make_volume(np.zeros((4, 64, 64), np.int16)), Window(40, 400))
    b.show_volume(make_volume(np.zeros((4, 64, 64), np.int16), frame_uid="3.3"), Window(40, 400))
    a.set_window(100, 500)
    assert b.scene.window == (40.0, 400.0)  # not linked by default
    reading.sync.window_enabled = True
    reading.sync.zoom_pan_enabled = True
    QTest.keyClick(a.vtk_widget, Qt.Key.Key_1)  # CT key 1: brain
    assert b.scene.window == (40.0, 80.0)
    w = a.vtk_widget
    QTest.mousePress(w, Qt.MouseButton.RightButton, Qt.KeyboardModifier.NoModifier, w.rect().center())
    for dy in range(5, 60, 5):
        QTest.mouseMove(w, w.rect().center() - QPoint(0, dy))
    QTest.mouseRelease(w, Qt.MouseButton.RightButton, Qt.KeyboardModifier.NoModifier, w.rect().center() - QPoint(0, 55))
    assert a.scene.zoom > 1.3
    assert b.scene.zoom == pytest.approx(a.scene.zoom)
    assert b.scene.pan == pytest.approx(a.scene.pan)


def test_a_key_toggles_annotations_in_every_viewport_and_templates_apply_to_all(reading, ct_dir, mr_dir):
    """Issue 5: "Configurable, and toggleable with one key"; modality lines (kVp/mAs, TR/TE)."""
    from viewer.core.annotations import AnnotationTemplateError
    from viewer.core.volume import load_volume

    grid = reading.grid
    a, b, c = grid.viewports[:3]
    grid.show_series_in(a, load_volume(sorted(ct_dir.glob("*.dcm"))))
    grid.show_series_in(b, load_volume(sorted(p for p in mr_dir.iterdir() if p.suffix.upper() == ".IMA")))
    assert "120 kV  430 mAs" in a.scene.corner_text("lower_left").splitlines()  # CT: Exposure (0018,1152)
    assert "TR 10.35  TE 5  TI 300" in b.scene.corner_text("lower_left").splitlines()  # MR
    assert "2012-07-06 11:18" in a.scene.corner_text("upper_right")  # study date and time
    shown = [v.scene.corner_actors["lower_left"].GetVisibility() for v in (a, b)]
    assert all(shown)
    QTest.keyClick(c.vtk_widget, Qt.Key.Key_A)  # an empty viewport ignores keys
    assert grid.annotations_visible
    QTest.keyClick(a.vtk_widget, Qt.Key.Key_A)  # A in one viewport: all of them
    assert not grid.annotations_visible
    assert all(not v.annotations_visible for v in grid.all_viewports)
    assert not b.scene.corner_actors["upper_left"].GetVisibility()
    grid.set_layout(3, 3)  # viewports made later follow the grid
    assert not grid.viewports[8].annotations_visible
    QTest.keyClick(b.vtk_widget, Qt.Key.Key_A)
    assert grid.annotations_visible and all(v.annotations_visible for v in grid.all_viewports)
    assert a.scene.corner_actors["lower_left"].GetVisibility()
    grid.set_annotations_visible(False)  # what the A shortcut / the settings flag call
    assert all(not v.scene.corner_actors["lower_right"].GetVisibility() for v in grid.all_viewports)
    grid.set_annotations_visible(True)

    grid.set_annotation_templates({"lower_left": "{Modality} {image}/{images}\n{kvp}", "upper_left": ""})
    assert a.scene.corner_text("lower_left") == f"CT {a.image_number() + 1}/134\n120 kV"
    assert b.scene.corner_text("lower_left").splitlines() == [f"MR {b.image_number() + 1}/100"]  # no kV on MR
    assert a.scene.corner_text("upper_left") == "" and b.scene.corner_text("upper_left") == ""
    a.scroll(1)
    assert a.scene.corner_text("lower_left").startswith(f"CT {a.image_number() + 1}/134")
    grid.set_layout(4, 4)
    assert grid.viewports[15].annotation_templates == grid.annotation_templates
    with pytest.raises(AnnotationTemplateError, match="unknown field"):
        grid.set_annotation_templates({"lower_left": "{kv}"})
    assert a.scene.corner_text("lower_left").startswith("CT ")  # a bad template changes nothing
    grid.set_annotation_templates(None)
    assert a.scene.corner_text("lower_left").startswith(f"Im {a.image_number() + 1}/134")


def test_toolbar_selects_the_tool_for_every_viewport(reading):
    toolbar = reading.toolbar
    toolbar.tool_actions["length"].trigger()
    assert all(v.tool == "length" for v in reading.grid.all_viewports)
    reading.grid.set_layout(3, 3)
    assert all(v.tool == "length" for v in reading.grid.all_viewports)
    view = reading.grid.viewports[0]
    view.show_volume(make_volume(np.zeros((1, 16, 16), np.int16)), Window(40, 400))
    toolbar.smooth.setChecked(False)
    toolbar.tool_actions["ellipse"].trigger()
    assert toolbar.measure_button.defaultAction() is toolbar.tool_actions["ellipse"]
    assert reading.grid.viewports[0].tool == "ellipse"
    toolbar.sync_actions["scroll_enabled"].setChecked(False)
    assert not reading.sync.scroll_enabled
    assert not view.scene.interpolated


def test_two_by_two_screenshot_with_annotations_and_a_measurement(reading, ct_dir, tmp_path):
    from viewer.core.volume import load_volume

    grid = reading.grid
    ct = load_volume(ct_dir)
    for view, window in zip(grid.viewports, (None, Window(-600, 1500), Window(400, 1800), Window(40, 80)),
                            strict=True):
        grid.show_series_in(view, ct, window)
    view = grid.viewports[0]
    view.set_slice(60)
    g = view.scene.slice_geometry()
    kept = []
    grid.measurement_added.connect(lambda v, m: kept.append((v, m.to_dict())))
    view.add_measurement("length", [g.to_patient(256, 120), g.to_patient(256, 400)])
    assert kept and kept[0][0] is view and kept[0][1]["sop_instance_uid"] == ct.headers[60].SOPInstanceUID
    image = qimage_to_array(grab_window(reading))
    assert image.shape[0] > 600 and len(np.unique(image.reshape(-1, 3), axis=0)) > 200
    path = tmp_path / "reading-2x2.png"
    assert grab_window(reading).save(str(path)) and path.stat().st_size > 50_000
    assert all(v.slice_index == 60 for v in grid.viewports)  # same series: scrolled together


def test_reference_line_of_the_active_axial_slice_on_a_sagittal_view(reading):
    a, b, c = reading.grid.viewports[:3]
    axial = make_volume(np.zeros((40, 64, 64), np.int16), step=2.5, origin=(-22, -22, 0))
    sagittal = make_volume(np.zeros((30, 80, 64), np.int16), iop=([0, 1, 0], [0, 0, -1]), spacing=(1.0, 1.0),
                           origin=(-15, -30, 90), step=1.0)
    other_frame = make_volume(np.zeros((30, 80, 64), np.int16), iop=([0, 1, 0], [0, 0, -1]), frame_uid="7.7")
    a.show_volume(axial, Window(40, 400))
    reading.grid.show_series_in(b, sagittal, Window(40, 400))
    reading.grid.show_series_in(c, other_frame, Window(40, 400))
    click(a)
    wheel(a.vtk_widget, 16)  # axial slice 16: z = 40 mm
    (p, q), = b.scene.reference_lines.segments
    assert p[2] == pytest.approx(40) and q[2] == pytest.approx(40)
    assert c.scene.reference_lines.segments == [] and a.scene.reference_lines.segments == []
    frame = b.grab_frame()  # drawn: a cyan row across the image where z = 40 mm
    _x, y_up = b.scene.patient_to_display((p + q) / 2)
    y = frame.shape[0] - 1 - round(y_up)
    band = frame[y - 1 : y + 2, frame.shape[1] // 2]
    assert ((band[:, 2] > 200) & (band[:, 0] < 150)).any()
    wheel(a.vtk_widget, 4)
    (p, _), = b.scene.reference_lines.segments
    assert p[2] == pytest.approx(50)


def test_double_click_maximizes_and_restores(qtbot, reading):
    grid = reading.grid
    target = grid.viewports[2]
    target.show_volume(make_volume(np.zeros((2, 16, 16), np.int16)), Window(40, 400))
    QTest.mouseDClick(target.vtk_widget, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier,
                      target.vtk_widget.rect().center())
    QApplication.processEvents()
    assert grid.maximized is target and grid.active_viewport is target
    assert [v.isVisible() for v in grid.viewports] == [False, False, True, False]
    assert target.scene.window == (40.0, 400.0)  # the double-click is not a W/L drag
    QTest.mouseDClick(target.vtk_widget, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier,
                      target.vtk_widget.rect().center())
    QApplication.processEvents()
    assert grid.maximized is None and all(v.isVisible() for v in grid.viewports)


def test_user_presets_from_settings(reading):
    from viewer.core.presets import with_overrides

    grid = reading.grid
    grid.set_preset_table(with_overrides([{"modality": "CT", "name": "Lung", "center": -500, "width": 1400},
                                          {"modality": "MR", "name": "Brain T1", "center": 600, "width": 1200,
                                           "key": "5"}]))
    view = grid.viewports[1]
    view.show_volume(make_volume(np.zeros((1, 16, 16), np.int16)), Window(40, 400))
    QTest.keyClick(view.vtk_widget, Qt.Key.Key_4)
    assert view.scene.window == (-500.0, 1400.0)
    view.show_volume(make_volume(np.zeros((1, 16, 16), np.int16), modality="MR"), Window(40, 400))
    QTest.keyClick(view.vtk_widget, Qt.Key.Key_5)
    assert view.scene.window == (600.0, 1200.0)


def test_a_file_with_only_a_voi_lut_table_is_shown_through_it(reading):
    from pydicom.dataset import Dataset

    from viewer.core.pixels.voi import VoiLut, apply_voi_lut_table

    values = np.linspace(0, 1000, 64).round().astype(np.int16)
    vol = make_volume(np.repeat(values[None, None, :], 64, axis=1), modality="CR", PixelRepresentation=0,
                      BitsStored=12, BitsAllocated=16)
    item = Dataset()
    item.LUTDescriptor = [1024, 0, 12]
    item.LUTData = [int(4095 * (n / 1023) ** 2) for n in range(1024)]
    item.LUTExplanation = "SQUARE"
    for ds in vol.headers:
        ds.VOILUTSequence = [item]
    view = reading.grid.viewports[0]
    view.set_interpolation(False)
    reading.grid.show_series_in(view, vol)
    assert isinstance(view.scene.voi, VoiLut)
    assert view.scene.corner_text("lower_right").startswith("VOI LUT SQUARE")
    frame = view.grab_frame()
    for i in (5, 30, 60):
        row, col = screen_pixel(view.scene.renderer, vol.affine, 0, 32, i, frame.shape[0])
        want = apply_voi_lut_table(np.array([values[i]]), view.scene.voi)[0] * 255
        assert abs(float(frame[row, col, 0]) - want) <= 1
    view.set_window(500, 1000)
    assert view.scene.corner_text("lower_right").startswith("W 1000")
    QTest.keyClick(view.vtk_widget, Qt.Key.Key_0)  # back to the file's own VOI: the table
    assert isinstance(view.scene.voi, VoiLut)


def test_monochrome1_and_presentation_lut_shape_decide_inversion(reading):
    view = reading.grid.viewports[0]
    mono1 = make_volume(np.full((1, 16, 16), 100, np.int16), modality="CR", PhotometricInterpretation="MONOCHROME1",
                        WindowCenter=100, WindowWidth=200)
    reading.grid.show_series_in(view, mono1)
    assert view.scene.inverted
    assert abs(float(view.grab_frame()[200, 200, 0]) - (255 - 127.5)) <= 1  # mid value stays mid
    view.set_window(0, 200)  # 100 is now bright in the data, so dark on screen
    assert float(view.grab_frame()[200, 200, 0]) < 5
    QTest.keyClick(view.vtk_widget, Qt.Key.Key_R)
    assert view.scene.inverted
    identity = make_volume(np.full((1, 16, 16), 100, np.int16), modality="DX",
                           PhotometricInterpretation="MONOCHROME1", PresentationLUTShape="IDENTITY")
    reading.grid.show_series_in(view, identity)
    assert not view.scene.inverted


def test_cine_button_fps_and_space_key_stay_in_step(qtbot, reading):
    toolbar, view = reading.toolbar, reading.grid.viewports[0]
    view.show_volume(make_volume(np.zeros((5, 16, 16), np.int16), modality="US", FrameTime=500), Window(40, 400))
    QTest.keyClick(view.vtk_widget, Qt.Key.Key_Space)
    assert view.cine_playing and toolbar.cine.isChecked()
    assert view._cine_intervals == [500.0] * 5  # Frame Time (0018,1063)
    toolbar.fps.setValue(50)
    assert view._cine_intervals == [20.0] * 5
    seen = []
    view.slice_changed.connect(seen.append)
    qtbot.waitUntil(lambda: len(seen) >= 4, timeout=2000)
    toolbar.cine.trigger()
    assert not view.cine_playing
    toolbar.fps.setValue(0)  # back to the file's Frame Time
    QTest.keyClick(view.vtk_widget, Qt.Key.Key_Space)
    assert view._cine_intervals == [500.0] * 5 and toolbar.cine.isChecked()
    QTest.keyClick(view.vtk_widget, Qt.Key.Key_Space)
    assert not toolbar.cine.isChecked()


def test_opening_a_study_with_fewer_series_empties_the_other_viewports(qtbot, main_window, ct_dir, mr_dir):
    # 1x2, not 2x2: four viewports of a main window corrupt the heap under GUI_TEST_MODE=offscreen
    # (OSMesa), with or without clearing; two are enough to show a viewport left over.
    win, grid = main_window, main_window.grid
    with qtbot.waitSignal(win.import_finished, timeout=120_000):
        win.import_paths([ct_dir, mr_dir])
    uids = {s.modalities[0]: s.study_uid for s in win.store.studies()}
    mr_series = win.store.series(uids["MR"])[0].series_uid
    grid.set_layout(1, 2)
    for view in grid.viewports:  # the MR in both, with a measurement on the second
        win.load_series_into(view, mr_series)
    qtbot.waitUntil(lambda: all(v.volume is not None for v in grid.viewports), timeout=60_000)
    second = grid.viewports[1]
    g = second.scene.slice_geometry()
    second.add_measurement("length", [g.to_patient(100, 100), g.to_patient(100, 150)])
    assert len(np.unique(second.grab_frame()[::8, ::8].reshape(-1, 3), axis=0)) > 20
    with qtbot.waitSignal(win.volume_shown, timeout=60_000):
        win.open_study(uids["CT"])  # one series: 1x1
    assert (grid.rows, grid.cols) == (1, 1)
    assert grid.viewports[0].volume.voxels.shape == (134, 512, 512)
    grid.set_layout(1, 2)  # the other one was cleared, not just hidden
    assert second.volume is None and second.measurements == []
    assert second.scene.corner_text("upper_left") == "" and second.scene.measurements.count == 0
    frame = second.grab_frame()
    assert frame.max() < 160  # black, with only the grey "drop a series" hint
    ct = grid.viewports[0].grab_frame()
    assert len(np.unique(ct[::8, ::8].reshape(-1, 3), axis=0)) > 20  # while the CT is drawn
