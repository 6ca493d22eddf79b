"""A series as a volume in patient coordinates: voxels plus the affine that places them.

Slices are ordered by Image Position (Patient) projected on the slice normal (PS3.3
C.7.6.2.1.1), never by file name or Instance Number, and the spacing between slices comes
from the positions, not from Slice Thickness. The affine maps a voxel index (k, j, i) =
(slice, row, column) to patient LPS millimetres, so a tilted stack stays exact.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np
from pydicom.dataset import Dataset

from viewer.core.decode import decode_frame
from viewer.core.errors import GeometryError
from viewer.core.pixels.modality import apply_modality_lut
from viewer.core.reading import read_dataset, read_header
from viewer.core.series import find_series


@dataclass
class Volume:
    """Voxels (slices, rows, columns) in modality units and their placement in the patient."""

    voxels: np.ndarray
    affine: np.ndarray
    headers: list[Dataset]  # one per slice, in slice order, without pixel data
    frame_of_reference_uid: str = ""
    warnings: list[str] = field(default_factory=list)

    @property
    def spacing(self) -> tuple[float, float, float]:
        """Distance in mm between neighbouring voxels along k, j, i."""
        return tuple(float(np.linalg.norm(self.affine[:3, a])) for a in range(3))  # type: ignore[return-value]


def orientation(ds: Dataset) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Row direction, column direction and their normal (PS3.3 C.7.6.2.1.1)."""
    iop = np.asarray(ds.get("ImageOrientationPatient") or [1, 0, 0, 0, 1, 0], dtype=float)
    row, col = iop[:3], iop[3:]
    return row, col, np.cross(row, col)


def load_volume(source: str | os.PathLike[str] | Iterable[str | os.PathLike[str]]) -> Volume:
    """Load one series (a folder or a list of its files) as a :class:`Volume`."""
    scan = find_series(source)
    if not scan.series:
        raise GeometryError(f"no DICOM image files in {source}")
    if len(scan.series) > 1:
        found = ", ".join(f"#{s.number} {s.description!r}" for s in scan.series)
        raise GeometryError(f"{source} holds {len(scan.series)} series ({found}); load one at a time")
    paths = scan.series[0].paths
    pairs = [(p, read_header(p)) for p in paths]
    row, col, normal = orientation(pairs[0][1])

    def position(h: Dataset) -> np.ndarray:
        return np.asarray(h.get("ImagePositionPatient") or [0, 0, 0], dtype=float)

    pairs.sort(key=lambda ph: float(position(ph[1]) @ normal))
    first = pairs[0][1]
    spacing = [float(v) for v in (first.get("PixelSpacing") or [1, 1])]
    slices = [apply_modality_lut(decode_frame(read_dataset(p)), h) for p, h in pairs]
    voxels = np.stack(slices)
    if voxels.dtype != np.int16 and np.issubdtype(voxels.dtype, np.integer):
        voxels = voxels.astype(np.float32)
    affine = np.eye(4)
    n = len(pairs)
    step = (position(pairs[-1][1]) - position(first)) / (n - 1) if n > 1 else normal * float(
        first.get("SliceThickness") or 1.0
    )
    affine[:3, 0] = step
    affine[:3, 1] = col * spacing[0]
    affine[:3, 2] = row * spacing[1]
    affine[:3, 3] = position(first)
    return Volume(voxels, affine, [h for _, h in pairs], str(first.get("FrameOfReferenceUID", "")))
