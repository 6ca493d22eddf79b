"""Patient geometry of image planes and how a set of frames becomes regular stacks.

Everything here follows the Image Plane Module (PS3.3 C.7.6.2) and, for enhanced
multi-frame objects, the Plane Position / Plane Orientation / Pixel Measures functional
groups (PS3.3 C.7.6.16.2.1, .3, .4):

* Image Orientation (Patient) holds the direction cosines of the first row (IOP[0:3], the
  direction in which the column index *i* grows) and of the first column (IOP[3:6], the
  direction in which the row index *j* grows), in the patient's LPS system.
* Image Position (Patient) is the centre of the first transmitted voxel.
* Pixel Spacing is (row spacing, column spacing): [0] is the distance between the centres of
  adjacent *rows* (so it scales IOP[3:6]), [1] between adjacent *columns* (scales IOP[0:3]).
  PS3.3 10.7.1.3.

Slices are ordered by their position projected on the plane normal IOP[0:3] x IOP[3:6],
never by file name or Instance Number, and the step between slices is taken from the
positions (Slice Thickness is a property of the acquisition, not of the grid). A stack whose
positions move sideways as well as along the normal (gantry or detector tilt) keeps that
step vector in the affine, which is then sheared but exact.

A stack is *regular* when consecutive positions are one step apart. Two departures are
detected and reported in :attr:`Stack.warnings`, never silently squashed:

* **missing slices** - a distance that is an integer multiple (>= 2) of the step. The grid
  keeps its step and the missing positions become empty slots (:attr:`Stack.slots` is
  ``None`` there), later filled with a background value and flagged in
  :attr:`~viewer.core.volume.Volume.acquired`. We show gaps rather than interpolate across
  them because every acquired voxel then stays bit-exact (and int16) and the user sees
  that data is missing instead of looking at invented anatomy.
* **irregular spacing** - distances that are not multiples of one step (variable-pitch
  acquisitions, stitched segments). No single affine can place those slices, so the stack
  is resampled by linear interpolation along the slice axis onto a regular grid whose step
  is the median distance (:attr:`Stack.resample`), and the warning says so.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
from pydicom.dataset import Dataset

from viewer.core.errors import GeometryError
from viewer.core.measurements import calibration

#: Direction cosines that differ by less than this are the same orientation.
ORIENTATION_TOLERANCE = 1e-3
#: Positions along the normal closer than this (mm) are the same slice location.
DUPLICATE_TOLERANCE_MM = 1e-3
#: A distance is "one step" when within max(abs, rel * step) of it.
SPACING_TOLERANCE_MM = 0.01
SPACING_TOLERANCE_REL = 0.01


# --------------------------------------------------------------------------------------
# one plane


@dataclass(frozen=True)
class PlaneGeometry:
    """Where one frame lies in the patient (PS3.3 C.7.6.2.1.1), in LPS millimetres."""

    position: np.ndarray  # Image Position (Patient): centre of the first voxel
    row_direction: np.ndarray  # IOP[0:3]: the column index i grows this way
    column_direction: np.ndarray  # IOP[3:6]: the row index j grows this way
    pixel_spacing: tuple[float, float]  # (between rows, between columns), PS3.3 10.7.1.3
    rows: int
    columns: int
    slice_thickness: float | None = None
    spacing_between_slices: float | None = None

    @cached_property  # sorting a series asks for it several times per frame
    def normal(self) -> np.ndarray:
        """Unit normal row x column: the direction in which slice positions are sorted."""
        n = np.cross(self.row_direction, self.column_direction)
        return n / np.linalg.norm(n)

    def distance(self) -> float:
        """Signed distance of the plane from the origin along its normal (the sort key)."""
        return float(self.position @ self.normal)

    def same_grid(self, other: PlaneGeometry) -> bool:
        """True when both frames can be slices of one stack (orientation, size and spacing)."""
        return (
            self.rows == other.rows
            and self.columns == other.columns
            and np.allclose(self.row_direction, other.row_direction, atol=ORIENTATION_TOLERANCE)
            and np.allclose(self.column_direction, other.column_direction, atol=ORIENTATION_TOLERANCE)
            and np.allclose(self.pixel_spacing, other.pixel_spacing, rtol=1e-4, atol=1e-4)
        )


def _floats(value: Any, count: int, what: str, where: str) -> np.ndarray:
    try:
        arr = np.asarray([float(v) for v in value], dtype=float)
    except (TypeError, ValueError) as exc:
        raise GeometryError(f"{where}: {what} is not numeric ({value!r})") from exc
    if arr.shape != (count,) or not np.all(np.isfinite(arr)):
        raise GeometryError(f"{where}: {what} must hold {count} finite numbers, got {value!r}")
    return arr


def _optional_float(value: Any) -> float | None:
    try:
        out = float(value)
    except (TypeError, ValueError):
        return None
    return out if math.isfinite(out) and out > 0 else None


def make_plane(
    position: Any,
    orientation: Any,
    pixel_spacing: Any,
    rows: int,
    columns: int,
    *,
    slice_thickness: Any = None,
    spacing_between_slices: Any = None,
    where: str = "<dataset>",
) -> PlaneGeometry:
    """Validate the Image Plane attributes and build a :class:`PlaneGeometry`.

    The direction cosines are normalised (files often carry 6-digit rounding) and must be
    orthogonal within 1e-2, as PS3.3 C.7.6.2.1.1 requires; otherwise no affine exists and a
    :class:`GeometryError` names the file.
    """
    pos = _floats(position, 3, "Image Position (Patient)", where)
    iop = _floats(orientation, 6, "Image Orientation (Patient)", where)
    row, col = iop[:3], iop[3:]
    nr, nc = np.linalg.norm(row), np.linalg.norm(col)
    if nr < 1e-6 or nc < 1e-6:
        raise GeometryError(f"{where}: Image Orientation (Patient) {list(iop)} has a zero direction")
    row, col = row / nr, col / nc
    if abs(float(row @ col)) > 1e-2:
        raise GeometryError(
            f"{where}: the row and column directions of Image Orientation (Patient) {list(iop)} "
            "are not orthogonal (PS3.3 C.7.6.2.1.1); the file's geometry is corrupt"
        )
    spacing = (
        _floats(pixel_spacing, 2, "Pixel Spacing", where) if pixel_spacing is not None else np.ones(2)
    )
    if np.any(spacing <= 0):
        raise GeometryError(f"{where}: Pixel Spacing {list(spacing)} must be positive")
    return PlaneGeometry(
        pos, row, col, (float(spacing[0]), float(spacing[1])), int(rows), int(columns),
        _optional_float(slice_thickness), _optional_float(spacing_between_slices),
    )


def plane_of(ds: Dataset, where: str = "<dataset>") -> PlaneGeometry | None:
    """The Image Plane Module of a single-frame image, or None when it has no patient geometry.

    Images without Image Position/Orientation (projection radiographs, secondary captures)
    have no place in the patient; callers stack them by Instance Number and say so.
    """
    if "ImagePositionPatient" not in ds or "ImageOrientationPatient" not in ds:
        return None
    if not ds.ImagePositionPatient or not ds.ImageOrientationPatient:
        return None
    return make_plane(
        ds.ImagePositionPatient, ds.ImageOrientationPatient, ds.get("PixelSpacing") or None,
        int(ds.Rows), int(ds.Columns), slice_thickness=ds.get("SliceThickness"),
        spacing_between_slices=ds.get("SpacingBetweenSlices"), where=where,
    )


def affine_from_plane(plane: PlaneGeometry, step: np.ndarray) -> np.ndarray:
    """The 4x4 matrix taking a voxel index (k, j, i, 1) to patient LPS mm.

    Column 0 is the step between slices, column 1 the column direction times the row
    spacing (j grows down the rows), column 2 the row direction times the column spacing,
    column 3 the position of voxel (0, 0, 0): PS3.3 C.7.6.2.1.1, equation C.7.6.2.1-1,
    extended by the slice axis.
    """
    affine = np.eye(4)
    affine[:3, 0] = step
    affine[:3, 1] = plane.column_direction * plane.pixel_spacing[0]
    affine[:3, 2] = plane.row_direction * plane.pixel_spacing[1]
    affine[:3, 3] = plane.position
    return affine


# --------------------------------------------------------------------------------------
# enhanced multi-frame (PS3.3 C.7.6.16)


_PER_FRAME_SKIP = {"PerFrameFunctionalGroupsSequence", "SharedFunctionalGroupsSequence", "PixelData",
                   "FloatPixelData", "DoubleFloatPixelData", "NumberOfFrames"}


def is_enhanced(ds: Dataset) -> bool:
    """True for objects that describe their frames in Functional Group Macros (C.7.6.16)."""
    return "PerFrameFunctionalGroupsSequence" in ds or "SharedFunctionalGroupsSequence" in ds


def _group_item(frame_fg: Dataset | None, shared_fg: Dataset | None, keyword: str) -> Dataset | None:
    """A functional group's single item, per-frame first, else shared (PS3.3 C.7.6.16.1)."""
    for fg in (frame_fg, shared_fg):
        if fg is not None and keyword in fg and len(fg[keyword].value) > 0:
            return fg[keyword].value[0]
    return None


def enhanced_frame_headers(ds: Dataset) -> list[Dataset]:
    """One flat header per frame of an enhanced multi-frame object (PS3.3 C.7.6.16).

    Each header is the top-level dataset (without the functional group sequences and pixel
    data) plus the frame's values lifted from its functional groups, named as in a
    single-frame image so geometry, modality LUT and windowing code need only one path:

    * Pixel Measures (C.7.6.16.2.1): Pixel Spacing, Slice Thickness, Spacing Between Slices;
    * Frame Content (C.7.6.16.2.2): Stack ID, In-Stack Position Number, Temporal Position
      Index, Dimension Index Values, Frame Acquisition Number;
    * Plane Position (C.7.6.16.2.3) and Plane Orientation (C.7.6.16.2.4);
    * Pixel Value Transformation (C.7.6.16.2.9): Rescale Slope, Intercept, Type;
    * Frame VOI LUT (C.7.6.16.2.10): Window Center, Width, Explanation, VOI LUT Function;
    * MR Echo (C.8.13.5.2): Effective Echo Time; MR Diffusion: Diffusion b-value.

    Elements are shared (not copied) between headers and with ``ds``; treat them as
    read-only (replace an element with ``add_new``, never assign to its value).
    """
    frames = int(ds.get("NumberOfFrames", 1) or 1)
    shared_seq = ds.get("SharedFunctionalGroupsSequence")
    shared = shared_seq[0] if shared_seq else None
    per_frame = ds.get("PerFrameFunctionalGroupsSequence") or []
    if per_frame and len(per_frame) < frames:  # extra items (frames removed by an editor) are ignored
        raise GeometryError(
            f"{getattr(ds, 'filename', '<dataset>')}: Per-frame Functional Groups Sequence has "
            f"only {len(per_frame)} items for {frames} frames (PS3.3 C.7.6.16.2 requires one per frame)"
        )
    base = {elem.tag: elem for elem in ds if elem.keyword not in _PER_FRAME_SKIP}
    lifts = {
        "PixelMeasuresSequence": ("PixelSpacing", "SliceThickness", "SpacingBetweenSlices"),
        "FrameContentSequence": ("StackID", "InStackPositionNumber", "TemporalPositionIndex",
                                 "DimensionIndexValues", "FrameAcquisitionNumber"),
        "PlanePositionSequence": ("ImagePositionPatient",),
        "PlaneOrientationSequence": ("ImageOrientationPatient",),
        "PixelValueTransformationSequence": ("RescaleSlope", "RescaleIntercept", "RescaleType"),
        "FrameVOILUTSequence": ("WindowCenter", "WindowWidth", "WindowCenterWidthExplanation",
                                "VOILUTFunction"),
        "MREchoSequence": ("EffectiveEchoTime",),
        "MRDiffusionSequence": ("DiffusionBValue",),
    }
    headers = []
    for f in range(frames):
        frame_fg = per_frame[f] if per_frame else None
        header = Dataset()
        header.update(base)  # type: ignore[arg-type]
        for group, keywords in lifts.items():
            item = _group_item(frame_fg, shared, group)
            if item is None:
                continue
            for kw in keywords:
                if kw in item:
                    header[kw] = item[kw]
        # the frame number (1-based); add_new makes a new element: assigning to an existing
        # attribute would change the element shared with the other frames' headers in place
        header.add_new(0x00200013, "IS", f + 1)
        header.file_meta = getattr(ds, "file_meta", Dataset())
        if getattr(ds, "filename", None):
            header.filename = ds.filename
        headers.append(header)
    return headers


# --------------------------------------------------------------------------------------
# frames to stacks


@dataclass
class Frame:
    """One 2D frame of the series: where its pixels are and where it lies in the patient."""

    header: Any  # flat header: a Dataset, or any mapping with Dataset-like get()/attributes
    plane: PlaneGeometry | None
    source: Any = None  # opaque to geometry: the loader's pixel location
    order: int = 0  # position in the input (stable tie-break)
    full: Any = None  # opaque to geometry: the loader's way to the complete header

    @property
    def where(self) -> str:
        return str(getattr(self.header, "filename", "") or "<dataset>")


@dataclass(frozen=True)
class Resample:
    """Linear interpolation plan along the slice axis: slot k = (1-w) * frames[lo] + w * frames[hi]."""

    lo: np.ndarray
    hi: np.ndarray
    weight: np.ndarray


@dataclass
class Stack:
    """Frames that form one regular grid, sorted along the normal, with the grid's affine."""

    frames: list[Frame]  # acquired frames, ascending along the normal
    affine: np.ndarray
    slots: list[int | None]  # per grid slice k: index into frames, None for a missing slice
    label: str = ""
    warnings: list[str] = field(default_factory=list)
    resample: Resample | None = None  # set when spacing is irregular: slots then holds None

    @property
    def shape(self) -> tuple[int, int, int]:
        first = self.frames[0].header
        return (len(self.slots), int(first.Rows), int(first.Columns))

    @property
    def acquired(self) -> np.ndarray:
        """Per grid slice: True where the voxels are an acquired frame, not a gap or interpolation."""
        if self.resample is not None:
            w = self.resample.weight
            return (w < 1e-6) | (w > 1 - 1e-6)
        return np.asarray([s is not None for s in self.slots], dtype=bool)


#: Attributes that tell apart frames at the same place (PS3.3 C.7.6.16.2.2, C.7.6.1, C.8.3.1):
#: checked in this order and used only when frames share positions.
DISCRIMINATORS: tuple[tuple[str, Callable[[Dataset], Hashable]], ...] = (
    ("temporal position", lambda h: h.get("TemporalPositionIndex", h.get("TemporalPositionIdentifier"))),
    ("echo", lambda h: h.get("EchoNumbers", h.get("EffectiveEchoTime", h.get("EchoTime")))),
    ("acquisition", lambda h: h.get("AcquisitionNumber", h.get("FrameAcquisitionNumber"))),
    ("trigger time", lambda h: h.get("TriggerTime")),
    ("b-value", lambda h: h.get("DiffusionBValue")),
    ("image type", lambda h: tuple(h.get("ImageType") or ())),
)


def _hashable(value: Any) -> Hashable:
    if value is None:
        return None
    if isinstance(value, list | tuple) or type(value).__name__ == "MultiValue":
        return tuple(str(v) for v in value)
    return str(value)


def _natural(value: Hashable) -> tuple:
    """Sort key putting 2 before 10 (temporal positions, echoes) and unknown values last."""
    if value is None:
        return (2, 0.0, "")
    try:
        return (0, float(value), "")  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return (1, 0.0, str(value))


def _describe_plane(plane: PlaneGeometry | None) -> str:
    if plane is None:
        return "no patient geometry"
    n = plane.normal
    axis = int(np.argmax(np.abs(n)))
    name = ("sagittal", "coronal", "axial")[axis]
    if abs(n[axis]) < 0.99:
        name = f"oblique (nearest {name})"
    return f"{name} {plane.columns}x{plane.rows}"


def group_frames(frames: Sequence[Frame]) -> list[list[Frame]]:
    """Split frames into groups that can share one grid.

    First by grid (orientation, rows/columns, pixel spacing; PS3.3 C.7.6.2), Frame of
    Reference and, for enhanced objects, Stack ID (C.7.6.16.2.2.4). Then, only where frames
    of a group share a position, by the first discriminator (temporal position, echo,
    acquisition, ...) that separates them: acquisition numbers that merely change along a
    sequential scan must not split it.
    """
    groups: list[list[Frame]] = []
    keys: list[tuple[Hashable, ...]] = []
    for frame in frames:
        h = frame.header
        key = (str(h.get("FrameOfReferenceUID", "")), _hashable(h.get("StackID")),
               int(h.get("Rows", 0)), int(h.get("Columns", 0)))
        for i, group in enumerate(groups):
            p0 = group[0].plane
            if keys[i] == key and (
                (p0 is None and frame.plane is None)
                or (p0 is not None and frame.plane is not None and p0.same_grid(frame.plane))
            ):
                group.append(frame)
                break
        else:
            groups.append([frame])
            keys.append(key)
    out: list[list[Frame]] = []
    for group in groups:
        out += _split_duplicates(group)
    return out


def _duplicates(group: Sequence[Frame]) -> int:
    if group[0].plane is None:
        values = [_hashable(f.header.get("InstanceNumber")) for f in group]
        return len(values) - len(set(values))
    d = np.sort([f.plane.distance() for f in group if f.plane is not None])
    return int(np.sum(np.diff(d) < DUPLICATE_TOLERANCE_MM))


def _split_duplicates(group: list[Frame]) -> list[list[Frame]]:
    if len(group) < 2 or _duplicates(group) == 0:
        return [group]
    best: list[list[Frame]] | None = None
    for _name, key in DISCRIMINATORS:
        buckets: dict[Hashable, list[Frame]] = {}
        for f in group:
            buckets.setdefault(_hashable(key(f.header)), []).append(f)
        if len(buckets) < 2:
            continue
        parts = [buckets[k] for k in sorted(buckets, key=_natural)]
        parts = [p for part in parts for p in _split_duplicates(part)]
        if sum(_duplicates(p) for p in parts) == 0:
            return parts
        if best is None:
            best = parts
    return best or [group]


def _spacing_tolerance(step: float) -> float:
    return max(SPACING_TOLERANCE_MM, SPACING_TOLERANCE_REL * step)


def build_stack(frames: Sequence[Frame]) -> Stack:
    """Sort one group along its normal and derive its regular grid (see the module docstring)."""
    if not frames:
        raise GeometryError("no frames to stack")
    warnings: list[str] = []
    plane = frames[0].plane
    label = _describe_plane(plane)
    if plane is None:
        ordered = sorted(frames, key=lambda f: (int(f.header.get("InstanceNumber") or 0), f.order))
        # The in-plane spacing the measurements use (Pixel Spacing, else Imager Pixel Spacing,
        # else 1): a CR with Pixel Spacing of 0 would otherwise give a singular affine.
        cal = calibration(frames[0].header)
        spacing = [cal.row_spacing, cal.column_spacing]
        if len(ordered) > 1:
            warnings.append(
                f"{len(ordered)} images have no Image Position/Orientation (Patient): stacked by "
                "Instance Number with a nominal 1 mm step; distances across slices are not real"
            )
        affine = np.diag([1.0, spacing[0], spacing[1], 1.0])
        return Stack(list(ordered), affine, list(range(len(ordered))), label, warnings)

    normal = plane.normal
    ordered = sorted(frames, key=lambda f: (f.plane.distance(), f.order))  # type: ignore[union-attr]
    d = np.asarray([f.plane.distance() for f in ordered])  # type: ignore[union-attr]
    keep = np.concatenate([[True], np.diff(d) >= DUPLICATE_TOLERANCE_MM])
    if not keep.all():
        warnings.append(
            f"{int((~keep).sum())} frame(s) repeat the position of another and nothing tells them "
            "apart (temporal position, echo, acquisition): only the first at each position is shown"
        )
        ordered = [f for f, k in zip(ordered, keep, strict=True) if k]
        d = d[keep]
    first = ordered[0].plane
    assert first is not None
    n = len(ordered)
    if n == 1:
        thickness = first.spacing_between_slices or first.slice_thickness or 1.0
        return Stack(ordered, affine_from_plane(first, normal * thickness), [0], label, warnings)

    positions = np.asarray([f.plane.position for f in ordered])  # type: ignore[union-attr]
    gaps = np.diff(d)
    step_len = float(np.median(gaps))
    tol = _spacing_tolerance(step_len)
    multiples = np.rint(gaps / step_len)
    regular_with_gaps = bool(np.all(multiples >= 1) and np.all(np.abs(gaps - multiples * step_len)
                                                               <= tol * np.maximum(multiples, 1)))
    resample = None
    if regular_with_gaps:
        index = np.concatenate([[0], np.cumsum(multiples)]).astype(int)
        slots: list[int | None] = [None] * (int(index[-1]) + 1)
        for i, k in enumerate(index):
            slots[k] = i
        missing = [k for k, s in enumerate(slots) if s is None]
        if missing:
            at = ", ".join(f"{d[0] + k * (d[-1] - d[0]) / index[-1]:.2f}" for k in missing[:8])
            more = "" if len(missing) <= 8 else f" and {len(missing) - 8} more"
            warnings.append(
                f"{len(missing)} missing slice(s): the {step_len:.3g} mm grid has no image at "
                f"{at}{more} mm along the normal; shown as empty slices, not interpolated"
            )
        step = (positions[-1] - positions[0]) / index[-1]
        predicted = positions[0] + np.outer(index, step)
    else:
        count = round((d[-1] - d[0]) / step_len) + 1
        grid = np.linspace(d[0], d[-1], count)
        hi = np.clip(np.searchsorted(d, grid, side="left"), 1, n - 1)
        lo = hi - 1
        weight = (grid - d[lo]) / (d[hi] - d[lo])
        weight = np.clip(weight, 0.0, 1.0)
        resample = Resample(lo, hi, weight)
        slots = [None] * count
        span = f"{gaps.min():.3g}-{gaps.max():.3g} mm"
        warnings.append(
            f"irregular slice spacing ({span} between consecutive slices, not multiples of one step): "
            f"resampled by linear interpolation to {count} slices {(d[-1] - d[0]) / (count - 1):.3g} mm "
            "apart; interpolated slices are not acquired data"
        )
        step = (positions[-1] - positions[0]) / (count - 1)
        along = (d - d[0]) / (d[-1] - d[0]) * (count - 1)
        predicted = positions[0] + np.outer(along, step)
    off_line = float(np.max(np.linalg.norm(positions - predicted, axis=1)))
    if off_line > max(0.05, 0.05 * step_len):
        warnings.append(
            f"slice positions do not lie on one straight line (up to {off_line:.2f} mm off): "
            "the volume places them on the straight line from the first to the last slice"
        )
    return Stack(ordered, affine_from_plane(first, step), slots, label, warnings, resample)


def build_stacks(frames: Sequence[Frame]) -> list[Stack]:
    """All stacks of a series, biggest first; each stack's label says how it differs."""
    groups = group_frames(frames)
    stacks = [build_stack(g) for g in groups]
    if len(stacks) > 1:
        # name each stack by the discriminators that are constant in it and differ elsewhere
        values = [[{_hashable(key(f.header)) for f in g} for _name, key in DISCRIMINATORS] for g in groups]
        for i, stack in enumerate(stacks):
            extras = []
            for d, (name, _key) in enumerate(DISCRIMINATORS):
                mine = values[i][d]
                if len(mine) != 1 or None in mine:
                    continue
                if any(values[j][d] != mine for j in range(len(groups)) if j != i):
                    extras.append(f"{name} {next(iter(mine))}")
            if extras:
                stack.label += ", " + ", ".join(extras)
    stacks.sort(key=lambda s: -len(s.frames))
    return stacks


def tilt_degrees(affine: np.ndarray) -> float:
    """Angle between the slice step and the plane normal: the gantry/detector tilt (0 if orthogonal)."""
    step = affine[:3, 0]
    normal = np.cross(affine[:3, 2], affine[:3, 1])
    denominator = np.linalg.norm(step) * np.linalg.norm(normal)
    if denominator == 0:
        return 0.0
    cosine = abs(float(step @ normal)) / denominator
    return float(np.degrees(np.arccos(min(1.0, cosine))))
