"""Modality LUT (PS3.3 C.11.1): stored values → modality units (e.g. Hounsfield units)."""

from __future__ import annotations

import numpy as np
from pydicom.dataset import Dataset


def rescale(ds: Dataset) -> tuple[float, float]:
    """Rescale Slope and Intercept (PS3.3 C.11.1.1.2); identity when absent."""
    slope = float(ds.get("RescaleSlope", 1) or 1)
    intercept = float(ds.get("RescaleIntercept", 0) or 0)
    return slope, intercept


def apply_modality_lut(stored: np.ndarray, ds: Dataset) -> np.ndarray:
    """Modality values: float32 unless slope 1 and an integral intercept keep integers exact."""
    slope, intercept = rescale(ds)
    if slope == 1 and intercept == int(intercept):
        out = stored.astype(np.int32) + int(intercept)
        if out.min(initial=0) >= -32768 and out.max(initial=0) <= 32767:
            return out.astype(np.int16)
        return out
    return stored.astype(np.float32) * np.float32(slope) + np.float32(intercept)
