"""Where a frame's pixel bytes are in its file, and the fast way to turn them into stored values.

Loading a 400-slice series is dominated by per-file overhead, so the volume loader does not
keep whole datasets around: a header pass notes, for every frame, the byte offset of its
pixel data (:class:`PixelSource`); the pixel pass then reads exactly those bytes and
decodes them straight into the frame's slot of a preallocated volume.

:func:`read_stored` is that fast path. It handles the common grayscale case (one sample,
8 or 16 bits allocated) for native little/big endian data and for the codecs pydicom's
pylibjpeg plugins use, called directly on the codestream (one call per frame instead of
pydicom's per-call dataset validation). It must give exactly what pydicom 3 (and so
:func:`viewer.core.decode.decode_frame`) gives, including the Bits Stored handling of
PS3.5 8.1.1 as pydicom implements it:

* native, RLE and JPEG (lossless) data: unused high bits are cleared, and for signed data
  the sign bit (Bits Stored - 1) is extended: ``(v << (BA - BS)) >> (BA - BS)`` in the
  dtype Pixel Representation asks for;
* JPEG-LS: only signed data is sign-extended (CharLS and libjpeg return the bit pattern);
* JPEG 2000: the codestream carries its own signedness; when it disagrees with Pixel
  Representation pydicom shifts by the codestream precision, which we do not parse, so
  that rare case falls back to pydicom.

Anything else (colour, deflate, float pixel data, 32-bit, odd encapsulation) returns None
and the caller decodes through :mod:`viewer.core.decode`.
"""

from __future__ import annotations

import itertools
import os
import struct
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache

import numpy as np

NATIVE_LE = {"1.2.840.10008.1.2", "1.2.840.10008.1.2.1"}
IMPLICIT_LE = "1.2.840.10008.1.2"
EXPLICIT_BE = "1.2.840.10008.1.2.2"
JPEG_LOSSLESS = {"1.2.840.10008.1.2.4.57", "1.2.840.10008.1.2.4.70"}
JPEG_LS = {"1.2.840.10008.1.2.4.80", "1.2.840.10008.1.2.4.81"}
JPEG_2000 = {"1.2.840.10008.1.2.4.90", "1.2.840.10008.1.2.4.91", "1.2.840.10008.1.2.4.201",
             "1.2.840.10008.1.2.4.202", "1.2.840.10008.1.2.4.203"}
RLE = "1.2.840.10008.1.2.5"
PIXEL_DATA_TAG = (0x7FE0, 0x0010)
ITEM, SEQUENCE_DELIMITER = 0xE000, 0xE0DD
UNDEFINED = 0xFFFFFFFF


@dataclass(frozen=True)
class PixelSource:
    """Everything needed to decode one frame without parsing its header again."""

    path: str
    frame: int  # index in the file (0 for single-frame files)
    frames: int  # Number of Frames of the file
    transfer_syntax: str
    rows: int
    columns: int
    samples: int
    bits_allocated: int
    bits_stored: int
    signed: bool
    photometric: str
    value_offset: int = -1  # file offset of the Pixel Data value, -1 when unknown
    value_length: int = -1  # -1 for encapsulated (undefined length) data
    codestream: tuple[tuple[int, int], ...] = ()  # (offset, length) fragments of this frame

    @property
    def fast(self) -> bool:
        """True when :func:`read_stored` can decode the frame without pydicom."""
        if self.value_offset < 0 or self.samples != 1 or self.bits_allocated not in (8, 16):
            return False
        if not self.photometric.startswith("MONOCHROME"):
            return False
        ts = self.transfer_syntax
        if ts in NATIVE_LE or ts == EXPLICIT_BE:
            return self.value_length >= self.frames * self.frame_bytes
        return self.value_length < 0 and bool(self.codestream) and _codec(ts) is not None

    @property
    def frame_bytes(self) -> int:
        return self.rows * self.columns * self.bits_allocated // 8

    @property
    def dtype(self) -> np.dtype:
        """The stored-value dtype pydicom gives (Pixel Representation, Bits Allocated)."""
        return np.dtype(f"{'i' if self.signed else 'u'}{self.bits_allocated // 8}")


def pixel_element_at(fp, offset: int, transfer_syntax: str) -> tuple[int, int] | None:
    """Parse the Pixel Data element header at ``offset`` → (value offset, value length or -1).

    pydicom's ``stop_before_pixels`` leaves the file positioned on that header; implicit VR
    headers are 8 bytes, explicit VR OB/OW headers 12 (PS3.5 7.1.1, 7.1.2).
    """
    fp.seek(offset)
    head = fp.read(12)
    if len(head) < 8:
        return None
    big = transfer_syntax == EXPLICIT_BE
    group, element = struct.unpack(">HH" if big else "<HH", head[:4])
    if (group, element) != PIXEL_DATA_TAG:
        return None
    if transfer_syntax == IMPLICIT_LE:
        (length,) = struct.unpack("<I", head[4:8])
        start = offset + 8
    else:
        if len(head) < 12 or head[4:6] not in (b"OB", b"OW", b"UN"):
            return None
        (length,) = struct.unpack(">I" if big else "<I", head[8:12])
        start = offset + 12
    return start, (-1 if length == UNDEFINED else length)


def fragments(fp, value_offset: int) -> tuple[tuple[int, int], list[tuple[int, int]]]:
    """Walk the items of encapsulated Pixel Data (PS3.5 A.4) by seeking over them.

    Returns the Basic Offset Table item (offset, length) and the fragments' (offset, length),
    without reading the compressed bytes themselves.
    """
    items: list[tuple[int, int]] = []
    pos = value_offset
    fp.seek(pos)
    while True:
        head = fp.read(8)
        if len(head) < 8:
            raise ValueError("encapsulated Pixel Data ends without a Sequence Delimitation Item")
        group, element, length = struct.unpack("<HHI", head)
        if group != 0xFFFE:
            raise ValueError(f"unexpected tag ({group:04X},{element:04X}) inside encapsulated Pixel Data")
        if element == SEQUENCE_DELIMITER:
            break
        if element != ITEM or length == UNDEFINED:
            raise ValueError(f"malformed item ({group:04X},{element:04X}) in encapsulated Pixel Data")
        items.append((pos + 8, length))
        pos += 8 + length
        fp.seek(pos)
    if not items:
        raise ValueError("encapsulated Pixel Data has no Basic Offset Table item")
    return items[0], items[1:]


def frame_codestreams(
    fp, value_offset: int, frames: int
) -> list[tuple[tuple[int, int], ...]] | None:
    """Fragments of each frame of an encapsulated multi-frame object, or None if ambiguous.

    One fragment per frame is the common case; otherwise the Basic Offset Table (PS3.5
    A.4, offsets from the first fragment's item tag) says where frames start. Without a
    table and with more fragments than frames we do not guess: the caller falls back to
    pydicom, which inspects JPEG markers.
    """
    bot, frags = fragments(fp, value_offset)
    if frames == 1:
        return [tuple(frags)]
    if len(frags) == frames:
        return [(f,) for f in frags]
    if bot[1] == 0 or not frags:
        return None
    fp.seek(bot[0])
    offsets = list(struct.unpack(f"<{bot[1] // 4}I", fp.read(bot[1])))
    if len(offsets) != frames:
        return None
    base = frags[0][0] - 8
    starts = [base + o for o in offsets] + [frags[-1][0] + frags[-1][1] + 8]
    out = []
    for a, b in itertools.pairwise(starts):
        out.append(tuple(f for f in frags if a <= f[0] - 8 < b))
    return out


@cache
def _codec(ts: str) -> Callable[[bytes, PixelSource], np.ndarray] | None:
    """The fastest installed decoder for a transfer syntax, chosen by measurement.

    Measured on 512x512 16-bit CT slices (one core): JPEG-LS with CharLS (pyjpegls) about
    3.7x faster than libjpeg, so CharLS is preferred when installed; JPEG Lossless with
    libjpeg 8 ms; JPEG 2000 with OpenJPEG 22 ms; RLE 0.6 ms.
    """
    try:
        if ts in JPEG_LS:
            try:
                from jpeg_ls import decode as charls_decode

                return lambda b, s: charls_decode(np.frombuffer(b, np.uint8))
            except ImportError:
                pass
        if ts in JPEG_LS or ts in JPEG_LOSSLESS:
            from libjpeg import decode as libjpeg_decode

            return lambda b, s: libjpeg_decode(b)
        if ts in JPEG_2000:
            from openjpeg import decode as openjpeg_decode

            return lambda b, s: openjpeg_decode(b)
        if ts == RLE:
            from rle.utils import decode_pixel_data

            return lambda b, s: np.frombuffer(
                decode_pixel_data(b, version=2, rows=s.rows, columns=s.columns,
                                  bits_allocated=s.bits_allocated), f"<{s.dtype.str[1:]}")
    except ImportError:
        return None
    return None


def _read_exact(fd: int, offset: int, length: int) -> bytes:
    data = os.pread(fd, length, offset)
    while len(data) < length:  # pread may return short reads on some file systems
        more = os.pread(fd, length - len(data), offset + len(data))
        if not more:
            raise EOFError(f"file ends {length - len(data)} bytes early")
        data += more
    return data


def read_stored(src: PixelSource) -> np.ndarray | None:
    """Stored values (rows, columns) of one grayscale frame, or None to let pydicom decode it.

    Raises OSError/EOFError/ValueError for unreadable or truncated data; the loader turns
    those into a DecodeError that names the file and transfer syntax.
    """
    if not src.fast:
        return None
    fd = os.open(src.path, os.O_RDONLY)
    try:
        ts = src.transfer_syntax
        if ts in NATIVE_LE or ts == EXPLICIT_BE:
            raw = _read_exact(fd, src.value_offset + src.frame * src.frame_bytes, src.frame_bytes)
            dtype = src.dtype.newbyteorder(">" if ts == EXPLICIT_BE else "<")
            arr = np.frombuffer(raw, dtype).reshape(src.rows, src.columns)
            arr = arr.astype(src.dtype) if ts == EXPLICIT_BE else arr.copy()
            return _clear_unused_bits(arr, src)
        parts = src.codestream
        stream = _read_exact(fd, *parts[0]) if len(parts) == 1 else b"".join(
            _read_exact(fd, o, n) for o, n in parts)
    finally:
        os.close(fd)
    decoded = _codec(ts)(stream, src)  # type: ignore[misc]
    if decoded.size != src.rows * src.columns or decoded.dtype.itemsize * 8 != src.bits_allocated:
        return None
    if ts in JPEG_2000:
        if (decoded.dtype.kind == "i") != src.signed:
            return None  # the codestream's signedness disagrees: pydicom's precision-based fix
        return decoded.reshape(src.rows, src.columns)
    arr = decoded.reshape(src.rows, src.columns).view(src.dtype)
    if not arr.flags.writeable:
        arr = arr.copy()
    if ts in JPEG_LS:
        return _clear_unused_bits(arr, src) if src.signed else arr
    return _clear_unused_bits(arr, src)


def _clear_unused_bits(arr: np.ndarray, src: PixelSource) -> np.ndarray:
    """PS3.5 8.1.1 as pydicom applies it: clear bits above Bits Stored, extend the sign."""
    shift = src.bits_allocated - src.bits_stored
    if shift > 0:
        np.left_shift(arr, shift, out=arr)
        np.right_shift(arr, shift, out=arr)
    return arr
