"""Volumes as vtkImageData placed in patient (LPS) space.

VTK's image axes (x, y, z) are our voxel axes (i, j, k) = (column, row, slice), so the C-order
numpy array (slices, rows, columns) is VTK's point order without a copy, and the direction
matrix plus origin carry the DICOM geometry (PS3.3 C.7.6.2.1.1). The numpy array must outlive
the vtkImageData; :class:`VtkVolume` keeps both together.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from vtkmodules.util.numpy_support import numpy_to_vtk
from vtkmodules.vtkCommonDataModel import vtkImageData


@dataclass
class VtkVolume:
    """A vtkImageData and the numpy buffer it views."""

    image: vtkImageData
    buffer: np.ndarray
    slice_step: np.ndarray  # LPS mm from one slice to the next
    row_dir: np.ndarray  # unit LPS direction of increasing column index i
    col_dir: np.ndarray  # unit LPS direction of increasing row index j
    normal: np.ndarray  # unit slice normal, row_dir x col_dir
    origin: np.ndarray  # LPS of voxel (0, 0, 0)
    shear: np.ndarray  # in-plane LPS shift per slice (gantry tilt): slice_step minus its normal part

    def place_slice(self, k: int) -> None:
        """Put slice ``k`` at its true position in VTK's (unsheared) image.

        vtkImageData cannot shear, so a gantry-tilted stack is stored as if its slices were
        stacked along the normal; moving the origin by ``shear * k`` lands slice ``k`` exactly
        where Image Position (Patient) says, which is all a 2D view of slice ``k`` needs.
        """
        self.image.SetOrigin(*(self.origin + self.shear * k))


def to_vtk_image(voxels: np.ndarray, affine: np.ndarray) -> VtkVolume:
    """Wrap (slices, rows, columns[, samples]) voxels and their (k, j, i) affine for VTK."""
    buffer = np.ascontiguousarray(voxels)
    slices, rows, cols = buffer.shape[:3]
    components = buffer.shape[3] if buffer.ndim == 4 else 1
    step_k, step_j, step_i = (affine[:3, a].astype(float) for a in range(3))
    sx, sy = float(np.linalg.norm(step_i)), float(np.linalg.norm(step_j))
    row_dir, col_dir = step_i / sx, step_j / sy
    normal = np.cross(row_dir, col_dir)
    # Slices are placed along the normal; a gantry tilt's in-plane shift is applied per shown
    # slice (VtkVolume.place_slice) for the 2D view, and by the MPR path (viewer.render.mpr).
    sz = float(abs(step_k @ normal)) if slices > 1 else float(np.linalg.norm(step_k)) or 1.0
    image = vtkImageData()
    image.SetDimensions(cols, rows, slices)
    image.SetSpacing(sx, sy, sz or 1.0)
    image.SetOrigin(*affine[:3, 3].astype(float))
    sign = 1.0 if slices <= 1 or step_k @ normal >= 0 else -1.0
    direction = np.column_stack([row_dir, col_dir, normal * sign])
    image.SetDirectionMatrix(direction.ravel().tolist())
    scalars = numpy_to_vtk(buffer.reshape(-1, components) if components > 1 else buffer.ravel(), deep=False)
    image.GetPointData().SetScalars(scalars)
    origin = affine[:3, 3].astype(float)
    shear = step_k - normal * sign * (sz or 1.0) if slices > 1 else np.zeros(3)
    return VtkVolume(image, buffer, step_k, row_dir, col_dir, normal, origin, shear)
