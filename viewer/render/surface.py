"""Iso-surfaces of a volume in patient space, and their export as STL.

The surface is contoured with vtkFlyingEdges3D on the voxels in *index space* (as the MPR
reslicer sees them) and then moved into patient LPS millimetres by the volume's full affine
(PS3.3 C.7.6.2.1.1: direction cosines, spacing and, for a gantry-tilted stack, the shear), so
an STL lines up with every other tool working in the same Frame of Reference. STL has no unit
field; ours are LPS millimetres, which the file's 80-byte header says.

Facets face outwards (from above the threshold towards below it) whatever the handedness of
the affine: a left-handed voxel order (e.g. slices stacked feet-first) would otherwise turn
every triangle inside out, which 3D-printing and CAD tools take as an inverted solid.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from vtkmodules.vtkCommonDataModel import vtkPolyData
from vtkmodules.vtkCommonTransforms import vtkTransform
from vtkmodules.vtkFiltersCore import vtkFlyingEdges3D, vtkReverseSense
from vtkmodules.vtkFiltersGeneral import vtkTransformFilter
from vtkmodules.vtkIOGeometry import vtkSTLWriter

from viewer.core.errors import LightboxError
from viewer.core.volume import Volume
from viewer.render.mpr import _matrix, index_space_image
from viewer.render.volume_render import PRESETS

#: The default iso-surface value: where the CT bone preset becomes opaque (HU).
DEFAULT_THRESHOLD: float = float(PRESETS["ct-bone"].iso or 300.0)


class SurfaceError(LightboxError):
    """No surface can be made or written (nothing reaches the threshold, unwritable path)."""


@dataclass(frozen=True)
class SurfaceInfo:
    """What was written: counts, the LPS bounding box (mm) and the threshold used."""

    path: str
    threshold: float
    triangles: int
    points: int
    bounds_lps_mm: tuple[float, float, float, float, float, float]  # xmin, xmax, ymin, ymax, zmin, zmax

    def to_json(self) -> dict:
        return {
            "output": self.path,
            "threshold": self.threshold,
            "triangles": self.triangles,
            "points": self.points,
            "bounds_lps_mm": [round(v, 4) for v in self.bounds_lps_mm],
            "coordinates": "patient LPS, mm",
        }


def index_to_lps_matrix(affine: np.ndarray) -> np.ndarray:
    """4x4 matrix from VTK index-space (i, j, k) points to LPS mm (the affine maps (k, j, i))."""
    swap = np.eye(4)[[2, 1, 0, 3]]
    return np.asarray(affine, dtype=float) @ swap


def iso_surface(voxels: np.ndarray, affine: np.ndarray, threshold: float) -> vtkPolyData:
    """Triangles where the voxels cross ``threshold`` (modality units: HU for CT), in LPS mm."""
    if voxels.ndim != 3 or min(voxels.shape) < 2:
        raise SurfaceError(f"a surface needs a volume of at least 2x2x2 voxels, got {voxels.shape}")
    low, high = float(voxels.min()), float(voxels.max())
    if not low < threshold < high:
        raise SurfaceError(f"no surface at {threshold:g}: the values run from {low:g} to {high:g}; "
                           "choose a threshold inside that range")
    contour = vtkFlyingEdges3D()
    contour.SetInputData(index_space_image(voxels))
    contour.SetValue(0, float(threshold))
    contour.ComputeNormalsOff()  # STL stores facet normals, computed from the winding
    contour.ComputeGradientsOff()
    contour.ComputeScalarsOff()
    matrix = index_to_lps_matrix(affine)
    transform = vtkTransform()
    transform.SetMatrix(_matrix(matrix))
    to_lps = vtkTransformFilter()
    to_lps.SetTransform(transform)
    to_lps.SetInputConnection(contour.GetOutputPort())
    last = to_lps
    # vtkFlyingEdges3D winds its triangles so that they face towards the lower values in a
    # right-handed index space; a left-handed affine mirrors the winding, so turn it back.
    if np.linalg.det(matrix[:3, :3]) < 0:
        reverse = vtkReverseSense()
        reverse.ReverseCellsOn()
        reverse.ReverseNormalsOff()
        reverse.SetInputConnection(to_lps.GetOutputPort())
        last = reverse
    last.Update()
    surface = vtkPolyData()
    surface.DeepCopy(last.GetOutput())
    return surface


def write_stl(surface: vtkPolyData, path: str | os.PathLike[str], header: str = "") -> None:
    """Binary STL, written atomically: a temporary file beside ``path``, fsync, rename."""
    final = Path(path)
    if surface.GetNumberOfPolys() == 0:
        raise SurfaceError(f"{final}: the surface is empty; nothing to write")
    try:
        final.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{final.name}.", suffix=".part", dir=final.parent)
        os.close(fd)
    except OSError as exc:
        raise SurfaceError(f"{final}: cannot write here: {exc.strerror or exc}") from exc
    try:
        writer = vtkSTLWriter()
        writer.SetInputData(surface)
        writer.SetFileName(tmp)
        writer.SetFileTypeToBinary()
        writer.SetHeader(header[:79])
        writer.Write()
        if writer.GetErrorCode():
            raise SurfaceError(f"{final}: writing the STL failed (VTK error {writer.GetErrorCode()}); "
                               "is the disk full?")
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, final)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def export_stl(volume: Volume, path: str | os.PathLike[str], threshold: float) -> SurfaceInfo:
    """The ``threshold`` iso-surface of ``volume`` as an STL in patient LPS mm."""
    surface = iso_surface(volume.voxels, volume.affine, threshold)
    write_stl(surface, path, header=f"Lightbox iso-surface {threshold:g}, patient LPS mm")
    return SurfaceInfo(str(Path(path).resolve()), float(threshold), surface.GetNumberOfPolys(),
                       surface.GetNumberOfPoints(), tuple(float(v) for v in surface.GetBounds()))
