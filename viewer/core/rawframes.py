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


Codec = Callable[[bytes, "PixelSource"], np.ndarray]


def _codec(ts: str) -> Codec | None:
    """The fastest installed decoder for a transfer syntax (see :func:`_choose`)."""
    return _choose(ts)[0]


def decodes_without_gil(ts: str) -> bool:
    """True when the syntax's decoder releases the GIL, so frames decode in parallel on threads
    (imagecodecs' codecs: 1.8-2.1x on 2 threads here; pylibjpeg's and pyjpegls' hold it)."""
    return _choose(ts)[1]


@cache
def _choose(ts: str) -> tuple[Codec | None, bool]:
    """(decoder, releases the GIL) for a transfer syntax, chosen by measurement.

    CPU ms per 512x512 16-bit CT slice (bench series, one core): JPEG-LS 3.9 with CharLS
    (imagecodecs or pyjpegls) against 15 with libjpeg; JPEG Lossless 1.9 with libjpeg-turbo
    (imagecodecs), 5.3 with GDCM, 8.2 with libjpeg; JPEG 2000 23-24 with OpenJPEG 2.5
    (imagecodecs or pylibjpeg-openjpeg alike; GDCM's 26); RLE 0.7-0.8 (pylibjpeg-rle or
    imagecodecs' PackBits). Among equals, imagecodecs is preferred because it releases the
    GIL. The codec is called directly on the codestream: through pydicom's decoder plugins
    the same codecs cost 0.1 ms (RLE, CharLS) to 1.4 ms (GDCM) more per frame, 5-40 % of
    the decode. Without imagecodecs every syntax still decodes, through the next choice.
    """
    imagecodecs = _imagecodecs()
    try:
        if ts in JPEG_LS:
            if _has(imagecodecs, "JPEGLS"):
                return (lambda b, s: imagecodecs.jpegls_decode(b)), True
            try:
                from jpeg_ls import decode as charls_decode

                return (lambda b, s: charls_decode(np.frombuffer(b, np.uint8))), False
            except ImportError:
                pass
        if ts in JPEG_LOSSLESS:
            turbo = _imagecodecs_lossless(imagecodecs)
            if turbo is not None:
                return turbo, True
            gdcm_decode = _gdcm_decoder(ts)
            if gdcm_decode is not None:
                return gdcm_decode, False
        if ts in JPEG_LS or ts in JPEG_LOSSLESS:
            from libjpeg import decode as libjpeg_decode

            return (lambda b, s: libjpeg_decode(b)), False
        if ts in JPEG_2000:
            if _has(imagecodecs, "JPEG2K"):
                # one thread per frame: the loader decodes frames in parallel itself
                return (lambda b, s: imagecodecs.jpeg2k_decode(b, numthreads=1)), True
            from openjpeg import decode as openjpeg_decode

            return (lambda b, s: openjpeg_decode(b)), False
        if ts == RLE:
            from rle.utils import decode_pixel_data

            def rle_decode(b: bytes, s: PixelSource) -> np.ndarray:
                return np.frombuffer(decode_pixel_data(b, version=2, rows=s.rows, columns=s.columns,
                                                       bits_allocated=s.bits_allocated), f"<{s.dtype.str[1:]}")

            if _has(imagecodecs, "PACKBITS"):
                return _rle_packbits(imagecodecs.packbits_decode, rle_decode), True
            return rle_decode, False
    except ImportError:
        return None, False
    return None, False


def _imagecodecs():
    try:
        import imagecodecs
    except ImportError:
        return None
    return imagecodecs


def _has(imagecodecs, codec: str) -> bool:
    """True when imagecodecs is installed and was built with ``codec`` (builds may omit some)."""
    return imagecodecs is not None and bool(getattr(getattr(imagecodecs, codec, None), "available", False))


def _rle_packbits(packbits: Callable, fallback: Codec) -> Codec:
    """DICOM RLE (PS3.5 Annex G) with imagecodecs' PackBits decoder, which releases the GIL.

    An RLE segment is one byte plane, most significant byte first (G.2), compressed with the
    PackBits scheme of G.3.1. Anything but the plain case (one segment per byte of a
    grayscale sample, each decoding to exactly rows x columns bytes) goes to ``fallback``.
    """

    def decode(stream: bytes, src: PixelSource) -> np.ndarray:
        width = src.bits_allocated // 8
        pixels = src.rows * src.columns
        if len(stream) < 64:
            return fallback(stream, src)
        header = struct.unpack_from("<16I", stream)  # G.5: number of segments, 15 offsets
        count = header[0]
        offsets = [*header[1:1 + count], len(stream)]
        if count != width * src.samples or any(b <= a for a, b in itertools.pairwise(offsets)):
            return fallback(stream, src)
        data = memoryview(stream)
        planes = np.empty((count, pixels), np.uint8)
        for i in range(count):
            try:  # straight into the plane; a segment that decodes too long raises
                segment = packbits(data[offsets[i]:offsets[i + 1]], out=planes[i])
            except Exception:
                return fallback(stream, src)
            if len(segment) != pixels:
                return fallback(stream, src)
        if width == 1:
            return planes[0].view(src.dtype)
        combined = np.left_shift(planes[0], 8, dtype=np.uint16)  # high byte first (G.2)
        combined |= planes[1]
        return combined.view(src.dtype)

    return decode


def _imagecodecs_lossless(imagecodecs) -> Codec | None:
    """JPEG Lossless (Process 14) through imagecodecs, when installed: libjpeg-turbo 3
    decodes it (1.9 ms of CPU per CT slice against 5.3 with GDCM and 8.2 with libjpeg);
    imagecodecs' own lossless JPEG decoder (liblj92) is the fallback for streams that
    libjpeg-turbo refuses."""
    if not _has(imagecodecs, "JPEG8"):
        return None
    ljpeg = getattr(imagecodecs, "ljpeg_decode", None)

    def decode(stream: bytes, src: PixelSource) -> np.ndarray:
        try:
            return imagecodecs.jpeg8_decode(stream)
        except Exception:
            if ljpeg is None:
                raise
            return ljpeg(stream)

    return decode


def _gdcm_decoder(ts: str) -> Callable[[bytes, PixelSource], np.ndarray] | None:
    """JPEG Lossless through GDCM (python-gdcm) on the in-memory codestream, when installed.

    GDCM's JPEG lossless decoder needed 1.7 s of CPU for 400 CT slices where libjpeg needed
    3.5 s. The result is the raw bit pattern, masked afterwards exactly like libjpeg's.
    """
    try:
        import gdcm
    except ImportError:
        return None
    from viewer.core.codecs import gdcm_frame_image

    syntax = gdcm.TransferSyntax(gdcm.TransferSyntax.GetTSType(ts))
    mono = gdcm.PhotometricInterpretation(gdcm.PhotometricInterpretation.MONOCHROME2)

    def decode(stream: bytes, src: PixelSource) -> np.ndarray:
        image = gdcm_frame_image(gdcm, stream, src.columns, src.rows)
        image.SetPhotometricInterpretation(mono)
        image.SetTransferSyntax(syntax)
        bits = src.bits_allocated
        image.SetPixelFormat(gdcm.PixelFormat(1, bits, bits, bits - 1, int(src.signed)))
        raw = image.GetBuffer().encode("utf-8", "surrogateescape")
        if len(raw) != src.frame_bytes:
            raise ValueError(f"GDCM returned {len(raw)} bytes for a {src.frame_bytes}-byte frame")
        return np.frombuffer(raw, f"<u{bits // 8}")

    return decode


def _read_exact(fp, offset: int, length: int) -> bytes:
    fp.seek(offset)
    data = fp.read(length)
    if len(data) < length:
        raise EOFError(f"file ends {length - len(data)} bytes early")
    return data


def read_stored(src: PixelSource) -> np.ndarray | None:
    """Stored values (rows, columns) of one grayscale frame, or None to let pydicom decode it.

    Raises OSError/EOFError/ValueError for unreadable or truncated data; the loader turns
    those into a DecodeError that names the file and transfer syntax.
    """
    if not src.fast:
        return None
    with open(src.path, "rb", buffering=0) as fp:
        ts = src.transfer_syntax
        if ts in NATIVE_LE or ts == EXPLICIT_BE:
            raw = _read_exact(fp, src.value_offset + src.frame * src.frame_bytes, src.frame_bytes)
            dtype = src.dtype.newbyteorder(">" if ts == EXPLICIT_BE else "<")
            arr = np.frombuffer(raw, dtype).reshape(src.rows, src.columns)
            arr = arr.astype(src.dtype) if ts == EXPLICIT_BE else arr.copy()
            return _clear_unused_bits(arr, src)
        parts = src.codestream
        stream = _read_exact(fp, *parts[0]) if len(parts) == 1 else b"".join(
            _read_exact(fp, o, n) for o, n in parts)
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
    """PS3.5 8.1.1 as pydicom applies it: clear bits above Bits Stored, extend the sign.

    pydicom shifts left then right in the stored dtype; for unsigned values that is a mask,
    done here in one pass instead of two.
    """
    shift = src.bits_allocated - src.bits_stored
    if shift > 0:
        if arr.dtype.kind == "u":
            np.bitwise_and(arr, arr.dtype.type((1 << src.bits_stored) - 1), out=arr)
        else:
            np.left_shift(arr, shift, out=arr)
            np.right_shift(arr, shift, out=arr)
    return arr


def _preadv(fd: int, view: memoryview, offset: int) -> int:
    if hasattr(os, "preadv"):
        return os.preadv(fd, [view], offset)
    os.lseek(fd, offset, os.SEEK_SET)  # platforms without preadv (Windows)
    data = os.read(fd, view.nbytes)
    view[:len(data)] = data
    return len(data)


def read_native_into(src: PixelSource, dest: np.ndarray) -> bool:
    """Read an uncompressed frame straight into ``dest`` (same item size), as stored values.

    One ``preadv`` into the destination's own memory (no file object, no intermediate
    buffer, the GIL released while the kernel copies), then byte order and unused bits are
    fixed in place, so a volume loads at close to the speed of reading its files. ``dest``
    is viewed with the stored dtype; returns False (nothing read) when the frame is not
    native grayscale data of ``dest``'s size.
    """
    ts = src.transfer_syntax
    if not (src.fast and (ts in NATIVE_LE or ts == EXPLICIT_BE)) or dest.nbytes != src.frame_bytes:
        return False
    if not dest.flags.c_contiguous or dest.dtype.itemsize * 8 != src.bits_allocated:
        return False
    view = memoryview(dest.reshape(-1).view(np.uint8))
    fd = os.open(src.path, os.O_RDONLY | getattr(os, "O_BINARY", 0))
    try:  # os.preadv: one system call straight into dest, no file object, the GIL released
        offset, got = src.value_offset + src.frame * src.frame_bytes, 0
        while got < view.nbytes:
            more = _preadv(fd, view[got:], offset + got)
            if not more:
                raise EOFError(f"file ends {view.nbytes - got} bytes early")
            got += more
    finally:
        os.close(fd)
    stored = dest.view(src.dtype)
    if ts == EXPLICIT_BE and src.bits_allocated > 8:
        stored.byteswap(inplace=True)
    _clear_unused_bits(stored, src)
    return True


# --------------------------------------------------------------------------------------
# a quick header scan for the common single-frame file


#: Attributes the loader needs before any pixel is decoded: (keyword, kind) by tag.
#: kind: "us" unsigned short, "ss/us" by Pixel Representation, "ds" decimal strings,
#: "is" integer strings, "str" any other string value (kept as text, multi-values split).
QUICK_TAGS: dict[int, tuple[str, str]] = {
    0x00080008: ("ImageType", "str"),
    0x00080016: ("SOPClassUID", "str"),
    0x00080018: ("SOPInstanceUID", "str"),
    0x00080060: ("Modality", "str"),
    0x00180050: ("SliceThickness", "ds"),
    0x00180081: ("EchoTime", "ds"),
    0x00180086: ("EchoNumbers", "is"),
    0x00180088: ("SpacingBetweenSlices", "ds"),
    0x00181060: ("TriggerTime", "ds"),
    0x00189087: ("DiffusionBValue", "fd"),
    0x0020000E: ("SeriesInstanceUID", "str"),
    0x00200012: ("AcquisitionNumber", "is"),
    0x00200013: ("InstanceNumber", "is"),
    0x00200032: ("ImagePositionPatient", "ds"),
    0x00200037: ("ImageOrientationPatient", "ds"),
    0x00200052: ("FrameOfReferenceUID", "str"),
    0x00200100: ("TemporalPositionIdentifier", "is"),
    0x00280002: ("SamplesPerPixel", "us"),
    0x00280004: ("PhotometricInterpretation", "str"),
    0x00280008: ("NumberOfFrames", "is"),
    0x00280010: ("Rows", "us"),
    0x00280011: ("Columns", "us"),
    0x00280030: ("PixelSpacing", "ds"),
    0x00280100: ("BitsAllocated", "us"),
    0x00280101: ("BitsStored", "us"),
    0x00280103: ("PixelRepresentation", "us"),
    0x00280120: ("PixelPaddingValue", "ss/us"),
    0x00281052: ("RescaleIntercept", "ds"),
    0x00281053: ("RescaleSlope", "ds"),
}
#: Attributes whose presence sends the file to pydicom (the quick scan does not model them).
QUICK_REFUSE = {0x00283000, 0x52009229, 0x52009230, 0x00281201, 0x00281101}  # Modality LUT, FGs, palettes
_LONG_VRS = {b"OB", b"OD", b"OF", b"OL", b"OV", b"OW", b"SQ", b"SV", b"UC", b"UN", b"UR", b"UT", b"UV"}
_EXPLICIT_LE = "1.2.840.10008.1.2.1"
_ENCAPSULATED_LE = JPEG_LOSSLESS | JPEG_LS | JPEG_2000 | {RLE, "1.2.840.10008.1.2.4.50", "1.2.840.10008.1.2.4.51"}


_EXPLICIT_HEAD = struct.Struct("<HH2sH").unpack_from  # tag, VR, 16-bit length (PS3.5 7.1.2)
_IMPLICIT_HEAD = struct.Struct("<HHI").unpack_from  # tag, 32-bit length (PS3.5 7.1.3)
_U32 = struct.Struct("<I").unpack_from


class QuickAttrs(dict):
    """Header values by keyword, readable like a pydicom Dataset (``h.Rows``, ``h.get("Rows")``)."""

    def __getattr__(self, name: str):
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None


@dataclass(frozen=True)
class QuickHeader:
    """What :func:`quick_header` found: values, the header bytes and where the pixels are."""

    attrs: QuickAttrs
    header_bytes: bytes  # the file up to the Pixel Data element (parse with pydicom on demand)
    transfer_syntax: str
    sop_class_in_meta: str
    value_offset: int  # offset of the Pixel Data value
    value_length: int  # -1 for encapsulated data
    codestream: tuple[tuple[int, int], ...]  # fragments of the (single) frame when encapsulated


def _value(raw: bytes, kind: str, signed: bool) -> object:
    if kind == "us":
        return struct.unpack_from("<H", raw)[0] if len(raw) >= 2 else None
    if kind == "ss/us":
        return struct.unpack_from("<h" if signed else "<H", raw)[0] if len(raw) >= 2 else None
    if kind == "fd":
        return struct.unpack_from("<d", raw)[0] if len(raw) >= 8 else None
    text = raw.decode("latin-1").strip(" \x00")
    if kind == "str":
        parts = text.split("\\")
        return parts if len(parts) > 1 else text
    parts = [p.strip() for p in text.split("\\")]
    if not parts or parts == [""]:
        return None
    convert = float if kind == "ds" else int
    try:
        values = [convert(p) for p in parts]
    except ValueError:
        return None
    return values if len(values) > 1 else values[0]


def _skip_sequence(buf: bytes, pos: int, explicit: bool) -> int:
    """Offset just past an undefined-length sequence whose first item starts at ``pos``."""
    stack = ["S"]
    unpack = struct.unpack_from
    while stack:
        group, element = unpack("<HH", buf, pos)
        if group == 0xFFFE:
            (length,) = unpack("<I", buf, pos + 4)
            if element == 0xE000:
                if length == UNDEFINED:
                    stack.append("I")
                    pos += 8
                else:
                    pos += 8 + length
            elif element == 0xE00D:
                if stack.pop() != "I":
                    raise ValueError("item delimiter outside an item")
                pos += 8
            elif element == 0xE0DD:
                if stack.pop() != "S":
                    raise ValueError("sequence delimiter outside a sequence")
                pos += 8
            else:
                raise ValueError(f"unexpected (FFFE,{element:04X})")
            continue
        if explicit:
            vr = buf[pos + 4:pos + 6]
            if vr in _LONG_VRS:
                (length,) = unpack("<I", buf, pos + 8)
                pos += 12
            else:
                (length,) = unpack("<H", buf, pos + 6)
                pos += 8
        else:
            (length,) = unpack("<I", buf, pos + 4)
            pos += 8
        if length == UNDEFINED:
            stack.append("S")
        else:
            pos += length
    return pos


def quick_header(path: str, chunk: int = 16384) -> QuickHeader | None:
    """Scan a Part 10 file's header without pydicom, or None when pydicom must do it.

    About ten times faster than ``dcmread(stop_before_pixels=True)`` for the common case:
    a preamble + File Meta (PS3.10 7.1), Implicit or Explicit VR Little Endian dataset,
    single frame, no Modality LUT Sequence or functional groups. Only :data:`QUICK_TAGS` are
    decoded; the header bytes are kept so the full dataset can be parsed on demand. Anything
    unusual (raw datasets, big endian, deflate, malformed lengths) returns None.
    """
    with open(path, "rb") as fp:
        buf = fp.read(chunk)
        if len(buf) < 144 or buf[128:132] != b"DICM":
            return None
        unpack = struct.unpack_from
        pos = 132
        meta: dict[int, bytes] = {}
        while pos + 8 <= len(buf):
            group, element = unpack("<HH", buf, pos)
            if group != 0x0002:
                break
            vr = buf[pos + 4:pos + 6]
            if vr in _LONG_VRS:
                (length,) = unpack("<I", buf, pos + 8)
                start = pos + 12
            else:
                (length,) = unpack("<H", buf, pos + 6)
                start = pos + 8
            meta[element] = buf[start:start + length]
            pos = start + length
        ts = meta.get(0x0010, b"").decode("latin-1").strip(" \x00")
        if ts not in (IMPLICIT_LE, _EXPLICIT_LE) and ts not in _ENCAPSULATED_LE:
            return None
        explicit = ts != IMPLICIT_LE
        raw: dict[int, bytes] = {}
        try:
            while True:
                if pos + 12 > len(buf):
                    more = fp.read(max(chunk, len(buf)))
                    if not more:
                        return None
                    buf += more
                    continue
                if explicit:
                    group, element, vr, length = _EXPLICIT_HEAD(buf, pos)
                    if vr in _LONG_VRS:
                        (length,) = _U32(buf, pos + 8)
                        start = pos + 12
                    else:
                        start = pos + 8
                else:
                    group, element, length = _IMPLICIT_HEAD(buf, pos)
                    start = pos + 8
                tag = group << 16 | element
                if tag == 0x7FE00010:
                    break
                if group == 0xFFFE or tag in QUICK_REFUSE or group > 0x7FE0:
                    return None
                if length == UNDEFINED:
                    while True:  # sequences: read on until the whole sequence is in the buffer
                        try:
                            pos = _skip_sequence(buf, start, explicit)
                            break
                        except struct.error:
                            more = fp.read(max(chunk, len(buf)))
                            if not more:
                                return None
                            buf += more
                    continue
                end = start + length
                while end > len(buf):
                    more = fp.read(max(chunk, end - len(buf)))
                    if not more:
                        return None
                    buf += more
                if tag in QUICK_TAGS:
                    raw[tag] = buf[start:end]
                pos = end
            if explicit:
                if buf[pos + 4:pos + 6] not in (b"OB", b"OW", b"UN"):
                    return None
                (length,) = unpack("<I", buf, pos + 8)
                value_offset = pos + 12
            else:
                (length,) = unpack("<I", buf, pos + 4)
                value_offset = pos + 8
            codestream: tuple[tuple[int, int], ...] = ()
            if length == UNDEFINED:
                streams = frame_codestreams(fp, value_offset, 1)
                codestream = streams[0] if streams else ()
        except (struct.error, ValueError, EOFError):
            return None
    signed = bool(raw.get(0x00280103)) and _value(raw[0x00280103], "us", False) == 1
    attrs = QuickAttrs()
    for tag, value in raw.items():
        keyword, kind = QUICK_TAGS[tag]
        decoded = _value(value, kind, signed)
        if decoded is not None and decoded != "":
            attrs[keyword] = decoded
    if int(attrs.get("NumberOfFrames", 1) or 1) != 1 or "Rows" not in attrs:
        return None
    return QuickHeader(attrs, bytes(buf[:pos]), ts, meta.get(0x0002, b"").decode("latin-1").strip(" \x00"),
                       value_offset, -1 if length == UNDEFINED else length, codestream)
