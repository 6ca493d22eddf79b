"""Modality LUT (PS3.3 C.11.1): stored values → modality units (e.g. Hounsfield units).

Two forms exist and a conformant image has at most one of them (C.11.1: "Either a Modality LUT
Sequence containing a single Item or Rescale Slope and Intercept values shall be present but
not both"): the linear Rescale Slope / Intercept (C.11.1.1.2), and a Modality LUT Sequence
(C.11.1.1.1). Enhanced multi-frame images carry the rescale per frame in the Pixel Value
Transformation functional group (C.7.6.16.2.9), in the Per-frame or the Shared Functional Groups
Sequence. Output is int16 whenever that is exact (integral slope and intercept, results within
int16), so a lossless CT volume keeps 2 bytes per voxel; float32 otherwise.
"""

from __future__ import annotations

import numpy as np
from pydicom.dataset import Dataset
from pydicom.pixels.processing import apply_modality_lut as _pydicom_modality_lut

INT16_MIN, INT16_MAX = -32768, 32767


def functional_group_item(ds: Dataset, sequence: str, frame: int | None) -> Dataset | None:
    """The first item of a functional group macro for ``frame`` (PS3.3 C.7.6.16).

    The Per-frame Functional Groups Sequence item of the frame wins over the Shared Functional
    Groups Sequence (C.7.6.16.1: a macro is in one or the other, never both).
    """
    if frame is not None:
        per_frame = ds.get("PerFrameFunctionalGroupsSequence")
        if per_frame is not None and 0 <= frame < len(per_frame):
            seq = per_frame[frame].get(sequence)
            if seq:
                return seq[0]
    shared = ds.get("SharedFunctionalGroupsSequence")
    if shared:
        seq = shared[0].get(sequence)
        if seq:
            return seq[0]
    return None


def rescale(ds: Dataset, frame: int | None = None) -> tuple[float, float]:
    """Rescale Slope and Intercept (C.11.1.1.2) for ``frame``; identity when absent.

    Looks in the Pixel Value Transformation functional group first (enhanced objects, where
    the top-level attributes are not allowed), then in the dataset itself.
    """
    source = functional_group_item(ds, "PixelValueTransformationSequence", frame if frame is not None else 0)
    if source is None or "RescaleSlope" not in source:
        source = ds
    slope = source.get("RescaleSlope")
    intercept = source.get("RescaleIntercept")
    slope = 1.0 if slope in (None, "") else float(slope)
    intercept = 0.0 if intercept in (None, "") else float(intercept)
    return slope or 1.0, intercept  # a zero slope would erase the image: treat as absent


def has_modality_lut_sequence(ds: Dataset) -> bool:
    seq = ds.get("ModalityLUTSequence")
    return bool(seq) and "LUTData" in seq[0] and "LUTDescriptor" in seq[0]


def apply_modality_lut(stored: np.ndarray, ds: Dataset, frame: int | None = None) -> np.ndarray:
    """Modality values of ``stored`` (one frame, or a stack of frames sharing one transform).

    int16 when exact, else float32. ``frame`` selects the per-frame rescale of an enhanced
    multi-frame image (the transform of frame 0 when omitted).
    """
    if has_modality_lut_sequence(ds):
        return apply_modality_lut_sequence(stored, ds)
    slope, intercept = rescale(ds, frame)
    return apply_rescale(stored, slope, intercept)


def apply_rescale(stored: np.ndarray, slope: float, intercept: float) -> np.ndarray:
    """Output units = m * SV + b (C.11.1.1.2), kept in int16 when that is exact."""
    if stored.dtype.kind == "f":
        return (stored * np.float32(slope) + np.float32(intercept)).astype(np.float32, copy=False)
    if slope == int(slope) and intercept == int(intercept) and stored.size:
        lo, hi = int(stored.min()), int(stored.max())
        out_lo, out_hi = sorted((lo * int(slope) + int(intercept), hi * int(slope) + int(intercept)))
        if out_lo >= INT16_MIN and out_hi <= INT16_MAX:
            if lo >= INT16_MIN and hi <= INT16_MAX and slope == 1:
                # inputs fit int16 too: one pass, no int32 temporary
                out = stored.astype(np.int16)
                out += np.int16(intercept)
                return out
            out32 = stored.astype(np.int32)
            if slope != 1:
                out32 *= int(slope)
            out32 += int(intercept)
            return out32.astype(np.int16)
    elif slope == int(slope) and intercept == int(intercept):
        return stored.astype(np.int16)
    out = stored.astype(np.float32)
    out *= np.float32(slope)
    out += np.float32(intercept)
    return out


def apply_modality_lut_sequence(stored: np.ndarray, ds: Dataset) -> np.ndarray:
    """The Modality LUT Sequence transform (C.11.1.1.1), via pydicom's LUT reader.

    LUT Descriptor = (entries, first stored value mapped, bits per entry); values below the first
    mapped value take the first entry and values past the last entry take the last one.
    pydicom implements exactly that, and reads LUT Data whatever its VR (US or OW) and byte order.
    Output entries are unsigned integers, int16 when they fit.
    """
    out = _pydicom_modality_lut(stored, ds)
    if out.dtype.kind in "ui" and (out.size == 0 or int(out.max()) <= INT16_MAX):
        return out.astype(np.int16)
    return out.astype(np.float32)
