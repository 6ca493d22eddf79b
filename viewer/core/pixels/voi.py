"""VOI LUT (PS3.3 C.11.2): which range of modality values the display shows, and how.

Two forms, both offered to the user as presets: windows (Window Center / Width, C.11.2.1.2, with
the VOI LUT Function of C.11.2.1.3 choosing LINEAR, LINEAR_EXACT or SIGMOID) and VOI LUT
Sequence items (C.11.2.1.1, a table). Enhanced multi-frame images carry them per frame in the
Frame VOI LUT functional group (C.7.6.16.2.10). When the file has none, :func:`auto_window`
picks one from the data, ignoring Pixel Padding (C.7.5.1.1.2), which would otherwise drag the
window towards the air outside the reconstruction circle.

The functions :func:`apply_window` and :func:`apply_voi_lut_table` compute exactly the standard's
formulas for an output range ``[y_min, y_max]``; :mod:`viewer.core.pixels.display` turns that into
display bytes.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from pydicom.dataset import Dataset
from pydicom.multival import MultiValue

from viewer.core.pixels.modality import functional_group_item, rescale

LINEAR = "LINEAR"
LINEAR_EXACT = "LINEAR_EXACT"
SIGMOID = "SIGMOID"
VOI_LUT_FUNCTIONS = (LINEAR, LINEAR_EXACT, SIGMOID)


@dataclass(frozen=True)
class Window:
    """A window (C.11.2.1.2): centre and width in modality units, and its VOI LUT Function."""

    center: float
    width: float
    explanation: str = ""
    function: str = LINEAR

    def __post_init__(self) -> None:
        if self.function not in VOI_LUT_FUNCTIONS:
            raise ValueError(f"unknown VOI LUT Function {self.function!r}, expected {VOI_LUT_FUNCTIONS}")
        # C.11.2.1.2.1: Window Width shall be >= 1 for LINEAR; C.11.2.1.3.1/2: > 0 otherwise
        if self.function == LINEAR and not self.width >= 1:
            raise ValueError(f"LINEAR window width must be >= 1 (PS3.3 C.11.2.1.2.1), got {self.width}")
        if not self.width > 0:
            raise ValueError(f"{self.function} window width must be > 0 (PS3.3 C.11.2.1.3), got {self.width}")


@dataclass(frozen=True)
class VoiLut:
    """One VOI LUT Sequence item (C.11.2.1.1): a table from modality values to output values.

    ``first_mapped`` is the modality value of ``data[0]``; the table's output range is
    ``0 .. 2**bits - 1`` (LUT Descriptor third value).
    """

    first_mapped: int
    bits: int
    data: np.ndarray = field(repr=False, compare=False)
    explanation: str = ""

    @property
    def output_max(self) -> int:
        return (1 << self.bits) - 1


def _as_list(value: object) -> list[float]:
    if value is None or value == "":
        return []
    if isinstance(value, MultiValue | list | tuple):
        return [float(v) for v in value if v not in (None, "")]
    return [float(value)]


def _as_str_list(value: object) -> list[str]:
    if value is None or value == "":
        return []
    if isinstance(value, MultiValue | list | tuple):
        return [str(v) for v in value]
    return [str(value)]


def _voi_source(ds: Dataset, frame: int | None) -> Dataset:
    """Where the VOI attributes of ``frame`` live: the Frame VOI LUT functional group, or ds."""
    item = functional_group_item(ds, "FrameVOILUTSequence", frame if frame is not None else 0)
    return item if item is not None and ("WindowCenter" in item or "VOILUTSequence" in item) else ds


def voi_lut_function(ds: Dataset, frame: int | None = None) -> str:
    """VOI LUT Function (0028,1056), LINEAR when absent or unknown (C.11.2.1.3)."""
    value = str(_voi_source(ds, frame).get("VOILUTFunction", "") or ds.get("VOILUTFunction", "") or LINEAR)
    value = value.strip().upper()
    return value if value in VOI_LUT_FUNCTIONS else LINEAR


def file_windows(ds: Dataset, frame: int | None = None) -> list[Window]:
    """The windows stored in the file (for ``frame``), each with its explanation, as presets.

    Window Center and Width are multi-valued in step (C.11.2.1.2: "Window Center and Window
    Width ... shall have the same number of values"); pairs whose width the function forbids
    are skipped rather than shown as a broken preset.
    """
    source = _voi_source(ds, frame)
    function = voi_lut_function(ds, frame)
    centers = _as_list(source.get("WindowCenter"))
    widths = _as_list(source.get("WindowWidth"))
    explanations = _as_str_list(source.get("WindowCenterWidthExplanation"))
    out = []
    for i, (c, w) in enumerate(zip(centers, widths, strict=False)):
        try:
            out.append(Window(c, w, explanations[i] if i < len(explanations) else "", function))
        except ValueError:
            continue
    return out


def file_voi_luts(ds: Dataset, frame: int | None = None) -> list[VoiLut]:
    """The VOI LUT Sequence items (C.11.2.1.1) for ``frame``, as tables.

    Items the standard does not allow (bits per entry outside 8..16, fewer LUT Data entries than
    the descriptor declares) are left out: a broken table must not silently become the display.
    """
    source = _voi_source(ds, frame)
    out = []
    for item in source.get("VOILUTSequence") or []:
        if "LUTDescriptor" not in item or "LUTData" not in item:
            continue
        entries, first, bits = (int(v) for v in item.LUTDescriptor)
        entries = entries or 65536  # C.11.2.1.1: 0 means 2^16 entries
        if not 8 <= bits <= 16:  # C.11.2.1.1: "8 to 16 inclusive"
            continue
        # The first value mapped is US or SS (C.11.2.1.1); a signed value read as US wraps
        if first >= 32768 and _modality_output_signed(ds):
            first -= 65536
        data = _lut_data(item, ds, entries, bits)
        if data.size < entries:
            continue
        out.append(VoiLut(first, bits, data, str(item.get("LUTExplanation", "") or "")))
    return out


def file_vois(ds: Dataset, frame: int | None = None) -> list[Window | VoiLut]:
    """Every VOI the file offers for ``frame``, windows first then VOI LUT tables (the presets).

    C.11.2: a file may carry both; they are alternatives the user chooses between.
    """
    return [*file_windows(ds, frame), *file_voi_luts(ds, frame)]


def _modality_output_signed(ds: Dataset) -> bool:
    """Whether modality values can be negative, deciding how a US/SS LUT Descriptor is read."""
    _, intercept = rescale(ds)
    return int(ds.get("PixelRepresentation", 0) or 0) == 1 or intercept < 0


def _lut_data(item: Dataset, ds: Dataset, entries: int, bits: int) -> np.ndarray:
    """LUT Data as an array; VR US/OW ambiguity resolved as pydicom does (PS3.5 7.1.2 / 8.2)."""
    element = item["LUTData"]
    value = element.value
    if isinstance(value, bytes | bytearray):
        little = getattr(ds, "original_encoding", (None, None))[1]
        if little is None and hasattr(ds, "file_meta"):
            little = ds.file_meta.get("TransferSyntaxUID", "1.2.840.10008.1.2") != "1.2.840.10008.1.2.2"
        itemsize = 1 if (bits <= 8 and len(value) == entries) else 2
        dtype = np.dtype("u1") if itemsize == 1 else np.dtype("<u2" if little is not False else ">u2")
        data = np.frombuffer(value, dtype=dtype, count=min(entries, len(value) // itemsize))
    else:
        data = np.asarray(value if isinstance(value, list | tuple | MultiValue) else [value], dtype=np.int64)
    return data[:entries].astype(np.float64)


# --- the standard's formulas -------------------------------------------------------------------


def apply_window(values: np.ndarray, window: Window, y_min: float = 0.0, y_max: float = 1.0) -> np.ndarray:
    """The VOI LUT Function of ``window`` applied to modality ``values`` (float64 output).

    LINEAR (C.11.2.1.2.1), for c = center, w = width::

        if (x <= c - 0.5 - (w-1) / 2), then y = ymin
        else if (x > c - 0.5 + (w-1) / 2), then y = ymax
        else y = ((x - (c - 0.5)) / (w-1) + 0.5) * (ymax - ymin) + ymin

    (with w = 1 the middle branch is empty: a threshold at c - 0.5.)

    LINEAR_EXACT (C.11.2.1.3.2)::

        if (x <= c - w/2), then y = ymin
        else if (x > c + w/2), then y = ymax
        else y = ((x - c) / w + 0.5) * (ymax - ymin) + ymin

    SIGMOID (C.11.2.1.3.1)::

        y = (ymax - ymin) / (1 + exp(-4 * (x - c) / w)) + ymin
    """
    x = np.asarray(values, dtype=np.float64)
    c, w = float(window.center), float(window.width)
    span = y_max - y_min
    if window.function == SIGMOID:
        with np.errstate(over="ignore"):  # exp overflow far below the centre is the limit y_min
            return span / (1.0 + np.exp(-4.0 * (x - c) / w)) + y_min
    if window.function == LINEAR_EXACT:
        low, high = c - w / 2, c + w / 2
        ramp = ((x - c) / w + 0.5) * span + y_min
    else:
        low, high = c - 0.5 - (w - 1) / 2, c - 0.5 + (w - 1) / 2
        with np.errstate(divide="ignore", invalid="ignore"):
            ramp = ((x - (c - 0.5)) / (w - 1) + 0.5) * span + y_min if w > 1 else np.full_like(x, y_min)
    return np.where(x <= low, y_min, np.where(x > high, y_max, ramp))


def apply_voi_lut_table(
    values: np.ndarray, lut: VoiLut, y_min: float = 0.0, y_max: float = 1.0
) -> np.ndarray:
    """A VOI LUT Sequence table applied to modality ``values``, rescaled to ``[y_min, y_max]``.

    C.11.2.1.1: values below the first value mapped take the first entry, values at or beyond
    the last entry's input take the last entry. The table's output range ``0 .. 2**bits - 1``
    (LUT Descriptor) maps linearly onto ``[y_min, y_max]``.
    """
    x = np.asarray(values)
    index = np.clip(np.floor(x).astype(np.int64) - lut.first_mapped, 0, lut.data.size - 1)
    return lut.data[index] / lut.output_max * (y_max - y_min) + y_min


# --- padding and the automatic window -----------------------------------------------------------


def padding_range(ds: Dataset) -> tuple[int, int] | None:
    """Stored-value range that is padding, inclusive (C.7.5.1.1.2), or None.

    Pixel Padding Value alone marks one value; with Pixel Padding Range Limit every stored value
    between the two (inclusive, in either order) is padding.
    """
    value = ds.get("PixelPaddingValue")
    if value is None or value == "":
        return None
    first = int(value if not isinstance(value, MultiValue | list) else value[0])
    limit = ds.get("PixelPaddingRangeLimit")
    last = first if limit is None or limit == "" else int(limit)
    signed = int(ds.get("PixelRepresentation", 0) or 0) == 1
    if signed:  # US/SS ambiguous VR read as US: reinterpret as two's complement
        bits = int(ds.get("BitsAllocated", 16) or 16)
        first, last = (v - (1 << bits) if v >= 1 << (bits - 1) else v for v in (first, last))
    return (min(first, last), max(first, last))


def padding_mask(stored: np.ndarray, ds: Dataset) -> np.ndarray | None:
    """True where a stored value is Pixel Padding (C.7.5.1.1.2); None when the file has none."""
    limits = padding_range(ds)
    if limits is None:
        return None
    low, high = limits
    return (stored >= low) & (stored <= high) if low != high else stored == low


def padding_range_in_modality_units(ds: Dataset, frame: int | None = None) -> tuple[float, float] | None:
    """The padding range mapped through the rescale, for masking modality values directly."""
    limits = padding_range(ds)
    if limits is None:
        return None
    slope, intercept = rescale(ds, frame)
    a, b = (v * slope + intercept for v in limits)
    return (min(a, b), max(a, b))


def auto_window(
    values: np.ndarray,
    low: float = 0.5,
    high: float = 99.5,
    exclude: np.ndarray | tuple[float, float] | None = None,
) -> Window:
    """A window spanning the central ``low``..``high`` percentiles of the non-excluded values.

    ``exclude`` is a boolean mask of the same shape, or an inclusive ``(min, max)`` value range
    (Pixel Padding in the same units as ``values``). Large volumes are subsampled (every k-th
    slice and pixel) so that this stays a few milliseconds.
    """
    sample = np.asarray(values)
    mask = None if exclude is None or isinstance(exclude, tuple) else np.asarray(exclude)
    step = max(1, int(np.ceil((sample.size / 2_000_000) ** 0.5)))
    if sample.ndim == 3:
        k = max(1, sample.shape[0] // 16)
        sample = sample[::k, ::step, ::step]
        mask = mask[::k, ::step, ::step] if mask is not None else None
    elif sample.ndim >= 2 and step > 1:
        sample = sample[::step, ::step]
        mask = mask[::step, ::step] if mask is not None else None
    keep = ~mask if mask is not None else None
    if isinstance(exclude, tuple):
        keep = (sample < exclude[0]) | (sample > exclude[1])
    data = sample[keep] if keep is not None else sample.ravel()
    if data.size == 0:  # all padding: fall back to every value rather than fail
        data = sample.ravel()
    if data.size == 0:
        return Window(0.0, 1.0, "auto")
    lo, hi = np.percentile(data, [low, high])
    span = float(hi - lo)
    if data.dtype.kind == "f" and 0 < span < 1:
        # Float data (parametric maps, Float Pixel Data) can live in a range narrower than 1, which
        # LINEAR cannot show (width >= 1, C.11.2.1.2.1); LINEAR_EXACT can (width > 0, C.11.2.1.3.2).
        return Window(float(lo + hi) / 2, span, "auto", LINEAR_EXACT)
    return Window(float(lo + hi) / 2, max(span, 1.0), "auto")


def default_window(ds: Dataset, values: np.ndarray, frame: int | None = None) -> Window:
    """The file's first window (C.11.2.1.2), else an automatic one ignoring pixel padding."""
    windows = file_windows(ds, frame)
    if windows:
        return windows[0]
    return auto_window(values, exclude=padding_range_in_modality_units(ds, frame))
