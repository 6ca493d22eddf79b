"""Finding the series in a set of files (a folder the user opened, an imported media).

Files are grouped by Series Instance UID from their headers, never by file name or folder:
CDs carry 8.3 names and one folder may hold many series.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from viewer.core.errors import DicomReadError
from viewer.core.reading import read_header

DICOMDIR_CLASS = "1.2.840.10008.1.3.10"  # Media Storage Directory Storage (PS3.10 8.6)


@dataclass
class SeriesFiles:
    """The files of one series with what a browser shows about it."""

    series_uid: str
    study_uid: str
    modality: str
    number: int | None
    description: str
    paths: list[Path] = field(default_factory=list)


@dataclass
class SeriesScan:
    """Series found, plus the files that were not DICOM images (with reasons)."""

    series: list[SeriesFiles]
    skipped: list[tuple[Path, str]]


def iter_files(source: str | os.PathLike[str] | Iterable[str | os.PathLike[str]]) -> list[Path]:
    """A file, a folder (recursively, any file names) or an iterable of those → file paths."""
    items = [source] if isinstance(source, str | os.PathLike) else list(source)
    files: list[Path] = []
    for item in map(Path, items):
        if item.is_dir():
            files += sorted(p for p in item.rglob("*") if p.is_file())
        else:
            files.append(item)
    return files


def find_series(source: str | os.PathLike[str] | Iterable[str | os.PathLike[str]]) -> SeriesScan:
    """Group the image files under ``source`` into series, ordered by series number."""
    by_uid: dict[str, SeriesFiles] = {}
    skipped: list[tuple[Path, str]] = []
    for path in iter_files(source):
        try:
            ds = read_header(path)
        except DicomReadError as exc:
            skipped.append((path, exc.reason))
            continue
        if ds.file_meta.get("MediaStorageSOPClassUID") == DICOMDIR_CLASS:
            skipped.append((path, "DICOMDIR (media directory, not an image)"))
            continue
        if "Rows" not in ds:
            skipped.append((path, "no image (no Rows attribute)"))
            continue
        uid = str(ds.get("SeriesInstanceUID", "")) or f"no-series-uid:{path.parent}"
        series = by_uid.get(uid)
        if series is None:
            number = ds.get("SeriesNumber")
            series = by_uid[uid] = SeriesFiles(
                series_uid=uid,
                study_uid=str(ds.get("StudyInstanceUID", "")),
                modality=str(ds.get("Modality", "")),
                number=int(number) if number not in (None, "") else None,
                description=str(ds.get("SeriesDescription", "")),
            )
        series.paths.append(path)
    ordered = sorted(by_uid.values(), key=lambda s: (s.number is None, s.number or 0, s.series_uid))
    return SeriesScan(ordered, skipped)
