"""Iso-surfaces of a volume in patient space, and their export as STL.

The surface is contoured with vtkFlyingEdges3D on the voxels in *index space* (as the MPR
reslicer sees them) and then moved into patient LPS millimetres by the volume's full affine
(PS3.3 C.7.6.2.1.1: direction cosines, spacing and, for a gantry-tilted stack, the shear), so
an STL lines up with every other tool working in the same Frame of Reference. STL has no unit
field; ours are LPS millimetres, which the file's 80-byte header says.

Facets face outwards (from above the threshold towards below it) whatever the handedness of
the affine: a left-handed voxel order (e.g. slices stacked feet-first) would otherwise turn
every triangle inside out, which 3D-printing and CAD tools take as an inverted solid.

The export is meant to run off the GUI thread (VTK releases the GIL while it works): it
reports :class:`~viewer.core.tasks.Progress` and checks a
:class:`~viewer.core.tasks.CancelToken` between stages. vtkFlyingEdges3D reports no progress
and ignores AbortExecute, so the volume is contoured in slabs of slices (each slab's cells
shared with no other, so the union is exactly the whole volume's surface), which gives both
progress and a cancel point every few million voxels. The file is written to a temporary
name beside the target and renamed over it only when complete, so a cancel, a full disk or
a crash never leaves a truncated STL under the user's name.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from vtkmodules.vtkCommonDataModel import vtkPolyData
from vtkmodules.vtkCommonTransforms import vtkTransform
from vtkmodules.vtkFiltersCore import vtkAppendPolyData, vtkFlyingEdges3D, vtkReverseSense
from vtkmodules.vtkFiltersGeneral import vtkTransformFilter
from vtkmodules.vtkIOGeometry import vtkSTLWriter

from viewer.core.errors import LightboxError
from viewer.core.tasks import CancelToken, Progress, ProgressCallback, no_progress
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


#: Voxels contoured between two progress reports / cancel checks (32 slices of 512x512).
SLAB_VOXELS = 8 << 20


def slabs(slices: int, rows: int, columns: int, voxels_per_slab: int | None = None) -> list[tuple[int, int]]:
    """(first, last) slice index of each slab, inclusive (default size :data:`SLAB_VOXELS`).
    Consecutive slabs share their boundary slice, so every cell (between slices k and k + 1)
    is in exactly one slab."""
    step = max(1, (voxels_per_slab or SLAB_VOXELS) // max(rows * columns, 1))
    return [(k, min(k + step, slices - 1)) for k in range(0, slices - 1, step)]


def _check(cancel: CancelToken | None) -> None:
    if cancel is not None:
        cancel.raise_if_cancelled()


def iso_surface(voxels: np.ndarray, affine: np.ndarray, threshold: float, *,
                progress: ProgressCallback = no_progress, cancel: CancelToken | None = None,
                stages_after: int = 0) -> vtkPolyData:
    """Triangles where the voxels cross ``threshold`` (modality units: HU for CT), in LPS mm.

    ``progress`` hears one step per slab of slices and one for the move into LPS, out of a
    total that includes ``stages_after`` further steps of the caller; ``cancel`` is checked
    before each (:class:`~viewer.core.errors.Cancelled`).
    """
    if voxels.ndim != 3 or min(voxels.shape) < 2:
        raise SurfaceError(f"a surface needs a volume of at least 2x2x2 voxels, got {voxels.shape}")
    _check(cancel)
    low, high = float(voxels.min()), float(voxels.max())
    if not low < threshold < high:
        raise SurfaceError(f"no surface at {threshold:g}: the values run from {low:g} to {high:g}; "
                           "choose a threshold inside that range")
    data = np.ascontiguousarray(voxels)
    parts = slabs(*data.shape)
    total = len(parts) + 1 + stages_after
    append = vtkAppendPolyData()
    keep = []  # each slab's image and filter must outlive the append
    for done, (k0, k1) in enumerate(parts):
        _check(cancel)
        progress(Progress(done, total, f"Contouring at {threshold:g}: slices {k0 + 1}-{k1 + 1} "
                                       f"of {data.shape[0]}"))
        image = index_space_image(data[k0:k1 + 1])  # a view: contiguous along the first axis
        image.SetOrigin(0.0, 0.0, float(k0))  # points keep the whole volume's (i, j, k)
        contour = vtkFlyingEdges3D()
        contour.SetInputData(image)
        contour.SetValue(0, float(threshold))
        contour.ComputeNormalsOff()  # STL stores facet normals, computed from the winding
        contour.ComputeGradientsOff()
        contour.ComputeScalarsOff()
        contour.Update()
        keep.append((image, contour))
        append.AddInputData(contour.GetOutput())
    _check(cancel)
    progress(Progress(len(parts), total, "Moving the surface into patient LPS mm"))
    matrix = index_to_lps_matrix(affine)
    transform = vtkTransform()
    transform.SetMatrix(_matrix(matrix))
    to_lps = vtkTransformFilter()
    to_lps.SetTransform(transform)
    to_lps.SetInputConnection(append.GetOutputPort())
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
    surface.ShallowCopy(last.GetOutput())  # the arrays outlive the filters that made them
    return surface


def _cannot_write(final: Path, exc: OSError) -> SurfaceError:
    reason = exc.strerror or str(exc)
    return SurfaceError(f"{final}: cannot write here ({reason}); choose a folder you can write to "
                        "(your home folder, or a USB drive that is not write-protected)")


def write_stl(surface: vtkPolyData, path: str | os.PathLike[str], header: str = "",
              cancel: CancelToken | None = None) -> None:
    """Binary STL, written atomically: a temporary file beside ``path``, fsync, rename.

    ``cancel`` is checked once the temporary file is complete, before it replaces ``path``;
    a cancelled or failed write leaves ``path`` as it was and no temporary file behind.
    """
    final = Path(path)
    if surface.GetNumberOfPolys() == 0:
        raise SurfaceError(f"{final}: the surface is empty; nothing to write")
    if final.is_dir():
        raise SurfaceError(f"{final} is a folder; choose a file name for the STL")
    try:
        final.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{final.name}.", suffix=".part", dir=final.parent)
        os.close(fd)
    except OSError as exc:
        raise _cannot_write(final, exc) from exc
    try:
        writer = vtkSTLWriter()
        writer.SetInputData(surface)
        writer.SetFileName(tmp)
        writer.SetFileTypeToBinary()
        writer.SetHeader(header[:79])
        writer.Write()
        if writer.GetErrorCode():
            raise SurfaceError(f"{final}: writing the STL failed (VTK error {writer.GetErrorCode()}); "
                               "free some disk space or choose another disk, then export again")
        try:
            with open(tmp, "rb+") as f:
                os.fsync(f.fileno())
        except OSError as exc:
            raise SurfaceError(f"{final}: the STL could not be saved to disk ({exc.strerror or exc}); "
                               "free some disk space or choose another disk, then export again") from exc
        _check(cancel)
        try:
            os.replace(tmp, final)
        except OSError as exc:
            raise _cannot_write(final, exc) from exc
        _sync_folder(final.parent)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _sync_folder(folder: Path) -> None:
    """Make the rename durable (POSIX: the directory entry lives in the folder)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return  # e.g. Windows, or a folder we may write into but not open: the file is there
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def export_stl(volume: Volume, path: str | os.PathLike[str], threshold: float, *,
               progress: ProgressCallback = no_progress, cancel: CancelToken | None = None) -> SurfaceInfo:
    """The ``threshold`` iso-surface of ``volume`` as an STL in patient LPS mm.

    Safe to run on a worker thread: ``progress`` hears each stage (slabs contoured, the move
    into LPS, the write) and ``cancel`` stops it between stages with
    :class:`~viewer.core.errors.Cancelled`, leaving ``path`` untouched.
    """
    surface = iso_surface(volume.voxels, volume.affine, threshold, progress=progress, cancel=cancel,
                          stages_after=1)
    steps = len(slabs(*volume.voxels.shape)) + 2
    _check(cancel)
    progress(Progress(steps - 1, steps, f"Writing {surface.GetNumberOfPolys():,} triangles to {Path(path).name}"))
    write_stl(surface, path, header=f"Lightbox iso-surface {threshold:g}, patient LPS mm", cancel=cancel)
    progress(Progress(steps, steps, "Written"))
    return SurfaceInfo(str(Path(path).resolve()), float(threshold), surface.GetNumberOfPolys(),
                       surface.GetNumberOfPoints(), tuple(float(v) for v in surface.GetBounds()))
