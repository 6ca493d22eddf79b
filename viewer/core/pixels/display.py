"""From a decoded frame to display bytes: the whole grayscale pipeline of PS3.4 Annex N.2
(Modality LUT → VOI LUT → Presentation LUT), or the colour path, plus the overlay and shutter
layers. Thumbnails, the CLI and tests call :func:`display_frame`; the VTK views do the VOI step on
the GPU but take the same :class:`~viewer.core.pixels.voi.Window` and :func:`presentation_inverted`.

Display values are the VOI output over ``[0, 255]`` (``y_min = 0``, ``y_max = 255`` in the
formulas of PS3.3 C.11.2.1.2/3), rounded to the nearest integer (halves up), then the
Presentation LUT: identity, or inversion (``255 - y``) for INVERSE / MONOCHROME1.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from pydicom.dataset import Dataset

from viewer.core.decode import decode_frame_with_properties
from viewer.core.pixels.color import is_color, to_display_rgb
from viewer.core.pixels.modality import apply_modality_lut
from viewer.core.pixels.overlays import overlay_layer
from viewer.core.pixels.shutters import Shutter, shutter
from viewer.core.pixels.voi import (
    VoiLut,
    Window,
    apply_voi_lut_table,
    apply_window,
    auto_window,
    default_window,
    file_voi_luts,
    file_windows,
    padding_mask,
)


def presentation_inverted(ds: Dataset) -> bool:
    """Whether the minimum VOI output is shown white.

    Presentation LUT Shape (2050,0020), when the image carries it, says how VOI output becomes
    P-values: IDENTITY keeps it, INVERSE inverts it (PS3.3 C.11.6.1.1; the DX, MG and IO image
    modules require INVERSE exactly when Photometric Interpretation is MONOCHROME1, C.8.11.1.1.1),
    so it already accounts for MONOCHROME1. Without it, MONOCHROME1 means "the minimum sample
    value is intended to be displayed as white after any VOI gray scale transformations"
    (C.7.6.3.1.2), i.e. an inversion.
    """
    shape = str(ds.get("PresentationLUTShape", "") or "").strip().upper()
    if shape in ("IDENTITY", "INVERSE"):
        return shape == "INVERSE"
    return str(ds.get("PhotometricInterpretation", "")).strip() == "MONOCHROME1"


def voi_output(
    values: np.ndarray, voi: Window | VoiLut, y_min: float = 0.0, y_max: float = 255.0
) -> np.ndarray:
    """The VOI LUT stage for a window or a VOI LUT Sequence table (float64)."""
    if isinstance(voi, VoiLut):
        return apply_voi_lut_table(values, voi, y_min, y_max)
    return apply_window(values, voi, y_min, y_max)


def to_display_uint8(values: np.ndarray, voi: Window | VoiLut, *, invert: bool = False) -> np.ndarray:
    """Modality ``values`` → display bytes: VOI to [0, 255], round half up, then invert if asked.

    ``invert`` is :func:`presentation_inverted` of the image (MONOCHROME1 / INVERSE).

    Integer images go through a lookup table built with the same formula over the image's value
    range (identical bytes, about 10x faster for a 2000x2000 radiograph than per-pixel floats).
    """
    values = np.asarray(values)
    if values.dtype.kind in "iu" and values.size > 65536:
        low, high = int(values.min()), int(values.max())
        if high - low < 1 << 17:
            table = _display_bytes(np.arange(low, high + 1, dtype=np.int64), voi, invert)
            if low == 0 and values.dtype.kind == "u":
                return table[values]
            return table[values.astype(np.int64) - low] if low else table[values]
    return _display_bytes(values, voi, invert)


def _display_bytes(values: np.ndarray, voi: Window | VoiLut, invert: bool) -> np.ndarray:
    y = voi_output(values, voi, 0.0, 255.0)
    if invert:
        y = 255.0 - y
    return np.floor(y + 0.5).astype(np.uint8)


@dataclass(frozen=True)
class DisplayImage:
    """One frame ready to show: bytes plus the layers drawn over them.

    ``pixels`` is (rows, columns) uint8 grayscale or (rows, columns, 3) uint8 RGB. ``overlay`` is
    the union of the overlay planes (True = draw overlay colour), ``shutter`` the display shutter
    (mask True = shown). ``voi`` is the VOI used for grayscale, None for colour.
    """

    pixels: np.ndarray
    voi: Window | VoiLut | None
    inverted: bool
    overlay: np.ndarray | None
    shutter: Shutter | None

    def composed(self) -> np.ndarray:
        """Pixels with the shutter applied (its presentation value outside) and overlays in white."""
        out = self.pixels.copy()
        if self.shutter is not None:
            fill = round(self.shutter.presentation_value * 255)
            out[~self.shutter.mask] = fill
        if self.overlay is not None:
            out[self.overlay] = 255
        return out


def default_voi(ds: Dataset, values: np.ndarray, stored: np.ndarray | None = None,
                frame: int | None = None) -> Window | VoiLut:
    """The file's first window, else its first VOI LUT table, else an auto window without padding.

    C.11.2: either may be present (or both, as alternatives); the window comes first because it
    is what the user can then adjust. The automatic window excludes Pixel Padding, identified on
    the stored values when they are given (exact), else through the rescale.
    """
    windows = file_windows(ds, frame)
    if windows:
        return windows[0]
    luts = file_voi_luts(ds, frame)
    if luts:
        return luts[0]
    if stored is not None:
        mask = padding_mask(stored, ds)
        if mask is not None:
            return auto_window(values, exclude=mask)
    return default_window(ds, values, frame)


def display_frame(ds: Dataset, index: int = 0, voi: Window | VoiLut | None = None) -> DisplayImage:
    """Decode frame ``index`` and run it through the pipeline to display bytes and layers."""
    frame = decode_frame_with_properties(ds, index)
    overlay = overlay_layer(ds, index)
    shutter_layer = shutter(ds)
    if is_color(frame.photometric_interpretation):
        rgb = to_display_rgb(frame.pixels, frame.photometric_interpretation, ds)
        return DisplayImage(rgb, None, False, overlay, shutter_layer)
    values = apply_modality_lut(frame.pixels, ds, frame=index)
    chosen = voi if voi is not None else default_voi(ds, values, frame.pixels, index)
    inverted = presentation_inverted(ds)
    return DisplayImage(to_display_uint8(values, chosen, invert=inverted), chosen, inverted, overlay,
                        shutter_layer)
