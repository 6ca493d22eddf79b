"""Which way the patient lies on screen: edge labels and the view's rotate/flip state.

Image Orientation (Patient) gives the LPS direction cosines of the first row and the first
column (PS3.3 C.7.6.2.1.1). A direction is named by the letters of its patient-axis
components, largest first: +x is L (patient left), -x R, +y P, -y A, +z H (head), -z F (feet).
A direction more than :data:`OBLIQUE_THRESHOLD` away from an axis gets two or three letters
("LA", "HRP"), the way Clunie's dicom3tools and most viewers label oblique images.

The view state is kept as the screen-right and screen-up directions written in the image's
own (row, column) basis, so rotating and flipping are exact integer operations and the edge
labels, the camera and the measurements all read the same state.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

#: A patient-axis component whose absolute direction cosine is below this is left out of the
#: label (0.25 is about 14.5° off the axis), so a 2° tilt still reads "L", not "LPH".
OBLIQUE_THRESHOLD = 0.25

_LETTERS = (("R", "L"), ("A", "P"), ("F", "H"))  # (negative, positive) along LPS x, y, z


def direction_label(direction: Sequence[float], threshold: float = OBLIQUE_THRESHOLD) -> str:
    """The patient-direction letters of an LPS vector, largest component first (at most 3).

    >>> direction_label([1, 0, 0]), direction_label([0, -1, 0]), direction_label([0.7, 0.7, 0.1])
    ('L', 'A', 'LP')
    """
    v = np.asarray(direction, dtype=float)
    norm = float(np.linalg.norm(v))
    if norm == 0.0:
        return ""
    v = v / norm
    order = np.argsort(-np.abs(v), kind="stable")
    letters = [_LETTERS[a][int(v[a] > 0)] for a in order if abs(v[a]) >= threshold]
    return "".join(letters)


@dataclass(frozen=True)
class ViewTransform:
    """Rotation by quarter turns and mirroring of the displayed image.

    ``right`` and ``up`` are the screen directions as (row-direction, column-direction)
    coefficients of the image: unrotated, the row direction points right and the column
    direction points down (rows are drawn top to bottom), so ``right=(1, 0)`` and
    ``up=(0, -1)``.
    """

    right: tuple[int, int] = (1, 0)
    up: tuple[int, int] = (0, -1)

    def rotated_clockwise(self) -> ViewTransform:
        """Turn the picture 90° clockwise: what was at the top is now at the right."""
        return ViewTransform(right=self.up, up=(-self.right[0], -self.right[1]))

    def rotated_counterclockwise(self) -> ViewTransform:
        return ViewTransform(right=(-self.up[0], -self.up[1]), up=self.right)

    def flipped_horizontally(self) -> ViewTransform:
        """Mirror left-right (what was on the left edge is now on the right)."""
        return ViewTransform(right=(-self.right[0], -self.right[1]), up=self.up)

    def flipped_vertically(self) -> ViewTransform:
        return ViewTransform(right=self.right, up=(-self.up[0], -self.up[1]))

    @property
    def mirrored(self) -> bool:
        """True when the view shows the image as seen from behind (an odd number of flips)."""
        r, u = self.right, self.up
        return (r[0] * u[1] - r[1] * u[0]) > 0  # unmirrored: det((1,0),(0,-1)) = -1

    def screen_axes(self, row_dir: Sequence[float], col_dir: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
        """LPS unit vectors pointing to the screen's right and top for this image plane."""
        row, col = np.asarray(row_dir, dtype=float), np.asarray(col_dir, dtype=float)
        right = self.right[0] * row + self.right[1] * col
        up = self.up[0] * row + self.up[1] * col
        return right, up

    def to_dict(self) -> dict[str, list[int]]:
        return {"right": list(self.right), "up": list(self.up)}

    @classmethod
    def from_dict(cls, data: dict) -> ViewTransform:
        right, up = tuple(int(v) for v in data["right"]), tuple(int(v) for v in data["up"])
        return cls(right=right, up=up)  # type: ignore[arg-type]


@dataclass(frozen=True)
class EdgeLabels:
    """Letters shown at the middle of each viewport edge."""

    left: str
    right: str
    top: str
    bottom: str


def edge_labels(
    row_dir: Sequence[float],
    col_dir: Sequence[float],
    view: ViewTransform | None = None,
    threshold: float = OBLIQUE_THRESHOLD,
) -> EdgeLabels:
    """Orientation labels for an image with these IOP direction cosines, as displayed by ``view``.

    For an axial CT (IOP 1\\0\\0\\0\\1\\0) unrotated this is R on the left, L on the right,
    A at the top and P at the bottom: the patient seen from the feet.
    """
    right, up = (view or ViewTransform()).screen_axes(row_dir, col_dir)
    return EdgeLabels(
        left=direction_label(-right, threshold),
        right=direction_label(right, threshold),
        top=direction_label(up, threshold),
        bottom=direction_label(-up, threshold),
    )


def iop_directions(iop: Sequence[float]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Row direction, column direction and slice normal from the six IOP values (C.7.6.2.1.1)."""
    values = np.asarray(iop, dtype=float)
    if values.shape != (6,):
        raise ValueError(f"Image Orientation (Patient) needs 6 values, got {values.size}")
    row, col = values[:3], values[3:]
    return row, col, np.cross(row, col)


def nearest_slice(affine: np.ndarray, count: int, point: Sequence[float]) -> tuple[int, float]:
    """The slice of a (k, j, i) -> LPS stack nearest to ``point`` along its normal.

    Returns the index and the distance in mm from the point to that slice's plane, so a
    caller can tell "this prior does not cover the position" (distance larger than a slice).
    """
    origin = affine[:3, 3]
    step = affine[:3, 0]
    col, row = affine[:3, 1], affine[:3, 2]
    normal = np.cross(row, col)
    normal /= np.linalg.norm(normal)
    spacing = float(step @ normal)
    offset = float((np.asarray(point, dtype=float) - origin) @ normal)
    if count <= 1 or spacing == 0.0:
        return 0, abs(offset)
    k = int(np.clip(round(offset / spacing), 0, count - 1))
    return k, abs(offset - k * spacing)


def planes_parallel(normal_a: Sequence[float], normal_b: Sequence[float], tolerance_deg: float = 5.0) -> bool:
    """Whether two slice planes are parallel within ``tolerance_deg`` (either facing)."""
    a = np.asarray(normal_a, dtype=float)
    b = np.asarray(normal_b, dtype=float)
    cos = abs(float(a @ b)) / (float(np.linalg.norm(a) * np.linalg.norm(b)) or 1.0)
    return cos >= float(np.cos(np.radians(tolerance_deg)))


def plane_cuts_image(
    plane_point: Sequence[float],
    plane_normal: Sequence[float],
    origin: Sequence[float],
    row_dir: Sequence[float],
    col_dir: Sequence[float],
    width_mm: float,
    height_mm: float,
) -> tuple[np.ndarray, np.ndarray] | None:
    """Where a slice plane crosses another image: the reference (scout) line.

    The image is the rectangle ``origin + a * row_dir + b * col_dir`` for ``0 <= a <= width_mm``
    and ``0 <= b <= height_mm`` (LPS; origin at the corner of the first pixel's centre). Returns
    the two LPS end points of the crossing, or None when the plane misses the image or is
    parallel to it.
    """
    n = np.asarray(plane_normal, dtype=float)
    o, r, c = (np.asarray(v, dtype=float) for v in (origin, row_dir, col_dir))
    if planes_parallel(n, np.cross(r, c), 0.5):
        return None
    corners = [o, o + r * width_mm, o + r * width_mm + c * height_mm, o + c * height_mm]
    f = [float((p - np.asarray(plane_point, dtype=float)) @ n) for p in corners]
    hits: list[np.ndarray] = []
    for a in range(4):
        b = (a + 1) % 4
        if f[a] == 0.0:
            hits.append(corners[a])
        elif f[a] * f[b] < 0:
            t = f[a] / (f[a] - f[b])
            hits.append(corners[a] + (corners[b] - corners[a]) * t)
    if len(hits) < 2:
        return None
    far = max(hits[1:], key=lambda h: float(np.linalg.norm(h - hits[0])))  # a corner may be hit twice
    return hits[0], far


_OPPOSITE = {"L": "R", "R": "L", "A": "P", "P": "A", "H": "F", "F": "H"}


def opposite_label(label: str) -> str:
    """The direction opposite a label: each letter swapped (L↔R, A↔P, H↔F)."""
    return "".join(_OPPOSITE.get(c, c) for c in label)


def edge_labels_from_patient_orientation(
    patient_orientation: Sequence[str], view: ViewTransform | None = None
) -> EdgeLabels | None:
    """Edge labels of a projection image (DX, MG, CR: no IOP) from Patient Orientation
    (0020,0020), C.7.6.1.1.1: the patient directions of the rows (towards increasing column)
    and of the columns (towards increasing row), e.g. L\\F for a PA chest. None if absent."""
    values = [str(v).strip().upper() for v in patient_orientation or []]
    if len(values) != 2 or not all(values):
        return None
    row, col = values

    def name(coefficients: tuple[int, int]) -> str:
        a, b = coefficients
        if a:
            return row if a > 0 else opposite_label(row)
        return col if b > 0 else opposite_label(col)

    v = view or ViewTransform()
    down, left = (-v.up[0], -v.up[1]), (-v.right[0], -v.right[1])
    return EdgeLabels(left=name(left), right=name(v.right), top=name(v.up), bottom=name(down))
