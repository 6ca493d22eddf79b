"""Every image in ../shared/data and in pydicom's test files (bundled, plus the pydicom-data
package) either decodes to exactly what pydicom's own ``pixel_array`` gives, or raises our
DecodeError naming the file, the transfer syntax and the reason. Nothing else is acceptable.

Reference: for lossless syntaxes pydicom's default ``ds.pixel_array`` (whatever plugin it picks
must give the same numbers); for lossy syntaxes, where codecs may legitimately differ by a few
grey levels (upsampling, IDCT rounding), pydicom's ``pixel_array`` through the same plugin, plus
a bound on the difference from pydicom's default.
"""

from __future__ import annotations

import logging
import warnings
from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.errors import InvalidDicomError

from viewer.core.decode import decode_all_frames, decode_frame, decode_frame_with_properties, transfer_syntax
from viewer.core.errors import DecodeError, DicomReadError
from viewer.core.reading import read_dataset

SHARED_DATA = Path(__file__).resolve().parents[3] / "shared" / "data"
PYDICOM_FILES = Path(pydicom.__file__).parent / "data" / "test_files"
try:
    import data_store  # the pydicom-data package

    PYDICOM_DATA = Path(data_store.__file__).parent / "data"
except ImportError:  # pragma: no cover - a missing test dependency fails below, not silently
    PYDICOM_DATA = None

NOT_DICOM_SUFFIXES = {".md", ".txt", ".py", ".json", ".gz", ".bz2", ".zip", ".icc", ".dump", ".sha256",
                      ".upstream", ".png", ".raw", ".xml"}

# Files that must fail, and a word of the reason that must be in the error.
EXPECTED_DECODE_ERRORS = {
    "MR_truncated.dcm": "less than expected",  # pixel data cut short
    "JPEG2000-embedded-sequence-delimiter.dcm": "header",  # a corrupt J2K codestream
    "badVR.dcm": "1A",  # Rows/Columns with a non-numeric value
}
# Lossy syntaxes where decoders may differ slightly; max |difference| allowed against pydicom's default.
LOSSY_TOLERANCE = {
    "1.2.840.10008.1.2.4.50": 16,
    "1.2.840.10008.1.2.4.51": 16,
    "1.2.840.10008.1.2.4.91": 2,
    "1.2.840.10008.1.2.4.81": 0,  # JPEG-LS near-lossless decodes deterministically
    "1.2.840.10008.1.2.4.203": 2,
}


def _candidate_files() -> list[Path]:
    roots = [PYDICOM_FILES, SHARED_DATA] + ([PYDICOM_DATA] if PYDICOM_DATA else [])
    files = []
    for root in roots:
        files += [p for p in sorted(root.rglob("*")) if p.is_file()
                  and p.suffix.lower() not in NOT_DICOM_SUFFIXES and p.name not in ("README", "LICENSE")]
    return files


FILES = _candidate_files()


def test_the_corpus_is_all_there() -> None:
    assert PYDICOM_DATA is not None, "pydicom-data is a test dependency (pip install pydicom-data)"
    assert len([f for f in FILES if SHARED_DATA in f.parents]) >= 265
    assert len([f for f in FILES if PYDICOM_DATA in f.parents]) >= 60


def _load(path: Path) -> pydicom.Dataset | None:
    """Our reader; files it refuses are read forced to see whether they still hold an image."""
    try:
        return read_dataset(path)
    except DicomReadError:
        try:
            ds = pydicom.dcmread(path, force=True)
        except (InvalidDicomError, OSError, ValueError, EOFError, KeyError, TypeError):
            return None
        return ds if "PixelData" in ds and "Rows" in ds and "TransferSyntaxUID" in ds.file_meta else None


@pytest.mark.parametrize("path", FILES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_file_decodes_like_pydicom_or_names_the_failure(path: Path) -> None:
    ds = _load(path)
    if ds is None or not any(k in ds for k in ("PixelData", "FloatPixelData", "DoubleFloatPixelData")):
        with pytest.raises(DecodeError, match=r"no pixel data|lacks"):
            decode_frame(ds if ds is not None else pydicom.Dataset())
        return
    ts = str(transfer_syntax(ds))
    if path.name in EXPECTED_DECODE_ERRORS:
        with pytest.raises(DecodeError) as info:
            decode_all_frames(ds)
        assert info.value.path == str(path)
        assert ts in info.value.transfer_syntax
        assert EXPECTED_DECODE_ERRORS[path.name] in info.value.reason
        return

    ours = decode_all_frames(ds)
    first = decode_frame_with_properties(ds, 0)
    np.testing.assert_array_equal(first.pixels, ours[0])

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        logging.disable(logging.CRITICAL)
        try:
            reference = ds.pixel_array
            if ts in LOSSY_TOLERANCE and first.plugin:
                same_plugin = pydicom.pixels.pixel_array(ds, decoding_plugin=first.plugin)
            else:
                same_plugin = reference
        finally:
            logging.disable(logging.NOTSET)
    if ours.shape[0] == 1 and reference.shape == ours.shape[1:]:
        reference, same_plugin = reference[np.newaxis], same_plugin[np.newaxis]
    assert ours.dtype == reference.dtype
    np.testing.assert_array_equal(ours, same_plugin)
    difference = np.abs(ours.astype(np.float64) - reference).max() if ours.size else 0
    assert difference <= LOSSY_TOLERANCE.get(ts, 0), f"{path.name}: differs from pydicom by {difference}"


def test_a_known_failure_names_file_syntax_and_reason() -> None:
    path = PYDICOM_FILES / "MR_truncated.dcm"
    with pytest.raises(DecodeError) as info:
        decode_frame(read_dataset(path))
    message = str(info.value)
    assert str(path) in message
    assert "Explicit VR Little Endian" in message and "1.2.840.10008.1.2.1" in message
    assert "8130 vs 8192 bytes" in message


def _linear_window_byte(x: float, center: float, width: float) -> int:
    """PS3.3 C.11.2.1.2.1 with ymin 0, ymax 255, rounded half up (written out again, independently)."""
    if x <= center - 0.5 - (width - 1) / 2:
        y = 0.0
    elif x > center - 0.5 + (width - 1) / 2:
        y = 255.0
    else:
        y = ((x - (center - 0.5)) / (width - 1) + 0.5) * 255
    return int(np.floor(y + 0.5))


def _rescale_source(ds: pydicom.Dataset) -> pydicom.Dataset:
    """Enhanced objects keep Rescale Slope/Intercept in the Pixel Value Transformation functional
    group (PS3.3 C.7.6.16.2.9) of frame 1 or the shared groups; pydicom's function reads the top level."""
    for groups in (ds.get("PerFrameFunctionalGroupsSequence"), ds.get("SharedFunctionalGroupsSequence")):
        if groups and "PixelValueTransformationSequence" in groups[0]:
            item = groups[0].PixelValueTransformationSequence[0]
            flat = pydicom.Dataset()
            flat.RescaleSlope, flat.RescaleIntercept = item.RescaleSlope, item.RescaleIntercept
            return flat
    return ds


@pytest.mark.parametrize("path", FILES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_file_displays_as_the_standard_says(path: Path) -> None:
    """Display bytes from pydicom's reference pixels and the standard's formulas, at sample pixels."""
    from pydicom.pixels.processing import apply_color_lut, apply_voi_lut
    from pydicom.pixels.processing import apply_modality_lut as reference_modality_lut

    from viewer.core.pixels.display import display_frame, presentation_inverted
    from viewer.core.pixels.voi import VoiLut, Window

    ds = _load(path)
    if ds is None or "PixelData" not in ds or path.name in EXPECTED_DECODE_ERRORS:
        pytest.skip("not a decodable image (covered by the decode test)")
    image = display_frame(ds)
    frame = decode_frame_with_properties(ds, 0)
    rows, columns = int(ds.Rows), int(ds.Columns)
    assert image.pixels.dtype == np.uint8
    rng = np.random.default_rng(0)
    samples = list(zip(rng.integers(0, rows, 25), rng.integers(0, columns, 25), strict=True))
    pi = frame.photometric_interpretation
    if pi == "PALETTE COLOR":
        rgb = apply_color_lut(frame.pixels, ds)[..., :3].astype(np.float64)
        scale = 255 / 65535 if rgb.max() > 255 or ds.RedPaletteColorLookupTableDescriptor[2] == 16 else 1
        for r, c in samples:
            assert np.abs(image.pixels[r, c] - np.floor(rgb[r, c] * scale + 0.5)).max() <= 0
    elif pi == "RGB":
        assert image.pixels.shape == (rows, columns, 3)
        if frame.pixels.dtype == np.uint8:
            np.testing.assert_array_equal(image.pixels, frame.pixels)
    else:
        assert image.pixels.shape == (rows, columns)
        values = reference_modality_lut(frame.pixels, _rescale_source(ds))
        invert = presentation_inverted(ds)
        for r, c in samples:
            if isinstance(image.voi, Window) and image.voi.function == "LINEAR":
                expected = _linear_window_byte(float(values[r, c]), image.voi.center, image.voi.width)
            elif isinstance(image.voi, VoiLut):
                table = apply_voi_lut(frame.pixels, ds)
                expected = int(np.floor(float(table[r, c]) / image.voi.output_max * 255 + 0.5))
            else:
                pytest.fail(f"unexpected VOI {image.voi}")
            assert image.pixels[r, c] == (255 - expected if invert else expected), (r, c)
