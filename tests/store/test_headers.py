"""The fast header reader agrees with pydicom on every real file and catches truncation."""

from __future__ import annotations

import os
from pathlib import Path

import pydicom
import pytest

from viewer.core.reading import read_header
from viewer.store import headers
from viewer.store.headers import (
    FileProblem,
    InstanceHeader,
    header_from_dataset,
    read_index_header,
    read_index_header_bytes,
)


def _real_files(data_dir: Path) -> list[Path]:
    return sorted(p for p in data_dir.rglob("*") if p.is_file() and p.suffix not in (".md", ".upstream", ".sha256"))


def test_fast_reader_matches_pydicom_on_all_real_files(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fast_used = 0
    real_fast = headers._fast

    def counting_fast(*args):
        nonlocal fast_used
        result = real_fast(*args)
        fast_used += 1
        return result

    monkeypatch.setattr(headers, "_fast", counting_fast)
    files = _real_files(data_dir)
    assert len(files) == 268
    for path in files:
        fast = read_index_header(path)
        ds = read_header(path)
        slow = header_from_dataset(ds, str(path), os.path.getsize(path))
        assert fast == slow, path
    # all but two big endian files, the deflated one and the preamble-less one take the fast path
    assert fast_used == 268 - 4


def test_charset_names_decoded(data_dir: Path) -> None:
    h = read_index_header(data_dir / "dicomdir-charsets" / "SCSH32")
    assert isinstance(h, InstanceHeader)
    assert h.patient_name == "ﾔﾏﾀﾞ^ﾀﾛｳ=山田^太郎=やまだ^たろう"


def test_truncation_and_junk(tmp_path: Path, ct_dir: Path, data_dir: Path) -> None:
    raw = (ct_dir / "1-001.dcm").read_bytes()
    for cut, words in ((len(raw) - 1, "pixel data needs"), (3000, "truncated"), (600, "truncated")):
        p = tmp_path / f"cut{cut}"
        p.write_bytes(raw[:cut])
        result = read_index_header(p)
        assert isinstance(result, FileProblem) and result.kind == "failed", cut
        assert words in result.reason
    j2k = (data_dir / "mr-transfer-syntaxes" / "9.dcm").read_bytes()  # encapsulated: no delimiter at the end
    p = tmp_path / "j2k_cut"
    p.write_bytes(j2k[:-5000])
    result = read_index_header(p)
    assert isinstance(result, FileProblem) and "Sequence Delimitation Item" in result.reason
    for name, content in (("text", b"hello"), ("empty", b""), ("png", b"\x89PNG\r\n\x1a\n" + b"\0" * 300)):
        p = tmp_path / name
        p.write_bytes(content)
        result = read_index_header(p)
        assert isinstance(result, FileProblem) and result.kind == "skipped", name
    p = tmp_path / "a.zip"
    p.write_bytes(b"PK\x03\x04" + b"\0" * 100)
    assert read_index_header(p).kind == "archive"
    dicomdir = read_index_header(data_dir / "dicomdir-charsets" / "DICOMDIR")
    assert dicomdir.kind == "skipped" and "DICOMDIR" in dicomdir.reason


def test_no_pixel_data_and_header_beyond_the_prefix(tmp_path: Path, mr_dir: Path) -> None:
    ds = pydicom.dcmread(mr_dir / "000001.IMA")
    ds.ImageComments = "x" * 10000  # pushes the later attributes past the first read
    ds.SOPClassUID = "1.2.840.10008.5.1.4.1.1.66"  # Raw Data Storage: no pixels, a valid file
    for keyword in ("PixelData", "Rows", "Columns"):
        delattr(ds, keyword)
    ds.file_meta.MediaStorageSOPClassUID = ds.SOPClassUID
    p = tmp_path / "no_pixels.dcm"
    ds.save_as(p)
    h = read_index_header(p)
    assert isinstance(h, InstanceHeader) and h.sop_uid == ds.SOPInstanceUID
    assert h.instance_number == ds.InstanceNumber and h.series_number == ds.SeriesNumber


def test_bytes_reader_and_its_fallback(tmp_path: Path, data_dir: Path) -> None:
    ts = data_dir / "transfer-syntaxes-orthanc"
    for name in ("1.2.840.10008.1.2.4.50.dcm", "1.2.840.10008.1.2.2.dcm", "1.2.840.10008.1.2.1.99.dcm",
                 "1.2.840.10008.1.2.dcm"):
        from_bytes = read_index_header_bytes((ts / name).read_bytes(), f"x.zip!{name}", tmp_path / "scratch")
        from_file = read_index_header(ts / name)
        assert isinstance(from_bytes, InstanceHeader)
        assert from_bytes.sop_uid == from_file.sop_uid and from_bytes.source == f"x.zip!{name}"
    assert not (tmp_path / "scratch").exists()


def _element_ends(path: Path) -> set[int]:
    """Offsets where a top-level element ends, found by a deliberately simple parser of its own."""
    raw = path.read_bytes()
    implicit = pydicom.dcmread(path, stop_before_pixels=True).file_meta.TransferSyntaxUID == "1.2.840.10008.1.2"
    ends, pos = set(), 132
    while pos + 8 <= len(raw):
        group = int.from_bytes(raw[pos:pos + 2], "little")
        if group == 0x7FE0:
            break
        explicit = group == 2 or not implicit
        if explicit and raw[pos + 4:pos + 6] in (b"OB", b"OW", b"SQ", b"UN", b"UT", b"UC", b"UR", b"OF", b"OD", b"OL"):
            length, head = int.from_bytes(raw[pos + 8:pos + 12], "little"), 12
        elif explicit:
            length, head = int.from_bytes(raw[pos + 6:pos + 8], "little"), 8
        else:
            length, head = int.from_bytes(raw[pos + 4:pos + 8], "little"), 8
        if length == 0xFFFFFFFF:
            pos = raw.index(b"\xfe\xff\xdd\xe0\x00\x00\x00\x00", pos + head) + 8
        else:
            pos += head + length
        ends.add(pos)
    return ends


@pytest.mark.parametrize("name", ["ct-pancreas-tcia/1-001.dcm", "mr-head-ctk/000001.IMA",
                                  "mr-transfer-syntaxes/9.dcm", "transfer-syntaxes-orthanc/1.2.840.10008.1.2.4.50.dcm"])
def test_every_cut_is_caught(tmp_path: Path, data_dir: Path, name: str) -> None:
    """A file cut anywhere -- inside an element, exactly between two elements, inside the
    pixel data or its fragments -- is never indexed as an instance."""
    raw = (data_dir / name).read_bytes()
    whole = read_index_header(data_dir / name)
    assert isinstance(whole, InstanceHeader)
    pixel_at = raw.find(b"\xe0\x7f\x10\x00")
    cuts = _element_ends(data_dir / name)  # exactly between two elements: the hard case
    assert len(cuts) > 50
    cuts |= set(range(0, pixel_at + 16, 11))  # inside elements and element headers
    cuts |= set(range(pixel_at, pixel_at + 16))  # inside the Pixel Data element header
    cuts |= set(range(pixel_at, len(raw), max(1, (len(raw) - pixel_at) // 100)))  # through the pixels
    cuts.discard(len(raw))
    cut = tmp_path / "cut"
    accepted = []
    for n in sorted(cuts):
        cut.write_bytes(raw[:n])
        result = read_index_header(cut)
        if isinstance(result, InstanceHeader):
            accepted.append(n)
        elif n >= 132:
            assert result.kind == "failed", (n, result)
    assert accepted == []


@pytest.mark.parametrize("name", ["1.2.840.10008.1.2.2.dcm", "1.2.840.10008.1.2.dcm", "1.2.840.10008.1.2.1.99.dcm"])
def test_cuts_caught_on_the_pydicom_path(tmp_path: Path, data_dir: Path, name: str) -> None:
    """Big endian, no File Meta, deflate: read by pydicom, whose short Pixel Data is measured."""
    raw = (data_dir / "transfer-syntaxes-orthanc" / name).read_bytes()
    cut = tmp_path / name
    for n in (len(raw) - 1, len(raw) - 1000, len(raw) // 2):
        cut.write_bytes(raw[:n])
        result = read_index_header(cut)
        assert isinstance(result, FileProblem) and result.kind == "failed", (n, result)
        assert "truncated" in result.reason


def test_retired_date_and_time_forms_are_normalised(data_dir: Path) -> None:
    """ACR-NEMA "1997.04.24" / "14:04:38" (PS3.5 6.2 retired forms) index as 19970424 / 140438."""
    path = data_dir / "transfer-syntaxes-orthanc" / "1.2.840.10008.1.2.2.dcm"
    ds = pydicom.dcmread(path, stop_before_pixels=True)
    assert (ds.StudyDate, ds.StudyTime) == ("1997.04.24", "14:04:38")
    h = read_index_header(path)
    assert (h.study_date, h.study_time) == ("19970424", "140438")


def _spectroscopy(src: Path, dst: Path, *, preamble: bool = True) -> bytes:
    """A real MR slice turned into an MR Spectroscopy object: Rows/Columns, no Pixel Data, and
    Spectroscopy Data (5600,0020) holding its first rows as complex float pairs (PS3.3 C.8.14.4)."""
    import numpy as np

    ds = pydicom.dcmread(src)
    spectra = np.asarray(ds.pixel_array[:4], np.float32)
    ds.SOPClassUID = ds.file_meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.4.2"  # MR Spectroscopy
    del ds.PixelData
    ds.Rows, ds.Columns = 1, 1
    ds.DataPointRows, ds.DataPointColumns, ds.DataRepresentation = 1, spectra.size // 2, "COMPLEX"
    ds.SpectroscopyData = spectra.tobytes()  # OF
    if preamble:
        ds.save_as(dst, enforce_file_format=True)
    else:  # no preamble nor File Meta: read by pydicom (the slow path)
        ds.file_meta, ds.preamble = pydicom.dataset.FileMetaDataset(), None
        ds.save_as(dst, implicit_vr=True, little_endian=True)
    return dst.read_bytes()


def test_spectroscopy_without_pixel_data_is_indexed_and_its_cut_caught(tmp_path: Path, mr_dir: Path) -> None:
    """A valid MR Spectroscopy object has Rows but Spectroscopy Data instead of Pixel Data (issue 4)."""
    for preamble in (True, False):
        p = tmp_path / f"mrs{preamble}.dcm"
        raw = _spectroscopy(mr_dir / "000001.IMA", p, preamble=preamble)
        h = read_index_header(p)
        assert isinstance(h, InstanceHeader), (preamble, h)
        assert h.sop_class_uid == "1.2.840.10008.5.1.4.1.1.4.2" and h.part10 == preamble
        assert isinstance(read_index_header_bytes(raw, "x.zip!mrs", tmp_path / "scratch"), InstanceHeader)
        spectra_at = raw.find(b"\x00\x56\x20\x00")
        assert spectra_at > 0
        cut = tmp_path / f"cut{preamble}.dcm"
        for n in (spectra_at, spectra_at + 20, len(raw) - 3):  # before, inside, at the end of the bulk data
            cut.write_bytes(raw[:n])
            result = read_index_header(cut)
            assert isinstance(result, FileProblem) and result.kind == "failed", (preamble, n, result)
            assert "truncated" in result.reason
