"""Planes through a volume in patient coordinates, and the pixel grids that sample them.

Everything here is in the DICOM patient coordinate system (LPS: +x to the patient's left,
+y posterior, +z head; PS3.3 C.7.6.2.1.1). A plane's output image is described exactly like
a DICOM image: the LPS point of the centre of pixel (0, 0) (Image Position), the unit row
direction (towards increasing column index, i.e. screen right) and column direction (towards
increasing row index, screen down) (Image Orientation), and the distance between pixels
(Pixel Spacing, row spacing first). A script can therefore map any output pixel back to
the patient the same way it would for an acquired image.

Standard planes follow the radiological convention: axial is seen from the feet (patient
right on screen left, anterior up), coronal from the front (patient right on screen left,
head up), sagittal from the patient's left (anterior on screen left, head up). These hold
whatever the acquisition orientation, because the planes are defined in LPS, not in voxel
index space.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
from pydicom.dataset import Dataset

from viewer.core.measurements import SliceGeometry

PlaneName = Literal["axial", "coronal", "sagittal"]
PLANES: tuple[PlaneName, ...] = ("axial", "coronal", "sagittal")

_X, _Y, _Z = np.eye(3)

#: (row direction, column direction) of each standard plane, radiological convention.
STANDARD_AXES: dict[str, tuple[np.ndarray, np.ndarray]] = {
    "axial": (_X, _Y),  # screen right = patient left, screen down = posterior
    "coronal": (_X, -_Z),  # screen right = patient left, screen down = feet
    "sagittal": (_Y, -_Z),  # screen right = posterior, screen down = feet
}

#: Letters for +x, +y, +z and their negatives (H/F rather than S/I, as on the 2D viewport).
_LETTERS = (("L", "R"), ("P", "A"), ("H", "F"))


def direction_label(direction: np.ndarray, threshold: float = 0.25) -> str:
    """Patient-orientation letters for an LPS direction, strongest component first.

    The same rule as Patient Orientation (0020,0020) (PS3.3 C.7.6.1.1.1): a letter per axis
    the direction has a component along, ordered by size. Components smaller than
    ``threshold`` (about 15 degrees off the other axes) are left out so a slightly oblique
    plane still reads as, e.g., "L" and not "LPF".
    """
    d = np.asarray(direction, dtype=float)
    norm = float(np.linalg.norm(d))
    if norm == 0:
        raise ValueError("a zero vector has no orientation")
    d = d / norm
    order = np.argsort(-np.abs(d))
    letters = [_LETTERS[a][0 if d[a] > 0 else 1] for a in order if abs(d[a]) >= threshold]
    return "".join(letters) or _LETTERS[order[0]][0 if d[order[0]] > 0 else 1]


def rotation_matrix(axis: np.ndarray, angle_rad: float) -> np.ndarray:
    """Rotation by ``angle_rad`` about ``axis`` (right-handed, Rodrigues' formula)."""
    a = np.asarray(axis, dtype=float)
    a = a / np.linalg.norm(a)
    k = np.array([[0, -a[2], a[1]], [a[2], 0, -a[0]], [-a[1], a[0], 0]])
    return np.eye(3) + np.sin(angle_rad) * k + (1 - np.cos(angle_rad)) * (k @ k)


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v)


def plane_axes(name: str, rotation: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Row and column directions of a standard plane after the crosshair ``rotation``.

    The plane's normal is the rotated standard normal. Its in-plane axes are the standard row
    direction projected onto the plane (so the image stays as upright as the obliquity
    allows, and does not spin when the plane is only turned about its own normal), and the
    column direction completes a right-handed frame with the normal (row x column = normal).
    """
    row0, col0 = STANDARD_AXES[name]
    normal0 = np.cross(row0, col0)
    r = np.eye(3) if rotation is None else np.asarray(rotation, dtype=float)
    normal = _unit(r @ normal0)
    row = row0 - (row0 @ normal) * normal
    if np.linalg.norm(row) < 1e-6:  # the standard row direction is along the normal
        row = r @ row0
        row = row - (row @ normal) * normal
    row = _unit(row)
    col = np.cross(normal, row)
    return row, col


@dataclass(frozen=True)
class PlaneGrid:
    """A sampled plane: where each output pixel is in the patient (like C.7.6.2.1.1)."""

    origin: np.ndarray  # LPS mm of the centre of pixel (row 0, column 0)
    row_direction: np.ndarray  # unit LPS vector towards increasing column index (screen right)
    column_direction: np.ndarray  # unit LPS vector towards increasing row index (screen down)
    spacing: tuple[float, float]  # mm between rows, between columns (Pixel Spacing order)
    shape: tuple[int, int]  # rows, columns
    labels: dict[str, str] = field(init=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "origin", np.asarray(self.origin, dtype=float))
        object.__setattr__(self, "row_direction", _unit(np.asarray(self.row_direction, dtype=float)))
        object.__setattr__(self, "column_direction", _unit(np.asarray(self.column_direction, dtype=float)))
        object.__setattr__(self, "labels", edge_labels(self.row_direction, self.column_direction))
        # computed once: measurements and crosshair lines ask for it many times per frame
        object.__setattr__(self, "_normal", np.cross(self.row_direction, self.column_direction))

    @property
    def normal(self) -> np.ndarray:
        """row x column: the direction a slab or a scroll step moves along."""
        return self._normal  # type: ignore[attr-defined]

    @property
    def size_mm(self) -> tuple[float, float]:
        """Width and height covered by the pixel centres' cells, in mm."""
        return self.shape[1] * self.spacing[1], self.shape[0] * self.spacing[0]

    def pixel_to_lps(self, row: float, column: float) -> np.ndarray:
        """LPS mm of the (fractional) pixel position (row, column)."""
        return (
            self.origin
            + column * self.spacing[1] * self.row_direction
            + row * self.spacing[0] * self.column_direction
        )

    def lps_to_pixel(self, point: np.ndarray) -> tuple[float, float, float]:
        """(row, column, distance from the plane in mm along the normal) of an LPS point."""
        d = np.asarray(point, dtype=float) - self.origin
        return (
            float(d @ self.column_direction) / self.spacing[0],
            float(d @ self.row_direction) / self.spacing[1],
            float(d @ self.normal),
        )

    def to_json(self) -> dict[str, Any]:
        """The geometry as plain numbers, with the DICOM-style names scripts expect."""
        return {
            "rows": self.shape[0],
            "columns": self.shape[1],
            "pixel_spacing_mm": [self.spacing[0], self.spacing[1]],
            "origin_lps_mm": [round(float(v), 6) for v in self.origin],
            "row_direction": [round(float(v), 9) for v in self.row_direction],
            "column_direction": [round(float(v), 9) for v in self.column_direction],
            "normal": [round(float(v), 9) for v in self.normal],
            "edge_labels": dict(self.labels),
            "mapping": "lps = origin + column * pixel_spacing[1] * row_direction"
            " + row * pixel_spacing[0] * column_direction",
        }


def plane_slice_geometry(grid: PlaneGrid) -> SliceGeometry:
    """The plane's pixel grid in the form the 2D measurements use, so a length, angle, ROI or
    probe on a resliced plane is computed by the same code as on an acquired image."""
    return SliceGeometry(grid.origin, grid.row_direction, grid.column_direction, grid.spacing[1], grid.spacing[0])


def plane_header(grid: PlaneGrid, source: Dataset | None = None) -> Dataset:
    """A header describing a resliced plane for :func:`viewer.core.measurements.measure`.

    Pixel Spacing is the plane's sampling distance in the patient (PS3.3 C.7.6.2.1.1: a
    derived plane is calibrated in patient space, like any cross-sectional image); the unit
    of the values (Modality, Rescale Type, Units: C.8.2.1, C.11.1.1.2) is the source's, since
    reslicing and slab reduction keep modality values (HU for CT).
    """
    header = Dataset()
    header.PixelSpacing = [float(grid.spacing[0]), float(grid.spacing[1])]
    if source is not None:
        for keyword in ("Modality", "RescaleType", "Units"):
            value = source.get(keyword)
            if value is not None:
                setattr(header, keyword, value)
    return header


def edge_labels(row_direction: np.ndarray, column_direction: np.ndarray) -> dict[str, str]:
    """Orientation letters for the four screen edges of an image with these directions."""
    row, col = np.asarray(row_direction, float), np.asarray(column_direction, float)
    return {
        "left": direction_label(-row),
        "right": direction_label(row),
        "top": direction_label(-col),
        "bottom": direction_label(col),
    }


def volume_corners(affine: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """The 8 LPS corners of the volume's voxel-centre box, as an (8, 3) array."""
    n_k, n_j, n_i = (max(int(s) - 1, 0) for s in shape[:3])
    idx = np.array([[k, j, i, 1.0] for k in (0, n_k) for j in (0, n_j) for i in (0, n_i)])
    return (idx @ np.asarray(affine, float).T)[:, :3]


def smallest_spacing(affine: np.ndarray, shape: tuple[int, ...]) -> float:
    """The smallest distance between neighbouring voxels (ignoring a single-slice axis)."""
    norms = [float(np.linalg.norm(affine[:3, a])) for a in range(3) if shape[a] > 1 or a > 0]
    return min(n for n in norms if n > 0)


def covering_grid(
    affine: np.ndarray,
    shape: tuple[int, ...],
    center: np.ndarray,
    row_direction: np.ndarray,
    column_direction: np.ndarray,
    pixel_size: float | None = None,
    size: tuple[int, int] | None = None,
) -> PlaneGrid:
    """The grid of the plane through ``center`` that covers the whole volume.

    The in-plane extent is the projection of the volume's corners on the plane's axes, so the
    grid does not move on screen when ``center`` moves (a crosshair drag only changes which
    plane is sampled, never where the image sits). Pixels are square with the volume's
    smallest voxel spacing unless ``size`` = (width, height) is asked for, in which case the
    extent is fitted into that many pixels (aspect kept, centred).
    """
    row, col = _unit(np.asarray(row_direction, float)), _unit(np.asarray(column_direction, float))
    c = np.asarray(center, dtype=float)
    corners = volume_corners(affine, shape)
    u, v = corners @ row, corners @ col
    u0, u1, v0, v1 = float(u.min()), float(u.max()), float(v.min()), float(v.max())
    if size is None:
        s = pixel_size or smallest_spacing(affine, shape)
        cols = int(np.ceil((u1 - u0) / s - 1e-6)) + 1  # the grid covers the whole extent
        rows = int(np.ceil((v1 - v0) / s - 1e-6)) + 1
        # centre the pixel grid on the extent
        u0 -= ((cols - 1) * s - (u1 - u0)) / 2
        v0 -= ((rows - 1) * s - (v1 - v0)) / 2
    else:
        cols, rows = int(size[0]), int(size[1])
        if cols < 1 or rows < 1:
            raise ValueError(f"output size must be at least 1x1, got {cols}x{rows}")
        s = max((u1 - u0) / max(cols - 1, 1), (v1 - v0) / max(rows - 1, 1)) or (pixel_size or 1.0)
        u0 = (u0 + u1) / 2 - (cols - 1) * s / 2
        v0 = (v0 + v1) / 2 - (rows - 1) * s / 2
    origin = c + (u0 - c @ row) * row + (v0 - c @ col) * col
    return PlaneGrid(origin, row, col, (s, s), (rows, cols))


def standard_grid(
    volume_affine: np.ndarray,
    shape: tuple[int, ...],
    name: str,
    center: np.ndarray | None = None,
    rotation: np.ndarray | None = None,
    size: tuple[int, int] | None = None,
) -> PlaneGrid:
    """Axial, coronal or sagittal plane (optionally rotated) through ``center`` (default: the
    volume centre), covering the volume."""
    if name not in STANDARD_AXES:
        raise ValueError(f"unknown plane {name!r}; expected one of {', '.join(PLANES)}")
    if center is None:
        center = volume_center(volume_affine, shape)
    row, col = plane_axes(name, rotation)
    return covering_grid(volume_affine, shape, center, row, col, size=size)


def volume_center(affine: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """LPS mm of the centre of the voxel-centre box."""
    mid = np.array([(s - 1) / 2 for s in shape[:3]] + [1.0])
    return (np.asarray(affine, float) @ mid)[:3]


def acquired_slice_grid(affine: np.ndarray, shape: tuple[int, ...], k: int) -> PlaneGrid:
    """The grid of acquired slice ``k`` exactly as stored (no resampling of its pixels)."""
    a = np.asarray(affine, dtype=float)
    origin = (a @ np.array([k, 0, 0, 1.0]))[:3]
    dj, di = float(np.linalg.norm(a[:3, 1])), float(np.linalg.norm(a[:3, 2]))
    return PlaneGrid(origin, a[:3, 2] / di, a[:3, 1] / dj, (dj, di), (int(shape[1]), int(shape[2])))


def grid_to_index_matrix(affine: np.ndarray, grid: PlaneGrid, slab_step: float = 1.0) -> np.ndarray:
    """4x4 matrix from output (column, row, slab sample) to voxel index (i, j, k).

    Built from the volume's full affine, so gantry tilt (a slice step that is not along the
    slice normal) and non-isotropic spacing are resampled exactly. The third output axis
    steps ``slab_step`` mm along the grid's normal, which is what thick-slab sampling uses.
    """
    to_lps = np.eye(4)
    to_lps[:3, 0] = grid.row_direction * grid.spacing[1]
    to_lps[:3, 1] = grid.column_direction * grid.spacing[0]
    to_lps[:3, 2] = grid.normal * slab_step
    to_lps[:3, 3] = grid.origin
    kji_from_lps = np.linalg.inv(np.asarray(affine, dtype=float))
    swap = np.eye(4)[[2, 1, 0, 3]]  # (k, j, i) -> (i, j, k)
    return swap @ kji_from_lps @ to_lps


@dataclass
class Crosshair:
    """The MPR cursor: one LPS point and the rotation of the three plane axes.

    Clicking in a plane moves :attr:`center` within that plane, scrolling moves it along the
    plane's normal, and rotating in a plane turns the other two planes about that plane's
    normal (oblique; twice in two planes gives double oblique). The plane rotated in keeps its
    geometry, so its image does not change.
    """

    center: np.ndarray
    rotation: np.ndarray = field(default_factory=lambda: np.eye(3))

    def __post_init__(self) -> None:
        self.center = np.asarray(self.center, dtype=float)
        self.rotation = np.asarray(self.rotation, dtype=float)
        self._home = (self.center.copy(), self.rotation.copy())

    def axes(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        """(row direction, column direction) of plane ``name`` now."""
        return plane_axes(name, self.rotation)

    def normal(self, name: str) -> np.ndarray:
        row, col = self.axes(name)
        return np.cross(row, col)

    def move_to(self, point: np.ndarray) -> None:
        self.center = np.asarray(point, dtype=float)

    def step(self, name: str, mm: float) -> None:
        """Scroll: move the centre ``mm`` along plane ``name``'s normal."""
        self.center = self.center + self.normal(name) * mm

    def rotate(self, name: str, angle_rad: float) -> None:
        """Turn the crosshair in plane ``name`` about that plane's normal (counter-clockwise on
        screen for a positive angle, since the screen's y axis points down)."""
        self.rotation = rotation_matrix(-self.normal(name), angle_rad) @ self.rotation

    def reset(self) -> None:
        self.center, self.rotation = self._home[0].copy(), self._home[1].copy()

    def line_direction(self, name: str, other: str) -> np.ndarray:
        """LPS direction of the line where plane ``other`` cuts plane ``name``."""
        return _unit(np.cross(self.normal(name), self.normal(other)))
