"""The 2D reading tools in MPR planes, driven by real mouse events (pytest-qt).

* Markers at known LPS points of an oblique-acquired, non-isotropic phantom: the markers are
  found in the *resliced* pixels of a coronal, an oblique and a double-oblique plane, and a
  length (and an angle) drawn between them with the mouse reads their known distance (angle).
* ROIs on the real CT, in a thick MIP slab: mean/SD/min/max equal numpy on the same slab pixels
  with an independently built mask; the area is the drawn rectangle's/ellipse's in mm².
* The probe on the real CT reports the clicked LPS point and the HU of the plane pixel there,
  checked against a trilinear interpolation of the CT's voxels at that pixel's LPS point.
"""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtTest import QTest

from tests.render.phantoms import acquisitions, lps_grid
from viewer.core.planes import Crosshair, volume_center
from viewer.core.volume import Volume, load_volume
from viewer.render.mpr import Slab

MARKER_RADIUS = 2.0


def open_view(qtbot, volume: Volume, window=(500, 3000), size=(1500, 520)):
    from viewer.ui.mpr_view import MprView

    view = MprView(volume, window=window)
    qtbot.addWidget(view)
    view.resize(*size)
    view.show()
    qtbot.waitExposed(view)
    view.render()
    return view


def to_qt(view, display_xy) -> QPoint:
    """VTK display coordinates (y up) -> the widget's Qt coordinates (y down)."""
    ratio = view.vtk_widget.devicePixelRatioF()
    x, y = display_xy
    return QPoint(round(x / ratio), round(view.vtk_widget.height() - 1 - y / ratio))


def drag(view, start: QPoint, end: QPoint, steps: int = 8) -> None:
    widget = view.vtk_widget
    QTest.mousePress(widget, Qt.LeftButton, Qt.NoModifier, start)
    for t in np.linspace(0, 1, steps)[1:]:
        QTest.mouseMove(widget, QPoint(round(start.x() + (end.x() - start.x()) * t),
                                       round(start.y() + (end.y() - start.y()) * t)))
    QTest.mouseRelease(widget, Qt.LeftButton, Qt.NoModifier, end)


def mm_per_screen_pixel(view, name: str) -> float:
    plane = view.scene.planes[name]
    return float(np.linalg.norm(plane.display_to_lps(101, 100) - plane.display_to_lps(100, 100)))


def blob_centres(bright: np.ndarray, smallest: int = 1) -> list[tuple[float, float]]:
    """(row, column) centroids of the True blobs of a mask (4-connected), ``smallest`` pixels or more."""
    seen = np.zeros_like(bright)
    centres = []
    for r, c in zip(*np.nonzero(bright), strict=True):
        if seen[r, c]:
            continue
        stack, members = [(r, c)], []
        seen[r, c] = True
        while stack:
            y, x = stack.pop()
            members.append((y, x))
            for ny, nx in ((y + 1, x), (y - 1, x), (y, x + 1), (y, x - 1)):
                if 0 <= ny < bright.shape[0] and 0 <= nx < bright.shape[1] and bright[ny, nx] and not seen[ny, nx]:
                    seen[ny, nx] = True
                    stack.append((ny, nx))
        if len(members) >= smallest:
            centres.append(tuple(np.mean(members, axis=0)))
    return centres


def markers_on_screen(view, name: str) -> list[QPoint]:
    """Where the markers are drawn in plane ``name``'s viewport of the rendered frame: grey
    pixels brighter than the background (text and crosshair lines are coloured)."""
    view.scene.crosshair_visible = False  # a crosshair line across a marker would split it in two
    view.scene.update()
    frame = view.grab_frame().astype(int)
    view.scene.crosshair_visible = True
    view.scene.update()
    x0, _, x1, _ = view.scene.planes[name].renderer.GetViewport()
    left, right = round(x0 * frame.shape[1]), round(x1 * frame.shape[1])
    part = frame[:, left:right]
    grey = (part.min(axis=2) > 128) & (np.ptp(part, axis=2) < 10)
    return [QPoint(round(c + left), round(r)) for r, c in blob_centres(grey, smallest=30)]


def oblique_phantom_with_markers(points: list[np.ndarray]) -> Volume:
    """The oblique-acquired, non-isotropic phantom geometry with small bright balls at ``points``."""
    acq = acquisitions()["oblique"]
    affine = acq.affine()
    lps = lps_grid(affine, acq.shape)
    voxels = np.zeros(acq.shape, dtype=np.int16)
    for p in points:
        voxels[np.linalg.norm(lps - p, axis=-1) <= MARKER_RADIUS] = 1000
    return Volume(voxels, affine, headers=[])


ROTATIONS = {  # plane rotated in -> angle (rad); the coronal plane is what is measured in
    "coronal": [],
    "oblique": [("axial", 0.5)],
    "double-oblique": [("axial", 0.5), ("sagittal", -0.35)],
}


@pytest.mark.parametrize("case", list(ROTATIONS))
def test_length_and_angle_between_markers_in_a_reformatted_plane(qtbot, case) -> None:
    acq = acquisitions()["oblique"]
    centre = volume_center(acq.affine(), acq.shape)
    crosshair = Crosshair(centre)
    for name, angle in ROTATIONS[case]:
        crosshair.rotate(name, angle)
    row, col = crosshair.axes("coronal")
    # three markers in that plane: A and B 36.1 mm apart, the angle A-B-C is 90 + 20 degrees
    a = centre - 15 * row - 10 * col
    b = centre + 12 * row + 14 * col
    ab = (a - b) / np.linalg.norm(a - b)
    turn = np.radians(110)
    ab_perp = np.cross(np.cross(row, col), ab)
    c = b + 18 * (np.cos(turn) * ab + np.sin(turn) * ab_perp)
    view = open_view(qtbot, oblique_phantom_with_markers([a, b, c]))
    for name, angle in ROTATIONS[case]:
        view.scene.rotate(name, angle)
    view.render()
    plane = view.scene.planes["coronal"]
    np.testing.assert_allclose(plane.grid.row_direction, row, atol=1e-9)

    # the markers are where they were built, in the resliced pixels ...
    found = [plane.grid.pixel_to_lps(*rc) for rc in blob_centres(plane.pixels() > 500)]
    assert len(found) == 3
    for built in (a, b, c):
        assert min(np.linalg.norm(f - built) for f in found) < 0.5
    # ... and on screen: the mouse goes where the user sees them drawn
    ratio = view.vtk_widget.devicePixelRatioF()
    drawn = markers_on_screen(view, "coronal")
    assert len(drawn) == 3
    at = [plane.display_to_lps(q.x() * ratio, (view.vtk_widget.height() - 1 - q.y()) * ratio) for q in drawn]
    screen = [drawn[int(np.argmin([np.linalg.norm(p - built) for p in at]))] for built in (a, b, c)]
    for q, built in zip(screen, (a, b, c), strict=True):
        seen = at[drawn.index(q)]
        assert np.linalg.norm(seen - built) < 0.5 + mm_per_screen_pixel(view, "coronal")

    view.set_tool("length")
    drag(view, screen[0], screen[1])
    (length,) = view.scene.visible_measurements("coronal")
    tolerance = 2 * mm_per_screen_pixel(view, "coronal")  # each end is rounded to a screen pixel
    assert length.kind == "length" and length.result["unit"] == "mm"
    assert length.result["length"] == pytest.approx(np.linalg.norm(a - b), abs=tolerance)
    # measured in patient space: the LPS points' own distance
    assert length.result["length"] == pytest.approx(np.linalg.norm(np.subtract(*length.points[:2])), abs=1e-6)
    for point in length.points:
        assert abs(plane.grid.lps_to_pixel(point)[2]) < 1e-6  # on the plane
    # drawn where it was measured: the 2D pane's green line crosses the middle of the drag
    middle = (screen[0] + screen[1]) / 2
    frame = view.grab_frame().astype(int)
    green = (frame[..., 1] > 200) & (frame[..., 0] < 150) & (frame[..., 2] < 170)
    assert green[middle.y() - 3:middle.y() + 4, middle.x() - 3:middle.x() + 4].any()
    # and its label beside its right end (a label placed in window, not viewport, coordinates
    # would land in the sagittal viewport and be clipped away)
    end = max(screen[:2], key=lambda q: q.x())
    assert green[end.y() - 20:end.y() + 20, end.x() + 5:end.x() + 120].sum() > 20

    view.set_tool("angle")
    drag(view, screen[0], screen[1])  # first arm, to the vertex
    QTest.mouseMove(view.vtk_widget, screen[2])
    QTest.mouseClick(view.vtk_widget, Qt.LeftButton, Qt.NoModifier, screen[2])
    angle = view.scene.visible_measurements("coronal")[-1]
    assert angle.kind == "angle"
    assert angle.result["angle"] == pytest.approx(110, abs=2.0)
    assert view.scene.planes["coronal"].shapes.count == 2  # both drawn, with the 2D pane's props
    assert view.scene.visible_measurements("axial") == []


@pytest.fixture(scope="module")
def ct(ct_dir) -> Volume:
    return load_volume(ct_dir)


def rectangle_mask(shape, p0, p1) -> np.ndarray:
    rows, cols = np.mgrid[0:shape[0], 0:shape[1]]
    (r0, c0), (r1, c1) = p0, p1
    return (rows >= min(r0, r1)) & (rows <= max(r0, r1)) & (cols >= min(c0, c1)) & (cols <= max(c0, c1))


def ellipse_mask(shape, p0, p1) -> np.ndarray:
    rows, cols = np.mgrid[0:shape[0], 0:shape[1]]
    (r0, c0), (r1, c1) = p0, p1
    cr, cc, ar, ac = (r0 + r1) / 2, (c0 + c1) / 2, abs(r1 - r0) / 2, abs(c1 - c0) / 2
    return ((rows - cr) / ar) ** 2 + ((cols - cc) / ac) ** 2 <= 1


@pytest.mark.parametrize("kind", ["rectangle", "ellipse"])
def test_roi_statistics_on_a_thick_slab_equal_numpy(qtbot, ct, kind) -> None:
    view = open_view(qtbot, ct, window=(40, 400))
    scene = view.scene
    scene.set_slab(Slab(10.0, "mip"))
    view.render()
    plane = scene.planes["coronal"]
    slab_pixels = plane.pixels().astype(np.float64)
    # the statistics are on the slab image, which is not the thin plane
    thin = scene.reslicer.sample(plane.grid)
    assert np.abs(slab_pixels - thin).mean() > 1
    np.testing.assert_array_equal(slab_pixels, scene.reslicer.sample(plane.grid, Slab(10.0, "mip")))
    centre = scene.crosshair.center
    row, col = plane.grid.row_direction, plane.grid.column_direction
    start = to_qt(view, plane.lps_to_display(centre - 30 * row - 20 * col))
    end = to_qt(view, plane.lps_to_display(centre + 25 * row + 15 * col))
    view.set_tool(kind)
    drag(view, start, end)
    (roi,) = scene.visible_measurements("coronal")
    p0, p1 = (plane.grid.lps_to_pixel(p)[:2] for p in roi.points)
    mask = (rectangle_mask if kind == "rectangle" else ellipse_mask)(slab_pixels.shape, p0, p1)
    values = slab_pixels[mask]
    assert values.size > 1000
    r = roi.result
    assert r["unit"] == "HU" and r["pixels"] == values.size
    assert r["mean"] == pytest.approx(values.mean(), abs=1e-6)
    assert r["sd"] == pytest.approx(values.std(), abs=1e-6)
    assert (r["min"], r["max"]) == (values.min(), values.max())
    height_mm = abs(p1[0] - p0[0]) * plane.grid.spacing[0]
    width_mm = abs(p1[1] - p0[1]) * plane.grid.spacing[1]
    assert width_mm == pytest.approx(55, abs=1.5) and height_mm == pytest.approx(35, abs=1.5)
    area = width_mm * height_mm * (1 if kind == "rectangle" else np.pi / 4)
    assert r["area"] == pytest.approx(area, rel=1e-9) and r["area_unit"] == "mm²"
    # going back to a thin plane measures the thin pixels
    scene.set_slab(None)
    assert roi.result["mean"] == pytest.approx(plane.pixels()[mask].mean(), abs=1e-6)
    assert roi.result["mean"] != pytest.approx(values.mean(), abs=0.5)


def trilinear(voxels: np.ndarray, kji: np.ndarray) -> float:
    base = np.floor(kji).astype(int)
    frac = kji - base
    total = 0.0
    for corner in np.ndindex(2, 2, 2):
        index = np.clip(base + corner, 0, np.array(voxels.shape) - 1)
        weight = np.prod([f if c else 1 - f for f, c in zip(frac, corner, strict=True)])
        total += weight * float(voxels[tuple(index)])
    return total


def test_probe_reports_lps_and_hu_on_the_real_ct(qtbot, ct) -> None:
    view = open_view(qtbot, ct, window=(40, 400))
    scene = view.scene
    # a voxel inside the body: the crosshair through it, so the axial plane is its slice
    k, j, i = ct.voxels.shape[0] // 2, 300, 200
    target = ct.index_to_patient((k, j, i))
    scene.crosshair.move_to(target)
    scene.update()
    view.render()
    axial = scene.planes["axial"]
    view.set_tool("probe")
    reports = []
    view.probed.connect(reports.append)
    QTest.mouseClick(view.vtk_widget, Qt.LeftButton, Qt.NoModifier, to_qt(view, axial.lps_to_display(target)))
    assert reports and reports[-1]["plane"] == "axial"
    report = reports[-1]
    position = np.array(report["position"])
    assert np.linalg.norm(position - target) <= mm_per_screen_pixel(view, "axial")  # the clicked point
    assert abs(position[2] - target[2]) < 1e-6  # in the axial plane through that slice
    (probe,) = scene.visible_measurements("axial")
    assert probe.kind == "probe" and probe.result["unit"] == "HU"
    assert probe.result["value"] == report["value"]
    pixel = axial.grid.pixel_to_lps(report["row"], report["column"])
    assert np.linalg.norm(pixel - position) <= axial.grid.spacing[0]  # the plane pixel under the click
    expected = trilinear(ct.voxels, ct.patient_to_index(pixel))
    assert report["value"] == pytest.approx(expected, abs=1.0)  # int16 output: rounding only
    assert -200 < report["value"] < 300  # soft tissue, not air or bone: the right voxel region


def open_oblique_phantom(qtbot):
    """The oblique-acquired phantom with a marker at its centre: the view and its crosshair centre."""
    acq = acquisitions()["oblique"]
    view = open_view(qtbot, oblique_phantom_with_markers([volume_center(acq.affine(), acq.shape)]),
                     size=(900, 320))
    return view, view.scene.crosshair.center


def test_measurements_follow_their_plane_and_keys_remove_them(qtbot) -> None:
    view, centre = open_oblique_phantom(qtbot)
    scene = view.scene
    sagittal = scene.planes["sagittal"]
    row, col = sagittal.grid.row_direction, sagittal.grid.column_direction
    view.set_tool("length")
    drag(view, to_qt(view, sagittal.lps_to_display(centre - 10 * row)),
         to_qt(view, sagittal.lps_to_display(centre + 10 * row + 5 * col)))
    assert len(scene.visible_measurements("sagittal")) == 1 and sagittal.shapes.count == 1
    scene.scroll("sagittal", 2)  # the plane moves away: the measurement is not on it
    assert scene.visible_measurements("sagittal") == [] and sagittal.shapes.count == 0
    scene.scroll("sagittal", -2)
    assert len(scene.visible_measurements("sagittal")) == 1 and sagittal.shapes.count == 1
    # a half-drawn angle is dropped by Esc; Delete removes the newest measurement under the mouse
    view.set_tool("angle")
    drag(view, to_qt(view, sagittal.lps_to_display(centre)), to_qt(view, sagittal.lps_to_display(centre + 8 * col)))
    assert scene.drafts["sagittal"] is not None
    QTest.keyClick(view.vtk_widget, Qt.Key_Escape)
    assert scene.drafts["sagittal"] is None and sagittal.shapes.count == 1
    QTest.mouseMove(view.vtk_widget, to_qt(view, sagittal.lps_to_display(centre)))
    from PySide6.QtGui import QCursor

    QCursor.setPos(view.vtk_widget.mapToGlobal(to_qt(view, sagittal.lps_to_display(centre))))
    QTest.keyClick(view.vtk_widget, Qt.Key_Delete)
    assert scene.measurements == [] and sagittal.shapes.count == 0
    # the crosshair tool moves the crosshair again
    view.set_tool("crosshair")
    target = centre + 6 * row
    QTest.mouseClick(view.vtk_widget, Qt.LeftButton, Qt.NoModifier, to_qt(view, sagittal.lps_to_display(target)))
    assert np.linalg.norm(scene.crosshair.center - target) < 2 * mm_per_screen_pixel(view, "sagittal")


def test_a_measurement_is_not_shown_on_a_plane_turned_about_its_own_line(qtbot) -> None:
    """A length along the axial normal lies in every sagittal plane turned about that normal;
    it belongs to the orientation it was drawn in, so a turned plane does not show it."""
    view, centre = open_oblique_phantom(qtbot)
    scene = view.scene
    sagittal = scene.planes["sagittal"]
    axis = scene.crosshair.normal("axial")
    view.set_tool("length")
    drag(view, to_qt(view, sagittal.lps_to_display(centre - 12 * axis)),
         to_qt(view, sagittal.lps_to_display(centre + 12 * axis)))
    (length,) = scene.visible_measurements("sagittal")
    scene.rotate("axial", np.radians(20))
    assert scene.on_plane("sagittal", length.points)  # still in the turned plane...
    assert scene.visible_measurements("sagittal") == [] and sagittal.shapes.count == 0  # ...but not its own
    scene.rotate("axial", np.radians(-20))
    assert scene.visible_measurements("sagittal") == [length] and sagittal.shapes.count == 1
