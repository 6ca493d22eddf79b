"""Decoding pixel data into stored values, for any transfer syntax pydicom's backends know.

The result is the array of *stored values* (PS3.5 8.1): Bits Stored masking and sign
extension applied, no modality or VOI transform yet. Every failure becomes a
:class:`~viewer.core.errors.DecodeError` that names the file, the transfer syntax and why.
"""

from __future__ import annotations

import numpy as np
from pydicom.dataset import Dataset

from viewer.core.errors import DecodeError, UnsupportedTransferSyntax


def number_of_frames(ds: Dataset) -> int:
    return int(ds.get("NumberOfFrames", 1) or 1)


def _describe(ds: Dataset) -> tuple[str, str]:
    path = getattr(ds, "filename", None) or "<dataset>"
    ts = ds.file_meta.get("TransferSyntaxUID", "unknown") if hasattr(ds, "file_meta") else "unknown"
    name = getattr(ts, "name", str(ts))
    return str(path), f"{name} {ts}" if name != str(ts) else str(ts)


def decode_frame(ds: Dataset, index: int = 0) -> np.ndarray:
    """Stored values of frame ``index``: (rows, columns) or (rows, columns, samples)."""
    frames = decode_all_frames(ds)
    return frames[index]


def decode_all_frames(ds: Dataset) -> np.ndarray:
    """Stored values of every frame: (frames, rows, columns[, samples])."""
    path, ts = _describe(ds)
    if "PixelData" not in ds and "FloatPixelData" not in ds and "DoubleFloatPixelData" not in ds:
        raise DecodeError(path, ts, "the file has no pixel data")
    try:
        arr = ds.pixel_array
    except NotImplementedError as exc:
        raise UnsupportedTransferSyntax(path, ts, f"no installed decoder: {exc}") from exc
    except Exception as exc:
        raise DecodeError(path, ts, f"{type(exc).__name__}: {exc}") from exc
    if number_of_frames(ds) == 1:
        arr = arr[np.newaxis]
    return arr
