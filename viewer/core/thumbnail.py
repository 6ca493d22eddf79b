"""Series thumbnails: the middle image at its own window, small enough for a strip.

The middle image shows the anatomy better than the first (often a scout edge), and the file's
window is the one the modality chose for it (PS3.3 C.11.2.1.2); otherwise the automatic one.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np

from viewer.core.decode import decode_frame_with_properties, number_of_frames
from viewer.core.pixels.color import is_color, to_display_rgb
from viewer.core.pixels.modality import apply_modality_lut
from viewer.core.pixels.voi import apply_window, default_window
from viewer.core.reading import read_dataset

THUMBNAIL_SIZE = 128


def shrink(image: np.ndarray, size: int = THUMBNAIL_SIZE) -> np.ndarray:
    """Area-average ``image`` so its longer side is at most ``size`` pixels."""
    factor = max(1, int(np.ceil(max(image.shape[:2]) / size)))
    if factor == 1:
        return image
    rows, cols = (image.shape[0] // factor) * factor, (image.shape[1] // factor) * factor
    cropped = image[:rows, :cols].astype(np.float32)
    shape = (rows // factor, factor, cols // factor, factor, *image.shape[2:])
    return cropped.reshape(shape).mean(axis=(1, 3)).round().astype(np.uint8)


def series_thumbnail(paths: Sequence[str | os.PathLike[str]], size: int = THUMBNAIL_SIZE) -> np.ndarray:
    """The middle image of ``paths`` (in the order given) as uint8 grey (h, w) or RGB (h, w, 3)."""
    ds = read_dataset(paths[len(paths) // 2])
    frame = number_of_frames(ds) // 2
    decoded = decode_frame_with_properties(ds, frame)
    if is_color(decoded.photometric_interpretation):
        return shrink(to_display_rgb(decoded.pixels, decoded.photometric_interpretation, ds), size)
    values = apply_modality_lut(decoded.pixels, ds, frame if number_of_frames(ds) > 1 else None)
    grey = apply_window(values, default_window(ds, values), 0.0, 255.0)
    if str(ds.get("PhotometricInterpretation", "")).strip() == "MONOCHROME1":
        grey = 255.0 - grey  # PS3.3 C.7.6.3.1.2: minimum value is white
    return shrink(np.round(grey).astype(np.uint8), size)
