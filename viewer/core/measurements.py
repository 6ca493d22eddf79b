"""Calibrated measurements on one image: length, angle, ROI statistics and the pixel probe.

Points are stored in patient LPS millimetres (the volume's affine places them), so a
measurement stays attached to the anatomy whatever the zoom, rotation or flip of the view.
Distances are computed in the image's own pixel grid and scaled by the calibration that the
file supports (PS3.3):

* Pixel Spacing (0028,0030), Image Plane Module C.7.6.2 (and the Basic Pixel Spacing
  Calibration Macro, 10.7.1): physical distance in the patient, "mm".
* Imager Pixel Spacing (0018,1164) only, as in projection radiography (DX Detector Module
  C.8.11.4, CR, XA): spacing at the detector plane; the patient is magnified by the beam
  geometry, so the result is flagged "mm (detector)".
* Neither: the result is in pixels, with a warning.

ROI statistics are in modality units (after the Modality LUT, C.11.1): HU for CT.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from pydicom.dataset import Dataset

KINDS = ("length", "angle", "rectangle", "ellipse", "freehand", "probe")
SCHEMA_VERSION = 1


@dataclass(frozen=True)
class Calibration:
    """How pixel distances become physical ones for one image."""

    row_spacing: float  # between centres of adjacent rows (first value of Pixel Spacing), mm
    column_spacing: float  # between centres of adjacent columns, mm
    kind: str  # "patient", "detector" or "pixels"
    unit: str  # "mm", "mm (detector)" or "px"
    warning: str = ""


def calibration(header: Dataset) -> Calibration:
    """The calibration this header supports, best first (see the module docstring)."""
    spacing = _pair(header.get("PixelSpacing"))
    if spacing:
        return Calibration(spacing[0], spacing[1], "patient", "mm")
    imager = _pair(header.get("ImagerPixelSpacing"))
    if imager:
        return Calibration(
            imager[0], imager[1], "detector", "mm (detector)",
            "Imager Pixel Spacing only: distances are at the detector, not corrected for magnification",
        )
    return Calibration(1.0, 1.0, "pixels", "px", "No Pixel Spacing: distances are in pixels")


def _pair(value: object) -> tuple[float, float] | None:
    try:
        values = [float(v) for v in value]  # type: ignore[union-attr]
    except (TypeError, ValueError):
        return None
    return (values[0], values[1]) if len(values) == 2 and values[0] > 0 and values[1] > 0 else None


def modality_unit(header: Dataset) -> str:
    """The unit of the stored values after the Modality LUT: HU for CT (C.8.2.1), else the
    Rescale Type (0028,1054) or PET Units (0054,1001) when given, else empty."""
    if header.get("Modality") == "CT":
        return "HU"
    for keyword in ("RescaleType", "Units"):
        value = str(header.get(keyword) or "").strip()
        if value and value != "US":  # US = unspecified (C.11.1.1.2)
            return value
    return ""


@dataclass(frozen=True)
class SliceGeometry:
    """Where one image's pixel grid lies in the patient: LPS of pixel (0, 0) and its axes."""

    origin: np.ndarray  # LPS centre of the first transmitted pixel
    row_dir: np.ndarray  # unit LPS direction of increasing column index i
    col_dir: np.ndarray  # unit LPS direction of increasing row index j
    step_i: float  # mm between columns in the affine
    step_j: float  # mm between rows in the affine

    @classmethod
    def from_affine(cls, affine: np.ndarray, k: int) -> SliceGeometry:
        """The geometry of slice ``k`` of a volume whose affine maps (k, j, i) to LPS."""
        origin = affine[:3, :3] @ np.array([k, 0.0, 0.0]) + affine[:3, 3]
        step_j, step_i = float(np.linalg.norm(affine[:3, 1])), float(np.linalg.norm(affine[:3, 2]))
        return cls(origin, affine[:3, 2] / step_i, affine[:3, 1] / step_j, step_i, step_j)

    def to_pixel(self, point: Sequence[float]) -> tuple[float, float]:
        """(row j, column i) of an LPS point projected onto the image plane, continuous."""
        d = np.asarray(point, dtype=float) - self.origin
        return float(d @ self.col_dir) / self.step_j, float(d @ self.row_dir) / self.step_i

    def to_patient(self, j: float, i: float) -> np.ndarray:
        return self.origin + self.col_dir * (j * self.step_j) + self.row_dir * (i * self.step_i)


@dataclass
class Measurement:
    """One measurement on one image, in a form the store can keep (to_dict / from_dict).

    ``points`` are LPS mm; ``result`` holds the numbers and their units as computed when the
    measurement was made (recomputed on load by :func:`measure` if the pixels are at hand).
    """

    kind: str
    points: list[tuple[float, float, float]]
    sop_instance_uid: str
    result: dict[str, Any] = field(default_factory=dict)
    frame: int = 0  # 0-based frame of a multi-frame instance
    label: str = ""
    id: str = field(default_factory=lambda: uuid.uuid4().hex)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown measurement kind {self.kind!r}; expected one of {KINDS}")
        self.points = [tuple(float(c) for c in p) for p in self.points]  # type: ignore[misc]

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema": SCHEMA_VERSION,
            "id": self.id,
            "kind": self.kind,
            "points": [list(p) for p in self.points],
            "sop_instance_uid": self.sop_instance_uid,
            "frame": self.frame,
            "label": self.label,
            "result": dict(self.result),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Measurement:
        if int(data.get("schema", 1)) > SCHEMA_VERSION:
            raise ValueError(f"measurement schema {data['schema']} is newer than {SCHEMA_VERSION}")
        return cls(
            kind=data["kind"],
            points=[tuple(p) for p in data["points"]],
            sop_instance_uid=str(data["sop_instance_uid"]),
            result=dict(data.get("result", {})),
            frame=int(data.get("frame", 0)),
            label=str(data.get("label", "")),
            id=str(data.get("id") or uuid.uuid4().hex),
        )

    def summary(self) -> str:
        """The text drawn beside the measurement."""
        r = self.result
        if self.kind == "length":
            text = f"{r['length']:.1f} {r['unit']}"
        elif self.kind == "angle":
            text = f"{r['angle']:.1f}°"
        elif self.kind == "probe":
            value = r.get("value")
            text = ("(" + ", ".join(f"{v:.0f}" for v in value) + ")") if isinstance(value, list) \
                else f"{value:.1f} {r.get('unit', '')}".rstrip()
        else:
            unit = r.get("unit", "")
            text = (
                f"mean {r['mean']:.1f} {unit}  SD {r['sd']:.1f}\n"
                f"min {r['min']:.0f}  max {r['max']:.0f}\n"
                f"area {r['area']:.1f} {r['area_unit']}"
            )
        return f"{self.label}: {text}" if self.label else text


# --- computations -----------------------------------------------------------------------------


def length(p0: tuple[float, float], p1: tuple[float, float], cal: Calibration) -> float:
    """Distance between two (j, i) pixel positions in the calibration's unit."""
    dj, di = (p1[0] - p0[0]) * cal.row_spacing, (p1[1] - p0[1]) * cal.column_spacing
    return math.hypot(dj, di)


def angle(a: tuple[float, float], vertex: tuple[float, float], b: tuple[float, float], cal: Calibration) -> float:
    """The angle at ``vertex`` between the arms to ``a`` and ``b``, degrees, in physical space
    (non-square pixels change angles, so the spacing is applied first)."""
    u = np.array([(a[0] - vertex[0]) * cal.row_spacing, (a[1] - vertex[1]) * cal.column_spacing])
    v = np.array([(b[0] - vertex[0]) * cal.row_spacing, (b[1] - vertex[1]) * cal.column_spacing])
    nu, nv = float(np.linalg.norm(u)), float(np.linalg.norm(v))
    if nu == 0.0 or nv == 0.0:
        return 0.0
    return math.degrees(math.acos(float(np.clip(u @ v / (nu * nv), -1.0, 1.0))))


def roi_box(kind: str, points: Sequence[tuple[float, float]], shape: tuple[int, int]
            ) -> tuple[slice, slice, np.ndarray]:
    """The ROI as (row slice, column slice, mask within that box): only the bounding box is
    tested, so a small ROI on a 4096x3328 image costs microseconds, not a full-image grid."""
    rows, cols = shape
    pts = np.asarray(points, dtype=float)
    j0, j1 = max(int(np.ceil(pts[:, 0].min())), 0), min(int(np.floor(pts[:, 0].max())), rows - 1)
    i0, i1 = max(int(np.ceil(pts[:, 1].min())), 0), min(int(np.floor(pts[:, 1].max())), cols - 1)
    box = (slice(j0, max(j1 + 1, j0)), slice(i0, max(i1 + 1, i0)))
    jj, ii = np.mgrid[box[0], box[1]]
    if kind in ("rectangle", "ellipse"):
        (ja, ia), (jb, ib) = points[0], points[-1]
        jlo, jhi, ilo, ihi = min(ja, jb), max(ja, jb), min(ia, ib), max(ia, ib)
        if kind == "rectangle":
            inside = (jj >= jlo) & (jj <= jhi) & (ii >= ilo) & (ii <= ihi)
        else:
            cj, ci = (jlo + jhi) / 2, (ilo + ihi) / 2
            aj, ai = max((jhi - jlo) / 2, 1e-9), max((ihi - ilo) / 2, 1e-9)
            inside = ((jj - cj) / aj) ** 2 + ((ii - ci) / ai) ** 2 <= 1.0
    elif kind == "freehand":
        inside = _polygon_mask(pts, jj, ii)
    else:
        raise ValueError(f"{kind!r} is not an area measurement")
    return box[0], box[1], inside


def roi_mask(kind: str, points: Sequence[tuple[float, float]], shape: tuple[int, int]) -> np.ndarray:
    """Pixels whose centres lie inside the ROI drawn through (j, i) ``points``.

    Rectangle and ellipse take two opposite corners of their bounding box in the image grid;
    freehand takes the polygon's vertices (closed implicitly, even-odd rule).
    """
    rows_slice, cols_slice, inside = roi_box(kind, points, shape)
    mask = np.zeros(shape, dtype=bool)
    mask[rows_slice, cols_slice] = inside
    return mask


def _polygon_mask(poly: np.ndarray, jj: np.ndarray, ii: np.ndarray) -> np.ndarray:
    inside = np.zeros(jj.shape, dtype=bool)
    if len(poly) < 3:
        return inside
    pj, pi = jj.astype(float), ii.astype(float)
    for (aj, ai), (bj, bi) in zip(poly, np.roll(poly, -1, axis=0), strict=True):
        crosses = (aj > pj) != (bj > pj)
        with np.errstate(divide="ignore", invalid="ignore"):
            at = ai + (pj - aj) * (bi - ai) / (bj - aj)
        inside ^= crosses & (pi < at)
    return inside


def roi_area(kind: str, points: Sequence[tuple[float, float]], cal: Calibration) -> float:
    """Area of the drawn shape (not the pixel count) in the calibration's squared unit."""
    if kind in ("rectangle", "ellipse"):
        (j0, i0), (j1, i1) = points[0], points[-1]
        h, w = abs(j1 - j0) * cal.row_spacing, abs(i1 - i0) * cal.column_spacing
        return h * w if kind == "rectangle" else math.pi * h * w / 4
    poly = np.asarray(points, dtype=float)
    y, x = poly[:, 0] * cal.row_spacing, poly[:, 1] * cal.column_spacing
    return float(abs(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1))) / 2)  # shoelace


def roi_statistics(pixels: np.ndarray, mask: np.ndarray) -> dict[str, float]:
    """Mean, SD (population), min, max and count of the masked modality values."""
    values = pixels[mask].astype(np.float64)
    if values.size == 0:
        return {"mean": math.nan, "sd": math.nan, "min": math.nan, "max": math.nan, "pixels": 0}
    return {
        "mean": float(values.mean()),
        "sd": float(values.std()),
        "min": float(values.min()),
        "max": float(values.max()),
        "pixels": int(values.size),
    }


def measure(
    kind: str,
    points: Sequence[Sequence[float]],
    geometry: SliceGeometry,
    pixels: np.ndarray,
    header: Dataset,
) -> dict[str, Any]:
    """Compute the result of a ``kind`` measurement through LPS ``points`` on one image.

    ``pixels`` is the image in modality units, (rows, columns) or (rows, columns, 3) for
    colour; colour ROIs are measured on luma (ITU-R BT.601), as colour has no modality unit.
    """
    cal = calibration(header)
    grid = [geometry.to_pixel(p) for p in points]
    result: dict[str, Any] = {"calibration": cal.kind}
    if cal.warning:
        result["warning"] = cal.warning
    unit = modality_unit(header)
    if kind == "length":
        result.update(length=length(grid[0], grid[-1], cal), unit=cal.unit)
    elif kind == "angle":
        result.update(angle=angle(grid[0], grid[1], grid[2], cal), unit="deg")
    elif kind == "probe":
        j, i = (round(c) for c in grid[0])
        inside = 0 <= j < pixels.shape[0] and 0 <= i < pixels.shape[1]
        if not inside:
            result.update(value=math.nan, unit=unit, row=j, column=i)
        elif pixels.ndim == 3:
            result.update(value=[float(v) for v in pixels[j, i]], unit="RGB", row=j, column=i)
        else:
            result.update(value=float(pixels[j, i]), unit=unit, row=j, column=i)
    elif kind in ("rectangle", "ellipse", "freehand"):
        rows_slice, cols_slice, inside = roi_box(kind, grid, pixels.shape[:2])
        values = pixels[rows_slice, cols_slice]
        if pixels.ndim == 3:
            values = values[..., :3] @ np.array([0.299, 0.587, 0.114])
        stats = roi_statistics(values, inside)
        area_unit = "px²" if cal.kind == "pixels" else ("mm² (detector)" if cal.kind == "detector" else "mm²")
        result.update(stats, area=roi_area(kind, grid, cal), area_unit=area_unit,
                      unit=unit if pixels.ndim == 2 else "luma")
    else:
        raise ValueError(f"unknown measurement kind {kind!r}")
    return result
