"""MPR geometry on synthetic series of known geometry: every plane shows the sphere and the
marker where they are in the patient, at their size in mm, with the right edge letters,
whatever the acquisition (axial, coronal, sagittal, oblique, gantry-tilted; all non-isotropic).
"""

from __future__ import annotations

import numpy as np
import pytest

from tests.render.phantoms import (
    MARKER_CENTER,
    MARKER_HALF,
    SPHERE_CENTER,
    SPHERE_RADIUS,
    SPHERE_VALUE,
    acquisitions,
    phantom_volume,
)
from viewer.core.planes import (
    Crosshair,
    PlaneGrid,
    direction_label,
    edge_labels,
    plane_axes,
    standard_grid,
)
from viewer.render.mpr import Reslicer

ACQUISITIONS = acquisitions()
EXPECTED_LABELS = {
    "axial": {"left": "R", "right": "L", "top": "A", "bottom": "P"},
    "coronal": {"left": "R", "right": "L", "top": "H", "bottom": "F"},
    "sagittal": {"left": "A", "right": "P", "top": "H", "bottom": "F"},
}


@pytest.fixture(scope="module", params=sorted(ACQUISITIONS))
def acquired(request):
    volume = phantom_volume(ACQUISITIONS[request.param])
    return request.param, volume, Reslicer.from_volume(volume)


def _blob(image: np.ndarray, grid: PlaneGrid, lo: float, hi: float,
          near: np.ndarray | None = None) -> tuple[np.ndarray, float]:
    """LPS centroid and area (mm²) of the pixels with lo < value < hi (within 20 mm of ``near``)."""
    mask = (image > lo) & (image < hi)
    if near is not None:
        r, c = np.mgrid[: grid.shape[0], : grid.shape[1]]
        nr, nc, _ = grid.lps_to_pixel(near)
        mask &= np.hypot((r - nr) * grid.spacing[0], (c - nc) * grid.spacing[1]) < 20
    rows, cols = np.nonzero(mask)
    assert rows.size, "object not in the plane"
    return grid.pixel_to_lps(rows.mean(), cols.mean()), rows.size * grid.spacing[0] * grid.spacing[1]


@pytest.mark.parametrize("plane", ["axial", "coronal", "sagittal"])
def test_sphere_and_marker_at_their_lps_points_and_size(acquired, plane: str) -> None:
    name, volume, reslicer = acquired
    largest = max(volume.spacing)
    grid = standard_grid(volume.affine, volume.voxels.shape, plane, center=SPHERE_CENTER)
    assert grid.labels == EXPECTED_LABELS[plane]
    assert grid.spacing == (min(volume.spacing),) * 2  # square pixels of the smallest spacing
    image = reslicer.sample(grid)
    centroid, area = _blob(image, grid, 0.5 * SPHERE_VALUE - 500, 1500)
    assert np.linalg.norm(centroid - SPHERE_CENTER) < 0.5, (name, centroid)
    assert area == pytest.approx(np.pi * SPHERE_RADIUS**2, rel=0.1)  # a 24 mm disc through its centre

    grid = standard_grid(volume.affine, volume.voxels.shape, plane, center=MARKER_CENTER)
    centroid, area = _blob(reslicer.sample(grid), grid, 1500, 3000)
    assert np.linalg.norm(centroid - MARKER_CENTER) < 0.5 * largest, (name, centroid)
    assert area == pytest.approx((2 * MARKER_HALF) ** 2, rel=0.45)  # voxelised 6 mm cube at ≤ 2 mm slices


def test_radiological_convention_on_axial(acquired) -> None:
    """Patient left on screen right: the marker (patient left, anterior of the sphere) lands
    right of and above the sphere on the axial plane through both."""
    _, volume, reslicer = acquired
    center = np.array([0.0, 0.0, MARKER_CENTER[2]])
    grid = standard_grid(volume.affine, volume.voxels.shape, "axial", center=center)
    image = reslicer.sample(grid)
    rows, cols = np.nonzero(image > 1500)
    sphere_row, sphere_col, _ = grid.lps_to_pixel(SPHERE_CENTER)
    assert cols.mean() > sphere_col  # left of the patient = right of the screen
    assert rows.mean() < sphere_row  # anterior = up


def test_coronal_and_sagittal_have_head_up(acquired) -> None:
    _, volume, reslicer = acquired
    for plane in ("coronal", "sagittal"):
        grid = standard_grid(volume.affine, volume.voxels.shape, plane, center=MARKER_CENTER)
        rows, cols = np.nonzero(reslicer.sample(grid) > 1500)
        assert rows.mean() < grid.lps_to_pixel(SPHERE_CENTER)[0]  # marker is towards the head
        side = cols.mean() - grid.lps_to_pixel(SPHERE_CENTER)[1]
        # coronal: patient left on screen right; sagittal: anterior (the marker) on the left
        assert side > 0 if plane == "coronal" else side < 0


def test_the_tilt_shear_matters() -> None:
    """Negative control: dropping the gantry-tilt shear (an orthogonal slice axis, as a VTK
    direction matrix would) moves the sphere by mm, so the tests above can fail."""
    volume = phantom_volume(ACQUISITIONS["tilted"])
    affine = volume.affine.copy()
    normal = np.cross(affine[:3, 2], affine[:3, 1])
    normal /= np.linalg.norm(normal)
    affine[:3, 0] = normal * (affine[:3, 0] @ normal)
    grid = standard_grid(affine, volume.voxels.shape, "coronal", center=SPHERE_CENTER)
    centroid, _ = _blob(Reslicer(volume.voxels, affine).sample(grid), grid, 0, 1500)
    assert np.linalg.norm(centroid - SPHERE_CENTER) > 3.0


def test_oblique_plane_through_sphere_and_marker() -> None:
    """A plane rotated to contain both the sphere centre and the marker shows both, at their
    distance apart in mm, with oblique labels."""
    volume = phantom_volume(ACQUISITIONS["axial"])
    reslicer = Reslicer.from_volume(volume)
    row = MARKER_CENTER - SPHERE_CENTER
    row /= np.linalg.norm(row)
    col = np.cross(np.array([0.3, 0.2, 1.0]), row)
    col -= (col @ row) * row
    col /= np.linalg.norm(col)
    grid = reslicer.grid(SPHERE_CENTER, row, col)
    image = reslicer.sample(grid)
    sphere, _ = _blob(image, grid, 0, 1500, near=SPHERE_CENTER)
    marker, _ = _blob(image, grid, 1500, 3000)
    assert np.linalg.norm(sphere - SPHERE_CENTER) < 0.5
    assert np.linalg.norm(marker - MARKER_CENTER) < 1.0
    assert grid.labels["right"] == direction_label(row) and len(grid.labels["right"]) >= 2


def test_crosshair_rotation_makes_the_other_planes_oblique_and_keeps_labels_right() -> None:
    cross = Crosshair(np.zeros(3))
    axial_before = cross.axes("axial")
    cross.rotate("axial", np.radians(30))
    # the axial plane itself is unchanged ...
    for a, b in zip(cross.axes("axial"), axial_before, strict=True):
        np.testing.assert_allclose(a, b, atol=1e-12)
    # ... the coronal normal turned 30° about the axial normal (H), towards the patient's ...
    coronal_normal = cross.normal("coronal")
    assert coronal_normal[2] == pytest.approx(0, abs=1e-12)
    assert np.degrees(np.arccos(coronal_normal @ np.array([0, 1, 0]))) == pytest.approx(30)
    # ... and all three planes stay mutually perpendicular
    normals = [cross.normal(p) for p in ("axial", "coronal", "sagittal")]
    np.testing.assert_allclose(np.abs(np.array(normals) @ np.array(normals).T), np.eye(3), atol=1e-12)
    # head still up on the rotated coronal, and its left/right letters follow the rotation
    row, col = cross.axes("coronal")
    labels = edge_labels(row, col)
    assert labels["top"] == "H" and labels["bottom"] == "F"
    assert set(labels["right"]) == {"L", "P"} or set(labels["right"]) == {"L", "A"}
    # double oblique: rotating in the coronal now tilts the axial plane
    cross.rotate("coronal", np.radians(20))
    assert abs(cross.normal("axial")[2]) < 0.99
    cross.reset()
    np.testing.assert_allclose(cross.rotation, np.eye(3))


def test_plane_axes_stay_upright_and_right_handed() -> None:
    for name in ("axial", "coronal", "sagittal"):
        row, col = plane_axes(name)
        np.testing.assert_allclose(np.cross(row, col) @ np.cross(row, col), 1.0)
    # a sagittal plane turned 60° about H keeps the head up and the anterior side on the left
    rot = Crosshair(np.zeros(3))
    rot.rotate("axial", np.radians(60))
    row, col = rot.axes("sagittal")
    assert direction_label(-col) == "H"
    assert row[1] > 0  # screen right still leans posterior


def test_pixel_lps_round_trip() -> None:
    volume = phantom_volume(ACQUISITIONS["oblique"])
    grid = standard_grid(volume.affine, volume.voxels.shape, "sagittal", center=MARKER_CENTER)
    point = grid.pixel_to_lps(12.25, 40.5)
    row, col, off = grid.lps_to_pixel(point)
    assert (row, col, off) == pytest.approx((12.25, 40.5, 0.0))
    assert grid.lps_to_pixel(MARKER_CENTER)[2] == pytest.approx(0.0, abs=1e-9)  # the plane passes there


def test_direction_label_rules() -> None:
    assert direction_label(np.array([1, 0, 0])) == "L"
    assert direction_label(np.array([0, -1, 0])) == "A"
    assert direction_label(np.array([0, 0, -1])) == "F"
    assert direction_label(np.array([0.8, -0.6, 0.05])) == "LA"
    with pytest.raises(ValueError):
        direction_label(np.zeros(3))
    with pytest.raises(ValueError):
        standard_grid(np.eye(4), (4, 4, 4), "oblique")
