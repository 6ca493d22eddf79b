"""The parallel pixel pass - threads or worker processes - gives pydicom's values exactly.

A series of at least ``PARALLEL_MIN_FRAMES`` slices loads in parallel: on threads when every
frame is uncompressed or its codec releases the GIL (imagecodecs), else in worker processes
that write into a shared-memory file. Both are checked on the real CT, re-encoded with
pydicom's own encoders, against pydicom's decode + modality LUT; so is the decoder choice
without imagecodecs (every syntax must still decode, through the next codec).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.data import get_testdata_file
from pydicom.pixels import apply_modality_lut as pydicom_modality_lut
from pydicom.uid import ExplicitVRLittleEndian, JPEG2000Lossless, JPEGLSLossless, RLELossless

from viewer.core import rawframes, volume
from viewer.core.rawframes import decodes_without_gil, read_stored
from viewer.core.volume import PARALLEL_MIN_FRAMES, SeriesLoader, load_volume

SHARED = Path(__file__).resolve().parents[3] / "shared" / "data"
CT = SHARED / "ct-pancreas-tcia"
SLICES = PARALLEL_MIN_FRAMES + 4
HAVE_IMAGECODECS = rawframes._imagecodecs() is not None


def reference(folder: Path) -> np.ndarray:
    """pydicom's decode + modality LUT, slices sorted along the normal (independent of ours)."""
    dss = [pydicom.dcmread(f) for f in sorted(folder.iterdir())]
    iop = np.asarray(dss[0].ImageOrientationPatient, float)
    normal = np.cross(iop[:3], iop[3:])
    dss.sort(key=lambda d: float(np.asarray(d.ImagePositionPatient, float) @ normal))
    return np.stack([pydicom_modality_lut(d.pixel_array, d) for d in dss])


def ct_series(folder: Path, syntax: str | None) -> Path:
    """The first slices of the real CT, re-encoded in ``syntax`` (None: as stored)."""
    folder.mkdir()
    for src in sorted(CT.glob("*.dcm"))[:SLICES]:
        ds = pydicom.dcmread(src)
        if syntax is not None:
            ds.compress(syntax)
        ds.save_as(folder / src.name, enforce_file_format=True)
    return folder


@pytest.mark.parametrize("syntax", [None, RLELossless, JPEGLSLossless, JPEG2000Lossless],
                         ids=["native", "rle", "jpeg-ls", "jpeg2000"])
def test_threaded_load_equals_pydicom(tmp_path: Path, syntax: str | None) -> None:
    folder = ct_series(tmp_path / "series", syntax)
    loader = SeriesLoader(folder, workers=2)
    sources = [f.source for f in loader.stacks[0].frames]
    assert all(s.fast for s in sources)
    if syntax is None or HAVE_IMAGECODECS:
        assert all(volume._threadable(s) for s in sources)  # the thread path is the one tested
    vol = loader.load()
    assert vol.voxels.dtype == np.int16 and vol.voxels.shape == (SLICES, 512, 512)
    assert np.array_equal(vol.voxels, reference(folder))


def test_worker_processes_equal_pydicom(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Frames whose decoder holds the GIL go to worker processes, which pwrite into shared memory."""
    if volume._shm_dir() is None:
        pytest.skip("no /dev/shm: the worker processes are not used on this platform")
    monkeypatch.setattr(volume, "_threadable", lambda src: False)
    for syntax in (None, RLELossless):
        folder = ct_series(tmp_path / f"series-{syntax}", syntax)
        vol = load_volume(folder)
        assert vol.voxels.dtype == np.int16
        assert np.array_equal(vol.voxels, reference(folder)), syntax


def test_int16_overflow_on_threads_falls_back_to_float32(tmp_path: Path) -> None:
    """Signed 16-bit stored values with intercept -1024: one slice at -32768 cannot be int16."""
    template = pydicom.dcmread(get_testdata_file("MR_small.dcm", download=False))
    rng = np.random.default_rng(3)
    for k in range(SLICES):
        ds = template.copy()
        stored = rng.integers(-2000, 3000, (64, 64), dtype=np.int16)
        if k == 7:
            stored[5, 9] = -32768
        ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 1
        ds.RescaleSlope, ds.RescaleIntercept = 1, -1024
        ds.ImagePositionPatient = [0, 0, float(k)]
        ds.SOPInstanceUID = pydicom.uid.generate_uid()
        ds.PixelData = stored.tobytes()
        ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds.save_as(tmp_path / f"{k:03d}.dcm", enforce_file_format=True)
    vol = SeriesLoader(tmp_path, workers=2).load()
    assert vol.voxels.dtype == np.float32
    assert vol.voxels[7, 5, 9] == -32768 - 1024
    np.testing.assert_array_equal(vol.voxels, reference(tmp_path).astype(np.float32))


@pytest.mark.parametrize(("bits", "signed"), [(8, False), (16, False), (16, True)])
def test_rle_byte_planes_equal_pydicom(tmp_path: Path, bits: int, signed: bool) -> None:
    """RLE segments are byte planes, most significant first (PS3.5 G.2); odd sizes included."""
    ds = pydicom.dcmread(get_testdata_file("MR_small.dcm", download=False))
    rng = np.random.default_rng(bits)
    dtype = np.dtype(f"{'i' if signed else 'u'}{bits // 8}")
    info = np.iinfo(dtype)
    stored = rng.integers(info.min, info.max, (33, 31), dtype=dtype, endpoint=True)
    stored[:10] = stored[0, 0]  # long runs as well as literals
    ds.Rows, ds.Columns = stored.shape
    ds.BitsAllocated = ds.BitsStored = bits
    ds.HighBit, ds.PixelRepresentation = bits - 1, int(signed)
    ds.PixelData = stored.tobytes()
    ds.compress(RLELossless, encoding_plugin="pydicom")  # GDCM's encoder aborts on odd 8-bit sizes
    path = tmp_path / "rle.dcm"
    ds.save_as(path, enforce_file_format=True)
    src = SeriesLoader([path], workers=0).stacks[0].frames[0].source
    got = read_stored(src)
    assert got is not None
    np.testing.assert_array_equal(got, pydicom.dcmread(path).pixel_array)
    np.testing.assert_array_equal(got, stored)


@pytest.fixture
def without_imagecodecs(monkeypatch: pytest.MonkeyPatch):
    """The decoder choice as on an installation without imagecodecs."""
    monkeypatch.setattr(rawframes, "_imagecodecs", lambda: None)
    rawframes._choose.cache_clear()
    yield
    monkeypatch.undo()
    rawframes._choose.cache_clear()


def test_every_syntax_decodes_without_imagecodecs(without_imagecodecs) -> None:
    files = sorted((SHARED / "mr-transfer-syntaxes").glob("*.dcm"))
    files += sorted((SHARED / "transfer-syntaxes-orthanc").glob("*.dcm"))
    decoded = set()
    for path in files:
        src = SeriesLoader([path], workers=0).stacks[0].frames[0].source
        assert not decodes_without_gil(src.transfer_syntax)
        stored = read_stored(src)
        if stored is None:
            continue
        decoded.add(src.transfer_syntax)
        ds = pydicom.dcmread(path, force=True)
        ds.file_meta.setdefault("TransferSyntaxUID", pydicom.uid.ImplicitVRLittleEndian)
        np.testing.assert_array_equal(stored, ds.pixel_array, err_msg=str(path))
    assert {"1.2.840.10008.1.2.5", "1.2.840.10008.1.2.4.70", "1.2.840.10008.1.2.4.80",
            "1.2.840.10008.1.2.4.90"} <= decoded
