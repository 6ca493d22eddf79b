"""Overlay planes (PS3.3 C.9.2 Overlay Plane Module, C.9.3 Multi-frame Overlay): a separate
boolean layer drawn over the image, never burnt into the pixel values.

Each of up to 16 repeating groups 6000-601E (even) holds one plane: Overlay Rows/Columns, Overlay
Origin (row\\column of the overlay's top-left pixel relative to the image, 1-based: "the upper
left pixel of the image is 1\\1", C.9.2.1.1), Overlay Type (G graphics, R region of interest),
and 1-bit Overlay Data packed little-bit-first (PS3.5 8.1.2, decoded by pydicom).

Older images (before the 2004 retirement, still common in archives) embed the overlay in the
unused high bits of Pixel Data instead: Overlay Bits Allocated equals Bits Allocated and Overlay
Bit Position names the bit (PS3.3 2003 C.9.2.1.3; PS3.5 8.1.2). Those planes are read from the
raw pixel cells, before the Bits Stored masking that keeps them out of the stored values.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from pydicom.dataset import Dataset
from pydicom.pixels.decoders.base import get_decoder

OVERLAY_GROUPS = tuple(range(0x6000, 0x6020, 2))


@dataclass(frozen=True)
class OverlayPlane:
    """One overlay plane with its bits (frames, rows, columns) and where it sits on the image."""

    group: int
    rows: int
    columns: int
    origin: tuple[int, int]  # (row, column), 1-based, may be negative or beyond the image
    type: str  # "G" graphics or "R" region of interest
    label: str
    description: str
    first_frame: int  # Image Frame Origin (C.9.3.1.1), 1-based
    bits: np.ndarray = field(repr=False, compare=False)

    @property
    def frames(self) -> int:
        return int(self.bits.shape[0])

    def covers_frame(self, frame: int) -> bool:
        """True when this plane applies to image frame ``frame`` (0-based)."""
        return self.first_frame - 1 <= frame < self.first_frame - 1 + self.frames


def overlay_planes(ds: Dataset, frame: int = 0) -> list[OverlayPlane]:
    """Every overlay plane: from Overlay Data (60xx,3000), or embedded in the pixel cells.

    ``frame`` only matters for embedded planes, which are read from that image frame.
    """
    planes = []
    for group in OVERLAY_GROUPS:
        if (group, 0x0010) not in ds or (group, 0x0011) not in ds:
            continue
        rows, columns = int(ds[group, 0x0010].value), int(ds[group, 0x0011].value)
        origin_elem = ds.get((group, 0x0050))
        origin = tuple(int(v) for v in origin_elem.value) if origin_elem is not None else (1, 1)
        first_frame = int(_text(ds, group, 0x0051) or 1)
        if (group, 0x3000) in ds:
            bits = np.asarray(ds.overlay_array(group), dtype=bool)
        elif _is_embedded(ds, group):
            bits = embedded_overlay_bits(ds, group, frame)[: rows, : columns]
            first_frame = frame + 1
        else:
            continue
        if bits.ndim == 2:
            bits = bits[np.newaxis]
        if bits.shape[1:] != (rows, columns):
            raise ValueError(f"overlay {group:04X}: data shape {bits.shape[1:]} is not {rows}x{columns}")
        planes.append(OverlayPlane(
            group=group,
            rows=rows,
            columns=columns,
            origin=(origin[0], origin[1]) if len(origin) >= 2 else (1, 1),
            type=str(_text(ds, group, 0x0040) or "G").upper(),
            label=_text(ds, group, 0x1500),
            description=_text(ds, group, 0x0022),
            first_frame=first_frame,
            bits=bits,
        ))
    return planes


def _is_embedded(ds: Dataset, group: int) -> bool:
    """Retired embedded overlay: Overlay Bits Allocated = Bits Allocated, bit above Bits Stored."""
    allocated = ds.get((group, 0x0100))
    position = ds.get((group, 0x0102))
    if allocated is None or position is None or "PixelData" not in ds:
        return False
    bits_allocated = int(ds.get("BitsAllocated", 0) or 0)
    return (int(allocated.value) == bits_allocated > 1
            and int(ds.get("BitsStored", bits_allocated)) <= int(position.value) < bits_allocated)


def embedded_overlay_bits(ds: Dataset, group: int, frame: int = 0) -> np.ndarray:
    """Bit Overlay Bit Position (60xx,0102) of every raw pixel cell of ``frame`` (rows, columns).

    Decoded with ``correct_unused_bits=False`` so the high bits survive; only native (and RLE)
    pixel data can carry them, since lossy and JPEG codecs code Bits Stored bits only.
    """
    position = int(ds[group, 0x0102].value)
    syntax = ds.file_meta.get("TransferSyntaxUID", "1.2.840.10008.1.2")
    raw, _ = get_decoder(syntax).as_array(ds, index=frame, correct_unused_bits=False, raw=True)
    return ((raw.astype(np.uint64) >> position) & 1).astype(bool)


def _text(ds: Dataset, group: int, element: int) -> str:
    elem = ds.get((group, element))
    return "" if elem is None or elem.value is None else str(elem.value).strip()


def overlay_layer(ds: Dataset, frame: int = 0, planes: list[OverlayPlane] | None = None) -> np.ndarray | None:
    """Union of the overlay planes for image ``frame``, placed on the image grid (rows, columns).

    Each plane's bit (r, c) lands at image pixel (origin_row - 1 + r, origin_col - 1 + c); bits
    that fall outside the image are cropped. None when the image has no overlay.
    """
    planes = overlay_planes(ds, frame) if planes is None else planes
    if not planes:
        return None
    rows, columns = int(ds.Rows), int(ds.Columns)
    layer = np.zeros((rows, columns), dtype=bool)
    for plane in planes:
        if not plane.covers_frame(frame):
            continue
        bits = plane.bits[frame - (plane.first_frame - 1)]
        top, left = plane.origin[0] - 1, plane.origin[1] - 1
        r0, c0 = max(top, 0), max(left, 0)
        r1, c1 = min(top + plane.rows, rows), min(left + plane.columns, columns)
        if r1 > r0 and c1 > c0:
            layer[r0:r1, c0:c1] |= bits[r0 - top:r1 - top, c0 - left:c1 - left]
    return layer
