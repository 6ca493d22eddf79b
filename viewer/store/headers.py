"""Read the attributes the index needs from a DICOM file, fast, and spot truncated files.

Indexing thousands of files is dominated by header parsing, and a full pydicom ``dcmread``
builds a Dataset of every element (~1,700 files/s on one core here). This module walks the
encoded elements itself for the transfer syntaxes that cover nearly every file on disk
(Explicit and Implicit VR Little Endian, and the encapsulated syntaxes, which use Explicit
VR Little Endian outside the pixel data; PS3.5 A.1-A.4), keeps only the values in
:data:`INDEX_KEYWORDS` and stops at Pixel Data. Everything unusual -- big endian, deflate,
a dataset without File Meta, an element that does not parse -- falls back to pydicom through
:mod:`viewer.core.reading` (reading those rare files whole), so the fast path never guesses.

Because the walk reaches the Pixel Data element, it also checks that the file is long enough
for it (a defined length ends inside the file; encapsulated pixel data ends with a Sequence
Delimitation Item, PS3.5 A.4), and that an image has Pixel Data at all: a truncated copy from
a scratched CD is reported, not indexed.

Functions here are picklable top-level functions: the importer runs them in worker
processes.
"""

from __future__ import annotations

import io
import os
import struct
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import BinaryIO

from pydicom.charset import convert_encodings, decode_bytes
from pydicom.datadict import dictionary_VR, tag_for_keyword
from pydicom.dataset import Dataset
from pydicom.uid import UID
from pydicom.valuerep import PersonName

from viewer.core.errors import DicomReadError
from viewer.core.reading import is_part10, read_dataset, read_header

MEDIA_STORAGE_DIRECTORY = "1.2.840.10008.1.3.10"  # the SOP Class of a DICOMDIR (PS3.10 8)
IMPLICIT_LE = "1.2.840.10008.1.2"
EXPLICIT_LE = "1.2.840.10008.1.2.1"
_SLOW_SYNTAXES = {"1.2.840.10008.1.2.2", "1.2.840.10008.1.2.1.99"}  # big endian, deflate

INDEX_KEYWORDS: tuple[str, ...] = (
    "SpecificCharacterSet",
    "PatientName", "PatientID", "IssuerOfPatientID", "PatientBirthDate", "PatientSex",
    "StudyInstanceUID", "StudyDate", "StudyTime", "StudyDescription", "AccessionNumber",
    "ReferringPhysicianName", "StudyID",
    "SeriesInstanceUID", "SeriesNumber", "SeriesDescription", "Modality", "BodyPartExamined",
    "FrameOfReferenceUID",
    "SOPInstanceUID", "SOPClassUID", "InstanceNumber", "NumberOfFrames",
    "Rows",  # not indexed: an image whose file ends before its Pixel Data is truncated
)
_WANTED: dict[int, tuple[str, str]] = {
    tag_for_keyword(k): (k, dictionary_VR(tag_for_keyword(k))) for k in INDEX_KEYWORDS  # type: ignore[arg-type]
}


def _swapped(tag: int) -> int:
    """A tag as the 32-bit little-endian word its encoding starts with (element << 16 | group)."""
    return (tag & 0xFFFF) << 16 | tag >> 16


_WANTED_SWAPPED = {_swapped(t): (t, vr) for t, (_k, vr) in _WANTED.items()}
_PIXEL_TAGS = {0x7FE00010, 0x7FE00008, 0x7FE00009}  # Pixel Data, Float / Double Float Pixel Data
_PIXEL_SWAPPED = frozenset(_swapped(t) for t in _PIXEL_TAGS)
# Other bulk data an object with Rows may carry instead of Pixel Data: Spectroscopy Data
# (PS3.3 C.8.14.4), Encapsulated Document (C.24.2), Waveform Sequence (C.10.9), Overlay Data
# of the first overlay group (C.9.2; 6000-601E,3000 share the rule, the first is what objects use).
_BULK_TAGS = {0x56000020: "SpectroscopyData", 0x00420011: "EncapsulatedDocument", 0x54000100: "WaveformSequence",
              0x60003000: "OverlayData"}
_BULK_SWAPPED = frozenset(_swapped(t) for t in _BULK_TAGS)
# VRs with a 2-byte reserved field and a 4-byte length in explicit VR (PS3.5 7.1.2, table 7.1-1)
_LONG_VRS = {b"OB", b"OD", b"OF", b"OL", b"OV", b"OW", b"SQ", b"SV", b"UC", b"UN", b"UR", b"UT", b"UV"}
_TEXT_VRS = {"PN", "LO", "SH", "ST", "LT", "UC", "UT"}
_FAST_CHARSETS = {"": "latin_1", "ISO_IR 6": "latin_1", "ISO_IR 100": "latin_1", "ISO_IR 192": "utf_8"}
_SEQ_DELIMITER = b"\xfe\xff\xdd\xe0\x00\x00\x00\x00"
_UNDEFINED = 0xFFFFFFFF
_H, _I = struct.Struct("<H"), struct.Struct("<I")
PREFIX = 8192  # the header of nearly every image fits; longer ones are read on demand


@dataclass(frozen=True)
class InstanceHeader:
    """The indexed attributes of one instance (strings decoded, "" when absent)."""

    source: str  # where it was read (path, or "archive.zip!member")
    size: int
    part10: bool
    transfer_syntax: str
    patient_name: str
    patient_id: str
    issuer: str
    birth_date: str
    sex: str
    study_uid: str
    study_date: str
    study_time: str
    study_description: str
    accession: str
    referring_physician: str
    study_id: str
    series_uid: str
    series_number: int | None
    series_description: str
    modality: str
    body_part: str
    frame_of_reference_uid: str
    sop_uid: str
    sop_class_uid: str
    instance_number: int | None
    frames: int


@dataclass(frozen=True)
class FileProblem:
    """Why a file is not indexed: ``skipped`` (not DICOM, a DICOMDIR), ``failed``, or ``archive``."""

    source: str
    kind: str  # "skipped" | "failed" | "archive" (a ZIP to open)
    reason: str


HeaderResult = InstanceHeader | FileProblem


class _Fallback(Exception):
    """The fast walker met something it does not handle; pydicom takes over."""


class _Truncated(Exception):
    pass


class _Reader:
    """Forward-only random access to a file that reads only the chunks actually needed."""

    def __init__(self, f: BinaryIO, size: int) -> None:
        self.f, self.size = f, size
        self.base = 0
        self.buf = f.read(PREFIX)

    def get(self, pos: int, n: int) -> bytes:
        end = pos + n
        if end > self.size:
            raise _Truncated(f"truncated: an element at byte {pos} needs {n} bytes, the file has {self.size}")
        if pos < self.base or end > self.base + len(self.buf):
            self.f.seek(pos)
            self.buf = self.f.read(max(n, PREFIX))
            self.base = pos
        off = pos - self.base
        return self.buf[off:off + n]


def _walk(r: _Reader, pos: int, explicit: bool, end: int, out: dict[int, tuple[str, bytes]],
          stop_at_pixels: bool, stop_at: frozenset[int] = frozenset()) -> tuple[int, int | None]:
    """Walk elements from ``pos`` to ``end``; return (position reached, Pixel Data offset or None).

    ``stop_at`` (swapped tags, without ``stop_at_pixels``): stop at the first of these instead
    and return its offset as the second value.

    Collects the raw values of wanted top-level tags into ``out``. Item/sequence delimiters end
    the walk (for nested datasets of undefined length). This loop is the indexing hot spot:
    it works on the reader's buffer directly, asks the reader only at buffer edges, and reads
    each tag as one little-endian 32-bit word (element << 16 | group) to save an unpack.
    """
    size = r.size
    buf, base = r.buf, r.base
    limit = base + len(buf)
    unpack_i, unpack_h = _I.unpack_from, _H.unpack_from
    wanted = _WANTED_SWAPPED if stop_at_pixels else {}
    pixel_tags = _PIXEL_SWAPPED if stop_at_pixels else stop_at
    long_vrs = _LONG_VRS
    while pos < end:
        if pos < base or pos + 12 > limit:
            if pos + 8 > size:
                raise _Truncated(f"truncated: the file ends inside an element header at byte {pos}")
            r.get(pos, min(12, size - pos))
            buf, base = r.buf, r.base
            limit = base + len(buf)
        off = pos - base
        (word,) = unpack_i(buf, off)
        if word & 0xFFFF == 0xFFFE:  # item delimiter (E00D) / sequence delimiter (E0DD) end nested data
            if stop_at_pixels:
                raise _Fallback(f"delimiter at top level at {pos}")
            return pos + 8, None
        if word in pixel_tags:
            return pos, pos
        if explicit:
            vr = buf[off + 4:off + 6]
            if vr in long_vrs:
                if pos + 12 > size:
                    raise _Truncated(f"truncated: the file ends inside an element header at byte {pos}")
                (length,) = unpack_i(buf, off + 8)
                pos += 12
            else:
                if not (65 <= vr[0] <= 90 and 65 <= vr[1] <= 90):
                    raise _Fallback(f"bad VR bytes at {pos}")
                (length,) = unpack_h(buf, off + 6)
                pos += 8
        else:
            vr = b""
            (length,) = unpack_i(buf, off + 4)
            pos += 8
        if length == _UNDEFINED:
            if explicit and vr != b"SQ":
                raise _Fallback("undefined length outside a sequence")
            pos = _skip_sequence(r, pos, explicit)
            buf, base = r.buf, r.base
            limit = base + len(buf)
            continue
        if word in wanted:
            tag, value_vr = wanted[word]
            if base <= pos and pos + length <= limit:
                out[tag] = (value_vr, buf[pos - base:pos - base + length])
            else:
                out[tag] = (value_vr, r.get(pos, length))
                buf, base = r.buf, r.base
                limit = base + len(buf)
        pos += length
        if pos > size:
            raise _Truncated(f"truncated: element ({word & 0xFFFF:04X},{word >> 16:04X}) ends at byte {pos}, "
                             f"the file has {size}")
    return pos, None


def _skip_sequence(r: _Reader, pos: int, explicit: bool) -> int:
    """Skip a sequence of undefined length (items of defined or undefined length)."""
    while True:
        head = r.get(pos, 8)
        group, elem, length = struct.unpack("<HHI", head)
        pos += 8
        if (group, elem) == (0xFFFE, 0xE0DD):
            return pos
        if (group, elem) != (0xFFFE, 0xE000):
            raise _Fallback(f"unexpected tag in a sequence at {pos - 8}")
        if length == _UNDEFINED:
            pos, _ = _walk(r, pos, explicit, r.size, {}, stop_at_pixels=False)
        else:
            pos += length


def _decoded(values: dict[int, tuple[str, bytes]]) -> dict[str, str]:
    """Keyword -> text of the collected values, decoded per Specific Character Set (PS3.5 6.1)."""
    charset_item = values.get(0x00080005)
    charset = _decode("CS", charset_item[1], None, "ascii") if charset_item else ""
    fast = _FAST_CHARSETS.get(charset)
    encodings = None if fast else convert_encodings([c.strip() for c in charset.split("\\")])
    return {_WANTED[tag][0]: _decode(vr, raw, encodings, fast) for tag, (vr, raw) in values.items()}


def _decode(vr: str, raw: bytes, encodings: list[str] | None, fast: str | None) -> str:
    if vr in _TEXT_VRS:
        if fast is not None:
            text = raw.decode(fast, errors="replace")
        elif vr == "PN":
            text = str(PersonName(raw).decode(encodings))
        else:
            text = decode_bytes(raw, encodings or ["iso8859"], {9, 10, 12, 13})
    else:
        text = raw.decode("ascii", errors="replace")
    return text.strip(" \0")


def _int(text: str) -> int | None:
    text = text.split("\\")[0].strip()
    try:
        return int(text)
    except ValueError:
        try:
            return int(float(text))
        except ValueError:
            return None


def _da(text: str) -> str:
    """A date as YYYYMMDD; ACR-NEMA's "YYYY.MM.DD" (still found on old media) is converted.

    PS3.5 6.2 (DA) lists the dotted form as a retired format; indexing the standard one keeps
    date-range queries and newest-first sorting right.
    """
    if len(text) == 10 and text[4] == "." and text[7] == ".":
        return text.replace(".", "")
    return text


def _tm(text: str) -> str:
    """A time as HHMMSS[.F]; the retired "HH:MM:SS" form (PS3.5 6.2, TM) is converted."""
    if len(text) >= 8 and text[2] == ":" and text[5] == ":":
        return text[:2] + text[3:5] + text[6:]
    return text


def _header(source: str, size: int, part10: bool, ts: str, get: Callable[[str], str]) -> HeaderResult:
    missing = [k for k in ("StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID") if not get(k)]
    if missing:
        return FileProblem(source, "failed", f"missing {', '.join(missing)}")
    return InstanceHeader(
        source=source, size=size, part10=part10, transfer_syntax=ts,
        # empty trailing components and groups carry no meaning (PS3.5 6.2.1.1): "A^B=" is "A^B"
        patient_name=get("PatientName").rstrip("=^ "), patient_id=get("PatientID"),
        issuer=get("IssuerOfPatientID"),
        birth_date=_da(get("PatientBirthDate")), sex=get("PatientSex"),
        study_uid=get("StudyInstanceUID"), study_date=_da(get("StudyDate")), study_time=_tm(get("StudyTime")),
        study_description=get("StudyDescription"), accession=get("AccessionNumber"),
        referring_physician=get("ReferringPhysicianName").rstrip("=^ "), study_id=get("StudyID"),
        series_uid=get("SeriesInstanceUID"), series_number=_int(get("SeriesNumber")),
        series_description=get("SeriesDescription"), modality=get("Modality"),
        body_part=get("BodyPartExamined"), frame_of_reference_uid=get("FrameOfReferenceUID"),
        sop_uid=get("SOPInstanceUID"), sop_class_uid=get("SOPClassUID"),
        instance_number=_int(get("InstanceNumber")), frames=_int(get("NumberOfFrames")) or 1,
    )


def _fast(f: BinaryIO, size: int, source: str) -> HeaderResult:
    r = _Reader(f, size)
    head = r.buf
    if head[:4] == b"PK\x03\x04":  # a ZIP archive (PKZIP APPNOTE 4.3.7): the importer opens it
        return FileProblem(source, "archive", "a ZIP archive")
    if len(head) < 132 or head[128:132] != b"DICM":
        raise _Fallback("no preamble")
    meta: dict[int, tuple[str, bytes]] = {}
    pos = 132
    while pos + 8 <= size:  # File Meta Information: group 0002, always Explicit VR LE (PS3.10 7.1)
        (group,) = struct.unpack("<H", r.get(pos, 2))
        if group != 0x0002:
            break
        vr = r.get(pos + 4, 2)
        if vr in _LONG_VRS:
            (length,) = struct.unpack("<I", r.get(pos + 8, 4))
            hdr = 12
        else:
            (length,) = struct.unpack("<H", r.get(pos + 6, 2))
            hdr = 8
        (tag,) = struct.unpack("<I", r.get(pos, 4))
        tag = (tag & 0xFFFF) << 16 | tag >> 16
        if tag in (0x00020002, 0x00020010):
            meta[tag] = ("UI", r.get(pos + hdr, length))
        pos += hdr + length
    ts = meta.get(0x00020010, ("UI", b""))[1].decode("ascii", "replace").strip(" \0")
    sop_class_meta = meta.get(0x00020002, ("UI", b""))[1].decode("ascii", "replace").strip(" \0")
    if sop_class_meta == MEDIA_STORAGE_DIRECTORY:
        return FileProblem(source, "skipped", "a DICOMDIR (a directory of the media, not an instance)")
    if not ts or ts in _SLOW_SYNTAXES:
        raise _Fallback(f"transfer syntax {ts!r}")
    explicit = ts != IMPLICIT_LE
    values: dict[int, tuple[str, bytes]] = {}
    _, pixel_at = _walk(r, pos, explicit, size, values, stop_at_pixels=True)
    if pixel_at is not None:
        _check_pixel_data(r, pixel_at, explicit)
    texts = _decoded(values)
    if not texts.get("SOPClassUID") and sop_class_meta:
        texts["SOPClassUID"] = sop_class_meta
    if pixel_at is None and (_is_image_class(texts.get("SOPClassUID", "")) or (
            0x00280010 in values and _walk(r, pos, explicit, size, {}, False, _BULK_SWAPPED)[1] is None)):
        # The walk reached the end of the file between two elements (a cut inside one raised
        # already). An image needs Pixel Data (the Image Pixel Module, PS3.3 C.7.6.3); other
        # objects with Rows (MR Spectroscopy, ...) need their own bulk data: without either,
        # the file was cut short. Files without Pixel Data are rare: the second walk is cheap.
        raise _Truncated("truncated: the file ends before the Pixel Data of the image")
    return _header(source, size, True, ts, lambda k: texts.get(k, ""))


@lru_cache(maxsize=512)
def _is_image_class(sop_class: str) -> bool:
    """Whether instances of this SOP Class carry pixel data (the "... Image Storage" classes)."""
    name = UID(sop_class).name if sop_class else ""
    return "Image Storage" in name


def _check_pixel_data(r: _Reader, pos: int, explicit: bool) -> None:
    if explicit:
        (length,) = struct.unpack("<I", r.get(pos + 8, 4))
        value_at = pos + 12
    else:
        (length,) = struct.unpack("<I", r.get(pos + 4, 4))
        value_at = pos + 8
    if length != _UNDEFINED:
        if value_at + length > r.size:
            raise _Truncated(f"truncated: pixel data needs {length} bytes from byte {value_at}, "
                             f"the file has {r.size}")
        return
    tail_at = max(value_at, r.size - 256)  # trailing padding may follow the delimiter
    if _SEQ_DELIMITER not in r.get(tail_at, r.size - tail_at):
        raise _Truncated("truncated: encapsulated pixel data has no Sequence Delimitation Item "
                         "(PS3.5 A.4) at the end of the file")


def header_from_dataset(ds: Dataset, source: str, size: int) -> HeaderResult:
    """The index attributes of an already-parsed dataset (network receipts, fallbacks)."""
    meta = getattr(ds, "file_meta", None) or Dataset()
    if meta.get("MediaStorageSOPClassUID") == MEDIA_STORAGE_DIRECTORY:
        return FileProblem(source, "skipped", "a DICOMDIR (a directory of the media, not an instance)")

    def get(keyword: str) -> str:
        if keyword == "SOPClassUID" and "SOPClassUID" not in ds:
            return str(meta.get("MediaStorageSOPClassUID", ""))
        value = ds.get(keyword)
        if value is None or value == "":
            return ""
        if isinstance(value, list | tuple) or type(value).__name__ == "MultiValue":
            return "\\".join(str(v) for v in value).strip(" \0")
        return str(value).strip(" \0")

    part10 = is_part10(ds) if hasattr(ds, "preamble") else True
    ts = str(meta.get("TransferSyntaxUID", IMPLICIT_LE))
    return _header(source, size, part10, ts, get)


def read_index_header(path: str | os.PathLike[str]) -> HeaderResult:
    """Index attributes of the file at ``path``, or why it cannot be indexed.

    Non-DICOM files (and DICOMDIRs) come back as ``skipped``; unreadable, corrupt and truncated
    DICOM files as ``failed`` with a reason a user can act on.
    """
    source = str(path)
    try:
        with open(path, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            try:
                return _fast(f, size, source)
            except _Truncated as exc:
                return FileProblem(source, "failed", str(exc))
            except (_Fallback, struct.error, UnicodeDecodeError, LookupError):
                pass
    except OSError as exc:
        return FileProblem(source, "failed", f"cannot read: {exc.strerror or exc}")
    return _slow(Path(path), size, source)


def _slow(path: Path, size: int, source: str) -> HeaderResult:
    """pydicom for what the fast walk does not handle (big endian, deflate, no File Meta).

    These files are rare, so they are read whole: pydicom silently returns a short Pixel
    Data value for a truncated file, which only the full read lets us measure.
    """
    try:
        ds = read_header(path)
    except DicomReadError as exc:
        kind = "skipped" if exc.reason.startswith("not a DICOM file") else "failed"
        return FileProblem(source, kind, exc.reason)
    result = header_from_dataset(ds, source, size)
    if isinstance(result, InstanceHeader) and ("Rows" in ds or _is_image_class(result.sop_class_uid)):
        try:
            full = read_dataset(path, with_pixels=True)
        except DicomReadError as exc:
            return FileProblem(source, "failed", exc.reason)
        problem = _short_pixel_data(full, _is_image_class(result.sop_class_uid))
        if problem:
            return FileProblem(source, "failed", problem)
    return result


def _short_pixel_data(ds: Dataset, image: bool) -> str | None:
    """Why native Pixel Data is shorter than its image needs (PS3.5 8.1.1), or None.

    No Pixel Data is a cut only for an image, or for an object with Rows and no other bulk
    data (see ``_fast``).
    """
    if "PixelData" not in ds:
        if image or not any(t in ds for t in (*_PIXEL_TAGS, *_BULK_TAGS)):
            return "truncated: the file ends before the Pixel Data of the image"
        return _short_spectroscopy_data(ds)
    if ds["PixelData"].is_undefined_length:
        return None  # encapsulated: a missing delimiter already failed the parse
    try:
        bits = int(ds.Rows) * int(ds.Columns) * int(ds.get("SamplesPerPixel", 1)) * int(ds.BitsAllocated)
        bits *= int(ds.get("NumberOfFrames", 1) or 1)
    except (AttributeError, TypeError, ValueError):
        return None
    needed = (bits + 7) // 8
    have = len(ds.PixelData)
    return f"truncated: pixel data has {have} of {needed} bytes" if have < needed else None


def _short_spectroscopy_data(ds: Dataset) -> str | None:
    """Why Spectroscopy Data is shorter than its points need (PS3.3 C.8.14.4.1), or None.

    Data Point Rows x Data Point Columns x Number of Frames points of 32-bit floats, two per
    point when the Data Representation is COMPLEX; pydicom reads a cut value short silently.
    """
    if "SpectroscopyData" not in ds:
        return None
    try:
        points = int(ds.DataPointRows) * int(ds.DataPointColumns) * int(ds.get("NumberOfFrames", 1) or 1)
    except (AttributeError, TypeError, ValueError):
        return None
    needed = points * (2 if str(ds.get("DataRepresentation", "")).upper() == "COMPLEX" else 1) * 4
    have = len(ds["SpectroscopyData"].value or b"")
    return f"truncated: spectroscopy data has {have} of {needed} bytes" if have < needed else None


def read_index_header_bytes(data: bytes, source: str, scratch: Path | None = None) -> HeaderResult:
    """Like :func:`read_index_header` for bytes in memory (a ZIP member, a received instance).

    The pydicom fallback needs a file: ``scratch`` (a path it may write and remove), else a
    temporary file.
    """
    try:
        return _fast(io.BytesIO(data), len(data), source)
    except _Truncated as exc:
        return FileProblem(source, "failed", str(exc))
    except (_Fallback, struct.error, UnicodeDecodeError, LookupError):
        pass
    if scratch is None:
        fd, name = tempfile.mkstemp(prefix="lightbox-", suffix=".dcm")
        os.close(fd)
        scratch = Path(name)
    scratch.write_bytes(data)
    try:
        result = _slow(scratch, len(data), source)
    finally:
        scratch.unlink(missing_ok=True)
    if isinstance(result, FileProblem):
        return FileProblem(source, result.kind, result.reason.replace(str(scratch), source))
    return result


def read_index_headers(paths: list[str]) -> list[HeaderResult]:
    """A chunk of files, for a worker process (one round trip per chunk)."""
    return [read_index_header(p) for p in paths]
