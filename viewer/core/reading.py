"""Reading DICOM files: Part 10 files and the preamble-less datasets old media still carry.

Every reader in Lightbox comes through here so that a non-DICOM or truncated file always
becomes a :class:`~viewer.core.errors.DicomReadError` that names the file and the reason,
never a bare pydicom traceback.
"""

from __future__ import annotations

import os
from pathlib import Path

import pydicom
from pydicom.dataset import FileDataset
from pydicom.errors import InvalidDicomError
from pydicom.uid import ImplicitVRLittleEndian

from viewer.core.errors import DicomReadError

PathLike = str | os.PathLike[str]


def read_dataset(path: PathLike, *, with_pixels: bool = True) -> FileDataset:
    """Read a DICOM file; ``with_pixels=False`` stops before Pixel Data (headers only).

    A file without the 128-byte preamble and ``DICM`` prefix (PS3.10 7.1) is read as a raw
    dataset only if it starts with a plausible group 0008 element; its Transfer Syntax is
    then Implicit VR Little Endian, the PS3.5 10.1 default. :func:`is_part10` tells which.
    """
    path = Path(path)
    try:
        try:
            ds = pydicom.dcmread(path, stop_before_pixels=not with_pixels)
        except InvalidDicomError:
            if not _looks_like_raw_dataset(path):
                raise DicomReadError(path, "not a DICOM file (no DICM prefix, no dataset)") from None
            ds = pydicom.dcmread(path, stop_before_pixels=not with_pixels, force=True)
            if "SOPInstanceUID" not in ds and "SOPClassUID" not in ds:
                raise DicomReadError(path, "not a DICOM file (no SOP Instance UID)") from None
            if "TransferSyntaxUID" not in ds.file_meta:
                ds.file_meta.TransferSyntaxUID = ImplicitVRLittleEndian
    except DicomReadError:
        raise
    except (OSError, EOFError) as exc:
        raise DicomReadError(path, f"{type(exc).__name__}: {exc}") from exc
    except Exception as exc:  # pydicom raises many types for corrupt data; name them all
        raise DicomReadError(path, f"corrupt or truncated ({type(exc).__name__}: {exc})") from exc
    if "SOPInstanceUID" not in ds and ds.file_meta.get("MediaStorageSOPClassUID") != "1.2.840.10008.1.3.10":
        raise DicomReadError(path, "no SOP Instance UID")
    return ds


def read_header(path: PathLike) -> FileDataset:
    """Read a file's attributes without its pixel data (for indexing and sorting)."""
    return read_dataset(path, with_pixels=False)


def is_part10(ds: FileDataset) -> bool:
    """True when the file had the PS3.10 preamble and File Meta Information."""
    return getattr(ds, "preamble", None) is not None


def _looks_like_raw_dataset(path: Path) -> bool:
    """A preamble-less dataset starts with an element of group 0002 or 0008 (little endian)."""
    try:
        with path.open("rb") as f:
            head = f.read(8)
    except OSError as exc:
        raise DicomReadError(path, str(exc)) from exc
    return len(head) == 8 and head[1] == 0 and head[0] in (0x02, 0x08)
