"""Colour images to RGB bytes (PS3.3 C.7.6.3.1.2 Photometric Interpretation, C.7.6.3.1.5/6
Palette Color Lookup Tables, C.7.9 Segmented Palette, C.7.6.3.1.3 Planar Configuration).

The decoder (:mod:`viewer.core.decode`) already returns colour-by-pixel arrays (Planar
Configuration 0) and converts YBR_FULL / YBR_FULL_422 (and the JPEG 2000 YBR_ICT / YBR_RCT
component transforms) to RGB. What is left here: palettes (normal and segmented), raw YBR
arrays a caller decoded itself, and scaling samples wider than 8 bits down to display bytes.
"""

from __future__ import annotations

import numpy as np
from pydicom.dataset import Dataset
from pydicom.pixels.processing import apply_color_lut, convert_color_space

MONOCHROME = ("MONOCHROME1", "MONOCHROME2")
YBR_CONVERTIBLE = ("YBR_FULL", "YBR_FULL_422")


def is_color(photometric_interpretation: str) -> bool:
    """Anything but MONOCHROME1/2 is shown in colour (PALETTE COLOR included)."""
    return str(photometric_interpretation).strip() not in MONOCHROME


def to_8_bits(samples: np.ndarray, bits: int) -> np.ndarray:
    """Unsigned samples of ``bits`` significant bits → 0..255, rounding to nearest.

    v * 255 / (2**bits - 1), so full scale stays full scale (not a plain shift, which would
    never reach 255 for 12-bit data whose maximum is 4095).
    """
    if bits == 8 and samples.dtype == np.uint8:
        return samples
    top = (1 << bits) - 1
    scaled = (samples.astype(np.float64) * (255.0 / top)) + 0.5
    return np.clip(np.floor(scaled), 0, 255).astype(np.uint8)


def apply_palette(indices: np.ndarray, ds: Dataset) -> np.ndarray:
    """PALETTE COLOR indices → RGB bytes through the palette of C.7.6.3.1.5/6 (or C.7.9 segmented).

    pydicom's ``apply_color_lut`` does the lookup (including expanding segmented palettes and
    clamping indices below the first mapped value / past the last entry, C.7.6.3.1.5); entries
    are 8 or 16 bits (the LUT Descriptor's third value) and 16-bit entries are scaled to bytes.
    An alpha palette, if present, is dropped: the viewer composes on black.
    """
    rgb = apply_color_lut(indices, ds)[..., :3]
    bits = 16 if rgb.dtype == np.uint16 else 8
    return to_8_bits(rgb, bits)


def to_display_rgb(pixels: np.ndarray, photometric_interpretation: str, ds: Dataset) -> np.ndarray:
    """Decoded colour ``pixels`` (in ``photometric_interpretation``) → (..., 3) uint8 RGB.

    ``photometric_interpretation`` is the one of the array (``DecodedFrame`` reports it), not
    necessarily the file's: a JPEG YBR_FULL_422 image arrives as RGB.
    """
    pi = str(photometric_interpretation).strip()
    if pi == "PALETTE COLOR":
        return apply_palette(pixels, ds)
    if pi in YBR_CONVERTIBLE:
        # C.7.6.3.1.2: YBR_FULL is full-range ITU-R BT.601 YCbCr; pydicom's conversion follows it
        pixels = convert_color_space(pixels, "YBR_FULL", "RGB")
    elif pi in ("YBR_ICT", "YBR_RCT"):
        raise ValueError(f"{pi} is a JPEG 2000 component transform; decode with the default options "
                         "so the codec returns RGB")
    elif pi != "RGB":
        raise ValueError(f"no colour display path for Photometric Interpretation {pi!r}")
    if pixels.ndim < 3 or pixels.shape[-1] != 3:
        raise ValueError(f"an RGB image needs 3 samples per pixel, got shape {pixels.shape}")
    bits = int(ds.get("BitsStored", 8) or 8) if pixels.dtype != np.uint8 else 8
    if pixels.dtype.kind == "i":
        pixels = np.clip(pixels, 0, None)
    return to_8_bits(pixels, bits)
