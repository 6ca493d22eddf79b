"""SliceScene without Qt: rendered grey levels against the standard's LINEAR window, and the
camera's rotate/flip against the patient geometry (offscreen render window, read back)."""

from __future__ import annotations

import numpy as np
import pytest

from viewer.core.pixels.voi import Window, apply_window
from viewer.render.offscreen import OffscreenWindow
from viewer.render.overlays import graphics_layer, lossy_note, nice_length
from viewer.render.slice_scene import SliceScene


def axial_affine(spacing: float = 0.5, step: float = 2.0) -> np.ndarray:
    affine = np.eye(4)
    affine[:3, 0] = [0, 0, step]
    affine[:3, 1] = [0, spacing, 0]
    affine[:3, 2] = [spacing, 0, 0]
    affine[:3, 3] = [-50, -50, 0]
    return affine


@pytest.fixture
def scene():
    window = OffscreenWindow(400, 400)
    window.render_window.SetMultiSamples(0)
    s = SliceScene()
    window.add(s.renderer)
    s.window_for_test = window
    yield s
    window.close()


def draw(scene: SliceScene, affine: np.ndarray, k: int, j: float, i: float) -> np.ndarray:
    """The rendered RGB at voxel (k, j, i)."""
    frame = scene.window_for_test.frame()
    x, y = scene.patient_to_display((affine @ [k, j, i, 1.0])[:3])
    return frame[frame.shape[0] - 1 - round(y - 0.5), round(x - 0.5)]


@pytest.mark.parametrize(("center", "width"), [(40, 400), (-600, 1500), (35, 2)])
def test_rendered_grey_follows_the_dicom_linear_window(scene, center, width):
    values = np.linspace(-700, 800, 100).round().astype(np.int16)
    voxels = np.repeat(values[None, None, :], 20, axis=1)  # 1 slice, 20 rows, 100 columns
    affine = axial_affine(spacing=1.0)
    scene.set_volume(voxels, affine)
    scene.set_interpolation(False)
    scene.set_window(center, width)
    scene.show_annotations(False)
    want = apply_window(values, Window(center, width)) * 255
    got = np.array([float(draw(scene, affine, 0, 10, i)[0]) for i in range(100)])
    assert np.abs(got - want).max() <= 1.0, np.abs(got - want).max()
    scene.set_inverted(True)
    got = np.array([float(draw(scene, affine, 0, 10, i)[0]) for i in range(100)])
    assert np.abs(got - (255 - want)).max() <= 1.0


def test_rotation_and_flip_move_a_marker_where_the_labels_say(scene):
    voxels = np.zeros((1, 64, 64), np.int16)
    voxels[0, 5:12, 50:60] = 1000  # patient left (+x) and anterior (-y): upper right when unrotated
    affine = axial_affine()
    scene.set_volume(voxels, affine)
    scene.set_interpolation(False)
    scene.set_window(500, 1000)
    scene.show_annotations(False)

    def marker_quadrant() -> tuple[str, str]:
        frame = scene.window_for_test.frame()
        rows, cols = np.nonzero(frame[..., 0] > 200)
        h, w = frame.shape[:2]
        return ("top" if rows.mean() < h / 2 else "bottom"), ("left" if cols.mean() < w / 2 else "right")

    def label_of(edge: str) -> str:
        return getattr(scene.edge_labels, edge)

    for action in (None, "cw", "flip_h", "cw", "flip_v", "ccw"):
        if action == "cw":
            scene.rotate(True)
        elif action == "ccw":
            scene.rotate(False)
        elif action == "flip_h":
            scene.flip(True)
        elif action == "flip_v":
            scene.flip(False)
        vertical, horizontal = marker_quadrant()
        # the marker is anterior and to the patient's left: those letters label its two edges
        assert {label_of(vertical), label_of(horizontal)} == {"A", "L"}, (action, scene.edge_labels)


def test_colour_zoom_pan_and_picking(scene):
    rgb = np.zeros((2, 32, 48, 3), np.uint8)
    rgb[..., 0] = np.arange(48, dtype=np.uint8)[None, None, :] * 5
    rgb[..., 1] = 77
    rgb[1, ..., 2] = 200
    affine = axial_affine()
    scene.set_volume(rgb, affine)
    scene.set_interpolation(False)
    scene.set_slice(1)
    assert tuple(int(v) for v in draw(scene, affine, 1, 16, 20)) == (100, 77, 200)
    scene.set_zoom(2.0)
    scene.set_pan(3.0, -2.0)
    assert scene.zoom == pytest.approx(2.0) and scene.pan == pytest.approx((3.0, -2.0))
    x, y = scene.patient_to_display((affine @ [1, 14, 26, 1.0])[:3])
    assert 0 <= x < 400 and 0 <= y < 400
    assert np.allclose(scene.display_to_patient(x, y), (affine @ [1, 14, 26, 1.0])[:3], atol=1e-6)
    assert tuple(int(v) for v in draw(scene, affine, 1, 14, 26)) == (130, 77, 200)
    # 2x zoom: the voxel 1.75 mm left of the view centre is 1.75 / (24 mm / 400 px / 2) px left of it
    assert x == pytest.approx(200 - 1.75 / (24 / 400 / 2), abs=0.01)


def test_overlay_helpers():
    assert [nice_length(v) for v in (0.7, 3, 17, 260)] == [0.5, 2, 10, 200]
    shown = np.ones((4, 4), bool)
    shown[:, 0] = False
    overlay = np.zeros((4, 4), bool)
    overlay[2, 2] = True
    layer = graphics_layer(overlay, shown, 0.5)
    assert tuple(layer[0, 0]) == (128, 128, 128, 255) and tuple(layer[2, 2]) == (255, 255, 255, 255)
    assert layer[1, 1, 3] == 0 and graphics_layer(None, None) is None
    from pydicom.dataset import Dataset

    ds = Dataset()
    ds.LossyImageCompression = "01"
    ds.LossyImageCompressionRatio = [12, 3.5]
    ds.LossyImageCompressionMethod = ["ISO_10918_1", "ISO_15444_1"]
    assert lossy_note(ds) == "LOSSY COMPRESSED 12:1 3.5:1 ISO_10918_1 ISO_15444_1"
    ds.LossyImageCompression = "00"
    assert lossy_note(ds) == ""


def test_gantry_tilted_stack_shows_each_slice_where_its_position_says(scene):
    # 20° tilt: each 2 mm step along z also moves 0.73 mm along y (C.7.6.2.1.1 positions)
    affine = axial_affine(spacing=0.5, step=2.0)
    affine[:3, 0] = [0, 2.0 * np.tan(np.radians(20)), 2.0]
    voxels = np.zeros((12, 80, 80), np.int16)
    for k in range(12):
        voxels[k, 30 + k, 40] = 1000  # one bright voxel per slice, a different row each time
    scene.set_volume(voxels, affine)
    scene.set_interpolation(False)
    scene.set_window(500, 1000)
    scene.show_annotations(False)
    for k in (0, 5, 11):
        scene.set_slice(k)
        assert draw(scene, affine, k, 30 + k, 40)[0] == 255, k
        assert draw(scene, affine, k, 30 + k + 2, 40)[0] == 0
        g = scene.slice_geometry(k)
        assert np.allclose(g.to_patient(30 + k, 40), (affine @ [k, 30 + k, 40, 1.0])[:3])


@pytest.mark.parametrize("function", ["LINEAR_EXACT", "SIGMOID"])
@pytest.mark.parametrize("inverted", [False, True])
def test_voi_lut_functions_render_as_the_standard_says(scene, function, inverted):
    values = np.linspace(-300, 500, 100).round().astype(np.int16)
    voxels = np.repeat(values[None, None, :], 20, axis=1)
    affine = axial_affine(spacing=1.0)
    scene.set_volume(voxels, affine)
    scene.set_interpolation(False)
    scene.show_annotations(False)
    window = Window(60, 300, "", function)
    scene.set_voi(window)
    scene.set_inverted(inverted)
    want = apply_window(values, window) * 255
    if inverted:
        want = 255 - want
    got = np.array([float(draw(scene, affine, 0, 10, i)[0]) for i in range(100)])
    assert np.abs(got - want).max() <= 1.0, np.abs(got - want).max()
    scene.set_window(100, 200)  # a drag keeps the function
    assert scene.voi == Window(100, 200, "", function) and scene.window == (100, 200)


def test_voi_lut_sequence_table_renders_as_the_standard_says(scene):
    from viewer.core.pixels.voi import VoiLut, apply_voi_lut_table

    values = np.linspace(-100, 1200, 100).round().astype(np.int16)
    voxels = np.repeat(values[None, None, :], 20, axis=1)
    affine = axial_affine(spacing=1.0)
    scene.set_volume(voxels, affine)
    scene.set_interpolation(False)
    scene.show_annotations(False)
    entries = np.arange(1000)
    data = (4095 * (entries / 999) ** 0.5).round().astype(np.uint16)  # a gamma-like 12-bit table
    lut = VoiLut(first_mapped=50, bits=12, data=data, explanation="GAMMA")
    scene.set_voi(lut)
    want = apply_voi_lut_table(values, lut) * 255
    got = np.array([float(draw(scene, affine, 0, 10, i)[0]) for i in range(100)])
    assert np.abs(got - want).max() <= 1.0, np.abs(got - want).max()
    assert got[0] == 0 and got[-1] == 255  # clamped below and above the table
    scene.set_window(500, 1000)  # dragging leaves the table for a LINEAR window
    assert scene.voi == Window(500, 1000)


def test_text_shrinks_in_small_viewports():
    from viewer.render.overlays import text_size

    assert text_size(1200, 900) == 15 and text_size(400, 300) == 11 and text_size(200, 150) == 10
