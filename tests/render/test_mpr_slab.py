"""Thick slabs: MIP/MinIP/average images against numpy over the same voxels, and the
interpolation modes against each other."""

from __future__ import annotations

import numpy as np
import pytest

from viewer.core.planes import PlaneGrid, acquired_slice_grid, standard_grid
from viewer.render.mpr import Reslicer, Slab


@pytest.fixture(scope="module")
def noisy():
    """Random int16 voxels (a max over slices differs from any single slice everywhere)."""
    rng = np.random.default_rng(7)
    voxels = rng.integers(-1000, 1000, size=(30, 40, 44)).astype(np.int16)
    affine = np.eye(4)
    affine[:3, 0] = [0, 0, 2.0]  # axial, 2 mm slices
    affine[:3, 1] = [0, 0.8, 0]
    affine[:3, 2] = [0.7, 0, 0]
    affine[:3, 3] = [-10.0, -20.0, -30.0]
    return voxels, affine


@pytest.mark.parametrize("fast", [True, False], ids=["numpy-path", "vtk-slab"])
def test_axial_mip_equals_numpy_max_over_the_slab(noisy, fast: bool) -> None:
    voxels, affine = noisy
    reslicer = Reslicer(voxels, affine)
    grid = acquired_slice_grid(affine, voxels.shape, 12)
    image = reslicer.sample(grid, Slab(8.0, "mip"), fast_slab=fast)  # ±4 mm = slices 10..14
    np.testing.assert_array_equal(image, voxels[10:15].max(axis=0))
    assert not np.array_equal(image, voxels[10:14].max(axis=0))  # one slice less is different
    image = reslicer.sample(grid, Slab(8.0, "minip"), fast_slab=fast)
    np.testing.assert_array_equal(image, voxels[10:15].min(axis=0))


def test_coronal_mip_on_an_axial_stack_reduces_rows(noisy) -> None:
    """A coronal slab through an axial CT is a max over image rows (0.8 mm apart), shown
    head up: the last slice (highest z) is the top row."""
    voxels, affine = noisy
    reslicer = Reslicer(voxels, affine)
    # the coronal grid, but with pixels on the voxel centres (2 mm rows, 0.7 mm columns)
    coronal = standard_grid(affine, voxels.shape, "coronal")
    assert coronal.labels == {"left": "R", "right": "L", "top": "H", "bottom": "F"}
    top_left = (affine @ np.array([29, 20, 0, 1.0]))[:3]
    grid = PlaneGrid(top_left, coronal.row_direction, coronal.column_direction, (2.0, 0.7), (30, 44))
    image = reslicer.sample(grid, Slab(3.2, "mip"))  # ±1.6 mm = rows 18..22
    np.testing.assert_array_equal(image, voxels[:, 18:23, :].max(axis=1)[::-1])  # head up


def test_average_slab_is_the_mean(noisy) -> None:
    voxels, affine = noisy
    reslicer = Reslicer(voxels, affine)
    image = reslicer.sample(acquired_slice_grid(affine, voxels.shape, 5), Slab(4.0, "avg"))
    assert image.dtype == np.float32
    np.testing.assert_allclose(image, voxels[4:7].mean(axis=0), atol=1e-3)


def test_oblique_slab_mip_is_at_least_every_thin_plane_inside_it(noisy) -> None:
    """Oblique slabs go through vtkImageReslice's slab mode: the MIP image is >= the thin
    planes it contains, equal to their max at the sample positions."""
    voxels, affine = noisy
    reslicer = Reslicer(voxels, affine)
    center = (affine @ np.array([15, 20, 22, 1.0]))[:3]
    row = np.array([0.9, 0.3, 0.3])
    row /= np.linalg.norm(row)
    col = np.cross(np.array([0.2, 0.1, 1.0]), row)
    col /= np.linalg.norm(col)
    grid = reslicer.grid(center, row, col)
    mip = reslicer.sample(grid, Slab(2.8, "mip"))
    step = 2.8 / 4  # 5 samples at the 0.7 mm smallest spacing
    thin = [reslicer.sample(reslicer.grid(center + grid.normal * step * t, row, col)).astype(int)
            for t in range(-2, 3)]
    np.testing.assert_array_equal(mip, np.max(thin, axis=0))


def test_cubic_and_linear_agree_on_voxel_centres_and_differ_between(noisy) -> None:
    voxels, affine = noisy
    reslicer = Reslicer(voxels, affine)
    grid = acquired_slice_grid(affine, voxels.shape, 9)
    for mode in ("nearest", "linear", "cubic"):
        reslicer.set_interpolation(mode)
        np.testing.assert_array_equal(reslicer.sample(grid), voxels[9])
    between = standard_grid(affine, voxels.shape, "sagittal")
    linear = reslicer.sample(between)
    reslicer.set_interpolation("linear")
    assert not np.array_equal(linear, reslicer.sample(between))  # cubic was really used
    with pytest.raises(ValueError):
        reslicer.set_interpolation("sinc")  # type: ignore[arg-type]


def test_slab_validation() -> None:
    with pytest.raises(ValueError):
        Slab(10.0, "max")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        Slab(-1.0)
