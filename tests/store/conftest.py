"""Fixtures for the cache tests: an open Store on the per-test home, and the "messy folder".

The messy folder is what a user's download or CD copy really looks like, built in tmp_path
from the real files in ../shared/data (nothing is copied into the repository).
"""

from __future__ import annotations

import shutil
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pydicom
import pytest

from viewer.store import Store


@pytest.fixture
def store(lightbox_home: Path) -> Iterator[Store]:
    s = Store.open(lightbox_home)
    try:
        yield s
    finally:
        s.close()


@dataclass(frozen=True)
class Messy:
    root: Path
    mr_files: list[Path]  # 10 real MR slices under lower-case names
    truncated: list[Path]  # cut in the pixel data, cut in the header
    duplicate: Path  # byte copy of mr_files[0] under another name
    conflict: Path  # mr_files[1]'s SOP Instance UID, different content
    conflict_original: Path
    preambleless: Path
    archive: Path  # 5 CT slices + a text file
    junk: list[Path]  # non-DICOM files, including an empty one


@pytest.fixture
def messy(tmp_path: Path, data_dir: Path, ct_dir: Path, mr_dir: Path) -> Messy:
    root = tmp_path / "messy"
    (root / "mr").mkdir(parents=True)
    mr_files = []
    for src in sorted(mr_dir.glob("*.IMA"))[:10]:
        dst = root / "mr" / src.name.lower()
        shutil.copyfile(src, dst)
        mr_files.append(dst)
    junk = [root / "autorun.inf", root / "viewer.exe", root / "report.pdf", root / "empty"]
    junk[0].write_text("[autorun]\nopen=viewer.exe\n")
    junk[1].write_bytes(b"MZ\x90\x00" + bytes(range(256)) * 8)
    junk[2].write_bytes(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj<<>>endobj\n")
    junk[3].write_bytes(b"")
    ct = sorted(ct_dir.glob("*.dcm"))
    cut_pixels, cut_header = root / "cut_pixels.dcm", root / "cut_header.dcm"
    cut_pixels.write_bytes(ct[0].read_bytes()[:300_000])
    cut_header.write_bytes(ct[0].read_bytes()[:700])
    duplicate = root / "zdup"
    shutil.copyfile(mr_files[0], duplicate)
    conflict = root / "zconflict.dcm"
    ds = pydicom.dcmread(mr_files[1])
    ds.PatientName = "Someone^Else"
    ds.save_as(conflict)
    preambleless = root / "old_acr_nema"
    shutil.copyfile(data_dir / "transfer-syntaxes-orthanc" / "1.2.840.10008.1.2.dcm", preambleless)
    archive = root / "more.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for src in ct[1:6]:
            zf.write(src, f"ct/{src.name}")
        zf.writestr("readme.txt", "five CT slices")
    return Messy(root, mr_files, [cut_pixels, cut_header], duplicate, conflict, mr_files[1], preambleless,
                 archive, junk)
