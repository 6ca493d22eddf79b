"""load_volume on real series, and the fast pixel path against pydicom's reference decode."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.data import get_testdata_file
from pydicom.pixels import apply_modality_lut as pydicom_modality_lut

from viewer.core.errors import Cancelled, DecodeError, GeometryError
from viewer.core.rawframes import read_stored
from viewer.core.tasks import CancelToken, Progress
from viewer.core.volume import SeriesLoader, load_volume

SHARED = Path(__file__).resolve().parents[3] / "shared" / "data"
CT = SHARED / "ct-pancreas-tcia"
MR = SHARED / "mr-head-ctk"


def reference(files: list[Path]) -> tuple[np.ndarray, list[pydicom.Dataset]]:
    """pydicom's own decode + modality LUT, sorted along the normal (independent of our code)."""
    dss = [pydicom.dcmread(f, force=True) for f in files]
    for ds in dss:
        ds.file_meta.setdefault("TransferSyntaxUID", pydicom.uid.ImplicitVRLittleEndian)
    iop = np.asarray(dss[0].ImageOrientationPatient, float)
    normal = np.cross(iop[:3], iop[3:])
    dss.sort(key=lambda d: float(np.asarray(d.ImagePositionPatient, float) @ normal))
    return np.stack([pydicom_modality_lut(d.pixel_array, d) for d in dss]), dss


@pytest.fixture(scope="module")
def ct_volume():
    return load_volume(CT)


def test_real_ct_volume(ct_volume) -> None:
    vol = ct_volume
    assert vol.voxels.shape == (134, 512, 512) and vol.voxels.dtype == np.int16
    assert vol.warnings == []
    spacing = 1.0742  # PixelSpacing of the series (rounded in its README)
    assert vol.affine[2, 3] == pytest.approx(85.91, abs=0.01)
    assert vol.index_to_patient([133, 0, 0])[2] == pytest.approx(484.91, abs=0.01)
    np.testing.assert_allclose(vol.affine[:3, 0], [0, 0, 3], atol=1e-6)
    np.testing.assert_allclose(vol.affine[:3, 1], [0, spacing, 0], atol=1e-4)
    np.testing.assert_allclose(vol.affine[:3, 2], [spacing, 0, 0], atol=1e-4)
    assert len(vol.headers) == 134 and "PixelData" not in vol.headers[0]
    assert vol.frame_of_reference_uid == str(vol.headers[0].FrameOfReferenceUID)


def test_real_ct_hounsfield_values_equal_pydicom(ct_volume) -> None:
    files = sorted(CT.glob("*.dcm"))
    ref, dss = reference(files)
    assert np.array_equal(ct_volume.voxels, ref)
    assert [h.SOPInstanceUID for h in ct_volume.headers] == [d.SOPInstanceUID for d in dss]
    # a known pixel: the table/air corner is air, the centre of slice 60 is soft tissue
    assert ct_volume.voxels[0, 0, 0] <= -1000
    assert -200 < ct_volume.voxels[60, 256, 256] < 300


def test_real_coronal_mr_from_raw_datasets(tmp_path: Path) -> None:
    vol = load_volume(MR)
    assert vol.voxels.shape == (100, 256, 256)
    np.testing.assert_allclose(vol.affine[:3, 2] / vol.spacing[2], [1, 0, 0], atol=1e-6)  # IOP[0:3]
    np.testing.assert_allclose(vol.affine[:3, 1] / vol.spacing[1], [0, 0, -1], atol=1e-6)  # IOP[3:6]
    assert vol.spacing[1] == pytest.approx(1.0156, abs=1e-4)
    assert vol.spacing[0] == pytest.approx(2.5, abs=1e-3)
    # normal = [1,0,0] x [0,0,-1] = [0,1,0]: slices ascend in y, so slice 0 is y = -150.91
    assert vol.affine[1, 3] == pytest.approx(-150.91, abs=0.01)
    ref, _ = reference(sorted(MR.glob("*.IMA")))
    assert np.array_equal(vol.voxels, ref)


def test_file_list_source_and_progress(tmp_path: Path) -> None:
    files = sorted(MR.glob("*.IMA"))[::-1][:40]
    reports: list[Progress] = []
    vol = load_volume(files, progress=reports.append)
    assert vol.voxels.shape == (40, 256, 256)
    assert reports[-1].done == reports[-1].total == 40
    assert {r.message for r in reports} == {"reading headers", "decoding slices"}


def test_cancel_stops_the_load() -> None:
    token = CancelToken()
    token.cancel()
    with pytest.raises(Cancelled):
        load_volume(CT, cancel=token)


def test_first_slice_before_the_volume() -> None:
    loader = SeriesLoader(CT)
    assert loader.shape() == (134, 512, 512)
    middle = loader.read_slice(67)
    files = sorted(CT.glob("*.dcm"))
    ref, _ = reference(files[60:75])
    assert any(np.array_equal(middle, r) for r in ref)
    with pytest.raises(IndexError):
        loader.read_slice(134)


FAST_FILES = ["MR_small.dcm", "MR_small_implicit.dcm", "MR_small_bigendian.dcm", "MR_small_expb.dcm",
              "MR_small_RLE.dcm", "MR_small_jp2klossless.dcm", "MR_small_jpeg_ls_lossless.dcm",
              "CT_small.dcm", "JPEGLSNearLossless_16.dcm", "JPEG2000.dcm", "emri_small_jpeg_2k_lossless.dcm",
              "J2K_pixelrep_mismatch.dcm", "MR_small_padded.dcm", "liver_1frame.dcm"]


@pytest.mark.parametrize("name", FAST_FILES)
def test_fast_path_equals_pydicom(name: str) -> None:
    path = get_testdata_file(name, download=False)
    if path is None:
        pytest.skip(f"{name} is not bundled with this pydicom")
    loader = SeriesLoader([path], workers=0)
    ds = pydicom.dcmread(path)
    expected = pydicom_modality_lut(ds.pixel_array, ds)
    if expected.ndim == 3:
        expected = expected[0]
    got = loader.read_slice(0)
    np.testing.assert_array_equal(got, expected.astype(got.dtype))
    assert np.allclose(got, expected)


def test_fast_path_covers_every_real_syntax() -> None:
    """The nine syntaxes of one real MR slice: fast path or fallback, always pydicom's values."""
    files = sorted((SHARED / "mr-transfer-syntaxes").glob("*.dcm"))
    files += sorted((SHARED / "transfer-syntaxes-orthanc").glob("*.dcm"))
    assert len(files) >= 20
    fast = set()
    for path in files:
        src = SeriesLoader([path], workers=0).stacks[0].frames[0].source
        stored = read_stored(src)
        if stored is not None:
            fast.add(src.transfer_syntax)
            ds = pydicom.dcmread(path, force=True)  # one file is a raw dataset without File Meta
            ds.file_meta.setdefault("TransferSyntaxUID", pydicom.uid.ImplicitVRLittleEndian)
            np.testing.assert_array_equal(stored, ds.pixel_array, err_msg=str(path))
    # every grayscale syntax of the fast path was met and matched pydicom bit for bit
    assert {"1.2.840.10008.1.2", "1.2.840.10008.1.2.1", "1.2.840.10008.1.2.2", "1.2.840.10008.1.2.5",
            "1.2.840.10008.1.2.4.57", "1.2.840.10008.1.2.4.70", "1.2.840.10008.1.2.4.80",
            "1.2.840.10008.1.2.4.81", "1.2.840.10008.1.2.4.90", "1.2.840.10008.1.2.4.91"} <= fast


def test_truncated_pixels_raise_a_named_decode_error(tmp_path: Path) -> None:
    src = get_testdata_file("CT_small.dcm", download=False)
    bad = tmp_path / "truncated.dcm"
    data = Path(src).read_bytes()
    bad.write_bytes(data[: len(data) - 2000])
    with pytest.raises(DecodeError, match=r"truncated\.dcm"):
        load_volume(bad)


def test_non_dicom_files_are_skipped_and_empty_folders_refused(tmp_path: Path) -> None:
    (tmp_path / "README.txt").write_text("not dicom")
    with pytest.raises(GeometryError, match="no DICOM image"):
        load_volume(tmp_path)
    shutil.copy(get_testdata_file("CT_small.dcm", download=False), tmp_path / "ct")
    vol = load_volume(tmp_path)
    assert vol.voxels.shape == (1, 128, 128)


def test_unsigned_16_bit_values_beyond_int16_fall_back_to_float32(tmp_path: Path) -> None:
    """An MR with Bits Stored 16 is int16 only while its values fit; 60000 must not wrap."""
    src = pydicom.dcmread(get_testdata_file("MR_small.dcm", download=False))
    stored = np.arange(64 * 64, dtype=np.uint16).reshape(64, 64) * 14  # up to 57330
    for k in range(3):
        ds = src.copy()
        ds.Rows = ds.Columns = 64
        ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 0
        ds.ImagePositionPatient = [0, 0, float(k)]
        ds.SOPInstanceUID = pydicom.uid.generate_uid()
        ds.PixelData = (stored + k).tobytes()
        ds.save_as(tmp_path / f"{k}.dcm", enforce_file_format=True)
    vol = load_volume(tmp_path)
    assert vol.voxels.dtype == np.float32
    assert vol.voxels.max() == 57330 + 2
    assert np.array_equal(vol.voxels[1], stored.astype(np.float32) + 1)


@pytest.mark.parametrize("workers", [1, 2])
def test_one_truncated_file_becomes_a_named_gap_slice(tmp_path: Path, workers: int) -> None:
    """40 real CT slices, one cut short: the other 39 load exactly, the bad one is a gap (issue 3).

    With 2 workers the slices decode on threads (PARALLEL_MIN_FRAMES is 32), with 1 serially."""
    files = sorted(CT.glob("*.dcm"))[:40]
    for f in files:
        shutil.copyfile(f, tmp_path / f.name)
    whole = SeriesLoader(tmp_path, workers=workers).load()
    bad = tmp_path / files[13].name
    bad_uid = pydicom.dcmread(bad, stop_before_pixels=True).SOPInstanceUID
    k = next(i for i, h in enumerate(whole.headers) if h.SOPInstanceUID == bad_uid)
    data = bad.read_bytes()
    bad.write_bytes(data[: len(data) - 100_000])

    loader = SeriesLoader(tmp_path, workers=workers)
    vol = loader.load()
    assert vol.voxels.shape == whole.voxels.shape and vol.voxels.dtype == whole.voxels.dtype
    assert vol.acquired is not None and list(np.flatnonzero(~vol.acquired)) == [k]
    assert (vol.voxels[k] == loader.fill_value()).all()
    others = [i for i in range(len(files)) if i != k]
    np.testing.assert_array_equal(vol.voxels[others], whole.voxels[others])
    (warning,) = [w for w in vol.warnings if files[13].name in w]
    assert f"slice {k}" in warning and "1.2.840.10008.1.2" in warning and "gap" in warning
    assert "not decoded" in str(vol.headers[k].ImageComments)
    assert vol.blank_reason(k).startswith("not decoded") and files[13].name in vol.blank_reason(k)
    assert [i for i in range(len(files)) if vol.blank_reason(i)] == [k]
    assert loader.stacks[0].acquired.all()  # the loader's own geometry is left alone


def test_a_series_with_no_decodable_slice_still_raises(tmp_path: Path) -> None:
    for f in sorted(CT.glob("*.dcm"))[:2]:
        data = f.read_bytes()
        (tmp_path / f.name).write_bytes(data[: len(data) - 100_000])
    with pytest.raises(DecodeError, match=r"1-00[12]\.dcm"):
        load_volume(tmp_path)


def test_projection_with_zero_pixel_spacing_gets_the_measurement_calibration() -> None:
    """pydicom's RG1_UNCI.dcm (a real CR) has Pixel Spacing 0\\0 and no patient geometry: the
    stack's affine uses what the measurements use (Imager Pixel Spacing, else 1 px), never 0."""
    path = get_testdata_file("RG1_UNCI.dcm")
    ds = pydicom.dcmread(path, stop_before_pixels=True)
    assert [float(v) for v in ds.PixelSpacing] == [0.0, 0.0]
    volume = load_volume([path])
    assert np.isfinite(volume.affine).all() and abs(np.linalg.det(volume.affine)) > 0
    from viewer.core.measurements import calibration

    cal = calibration(ds)
    assert np.allclose(np.linalg.norm(volume.affine[:3, 1:3], axis=0), [cal.row_spacing, cal.column_spacing])
