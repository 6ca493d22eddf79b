"""Value statistics of an image or a region, with Pixel Padding left out (PS3.3 C.7.5.1.1.2).

Padding pixels (the -2000 or -3024 outside a CT's reconstruction circle, the 0 border of a
cropped radiograph) are not patient data; a mean HU or a histogram that included them would be
wrong. Everything that summarises pixel values (region statistics, histograms, the automatic
window) therefore takes the padding mask.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from pydicom.dataset import Dataset

from viewer.core.pixels.voi import padding_mask


@dataclass(frozen=True)
class ValueStatistics:
    """Summary of modality values; ``count`` is the number of non-padding pixels used."""

    count: int
    mean: float
    std: float
    minimum: float
    maximum: float


def value_statistics(
    values: np.ndarray,
    region: np.ndarray | None = None,
    *,
    ds: Dataset | None = None,
    stored: np.ndarray | None = None,
) -> ValueStatistics | None:
    """Statistics of ``values`` inside ``region`` (boolean mask, default everything).

    With ``ds`` and the frame's ``stored`` values, pixels whose stored value is Pixel Padding are
    excluded (padding is defined on stored values, before the Modality LUT). Returns None when
    no pixel remains. The standard deviation is the population one (ddof 0), as viewers show it.
    """
    keep = np.ones(values.shape, dtype=bool) if region is None else np.asarray(region, dtype=bool).copy()
    if keep.shape != values.shape:
        raise ValueError(f"region shape {keep.shape} does not match the values' {values.shape}")
    if ds is not None and stored is not None:
        padding = padding_mask(stored, ds)
        if padding is not None:
            keep &= ~padding
    selected = values[keep].astype(np.float64)
    if selected.size == 0:
        return None
    return ValueStatistics(int(selected.size), float(selected.mean()), float(selected.std()),
                           float(selected.min()), float(selected.max()))
