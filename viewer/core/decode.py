"""Decoding pixel data into stored values, one frame on demand, for every image transfer syntax.

The result is the array of *stored values* (PS3.5 8.1.1; PS3.3 C.7.6.3.1): only the Bits Stored
bits of each Bits Allocated cell count, so unused high bits are masked off and, for Pixel
Representation 1, the value is sign-extended from bit Bits Stored - 1 (pydicom's
``correct_unused_bits`` for native, RLE and JPEG data; its codestream-precision sign correction
for JPEG-LS and JPEG 2000). No Modality or VOI transform is applied here.

Colour: the array has Samples per Pixel in the last axis with Planar Configuration 0 whatever the
file's Planar Configuration was, and YBR_FULL / YBR_FULL_422 / YBR_ICT / YBR_RCT data come out
as RGB (pydicom's default processing, PS3.3 C.7.6.3.1.2); :func:`decode_frame_with_properties`
says which photometric interpretation the returned array is in. PALETTE COLOR data stays as
indices; :mod:`viewer.core.pixels.color` applies the palette.

Decoders are chosen per transfer syntax by :mod:`viewer.core.codecs` (fastest first, by
measurement) and tried one after another, so a file that breaks one codec can still decode with
the next. Every failure becomes a :class:`~viewer.core.errors.DecodeError` (or its subclass
:class:`~viewer.core.errors.UnsupportedTransferSyntax`) naming the file, the transfer syntax and
each decoder's reason.
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pydicom
from pydicom.dataset import Dataset
from pydicom.encaps import generate_frames, get_frame
from pydicom.pixels import pixel_array
from pydicom.pixels.decoders.base import get_decoder
from pydicom.uid import (
    UID,
    ImplicitVRLittleEndian,
    JPEG2000TransferSyntaxes,
    JPEGLSTransferSyntaxes,
    JPEGTransferSyntaxes,
)

from viewer.core.codecs import plugin_order
from viewer.core.errors import DecodeError, UnsupportedTransferSyntax

PIXEL_DATA_KEYWORDS = ("PixelData", "FloatPixelData", "DoubleFloatPixelData")

#: Syntaxes whose codestream ends with an end marker: EOI in JPEG (ISO 10918-1 B.2.1) and JPEG-LS
#: (ISO 14495-1 C.1.1), EOC in JPEG 2000 (ISO 15444-1 A.3.4), both the bytes FF D9.
END_MARKER_SYNTAXES = frozenset(JPEGTransferSyntaxes) | frozenset(JPEGLSTransferSyntaxes) | frozenset(
    JPEG2000TransferSyntaxes)
END_MARKER = b"\xff\xd9"
#: How far before the end of a fragment the marker may sit (even-length padding, stray bytes).
END_MARKER_WINDOW = 16


@dataclass(frozen=True)
class DecodedFrame:
    """One decoded frame and what describes it after decoding.

    ``photometric_interpretation`` is that of ``pixels``, which differs from the file's when the
    decoder converted YBR to RGB. ``plugin`` is the pydicom decoding plugin that succeeded
    ("" for native data), so a caller can keep using it for the other frames of the image.
    """

    pixels: np.ndarray
    photometric_interpretation: str
    plugin: str


def number_of_frames(ds: Dataset) -> int:
    """Number of Frames (0028,0008), 1 when absent or empty (PS3.3 C.7.6.6)."""
    try:
        return max(int(ds.get("NumberOfFrames", 1) or 1), 1)
    except (TypeError, ValueError):
        return 1


def transfer_syntax(ds: Dataset) -> UID:
    """The dataset's Transfer Syntax UID; Implicit VR Little Endian for a preamble-less file.

    PS3.5 10.1: the default transfer syntax, the one a dataset without File Meta Information
    (old ACR-NEMA-style media) is encoded in.
    """
    meta = getattr(ds, "file_meta", None)
    ts = meta.get("TransferSyntaxUID") if meta is not None else None
    return UID(ts) if ts else ImplicitVRLittleEndian


def describe(ds: Dataset) -> tuple[str, str]:
    """``(path, "Name UID")`` for error messages."""
    path = str(getattr(ds, "filename", None) or "<dataset>")
    ts = transfer_syntax(ds)
    return path, f"{ts.name} {ts}" if ts.is_valid and ts.name != str(ts) else str(ts)


def decode_frame(ds: Dataset, index: int = 0) -> np.ndarray:
    """Stored values of frame ``index``: (rows, columns) or (rows, columns, samples).

    Only that frame is decoded: native data is sliced, encapsulated data is located through the
    Extended or Basic Offset Table, or by walking the fragments when both are empty.
    """
    return decode_frame_with_properties(ds, index).pixels


def decode_frame_with_properties(ds: Dataset, index: int = 0, plugin: str | None = None) -> DecodedFrame:
    """Decode frame ``index`` and report its photometric interpretation and the plugin used.

    ``plugin`` pins a pydicom decoding plugin (e.g. the one that decoded frame 0), otherwise the
    installed plugins are tried fastest first.
    """
    n = number_of_frames(ds)
    path, ts_text = describe(ds)
    if not 0 <= index < n:
        raise IndexError(f"{path}: frame {index} requested, the image has {n} frame(s)")
    _require_pixel_data(ds, path, ts_text)
    arr, props, used = _decode(ds, ts_text, path, index=index, plugin=plugin)
    _check_shape(ds, arr, path, ts_text, frames=None)
    photometric = props.get("photometric_interpretation", ds.get("PhotometricInterpretation", ""))
    return DecodedFrame(arr, str(photometric), used)


def decode_all_frames(ds: Dataset) -> np.ndarray:
    """Stored values of every frame: (frames, rows, columns[, samples])."""
    path, ts_text = describe(ds)
    _require_pixel_data(ds, path, ts_text)
    arr, _props, _used = _decode(ds, ts_text, path, index=None)
    if number_of_frames(ds) == 1:
        arr = arr[np.newaxis]
    _check_shape(ds, arr, path, ts_text, frames=number_of_frames(ds))
    return arr


def decode_file_frame(path: str | os.PathLike[str], index: int = 0) -> np.ndarray:
    """Stored values of frame ``index`` read straight from a file.

    Reads the header and only the bytes of that frame (pydicom ``pixel_array(path, index=)``),
    so slice k of a large multi-frame file is ready without loading or decoding the others.
    Preamble-less files go through :func:`viewer.core.reading.read_dataset` instead.
    """
    from viewer.core.reading import is_part10, read_dataset, read_header

    header = read_header(path)
    if not is_part10(header):
        return decode_frame(read_dataset(path), index)
    n = number_of_frames(header)
    ts_text = describe(header)[1]
    if not 0 <= index < n:
        raise IndexError(f"{path}: frame {index} requested, the image has {n} frame(s)")
    _require_pixel_data_in_file(header, path, ts_text)
    arr, _props, _used = _decode(Path(path), ts_text, str(path), index=index,
                                 syntax=transfer_syntax(header))
    _check_shape(header, arr, str(path), ts_text, frames=None)
    return arr


# --- internals --------------------------------------------------------------------------------


def _require_pixel_data(ds: Dataset, path: str, ts_text: str) -> None:
    if not any(k in ds for k in PIXEL_DATA_KEYWORDS):
        raise DecodeError(path, ts_text, "the file has no pixel data")
    for keyword in ("Rows", "Columns", "BitsAllocated"):
        if keyword not in ds:
            raise DecodeError(path, ts_text, f"the Image Pixel module lacks {keyword} (PS3.3 C.7.6.3)")


def _require_pixel_data_in_file(header: Dataset, path: str | os.PathLike[str], ts_text: str) -> None:
    # read_header stops before the pixel data; its presence is known from the image attributes
    for keyword in ("Rows", "Columns", "BitsAllocated"):
        if keyword not in header:
            raise DecodeError(path, ts_text, f"no image: the Image Pixel module lacks {keyword}")


def _decode(
    src: Dataset | Path,
    ts_text: str,
    path: str,
    *,
    index: int | None,
    plugin: str | None = None,
    syntax: UID | None = None,
) -> tuple[np.ndarray, dict, str]:
    """Try the decoding plugins in measured order; collect every reason if all fail."""
    ts = syntax if syntax is not None else transfer_syntax(src)  # type: ignore[arg-type]
    try:
        plugins = [plugin] if plugin is not None else plugin_order(ts)
    except NotImplementedError as exc:
        raise UnsupportedTransferSyntax(path, ts_text, f"no pixel data decoder exists ({exc})") from exc
    if not plugins:
        missing = "; ".join(get_decoder(ts).missing_dependencies) or "no plugin"
        raise UnsupportedTransferSyntax(path, ts_text, f"no installed decoder (missing: {missing})")
    if ts in END_MARKER_SYNTAXES:
        _require_end_markers(src, ts, path, ts_text, index)
    reasons = []
    for name in plugins:
        try:
            if isinstance(src, Path):
                arr = pixel_array(src, index=index, decoding_plugin=name)
                props = {}
            else:
                arr, props = get_decoder(ts).as_array(src, index=index, decoding_plugin=name)
            return arr, props, name
        except (NotImplementedError, ValueError, RuntimeError, KeyError, IndexError, OSError, EOFError,
                TypeError, AttributeError, struct.error) as exc:  # pydicom and the codecs raise these on bad data
            reason = _last_line(exc).removeprefix(f"{name}: ")
            reasons.append(f"{name or 'native'}: {reason}")
    raise DecodeError(path, ts_text, "; ".join(reasons))


def _require_end_markers(src: Dataset | Path, ts: UID, path: str, ts_text: str, index: int | None) -> None:
    """Refuse a frame whose codestream lost its end: a truncated fragment.

    Some decoders (libjpeg for JPEG-LS, measured) return an image from a truncated codestream
    without complaint, with wrong pixels after the cut. The end marker (FF D9) cannot occur
    inside entropy-coded data (JPEG stuffs FF 00, JPEG-LS follows FF with a byte below 0x80,
    JPEG 2000 packet data never holds FF90-FFFF), so its absence near the end means bytes are
    missing. Frames that cannot even be located are left to the decoders to report.
    """
    try:
        if isinstance(src, Path):
            codestreams = [_file_frame_codestream(src, index or 0)] if index is not None else []
        else:
            n = number_of_frames(src)
            offsets = _extended_offsets(src)
            codestreams = ([get_frame(src.PixelData, index, number_of_frames=n, extended_offsets=offsets)]
                           if index is not None else
                           list(generate_frames(src.PixelData, number_of_frames=n)))
    except (ValueError, KeyError, IndexError, OSError, EOFError, TypeError, AttributeError, struct.error):
        return
    first = index or 0
    for k, codestream in enumerate(codestreams):
        if codestream is not None and END_MARKER not in bytes(codestream[-END_MARKER_WINDOW:]):
            raise DecodeError(path, ts_text, f"frame {first + k}: truncated codestream (no end marker FF D9 "
                                             f"in its last {END_MARKER_WINDOW} bytes)")


def _extended_offsets(ds: Dataset) -> tuple[bytes, bytes] | None:
    if "ExtendedOffsetTable" in ds and "ExtendedOffsetTableLengths" in ds:
        return ds.ExtendedOffsetTable, ds.ExtendedOffsetTableLengths
    return None


def _file_frame_codestream(path: Path, index: int) -> bytes | None:
    """One frame's codestream read from the file: header, then only that frame's fragments."""
    with path.open("rb") as f:
        header = pydicom.dcmread(f, stop_before_pixels=True)
        tag = f.read(12)
        # (7FE0,0010) OB with undefined length: encapsulated Pixel Data (PS3.5 A.4)
        if tag[:4] != b"\xe0\x7f\x10\x00" or tag[8:12] != b"\xff\xff\xff\xff":
            return None
        return get_frame(f, index, number_of_frames=number_of_frames(header),
                         extended_offsets=_extended_offsets(header))


def _last_line(exc: BaseException) -> str:
    """pydicom wraps plugin failures in multi-line messages; the last line is the cause."""
    lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
    return lines[-1] if lines else type(exc).__name__


def _check_shape(ds: Dataset, arr: np.ndarray, path: str, ts_text: str, frames: int | None) -> None:
    """Never return a silently wrong image: the array must have the declared geometry."""
    expected: tuple[int, ...] = (int(ds.Rows), int(ds.Columns))
    samples = int(ds.get("SamplesPerPixel", 1) or 1)
    if samples > 1:
        expected += (samples,)
    if frames is not None:
        expected = (frames, *expected)
    if arr.shape != expected:
        raise DecodeError(path, ts_text, f"decoded shape {arr.shape} does not match the header's {expected}")
