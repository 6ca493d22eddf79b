"""Display shutters (PS3.3 C.7.6.11 Display Shutter Module): the parts of the image that are
to be shown, as a boolean mask; everything outside is drawn in the Shutter Presentation Value.

Shutter Shape (0018,1600) is one or more of RECTANGULAR, CIRCULAR, POLYGONAL (BITMAP shutters
live in presentation states, not here). With several shapes, "the displayed area is the
intersection of the areas defined by each shutter shape" (C.7.6.11.1). Coordinates are image
pixel row and column numbers, 1-based, the top-left pixel being (1, 1); a pixel is tested at its
centre, and edges are inclusive (the edges "are" the last displayed pixels).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from pydicom.dataset import Dataset
from pydicom.multival import MultiValue


@dataclass(frozen=True)
class Shutter:
    """The shutter of an image: its mask (True = shown) and the grey level to fill the rest with.

    ``presentation_value`` is Shutter Presentation Value (0018,1622) as a fraction of full scale
    (P-value / 0xFFFF), 0.0 (black) when absent.
    """

    mask: np.ndarray
    presentation_value: float


def _values(ds: Dataset, keyword: str) -> list[int]:
    value = ds.get(keyword)
    if value is None or value == "":
        return []
    return [int(v) for v in value] if isinstance(value, MultiValue | list | tuple) else [int(value)]


def shutter_shapes(ds: Dataset) -> list[str]:
    value = ds.get("ShutterShape")
    if not value:
        return []
    shapes = list(value) if isinstance(value, MultiValue | list | tuple) else [value]
    return [str(s).strip().upper() for s in shapes]


def _grid(rows: int, columns: int) -> tuple[np.ndarray, np.ndarray]:
    """1-based row and column numbers of every pixel centre, broadcastable."""
    return np.arange(1, rows + 1)[:, np.newaxis], np.arange(1, columns + 1)[np.newaxis, :]


def rectangular_mask(ds: Dataset, rows: int, columns: int) -> np.ndarray:
    """C.7.6.11.1.1: shown where left <= column <= right and upper <= row <= lower."""
    r, c = _grid(rows, columns)
    left = int(ds.ShutterLeftVerticalEdge)
    right = int(ds.ShutterRightVerticalEdge)
    upper = int(ds.ShutterUpperHorizontalEdge)
    lower = int(ds.ShutterLowerHorizontalEdge)
    return (c >= left) & (c <= right) & (r >= upper) & (r <= lower)


def circular_mask(ds: Dataset, rows: int, columns: int) -> np.ndarray:
    """C.7.6.11.1.2: shown within Radius of Circular Shutter of Center of Circular Shutter (row\\col)."""
    r, c = _grid(rows, columns)
    center_row, center_col = _values(ds, "CenterOfCircularShutter")[:2]
    radius = float(ds.RadiusOfCircularShutter)
    return (r - center_row) ** 2 + (c - center_col) ** 2 <= radius * radius


def polygonal_mask(ds: Dataset, rows: int, columns: int) -> np.ndarray:
    """C.7.6.11.1.3: shown inside the polygon of Vertices of the Polygonal Shutter (row\\col pairs).

    Even-odd rule on pixel centres, plus the pixels the edges pass through, so a rectangle given
    as a polygon shows the same pixels as the same RECTANGULAR shutter.
    """
    vertices = _values(ds, "VerticesOfThePolygonalShutter")
    if len(vertices) < 6 or len(vertices) % 2:
        raise ValueError(f"a polygonal shutter needs at least 3 row\\column pairs, got {vertices}")
    vr = np.asarray(vertices[0::2], dtype=np.float64)
    vc = np.asarray(vertices[1::2], dtype=np.float64)
    r, c = _grid(rows, columns)
    r = r.astype(np.float64)
    c = c.astype(np.float64)
    inside = np.zeros((rows, columns), dtype=bool)
    on_edge = np.zeros((rows, columns), dtype=bool)
    n = vr.size
    for i in range(n):
        r1, c1, r2, c2 = vr[i], vc[i], vr[(i + 1) % n], vc[(i + 1) % n]
        # crossing test of a ray towards +column from each pixel centre
        if r1 != r2:
            straddles = (r1 > r) != (r2 > r)
            c_cross = c1 + (r - r1) * (c2 - c1) / (r2 - r1)
            inside ^= straddles & (c < c_cross)
        # pixels the edge passes through (distance to the segment <= half a pixel diagonal-free)
        length2 = (r2 - r1) ** 2 + (c2 - c1) ** 2
        t = np.clip(((r - r1) * (r2 - r1) + (c - c1) * (c2 - c1)) / length2, 0, 1) if length2 else 0.0
        dr, dc = r - (r1 + t * (r2 - r1)), c - (c1 + t * (c2 - c1))
        on_edge |= (np.abs(dr) <= 0.5) & (np.abs(dc) <= 0.5)
    return inside | on_edge


_MASKS = {"RECTANGULAR": rectangular_mask, "CIRCULAR": circular_mask, "POLYGONAL": polygonal_mask}


def shutter_mask(ds: Dataset, rows: int | None = None, columns: int | None = None) -> np.ndarray | None:
    """True where the image is shown: the intersection of every shutter shape; None if no shutter."""
    shapes = [s for s in shutter_shapes(ds) if s in _MASKS]
    if not shapes:
        return None
    rows = int(ds.Rows) if rows is None else rows
    columns = int(ds.Columns) if columns is None else columns
    mask = np.ones((rows, columns), dtype=bool)
    for shape in shapes:
        mask &= _MASKS[shape](ds, rows, columns)
    return mask


def shutter(ds: Dataset) -> Shutter | None:
    """The image's display shutter with its presentation value, or None."""
    mask = shutter_mask(ds)
    if mask is None:
        return None
    value = ds.get("ShutterPresentationValue")
    return Shutter(mask, 0.0 if value in (None, "") else int(value) / 0xFFFF)
