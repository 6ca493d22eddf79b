"""Turn what the user dropped (files, folders, DICOMDIR media, ZIP archives) into a file list.

Media from CDs are the central case: a DICOMDIR at the root lists the files (PS3.10 8,
PS3.3 F.3), with Referenced File IDs in upper case that a mounted CD or a copied folder may
present in lower case, with an ISO 9660 version suffix (``;1``) or a trailing dot. Those are
resolved case-insensitively. A DICOMDIR that does not parse, or that references files that
are not there, is not trusted: the folder is scanned instead and the report says so.

Files on the media that the DICOMDIR does not list are read too, after the listed ones:
DICOM files among them are imported (nothing on the disc is lost to an incomplete
DICOMDIR; the report says how many), the rest (autorun.inf, a viewer, PDFs) is counted as
skipped.

ZIP archives are recognised by content (a local file header, PKZIP APPNOTE 4.3.7), not by
name, and their members are read from the archive without extracting them to disk.
"""

from __future__ import annotations

import os
import warnings
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pydicom
from pydicom.fileset import FileSet

DICOMDIR_NAME = "DICOMDIR"
ZIP_MAGIC = b"PK\x03\x04"


@dataclass(frozen=True)
class Listing:
    """The files found in what the user gave, plus what the listing itself has to say."""

    files: list[Path]
    archives: list[Path]  # ZIP files given directly (members are read later)
    warnings: list[str]
    missing: list[str]  # paths given that do not exist
    unlisted: dict[Path, Path]  # file on DICOMDIR media that the DICOMDIR omits -> that DICOMDIR


def is_zip(path: Path) -> bool:
    try:
        with open(path, "rb") as f:
            return f.read(4) == ZIP_MAGIC
    except OSError:
        return False


def list_sources(paths: list[Path]) -> Listing:
    """Expand ``paths`` into files in a stable order (ZIPs inside folders are found later, by content)."""
    files: list[Path] = []
    archives: list[Path] = []
    notes: list[str] = []
    missing: list[str] = []
    unlisted: dict[Path, Path] = {}

    def media(dicomdir: Path) -> None:
        listed = _dicomdir_files(dicomdir, notes)
        if listed is None:
            files.extend(walk(dicomdir.parent))
            return
        files.extend(listed)
        known = {*listed, dicomdir}
        for extra in walk(dicomdir.parent):
            if extra not in known:
                files.append(extra)
                unlisted[extra] = dicomdir

    for path in paths:
        path = Path(os.path.abspath(path))  # every listed file is absolute (linked paths are stored so)
        if path.is_dir():
            dicomdir = _find_dicomdir(path)
            if dicomdir:
                media(dicomdir)
            else:
                files.extend(walk(path))
        elif path.is_file():
            if path.name.upper() == DICOMDIR_NAME:
                media(path)
            elif is_zip(path):
                archives.append(path)
            else:
                files.append(path)
        else:
            missing.append(str(path))
    unique = list(dict.fromkeys(files))  # a file given twice (a folder and a file in it) is read once
    return Listing(unique, archives, notes, missing, unlisted)


def walk(folder: Path) -> Iterator[Path]:
    """Every regular file under ``folder``, depth first in name order; symlinked folders are not followed."""
    try:
        entries = sorted(os.scandir(folder), key=lambda e: e.name)
    except OSError:
        return
    for entry in entries:
        try:
            if entry.is_dir(follow_symlinks=False):
                yield from walk(Path(entry.path))
            elif entry.is_file():
                yield Path(entry.path)
        except OSError:
            continue


def _find_dicomdir(folder: Path) -> Path | None:
    try:
        for entry in os.scandir(folder):
            if entry.name.upper() == DICOMDIR_NAME and entry.is_file():
                return Path(entry.path)
    except OSError:
        return None
    return None


def _dicomdir_files(dicomdir: Path, notes: list[str]) -> list[Path] | None:
    """The files a DICOMDIR references, or None (with a note) when it cannot be trusted."""
    root = dicomdir.parent
    try:
        ds = pydicom.dcmread(dicomdir)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # missing files are reported below, by name
            FileSet(ds)  # validates the record tree (offsets, record types)
        records = ds.DirectoryRecordSequence
    except Exception as exc:  # pydicom raises many types for a broken DICOMDIR
        notes.append(f"{dicomdir}: the DICOMDIR cannot be read ({type(exc).__name__}: {exc}); "
                     f"scanned the folder instead")
        return None
    resolver = _CaseInsensitive(root)
    found: list[Path] = []
    unresolved: list[str] = []
    seen: set[Path] = set()
    for record in records:
        file_id = record.get("ReferencedFileID")
        if not file_id:
            continue
        parts = [file_id] if isinstance(file_id, str) else list(file_id)
        path = resolver.resolve(parts)
        if path is None:
            unresolved.append("/".join(parts))
        elif path not in seen:
            seen.add(path)
            found.append(path)
    if unresolved:
        notes.append(f"{dicomdir}: the DICOMDIR references {len(unresolved)} missing file(s) "
                     f"(e.g. {unresolved[0]}); scanned the folder instead")
        return None
    if not found:
        notes.append(f"{dicomdir}: the DICOMDIR references no files; scanned the folder instead")
        return None
    return found


class _CaseInsensitive:
    """Resolve File ID components against the real folder names, ignoring case and ISO 9660 suffixes."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._listings: dict[Path, dict[str, str]] = {}

    def _listing(self, folder: Path) -> dict[str, str]:
        if folder not in self._listings:
            try:
                names = os.listdir(folder)
            except OSError:
                names = []
            self._listings[folder] = {_norm(n): n for n in names}
        return self._listings[folder]

    def resolve(self, parts: list[str]) -> Path | None:
        current = self.root
        for part in parts:
            real = self._listing(current).get(_norm(part))
            if real is None:
                return None
            current = current / real
        return current if current.is_file() else None


def _norm(name: str) -> str:
    name = name.strip().upper()
    if ";" in name:
        name = name.split(";", 1)[0]
    return name.rstrip(".")


def zip_members(archive: Path) -> Iterator[tuple[str, zipfile.ZipFile, zipfile.ZipInfo]]:
    """The regular members of a ZIP archive (opened once; the caller reads each member)."""
    with zipfile.ZipFile(archive) as zf:
        for info in zf.infolist():
            if not info.is_dir():
                yield f"{archive}!{info.filename}", zf, info
