"""The reading viewport under real mouse and key events, checked on the rendered frame.

Synthetic volumes have known values and spacing; real series (axial CT, coronal MR) check the
orientation labels against the headers. Pixel positions come from the camera
(:func:`tests.ui.conftest.screen_pixel`), so a flipped or shifted image would fail.
"""

from __future__ import annotations

import numpy as np
import pytest
from pydicom.dataset import Dataset
from PySide6.QtCore import QEvent, QPoint, QPointF, Qt
from PySide6.QtGui import QMouseEvent, QWheelEvent
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

from tests.ui.conftest import screen_pixel
from viewer.core.cine import frame_intervals_ms
from viewer.core.measurements import Measurement, SliceGeometry
from viewer.core.orientation import direction_label
from viewer.core.pixels.voi import Window
from viewer.core.volume import Volume, load_volume
from viewer.ui.viewport import Viewport

AXIAL = ([1.0, 0, 0], [0, 1.0, 0])
SAGITTAL = ([0, 1.0, 0], [0, 0, -1.0])


def make_volume(
    voxels: np.ndarray,
    *,
    spacing: tuple[float, float] = (0.7, 0.7),
    step: float = 2.5,
    iop: tuple[list[float], list[float]] = AXIAL,
    origin: tuple[float, float, float] = (-90.0, -90.0, 0.0),
    frame_uid: str = "1.2.826.0.1.3680043.8.498.1",
    patient: str = "PHANTOM",
    modality: str = "CT",
    **tags: object,
) -> Volume:
    """A Volume of known geometry with headers like load_volume's (one per slice)."""
    row, col = (np.asarray(v, dtype=float) / np.linalg.norm(v) for v in iop)
    normal = np.cross(row, col)
    affine = np.eye(4)
    affine[:3, 0] = normal * step
    affine[:3, 1] = col * spacing[0]
    affine[:3, 2] = row * spacing[1]
    affine[:3, 3] = origin
    headers = []
    for k in range(voxels.shape[0]):
        ds = Dataset()
        ds.Modality = modality
        ds.PatientName = "PHANTOM^TEST"
        ds.PatientID = patient
        ds.SOPInstanceUID = f"{frame_uid}.{abs(hash(patient)) % 1000}.{k + 1}"
        ds.FrameOfReferenceUID = frame_uid
        ds.ImageOrientationPatient = [*row.round(6), *col.round(6)]
        ds.ImagePositionPatient = list((affine @ [k, 0, 0, 1])[:3].round(4))
        ds.PixelSpacing = list(spacing)
        ds.SeriesNumber = 1
        ds.InstanceNumber = k + 1  # numbered along k: reading starts at slice 0 (reading_order)
        for key, value in tags.items():
            setattr(ds, key, value)
        headers.append(ds)
    return Volume(voxels, affine, headers, frame_uid)


@pytest.fixture
def viewport(qtbot):
    view = Viewport()
    qtbot.addWidget(view, before_close_func=lambda w: w.shutdown())
    view.resize(512, 512)
    view.show()
    qtbot.waitExposed(view)
    return view


def centre_pixel(view: Viewport) -> np.ndarray:
    frame = view.grab_frame()
    return frame[frame.shape[0] // 2, frame.shape[1] // 2]


def drag(widget, points: list[QPoint], button=Qt.MouseButton.LeftButton) -> None:
    QTest.mousePress(widget, button, Qt.KeyboardModifier.NoModifier, points[0])
    for p in points[1:]:
        QTest.mouseMove(widget, p)
    QTest.mouseRelease(widget, button, Qt.KeyboardModifier.NoModifier, points[-1])


def widget_point(view: Viewport, volume: Volume, k: int, j: float, i: float) -> QPoint:
    frame_height = view.vtk_widget.height()
    row, col = screen_pixel(view.scene.renderer, volume.affine, k, j, i, frame_height)
    return QPoint(col, row)


def wheel(widget, clicks: int) -> None:
    """``clicks`` > 0 turns the wheel towards the user (next slice)."""
    centre = QPointF(widget.width() / 2, widget.height() / 2)
    for _ in range(abs(clicks)):
        event = QWheelEvent(centre, widget.mapToGlobal(centre), QPoint(0, 0), QPoint(0, -120 if clicks > 0 else 120),
                            Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier,
                            Qt.ScrollPhase.NoScrollPhase, False)
        QApplication.sendEvent(widget, event)


# --- window/level, invert, presets, scroll -----------------------------------------------------


def test_40_hu_renders_mid_grey_at_40_400_and_invert_flips_it(viewport):
    voxels = np.full((3, 64, 64), 40, np.int16)
    voxels[:, :8] = -1000  # some air so the picture is not uniform
    vol = make_volume(voxels, WindowCenter=40, WindowWidth=400)
    viewport.show_volume(vol, Window(60, 200))
    QTest.keyClick(viewport.vtk_widget, Qt.Key.Key_4)  # CT key 4: lung
    assert viewport.scene.window == (-600.0, 1500.0)
    QTest.keyClick(viewport.vtk_widget, Qt.Key.Key_0)  # key 0: the file's own window, 40/400
    assert viewport.scene.window == (40.0, 400.0)
    grey = centre_pixel(viewport)
    assert abs(float(grey[0]) - 127.5) <= 1 and grey[0] == grey[1] == grey[2]
    QTest.keyClick(viewport.vtk_widget, Qt.Key.Key_I)
    assert abs(float(centre_pixel(viewport)[0]) - 127.5) <= 1  # mid-grey is its own inverse...
    viewport.set_window(140, 400)  # ...so move the window: 40 HU is now at a quarter
    want = 255 * (1 - ((40 - 139.5) / 399 + 0.5))  # DICOM LINEAR (C.11.2.1.2.1), inverted
    assert abs(float(centre_pixel(viewport)[0]) - want) <= 1
    QTest.keyClick(viewport.vtk_widget, Qt.Key.Key_I)
    assert abs(float(centre_pixel(viewport)[0]) - (255 - want)) <= 1


def test_wheel_and_keys_land_on_the_expected_slice(viewport):
    voxels = (np.arange(30, dtype=np.int16) * 10)[:, None, None] * np.ones((1, 64, 64), np.int16)
    vol = make_volume(voxels)
    viewport.show_volume(vol, Window(150, 300))
    wheel(viewport.vtk_widget, 7)
    assert viewport.slice_index == 7
    assert abs(float(centre_pixel(viewport)[0]) - ((70 - 149.5) / 299 + 0.5) * 255) <= 1
    wheel(viewport.vtk_widget, -3)
    QTest.keyClick(viewport.vtk_widget, Qt.Key.Key_PageDown)
    assert viewport.slice_index == 5
    QTest.keyClick(viewport.vtk_widget, Qt.Key.Key_End)
    assert viewport.slice_index == 29
    assert abs(float(centre_pixel(viewport)[0]) - ((290 - 149.5) / 299 + 0.5) * 255) <= 1


# --- reading order: where a series opens, which way "next" goes ---------------------------------


def grey_of(value: float, center: float = 150, width: float = 300) -> float:
    return ((value - (center - 0.5)) / (width - 1) + 0.5) * 255


def test_unnumbered_axial_stack_opens_at_its_top_and_next_goes_down(qtbot, viewport):
    voxels = (np.arange(30, dtype=np.int16) * 10)[:, None, None] * np.ones((1, 64, 64), np.int16)
    vol = make_volume(voxels, InstanceNumber=None)  # axial: k grows towards the head (+S)
    viewport.show_volume(vol, Window(150, 300))
    assert viewport.slice_index == 29  # the most superior slice
    assert viewport.scene.corner_text("lower_left").startswith("Im 1/30")
    assert abs(float(centre_pixel(viewport)[0]) - grey_of(290)) <= 1  # drawn, not just indexed
    wheel(viewport.vtk_widget, 7)  # towards the user: next images, down the body
    assert viewport.slice_index == 22
    assert viewport.scene.corner_text("lower_left").startswith("Im 8/30")
    assert abs(float(centre_pixel(viewport)[0]) - grey_of(220)) <= 1
    QTest.keyClick(viewport.vtk_widget, Qt.Key.Key_PageDown)
    assert viewport.slice_index == 21
    QTest.keyClick(viewport.vtk_widget, Qt.Key.Key_Up)
    assert viewport.slice_index == 22
    QTest.keyClick(viewport.vtk_widget, Qt.Key.Key_End)
    assert viewport.slice_index == 0 and viewport.scene.corner_text("lower_left").startswith("Im 30/30")
    QTest.keyClick(viewport.vtk_widget, Qt.Key.Key_Home)
    assert viewport.slice_index == 29
    viewport.set_tool("scroll")
    c = viewport.vtk_widget.rect().center()
    drag(viewport.vtk_widget, [c, c + QPoint(0, 30), c + QPoint(0, 60)])  # down: 10 images further
    assert viewport.slice_index == 19
    with qtbot.waitSignal(viewport.slice_changed, timeout=5000) as changed:
        viewport.play_cine(50)
    viewport.stop_cine()
    assert changed.args == [18]  # cine plays forward in reading order too


def test_instance_numbers_decide_where_reading_starts(viewport):
    voxels = (np.arange(12, dtype=np.int16) * 10)[:, None, None] * np.ones((1, 32, 32), np.int16)
    vol = make_volume(voxels)
    for k, ds in enumerate(vol.headers):
        ds.InstanceNumber = 12 - k  # acquired from the top down, as the CT in ../shared
    viewport.show_volume(vol, Window(150, 300))
    assert viewport.slice_index == 11 and viewport.current_uid() == vol.headers[11].SOPInstanceUID
    wheel(viewport.vtk_widget, 1)
    assert viewport.slice_index == 10 and int(vol.headers[10].InstanceNumber) == 2
    for ds in vol.headers:
        ds.InstanceNumber = 12 - ds.InstanceNumber + 1  # now numbered from the feet up
    viewport.show_volume(vol, Window(150, 300))
    assert viewport.slice_index == 0
    wheel(viewport.vtk_widget, 1)
    assert viewport.slice_index == 1


def test_reading_order_without_numbers_by_orientation():
    from viewer.core.reading_order import reading_order

    stack = np.zeros((5, 8, 8), np.int16)
    assert reading_order(make_volume(stack, InstanceNumber=None)) == (4, -1)  # axial, k towards the head
    feet_first = make_volume(stack, iop=([1.0, 0, 0], [0, -1.0, 0]), InstanceNumber=None)  # normal -S
    assert feet_first.affine[2, 0] < 0 and reading_order(feet_first) == (0, 1)
    assert reading_order(make_volume(stack, iop=SAGITTAL, InstanceNumber=None)) == (0, 1)  # volume order
    one_instance = make_volume(stack, InstanceNumber=7)  # the frames of one multi-frame instance
    assert reading_order(one_instance) == (4, -1)
    assert reading_order(make_volume(stack[:1], InstanceNumber=None)) == (0, 1)
    shuffled = make_volume(stack)
    for ds, n in zip(shuffled.headers, (3, 1, 2, 5, 4), strict=True):
        ds.InstanceNumber = n
    assert reading_order(shuffled) == (1, 1)  # the lowest number, wherever it is


# --- clearing -----------------------------------------------------------------------------------


def test_clear_shows_nothing_and_the_viewport_can_show_again(viewport):
    vol = make_volume(np.full((3, 64, 64), 1000, np.int16))
    viewport.show_volume(vol, Window(0, 100))  # white everywhere the image is
    g = viewport.scene.slice_geometry()
    viewport.add_measurement("length", [g.to_patient(10, 10), g.to_patient(50, 50)])
    white = lambda f: int((f == 255).all(axis=2).sum())  # noqa: E731
    assert white(viewport.grab_frame()) > 10_000
    viewport.clear()
    assert viewport.volume is None and viewport.measurements == [] and viewport.visible_measurements() == []
    assert viewport.scene.measurements.count == 0
    assert all(viewport.scene.corner_text(c) == "" for c in ("upper_left", "upper_right", "lower_left",
                                                              "lower_right"))
    assert all(a.GetInput() == "" for a in viewport.scene.overlays.labels.values())
    assert viewport.scene.hint.GetInput() == "Drop a series here"
    frame = viewport.grab_frame()
    assert white(frame) == 0 and frame.max() < 160  # black, with only the grey hint text
    for key in (Qt.Key.Key_End, Qt.Key.Key_PageDown, Qt.Key.Key_I, Qt.Key.Key_Delete):
        QTest.keyClick(viewport.vtk_widget, key)  # nothing to act on: no error
    viewport.set_tool("length")
    c = viewport.vtk_widget.rect().center()
    drag(viewport.vtk_widget, [c, c + QPoint(40, 0)])
    assert viewport.measurements == []
    viewport.show_volume(vol, Window(0, 100))
    assert white(viewport.grab_frame()) > 10_000 and viewport.scene.hint.GetInput() == ""


def test_colour_image_is_shown_as_stored_with_window_off(viewport):
    rgb = np.zeros((1, 32, 32, 3), np.uint8)
    rgb[..., 0], rgb[..., 1], rgb[..., 2] = 200, 50, 10
    vol = make_volume(rgb, modality="US", PhotometricInterpretation="RGB")
    viewport.show_volume(vol, Window(40, 400))
    viewport.set_window(0, 10)  # no effect on colour
    assert tuple(int(v) for v in centre_pixel(viewport)) == (200, 50, 10)
    QTest.keyClick(viewport.vtk_widget, Qt.Key.Key_I)
    assert tuple(int(v) for v in centre_pixel(viewport)) == (200, 50, 10)


def test_palette_colour_image_is_shown_in_its_palette(viewport):
    """A real PALETTE COLOR ultrasound (pydicom's examples_palette.dcm) was shown grey: the
    volume holds the stored indices, and the scene drew them as grey values."""
    from pydicom import dcmread
    from pydicom.data import get_testdata_file

    from viewer.core.pixels.color import apply_palette

    path = get_testdata_file("examples_palette.dcm", download=False)
    volume = load_volume([path])
    viewport.show_volume(volume, Window(128, 256))
    assert viewport.scene.is_color and viewport.presets == []
    ds = dcmread(path)
    stored = ds.pixel_array
    expected = apply_palette(stored, ds)
    # the scene's image data is the palette's RGB of every stored index
    shown = viewport.scene.volume.buffer[0]
    np.testing.assert_array_equal(shown, expected)
    frame = viewport.grab_frame().astype(int)
    colourful = (np.abs(frame[..., 0] - frame[..., 2]) > 20).mean()
    assert colourful > 0.01


# --- measurements with the mouse ----------------------------------------------------------------


def blob_centres(frame: np.ndarray, threshold: int = 200) -> list[tuple[float, float]]:
    """Centroids (row, col) of the bright blobs left and right of the frame's middle."""
    rows, cols = np.nonzero(frame[..., 0] > threshold)
    middle = frame.shape[1] / 2
    return [(rows[side].mean(), cols[side].mean()) for side in (cols < middle, cols >= middle)]


def test_length_tool_measures_a_known_phantom_distance(viewport):
    voxels = np.zeros((1, 256, 256), np.int16)
    voxels[0, 127:130, 77:80] = 1000  # two 3x3 dots, centres 100 columns apart = 70 mm
    voxels[0, 127:130, 177:180] = 1000
    vol = make_volume(voxels)
    viewport.show_volume(vol, Window(500, 1000))
    viewport.set_tool("length")
    viewport.toggle_annotations()  # only the dots are white
    (r0, c0), (r1, c1) = blob_centres(viewport.grab_frame())
    viewport.toggle_annotations()
    path = [QPoint(round(c0 + (c1 - c0) * t), round(r0 + (r1 - r0) * t)) for t in np.linspace(0, 1, 12)]
    added = []
    viewport.measurement_added.connect(added.append)
    drag(viewport.vtk_widget, path)
    assert len(added) == 1 and added[0].kind == "length"
    m = added[0]
    assert m.result["unit"] == "mm" and m.result["calibration"] == "patient"
    assert m.result["length"] == pytest.approx(70.0, abs=viewport.scene.mm_per_pixel * 1.5)
    assert m.sop_instance_uid == vol.headers[0].SOPInstanceUID
    frame = viewport.grab_frame()  # the line and its label are drawn in green
    green = (frame[..., 1] > 200) & (frame[..., 0] < 150)
    assert green[round((r0 + r1) / 2) - 2 : round((r0 + r1) / 2) + 3, round((c0 + c1) / 2)].any()
    QTest.keyClick(viewport.vtk_widget, Qt.Key.Key_Delete)
    assert viewport.measurements == []


def test_rectangle_roi_mean_matches_numpy_on_the_same_pixels(viewport):
    rng = np.random.default_rng(5)
    voxels = rng.normal(50, 20, (2, 128, 128)).round().astype(np.int16)
    vol = make_volume(voxels, spacing=(0.6, 0.9))
    viewport.show_volume(vol, Window(50, 200))
    QTest.keyClick(viewport.vtk_widget, Qt.Key.Key_Down)  # measure on slice 1
    viewport.set_tool("rectangle")
    a, b = widget_point(viewport, vol, 1, 30.3, 20.6), widget_point(viewport, vol, 1, 90.2, 100.4)
    drag(viewport.vtk_widget, [a, QPoint((a.x() + b.x()) // 2, (a.y() + b.y()) // 2), b])
    (m,) = viewport.measurements
    inverse = np.linalg.inv(vol.affine)
    (_, j0, i0), (_, j1, i1) = ((inverse @ [*p, 1.0])[:3] for p in m.points)
    jj, ii = np.mgrid[0:128, 0:128]
    inside = (jj >= min(j0, j1)) & (jj <= max(j0, j1)) & (ii >= min(i0, i1)) & (ii <= max(i0, i1))
    values = voxels[1][inside].astype(float)
    assert values.size > 3000
    assert m.result["mean"] == pytest.approx(values.mean())
    assert m.result["sd"] == pytest.approx(values.std())
    assert (m.result["min"], m.result["max"]) == (values.min(), values.max())
    assert m.result["area"] == pytest.approx(abs(j1 - j0) * 0.6 * abs(i1 - i0) * 0.9)
    assert m.sop_instance_uid == vol.headers[1].SOPInstanceUID


def test_angle_ellipse_and_probe_tools(viewport):
    voxels = np.arange(128 * 128, dtype=np.float32).reshape(1, 128, 128)
    vol = make_volume(voxels, modality="MR")
    viewport.show_volume(vol, Window(8000, 16000))
    viewport.set_tool("angle")
    p = lambda j, i: widget_point(viewport, vol, 0, j, i)  # noqa: E731
    drag(viewport.vtk_widget, [p(20, 64), p(40, 64), p(64, 64)])  # first arm, down to the vertex
    QTest.mouseMove(viewport.vtk_widget, p(64, 110))
    QTest.mouseClick(viewport.vtk_widget, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, p(64, 110))
    (angle,) = viewport.measurements
    assert angle.kind == "angle" and angle.result["angle"] == pytest.approx(90, abs=2)
    viewport.set_tool("ellipse")
    drag(viewport.vtk_widget, [p(10, 10), p(30, 30), p(50, 60)])
    assert viewport.measurements[-1].kind == "ellipse" and viewport.measurements[-1].result["pixels"] > 1000
    hovering = []
    viewport.hovered.connect(hovering.append)
    at = QPointF(p(100, 7))
    move = QMouseEvent(QEvent.Type.MouseMove, at, viewport.vtk_widget.mapToGlobal(at), Qt.MouseButton.NoButton,
                       Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(viewport.vtk_widget, move)
    assert hovering and hovering[-1]["value"] == voxels[0, 100, 7] and hovering[-1]["unit"] == ""
    viewport.set_tool("probe")
    seen = []
    viewport.probed.connect(seen.append)
    QTest.mouseClick(viewport.vtk_widget, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, p(12, 34))
    assert seen and seen[-1]["value"] == voxels[0, 12, 34] and viewport.measurements[-1].kind == "probe"


def test_freehand_outline_and_a_click_that_makes_nothing(viewport):
    voxels = np.zeros((1, 128, 128), np.int16)
    voxels[0, 40:90, 40:90] = 100
    vol = make_volume(voxels)
    viewport.show_volume(vol, Window(50, 200))
    viewport.set_tool("freehand")
    p = lambda j, i: widget_point(viewport, vol, 0, j, i)  # noqa: E731
    QTest.mouseClick(viewport.vtk_widget, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, p(64, 64))
    assert viewport.measurements == []  # a click is not an outline
    drag(viewport.vtk_widget, [p(45, 45), p(45, 85), p(85, 85), p(85, 45), p(46, 45)])  # inside the square
    (m,) = viewport.measurements
    assert m.kind == "freehand" and len(m.points) >= 5
    assert m.result["mean"] == pytest.approx(100) and m.result["min"] == 100
    assert viewport._draft is None  # nothing left half-drawn


def test_stored_measurements_are_shown_again_and_recomputed(viewport):
    voxels = np.zeros((3, 64, 64), np.int16)
    vol = make_volume(voxels)
    viewport.show_volume(vol, Window(40, 400))
    g = SliceGeometry.from_affine(vol.affine, 2)
    stored = Measurement("length", [tuple(g.to_patient(10, 10)), tuple(g.to_patient(10, 30))],
                         vol.headers[2].SOPInstanceUID, {"length": 999.0, "unit": "mm"})
    viewport.set_measurements([Measurement.from_dict(stored.to_dict())])
    assert viewport.visible_measurements() == []  # on slice 2, not 0
    viewport.set_slice(2)
    (shown,) = viewport.visible_measurements()
    assert shown.result["length"] == pytest.approx(14.0)
    assert viewport.scene.measurements.count == 1


# --- orientation labels, rotate and flip --------------------------------------------------------


def assert_labels_match_screen(view: Viewport, volume: Volume) -> None:
    """Move from the centre voxel along the rows and the columns: whichever edge the image
    moves towards on screen must carry that patient direction's label."""
    k = view.slice_index
    rows, cols = volume.voxels.shape[1:3]
    labels = view.scene.edge_labels
    drawn = {edge: actor.GetInput() for edge, actor in view.scene.overlays.labels.items()}
    assert drawn == {"left": labels.left, "right": labels.right, "top": labels.top, "bottom": labels.bottom}
    frame_height = view.vtk_widget.height()
    r0, c0 = screen_pixel(view.scene.renderer, volume.affine, k, rows / 2, cols / 2, frame_height)
    for axis, direction in ((2, volume.affine[:3, 2]), (1, volume.affine[:3, 1])):
        offset = [0.0, 0.0]
        offset[axis - 1] = min(rows, cols) / 4
        r1, c1 = screen_pixel(view.scene.renderer, volume.affine, k, rows / 2 + offset[0], cols / 2 + offset[1],
                              frame_height)
        dr, dc = r1 - r0, c1 - c0
        edge = ("right" if dc > 0 else "left") if abs(dc) > abs(dr) else ("bottom" if dr > 0 else "top")
        assert getattr(labels, edge) == direction_label(direction), (edge, labels)


def test_axial_ct_labels_follow_rotation_and_flips(qtbot, viewport, ct_dir):
    volume = load_volume(ct_dir)
    viewport.show_volume(volume, Window(40, 400))
    labels = viewport.scene.edge_labels
    assert (labels.left, labels.right, labels.top, labels.bottom) == ("R", "L", "A", "P")
    assert_labels_match_screen(viewport, volume)
    QTest.keyClick(viewport.vtk_widget, Qt.Key.Key_H)  # flip: patient's left now on the left
    assert (viewport.scene.edge_labels.left, viewport.scene.edge_labels.right) == ("L", "R")
    assert_labels_match_screen(viewport, volume)
    QTest.keyClick(viewport.vtk_widget, Qt.Key.Key_BracketRight)
    assert_labels_match_screen(viewport, volume)
    QTest.keyClick(viewport.vtk_widget, Qt.Key.Key_V)
    assert_labels_match_screen(viewport, volume)
    QTest.keyClick(viewport.vtk_widget, Qt.Key.Key_R)  # reset
    assert viewport.scene.edge_labels.right == "L"


def test_coronal_mr_labels(viewport, mr_dir):
    volume = load_volume(mr_dir)
    viewport.show_volume(volume, Window(200, 400))
    labels = viewport.scene.edge_labels
    assert (labels.top, labels.bottom) == ("H", "F") and {labels.left, labels.right} == {"R", "L"}
    assert_labels_match_screen(viewport, volume)
    viewport.rotate(False)
    assert {viewport.scene.edge_labels.left, viewport.scene.edge_labels.right} == {"H", "F"}
    assert_labels_match_screen(viewport, volume)


def test_sagittal_and_oblique_labels(viewport):
    voxels = np.zeros((4, 80, 60), np.int16)
    voxels[:, 10:20, 40:50] = 1000  # an asymmetric marker
    viewport.show_volume(make_volume(voxels, iop=SAGITTAL), Window(500, 1000))
    labels = viewport.scene.edge_labels
    assert (labels.left, labels.right, labels.top, labels.bottom) == ("A", "P", "H", "F")
    assert_labels_match_screen(viewport, viewport.volume)
    c, s = np.cos(np.radians(35)), np.sin(np.radians(35))
    oblique = make_volume(voxels, iop=([c, 0, -s], [0, 1, 0]))  # axial tilted 35° towards the feet
    viewport.show_volume(oblique, Window(500, 1000))
    labels = viewport.scene.edge_labels
    assert (labels.left, labels.right, labels.top, labels.bottom) == ("RH", "LF", "A", "P")
    assert_labels_match_screen(viewport, oblique)
    viewport.flip(True)
    assert_labels_match_screen(viewport, oblique)


# --- scale bar, lossy warning, cine ----------------------------------------------------------------


def test_scale_bar_and_lossy_warning(viewport):
    voxels = np.zeros((1, 200, 200), np.int16)
    vol = make_volume(voxels, spacing=(0.5, 0.5), LossyImageCompression="01",
                      LossyImageCompressionRatio=[10.5], LossyImageCompressionMethod="ISO_10918_1")
    viewport.show_volume(vol, Window(40, 400))
    frame = viewport.grab_frame()
    bar = viewport.scene.overlays
    assert bar.bar_text.GetInput() == f"{bar.bar_mm:g} mm" and bar.bar_mm > 0
    pixels = bar.bar_mm / viewport.scene.mm_per_pixel
    assert 0.1 * frame.shape[1] <= pixels <= 0.26 * frame.shape[1]
    row = frame.shape[0] - 1 - 30  # the bar is 30 px above the bottom, centred
    lit = frame[row - 1 : row + 2, :, 0].max(axis=0) > 150
    middle = frame.shape[1] // 2
    left = middle - np.argmin(lit[middle::-1])  # the lit run through the centre column
    right = middle + np.argmin(lit[middle:])
    assert lit[middle] and abs((right - left) - pixels) <= 3
    assert bar.warning.GetInput() == "LOSSY COMPRESSED 10.5:1 ISO_10918_1"
    QTest.keyClick(viewport.vtk_widget, Qt.Key.Key_A)  # annotations off: no bar
    assert not (viewport.grab_frame()[row - 1 : row + 2, :, 0] > 150).any()


def test_cine_plays_with_space_at_the_frame_time_vector(qtbot, viewport):
    ftv = [0, 30, 30, 30, 30, 30]
    vol = make_volume(np.zeros((6, 32, 32), np.int16), modality="US", FrameTimeVector=ftv)
    assert frame_intervals_ms(vol.headers[0], 6) == [30.0] * 6
    assert frame_intervals_ms(vol.headers[0], 6, fps=10) == [100.0] * 6
    viewport.show_volume(vol, Window(40, 400))
    seen = []
    viewport.slice_changed.connect(seen.append)
    QTest.keyClick(viewport.vtk_widget, Qt.Key.Key_Space)
    assert viewport.cine_playing
    qtbot.waitUntil(lambda: len(seen) >= 8, timeout=3000)  # loops past the end
    QTest.keyClick(viewport.vtk_widget, Qt.Key.Key_Space)
    assert not viewport.cine_playing
    assert seen[:7] == [1, 2, 3, 4, 5, 0, 1]


# --- overlay planes and shutters -------------------------------------------------------------------


def add_overlay(ds: Dataset, bits: np.ndarray, origin: tuple[int, int] = (1, 1)) -> None:
    """An Overlay Plane (PS3.3 C.9.2) in group 6000 with 1-bit packed Overlay Data."""
    from pydicom.pixels import pack_bits

    ds.add_new(0x60000010, "US", bits.shape[0])
    ds.add_new(0x60000011, "US", bits.shape[1])
    ds.add_new(0x60000040, "CS", "G")
    ds.add_new(0x60000050, "SS", list(origin))
    ds.add_new(0x60000100, "US", 1)
    ds.add_new(0x60000102, "US", 0)
    ds.add_new(0x60003000, "OW", pack_bits(bits.astype(np.uint8)))


def test_overlay_plane_and_rectangular_shutter_are_drawn_as_layers(viewport):
    voxels = np.full((2, 64, 64), 40, np.int16)
    vol = make_volume(voxels, Rows=64, Columns=64, BitsAllocated=16, ShutterShape="RECTANGULAR",
                      ShutterLeftVerticalEdge=9, ShutterRightVerticalEdge=56,
                      ShutterUpperHorizontalEdge=1, ShutterLowerHorizontalEdge=64,
                      ShutterPresentationValue=0xFFFF)
    bits = np.zeros((16, 16), bool)
    bits[4:12, 4:12] = True
    add_overlay(vol.headers[1], bits, origin=(25, 25))  # on slice 1 only, image rows/cols 28..35
    viewport.set_interpolation(False)
    viewport.show_volume(vol, Window(40, 400))
    frame = viewport.grab_frame()
    h = frame.shape[0]
    at = lambda j, i: int(frame[screen_pixel(viewport.scene.renderer, vol.affine, viewport.slice_index, j, i, h)][0])  # noqa: E731
    assert abs(at(30, 30) - 127.5) <= 1  # the image
    assert at(30, 3) == 255 and at(30, 60) == 255  # outside the shutter: presentation value white
    viewport.set_slice(1)
    frame = viewport.grab_frame()
    assert at(31, 31) == 255 and abs(at(20, 20) - 127.5) <= 1 and abs(at(40, 40) - 127.5) <= 1
    viewport.set_window(1000, 200)  # the image goes black; overlay and shutter stay
    frame = viewport.grab_frame()
    assert at(31, 31) == 255 and at(30, 3) == 255 and at(20, 20) == 0


def test_delete_removes_the_measurement_under_the_mouse_and_keys_zoom(viewport):
    vol = make_volume(np.zeros((1, 128, 128), np.int16))
    viewport.show_volume(vol, Window(40, 400))
    viewport.set_tool("length")
    p = lambda j, i: widget_point(viewport, vol, 0, j, i)  # noqa: E731
    drag(viewport.vtk_widget, [p(20, 20), p(20, 60), p(20, 100)])
    drag(viewport.vtk_widget, [p(90, 20), p(90, 60), p(90, 100)])
    _first, second = viewport.measurements
    QTest.mouseMove(viewport.vtk_widget, p(21, 50))  # over the first line
    QTest.keyClick(viewport.vtk_widget, Qt.Key.Key_Delete)
    assert viewport.measurements == [second]
    zoom = viewport.scene.zoom
    QTest.keyClick(viewport.vtk_widget, Qt.Key.Key_Plus)
    assert viewport.scene.zoom == pytest.approx(zoom * 1.25)
    QTest.keyClick(viewport.vtk_widget, Qt.Key.Key_Minus)
    assert viewport.scene.zoom == pytest.approx(zoom)


def test_real_siemens_overlay_is_drawn_where_its_bits_are(viewport):
    from pydicom.data import get_testdata_file

    from viewer.core.pixels.overlays import overlay_layer

    volume = load_volume([get_testdata_file("MR-SIEMENS-DICOM-WithOverlays.dcm")])
    bits = overlay_layer(volume.headers[0])
    assert bits is not None and bits.sum() > 100
    viewport.set_interpolation(False)
    viewport.show_volume(volume, Window(450, 790))
    viewport.set_window(100_000, 2)  # every pixel is below the window: black except the overlay
    frame = viewport.grab_frame()
    h = frame.shape[0]
    on = np.argwhere(bits)[:: max(1, int(bits.sum()) // 40)]
    for j, i in on:
        row, col = screen_pixel(viewport.scene.renderer, volume.affine, 0, j, i, h)
        assert frame[row, col, 0] == 255, (j, i)
    off = np.argwhere(~bits[100:380, 100:380])[::997] + 100
    drawn = [frame[screen_pixel(viewport.scene.renderer, volume.affine, 0, j, i, h)][0] for j, i in off]
    assert max(drawn) == 0


def test_real_ybr_jpeg_renders_the_decoded_rgb(viewport, data_dir):
    volume = load_volume([data_dir / "transfer-syntaxes-orthanc" / "1.2.840.10008.1.2.4.50.dcm"])
    assert volume.voxels.shape[-1] == 3 and volume.headers[0].PhotometricInterpretation == "YBR_FULL_422"
    viewport.set_interpolation(False)
    viewport.show_volume(volume, Window(40, 400))
    viewport.toggle_annotations()
    frame = viewport.grab_frame()
    h = frame.shape[0]
    rgb = volume.voxels[0].astype(int)
    colourful = np.argwhere(np.ptp(rgb, axis=2) > 60)  # the Doppler colour map, not grey
    colours = set()
    for j, i in colourful[:: max(1, len(colourful) // 80)]:
        if not (1 <= j < 479 and 1 <= i < 639):
            continue
        patch = rgb[j - 1 : j + 2, i - 1 : i + 2]
        row, col = screen_pixel(viewport.scene.renderer, volume.affine, 0, j, i, h)
        got = frame[row, col].astype(int)  # within the 3x3 neighbourhood's range, per channel
        low, high = patch.min(axis=(0, 1)), patch.max(axis=(0, 1))
        assert ((got >= low - 1) & (got <= high + 1)).all(), (j, i, got, low, high)
        colours.add(tuple(rgb[j, i] // 32))
    assert len(colours) > 3


def test_middle_drag_pans_scroll_tool_drags_slices_and_n_toggles_interpolation(viewport):
    vol = make_volume(np.zeros((30, 128, 128), np.int16))
    viewport.show_volume(vol, Window(40, 400))
    w = viewport.vtk_widget
    c = w.rect().center()
    mm_per_pixel = viewport.scene.mm_per_pixel
    drag(w, [c, c + QPoint(20, 10), c + QPoint(40, 20)], Qt.MouseButton.MiddleButton)
    right, up = viewport.scene.pan
    assert right == pytest.approx(-40 * mm_per_pixel, abs=mm_per_pixel) and up == pytest.approx(20 * mm_per_pixel,
                                                                                                 abs=mm_per_pixel)
    viewport.set_tool("scroll")
    drag(w, [c, c + QPoint(0, 30), c + QPoint(0, 60)])  # 6 px per slice, down = forward
    assert viewport.slice_index == 10
    assert viewport.scene.interpolated
    QTest.keyClick(w, Qt.Key.Key_N)
    assert not viewport.scene.interpolated


def test_measurements_on_a_multi_frame_instance_stay_on_their_frame(viewport):
    from pydicom.data import get_testdata_file

    volume = load_volume([get_testdata_file("emri_small.dcm")])  # 10 frames, one SOP Instance UID
    assert len({h.SOPInstanceUID for h in volume.headers}) == 1 and volume.voxels.shape[0] == 10
    viewport.show_volume(volume, Window(400, 800))
    viewport.set_slice(3)
    g = viewport.scene.slice_geometry()
    m = viewport.add_measurement("length", [g.to_patient(10, 10), g.to_patient(10, 40)])
    assert (m.sop_instance_uid, m.frame) == (volume.headers[3].SOPInstanceUID, 3)
    viewport.set_slice(4)
    assert viewport.visible_measurements() == []
    viewport.set_measurements([Measurement.from_dict(m.to_dict())])
    viewport.set_slice(3)
    assert [x.id for x in viewport.visible_measurements()] == [m.id]


def test_projection_image_labels_from_patient_orientation(viewport):
    vol = make_volume(np.zeros((1, 64, 48), np.int16), modality="DX", PatientOrientation=["L", "F"])
    for ds in vol.headers:
        del ds.ImageOrientationPatient
        del ds.PixelSpacing
        ds.ImagerPixelSpacing = [0.15, 0.15]
    viewport.show_volume(vol, Window(40, 400))
    labels = viewport.scene.edge_labels
    assert (labels.left, labels.right, labels.top, labels.bottom) == ("R", "L", "H", "F")
    QTest.keyClick(viewport.vtk_widget, Qt.Key.Key_BracketRight)
    assert viewport.scene.overlays.labels["right"].GetInput() == "H"
    assert viewport.scene.overlays.bar_text.GetInput().endswith("mm (detector)")


def test_an_empty_viewport_invites_a_drop(viewport):
    assert viewport.scene.hint.GetInput() == "Drop a series here"
    frame = viewport.grab_frame()
    assert (frame[frame.shape[0] // 2 - 10 : frame.shape[0] // 2 + 10, :, 0] > 80).any()  # grey text drawn
    viewport.show_volume(make_volume(np.zeros((1, 8, 8), np.int16)), Window(40, 400))
    assert viewport.scene.hint.GetInput() == ""


def test_dragging_an_end_point_re_measures(viewport):
    vol = make_volume(np.zeros((1, 128, 128), np.int16), spacing=(0.5, 0.5))
    viewport.show_volume(vol, Window(40, 400))
    g = viewport.scene.slice_geometry()
    m = viewport.add_measurement("length", [g.to_patient(64, 20), g.to_patient(64, 60)])
    assert m.result["length"] == pytest.approx(20.0)
    changed = []
    viewport.measurement_changed.connect(changed.append)
    p = lambda j, i: widget_point(viewport, vol, 0, j, i)  # noqa: E731
    drag(viewport.vtk_widget, [p(64, 60), p(64, 80), p(64, 100)])  # W/L tool, but on the handle
    assert changed == [m] and viewport.measurements == [m]
    assert m.result["length"] == pytest.approx(40.0, abs=2 * viewport.scene.mm_per_pixel)
    assert viewport.scene.window == (40.0, 400.0)  # not a W/L drag


def test_a_slice_that_could_not_be_decoded_says_so_on_the_image(viewport, ct_dir, tmp_path) -> None:
    """A blank slice must never pass for air: 20 real CT slices with one cut short; on that
    slice the viewport names the file and why, on the others nothing is written over the image."""
    import shutil

    files = sorted(ct_dir.glob("*.dcm"))[:20]
    for f in files:
        shutil.copyfile(f, tmp_path / f.name)
    bad = tmp_path / files[7].name
    bad.write_bytes(bad.read_bytes()[:-100_000])
    volume = load_volume(tmp_path)
    (k,) = [i for i in range(volume.voxels.shape[0]) if not volume.acquired[i]]
    viewport.show_volume(volume, Window(40, 400))
    viewport.set_slice(k)
    notice = viewport.scene.hint.GetInput().replace("\n", " ")
    assert "not decoded" in notice and files[7].name in notice
    viewport.set_slice((k + 1) % volume.voxels.shape[0])
    assert viewport.scene.hint.GetInput() == ""
