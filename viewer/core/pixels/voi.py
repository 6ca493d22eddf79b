"""VOI LUT (PS3.3 C.11.2): which window of modality values the display shows."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from pydicom.dataset import Dataset
from pydicom.multival import MultiValue


@dataclass(frozen=True)
class Window:
    """A window (PS3.3 C.11.2.1.2): centre and width in modality units."""

    center: float
    width: float
    explanation: str = ""


def _as_list(value: object) -> list[float]:
    if value is None or value == "":
        return []
    if isinstance(value, MultiValue | list | tuple):
        return [float(v) for v in value]
    return [float(value)]


def file_windows(ds: Dataset) -> list[Window]:
    """The windows stored in the file, each with its explanation (offered as presets)."""
    centers = _as_list(ds.get("WindowCenter"))
    widths = _as_list(ds.get("WindowWidth"))
    explanations = ds.get("WindowCenterWidthExplanation") or []
    if isinstance(explanations, str):
        explanations = [explanations]
    out = []
    for i, (c, w) in enumerate(zip(centers, widths, strict=False)):
        if w >= 1:  # PS3.3 C.11.2.1.2: Window Width shall be >= 1
            out.append(Window(c, w, str(explanations[i]) if i < len(explanations) else ""))
    return out


def auto_window(values: np.ndarray, low: float = 0.5, high: float = 99.5) -> Window:
    """A window spanning the central percentiles of the modality values."""
    sample = values[:: max(1, values.shape[0] // 16)] if values.ndim == 3 else values
    lo, hi = np.percentile(sample, [low, high])
    width = max(float(hi - lo), 1.0)
    return Window(float(lo + hi) / 2, width, "auto")


def default_window(ds: Dataset, values: np.ndarray) -> Window:
    """The file's first window, else an automatic one from the pixel values."""
    windows = file_windows(ds)
    return windows[0] if windows else auto_window(values)
