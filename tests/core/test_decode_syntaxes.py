"""Transfer syntaxes on real files, frame-on-demand decoding, encapsulation variants (Basic /
Extended Offset Table, fragments spanning frames), decoder choice and the named errors."""

from __future__ import annotations

import base64
import copy
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.data import get_testdata_file
from pydicom.encaps import encapsulate, encapsulate_extended, generate_frames
from pydicom.pixels.processing import apply_modality_lut as pydicom_modality_lut
from pydicom.uid import UID

from viewer.core import codecs
from viewer.core.decode import (
    decode_all_frames,
    decode_file_frame,
    decode_frame,
    decode_frame_with_properties,
    number_of_frames,
)
from viewer.core.errors import DecodeError, UnsupportedTransferSyntax
from viewer.core.pixels.modality import apply_modality_lut
from viewer.core.reading import read_dataset


def pydicom_file(name: str) -> str:
    path = get_testdata_file(name, download=False)
    assert path, f"{name} missing: install the pydicom-data test dependency"
    return path


# --- real CT: Hounsfield units -------------------------------------------------------------------


@pytest.mark.parametrize("name", ["1-001.dcm", "1-067.dcm", "1-134.dcm"])
def test_ct_hounsfield_units_match_pydicom_reference(ct_dir: Path, name: str) -> None:
    ds = read_dataset(ct_dir / name)
    hu = apply_modality_lut(decode_frame(ds), ds)
    reference = pydicom_modality_lut(pydicom.dcmread(ct_dir / name).pixel_array, ds)
    assert hu.dtype == np.int16  # slope 1, intercept -1000: exact in int16
    np.testing.assert_array_equal(hu, reference)
    # known pixels: the air in the corner and the centre of the abdomen, straight from the file
    raw = np.frombuffer(ds.PixelData, dtype="<u2").reshape(512, 512)
    for row, col in [(0, 0), (256, 256), (300, 200), (100, 400)]:
        assert hu[row, col] == int(raw[row, col] & 0x0FFF) - 1000  # Bits Stored 12, intercept -1000
    assert hu[0, 0] <= -1000 + 50 and -200 < hu[256, 256] < 300  # air outside, soft tissue inside


# --- the nine encodings of one MR slice, and one image per syntax ---------------------------------


def test_all_nine_mr_transfer_syntaxes_decode_to_identical_pixels(data_dir: Path) -> None:
    folder = data_dir / "mr-transfer-syntaxes"
    arrays = {p.name: decode_frame(read_dataset(p)) for p in sorted(folder.glob("*.dcm"))}
    syntaxes = {str(read_dataset(folder / n).file_meta.TransferSyntaxUID) for n in arrays}
    assert len(arrays) == 9 and len(syntaxes) == 7
    first = arrays["1.dcm"]
    assert first.shape == (384, 384) and first.max() > 0
    for name, arr in arrays.items():
        np.testing.assert_array_equal(arr, first, err_msg=name)
        assert int(arr.max()) < 2**12  # Bits Stored 12


ORTHANC_EXPECTED = {
    # file stem (= its transfer syntax): (shape, photometric interpretation of the decoded array)
    "1.2.840.10008.1.2.1.99": ((358, 512), "MONOCHROME2"),
    "1.2.840.10008.1.2.1": ((120, 256, 3), "RGB"),
    "1.2.840.10008.1.2.2": ((480, 640, 3), "RGB"),
    "1.2.840.10008.1.2.4.50": ((480, 640, 3), "RGB"),
    "1.2.840.10008.1.2.4.51": ((512, 512), "MONOCHROME2"),
    "1.2.840.10008.1.2.4.57": ((1024, 1024), "MONOCHROME2"),
    "1.2.840.10008.1.2.4.70": ((400, 512), "MONOCHROME2"),
    "1.2.840.10008.1.2.4.80": ((1024, 256), "MONOCHROME2"),
    "1.2.840.10008.1.2.4.81": ((512, 512), "MONOCHROME2"),
    "1.2.840.10008.1.2.4.90": ((1024, 256), "MONOCHROME2"),
    "1.2.840.10008.1.2.4.91": ((512, 512), "MONOCHROME2"),
    "1.2.840.10008.1.2.5": ((1024, 256), "MONOCHROME2"),
    "1.2.840.10008.1.2": ((256, 256), "MONOCHROME2"),
}


@pytest.mark.parametrize("stem", sorted(ORTHANC_EXPECTED))
def test_each_orthanc_transfer_syntax_decodes(data_dir: Path, stem: str) -> None:
    ds = read_dataset(data_dir / "transfer-syntaxes-orthanc" / f"{stem}.dcm")
    shape, photometric = ORTHANC_EXPECTED[stem]
    frame = decode_frame_with_properties(ds, 0)
    assert frame.pixels.shape == shape
    assert frame.photometric_interpretation == photometric
    bits = int(ds.BitsStored)
    assert 0 < int(frame.pixels.max()) < 2**bits  # masked to Bits Stored, not blank
    if stem == "1.2.840.10008.1.2.4.80":
        assert frame.plugin in ("pyjpegls", "gdcm", "pylibjpeg")
        assert frame.plugin == codecs.plugin_order(UID(stem))[0]


@pytest.mark.parametrize("source", ["orthanc", "pydicom"])
def test_non_conformant_12_bit_jpeg_matches_dcmtk_or_is_named(data_dir: Path, tmp_path: Path, source: str) -> None:
    """libjpeg rejects these files' SOS parameters; GDCM (when installed) decodes them like dcmdjpeg."""
    if source == "orthanc":
        path = data_dir / "transfer-syntaxes-orthanc" / "1.2.840.10008.1.2.4.51.dcm"
    else:
        path = Path(pydicom_file("JPEG-lossy.dcm"))
    ds = read_dataset(path)
    if "lightbox-gdcm12" not in codecs.plugin_order(ds.file_meta.TransferSyntaxUID):
        with pytest.raises(DecodeError) as info:
            decode_frame(ds)
        assert info.value.path == str(path) and "1.2.840.10008.1.2.4.51" in info.value.transfer_syntax
        assert "scan start must be zero" in info.value.reason
        return
    frame = decode_frame_with_properties(ds)
    assert frame.plugin == "lightbox-gdcm12"  # the others were tried first and failed
    if shutil.which("dcmdjpeg") is None:
        pytest.skip("DCMTK dcmdjpeg is not installed: no independent reference")
    subprocess.run(["dcmdjpeg", str(path), str(tmp_path / "ref.dcm")], check=True, capture_output=True)
    np.testing.assert_array_equal(frame.pixels, pydicom.dcmread(tmp_path / "ref.dcm").pixel_array)


# --- one frame on demand; offset tables; fragments spanning frames -----------------------------


def _reencapsulated(name: str) -> tuple[pydicom.Dataset, list[bytes], np.ndarray]:
    ds = pydicom.dcmread(pydicom_file(name))
    frames = list(generate_frames(ds.PixelData, number_of_frames=number_of_frames(ds)))
    return ds, frames, ds.pixel_array


@pytest.mark.parametrize("name", ["emri_small_jpeg_ls_lossless.dcm", "emri_small_jpeg_2k_lossless.dcm"])
@pytest.mark.parametrize(("fragments_per_frame", "table"), [
    (1, "basic"), (1, "none"), (2, "none"), (3, "basic"), (1, "extended"),
])
def test_encapsulated_multiframe_layouts_decode_each_frame(name: str, fragments_per_frame: int, table: str
                                                           ) -> None:
    ds, frames, reference = _reencapsulated(name)
    assert not np.array_equal(reference[3], reference[4])  # frames differ, so a wrong index shows
    out = copy.deepcopy(ds)
    if table == "extended":
        out.PixelData, out.ExtendedOffsetTable, out.ExtendedOffsetTableLengths = encapsulate_extended(frames)
    else:
        out.PixelData = encapsulate(frames, fragments_per_frame=fragments_per_frame, has_bot=table == "basic")
    for k in (0, 4, 9):
        np.testing.assert_array_equal(decode_frame(out, k), reference[k])
    np.testing.assert_array_equal(decode_all_frames(out), reference)


def test_rle_frame_split_over_fragments_without_table_is_a_named_error() -> None:
    """PS3.5 A.4.2: an RLE frame is exactly one fragment; without a table frames can't be found."""
    ds, frames, _ = _reencapsulated("emri_small_RLE.dcm")
    ds.PixelData = encapsulate(frames, fragments_per_frame=2, has_bot=False)
    with pytest.raises(DecodeError, match=r"RLE Lossless 1\.2\.840\.10008\.1\.2\.5.*insufficient pixel data"):
        decode_frame(ds, 9)


def test_one_frame_decodes_even_when_the_other_frames_are_corrupt() -> None:
    """Frame k is decoded on its own: garbage in every other frame does not matter."""
    ds, frames, reference = _reencapsulated("emri_small_jpeg_ls_lossless.dcm")
    broken = [f if i == 6 else b"\xff\xd8" + b"\x00" * (len(f) - 2) for i, f in enumerate(frames)]
    ds.PixelData = encapsulate(broken, has_bot=True)
    np.testing.assert_array_equal(decode_frame(ds, 6), reference[6])
    with pytest.raises(DecodeError):
        decode_all_frames(ds)


def test_decode_file_frame_reads_one_frame_from_disk(tmp_path: Path) -> None:
    ds, frames, reference = _reencapsulated("emri_small_jpeg_2k_lossless.dcm")
    ds.PixelData = encapsulate(frames, has_bot=True)
    ds.save_as(tmp_path / "mf.dcm", enforce_file_format=True)
    for k in (0, 7):
        np.testing.assert_array_equal(decode_file_frame(tmp_path / "mf.dcm", k), reference[k])
    with pytest.raises(IndexError, match="frame 10 requested, the image has 10"):
        decode_file_frame(tmp_path / "mf.dcm", 10)


def test_decode_file_frame_handles_a_file_without_meta(data_dir: Path) -> None:
    path = data_dir / "transfer-syntaxes-orthanc" / "1.2.840.10008.1.2.dcm"
    np.testing.assert_array_equal(decode_file_frame(path), decode_frame(read_dataset(path)))


def test_native_multiframe_frame_k_matches_all_frames() -> None:
    ds = read_dataset(pydicom_file("emri_small_big_endian.dcm"))
    everything = decode_all_frames(ds)
    assert everything.shape == (10, 64, 64)
    np.testing.assert_array_equal(decode_frame(ds, 5), everything[5])


# --- errors and codec availability ----------------------------------------------------------------


def test_unsupported_syntax_is_named() -> None:
    ds = read_dataset(pydicom_file("emri_small_jpeg_ls_lossless.dcm"))
    ds.file_meta.TransferSyntaxUID = UID("1.2.840.10008.1.2.4.100")  # MPEG2 Main Profile
    with pytest.raises(UnsupportedTransferSyntax) as info:
        decode_frame(ds)
    assert "MPEG2" in info.value.transfer_syntax and "1.2.840.10008.1.2.4.100" in str(info.value)


def test_missing_pixel_data_is_named() -> None:
    ds = read_dataset(pydicom_file("CT_small.dcm"))
    del ds.PixelData
    with pytest.raises(DecodeError, match="no pixel data"):
        decode_frame(ds)


def test_truncated_native_frame_is_named(tmp_path: Path) -> None:
    ds = read_dataset(pydicom_file("CT_small.dcm"))
    ds.PixelData = ds.PixelData[:-100]
    with pytest.raises(DecodeError, match="less than expected"):
        decode_frame(ds)


def test_availability_report_covers_every_syntax_in_the_issue() -> None:
    report = {row.transfer_syntax: row for row in codecs.availability_report()}
    assert set(report) == set(codecs.IMAGE_TRANSFER_SYNTAXES) and len(report) == 16
    for row in report.values():
        assert row.available, f"{row.name}: nothing installed decodes it ({row.missing})"
    assert report[UID("1.2.840.10008.1.2.1")].used == "native"
    assert report[UID("1.2.840.10008.1.2.5")].plugins[-1] == "pydicom"  # the pure-Python fallback


def test_plugin_order_follows_measurement_but_only_installed_plugins() -> None:
    order = codecs.plugin_order(UID("1.2.840.10008.1.2.4.80"))
    installed = set(pydicom.pixels.decoders.JPEGLSLosslessDecoder.available_plugins)
    assert set(order) == installed
    preferred = [p for p in codecs.PREFERRED_PLUGINS[UID("1.2.840.10008.1.2.4.80")] if p in installed]
    assert order[: len(preferred)] == preferred
    assert "pylibjpeg" in order  # the pure pylibjpeg fallback stays available


# --- HTJ2K (PS3.5 A.4.11): no public file has it; codestreams made with OpenJPH's ojph_compress -----
# from rows 180-203, columns 170-201 of ../shared/data/mr-transfer-syntaxes/1.dcm (12-bit MR):
# `ojph_compress -i crop.pgm -o crop.j2c -reversible true -num_decomps 3` (RPCL progression), and
# the same with `-qstep 0.002` (irreversible 9/7) for the lossy syntax.
HTJ2K_LOSSLESS = base64.b64decode(
    "/0//UQApQAAAAAAgAAAAGAAAAAAAAAAAAAAAIAAAABgAAAAAAAAAAAABCwEB/1AACAACAAAACP9SAAwAAgABAAMEBEAB/1wA"
    "DSBweHiAeHh4cHB4/2QAFgABT3BlbkpQSCBWZXIgMC45LjAu/5AACgAAAAAC5wAB/5PAAWwAWZWtlf0FyY9+8Z9/CJm//dsN"
    "v5CgG5cAwAC0YABaUAAV4Fymq8AE5whmHPkEHdhwQzcA0Lxcwwio+EQUMBz+CzgoAZYAIjisiALWpfIB9IOAOzcAwAC7OAAX"
    "VwAC64Cw2YBHOSgNKw9TvHIgiDB1AYFAEAIcQAAAaaeCTCAoW0rGuFMnACHJUccEYAkLBGACvgBaaEXAaVcVONIg/u9DQBYC"
    "pEEACEpiiAKDkAqpIgWKkxh5y8U0OoAgAZ4AtMCjMyYWLWEuIwiyhiIWnGBA5QThJzeogwqQOhQ9GAiV+ACE9eRi1kyGODGc"
    "AMABfT8ABfTMAAvqYKK4h/aMNIPvSsabdqxNgz3IETlKYxQCL9yXztTmBI+k5QHbgBbjWdo8jYKyouwJUKAsmZVAQIoVL2om"
    "yeIZkT6N0J2IwDiEoR6qbR89LdP2VqwMyTTmUlBuYzAn0gQKRFNQABdleBpMDHAEAlQwW8geyyB85wALKV41FNgPCvl6suvE"
    "QarGzzzWSGrEANeCiFCMIgFG1NcAgCqIACmaAow0BEB0T/TU5HRrZnRRJgsyXenUqQRSMrRcSvei0IRhocGr5jNFGYYUwbDJ"
    "ii9INICPDgMzpH+XDBGO4FYspIYg6DR+k7jSndrl0dDUVlOm4lA3XaqJIS4ACMx2BIhgV8q0y9FF7ZVRYNCR1VjI+QMpFqnd"
    "LzmS4cgBRGiTvarUvceaAgWuuGmSloZAKCRSTWCwIAAQALM6Aiu2tgi+NaxFCMniouCFJNG9qNInMBg1JQtARnlWQoyGGmEF"
    "CjZYeqp9YLLKKUP2qPxKgStTfJABjUJpgLUotp45HLsBFpgptFhoJst6iCaV4kEB56CehnCiwflJ0qhUGdPsc6wOUzxlI21T"
    "rEXWVdFkdcZiMOFPWIxc4gYSkuS8GVDTsWFzPV8rDw5vuARTGxArHhpLkp4VChE0jOdBVBgDBBAhmwL/2Q=="
)
HTJ2K_LOSSY = base64.b64decode(
    "/0//UQApQAAAAAAgAAAAGAAAAAAAAAAAAAAAIAAAABgAAAAAAAAAAAABCwEB/1AACAACAAAAI/9SAAwAAgABAAMEBEAA/1wA"
    "FyJvk2+qb6pvwlg1WDVYeFAaUBpfv/9kABYAAU9wZW5KUEggVmVyIDAuOS4wLv+QAAoAAAAAAVsAAf+TwALZ3Y/khve/BEJg"
    "Bn5gBm7AEiTBP3MpADa3AMACugAVsACsjK8EIBKAmoM33BhDNgBm8x6HyTADHfYI2ZcAZghSpDcASzhR3ZYAwAtyAFrwAtMc"
    "AabLwQk/3OQChEI3ieooHc6yWT1kCjAgUr0AALQNba3TIQdUEALoLGvyTU0bYEC9mwAEeDWEjHTg8QwKelRNyVs5HZsAwBd/"
    "AF3MALswViIex7pGywJLqqpbeWKAeYeQRVIIRDEMlQY7athzUPAcNxVPGwO7+tI0f+OxTTaMNZmnyahFOeQ7Mx7ZKZ8BblBL"
    "jpObd6DQ42uZAoTA3FkASAAGKAB52j0F/DZXYagsIKE7YV23mOxntuGpcX8zIo8qeSBL2n0BYQfXvQ4lEhHb/pHmnAywUQwQ"
    "wER3nCutyDLamEa2+CfL/BX39uZYRWhE3N+E6f4UoZ0B/9k="
)


def _htj2k_dataset(codestream: bytes, syntax: str) -> pydicom.Dataset:
    ds = pydicom.Dataset()
    ds.file_meta = pydicom.dataset.FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = UID(syntax)
    ds.set_original_encoding(False, True)
    ds.Rows, ds.Columns, ds.SamplesPerPixel, ds.PhotometricInterpretation = 24, 32, 1, "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 12, 11, 0
    ds.PixelData = encapsulate([codestream])
    return ds


@pytest.mark.parametrize("syntax", ["1.2.840.10008.1.2.4.201", "1.2.840.10008.1.2.4.202"])
def test_htj2k_lossless_decodes_to_the_original_pixels(data_dir: Path, syntax: str) -> None:
    original = decode_frame(read_dataset(data_dir / "mr-transfer-syntaxes" / "1.dcm"))[180:204, 170:202]
    np.testing.assert_array_equal(decode_frame(_htj2k_dataset(HTJ2K_LOSSLESS, syntax)), original)


def test_htj2k_lossy_decodes_close_to_the_original_pixels(data_dir: Path) -> None:
    original = decode_frame(read_dataset(data_dir / "mr-transfer-syntaxes" / "1.dcm"))[180:204, 170:202]
    decoded = decode_frame(_htj2k_dataset(HTJ2K_LOSSY, "1.2.840.10008.1.2.4.203"))
    difference = np.abs(decoded.astype(np.int32) - original)
    assert 0 < difference.max() <= 40 and difference.mean() < 5


def _pylibjpeg_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """Pretend GDCM, CharLS and Pillow are not installed: the pure pylibjpeg fallback."""
    import viewer.core.decode as decode_module

    def order(syntax: str) -> list[str]:
        return [p for p in codecs.plugin_order(syntax) if p in ("", "pylibjpeg", "pydicom")]

    monkeypatch.setattr(decode_module, "plugin_order", order)


def test_pure_pylibjpeg_installation_decodes_the_mr_syntaxes_identically(
        data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = data_dir / "mr-transfer-syntaxes"
    fast = [decode_frame_with_properties(read_dataset(p)) for p in sorted(folder.glob("*.dcm"))]
    _pylibjpeg_only(monkeypatch)
    fallback = [decode_frame_with_properties(read_dataset(p)) for p in sorted(folder.glob("*.dcm"))]
    assert {f.plugin for f in fallback} <= {"", "pylibjpeg"}
    for a, b in zip(fast, fallback, strict=True):
        np.testing.assert_array_equal(a.pixels, b.pixels)


def test_without_gdcm_the_non_conformant_jpeg_is_a_named_error(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _pylibjpeg_only(monkeypatch)
    path = data_dir / "transfer-syntaxes-orthanc" / "1.2.840.10008.1.2.4.51.dcm"
    with pytest.raises(DecodeError) as info:
        decode_frame(read_dataset(path))
    assert info.value.path == str(path)
    assert info.value.transfer_syntax == "JPEG Extended (Process 2 and 4) 1.2.840.10008.1.2.4.51"
    assert "pylibjpeg" in info.value.reason and "scan start must be zero" in info.value.reason


def test_about_box_lines_name_the_decoders_in_order() -> None:
    report = {row.transfer_syntax: str(row) for row in codecs.availability_report()}
    assert report[UID("1.2.840.10008.1.2.1")] == "Explicit VR Little Endian: native"
    assert report[UID("1.2.840.10008.1.2.5")].startswith("RLE Lossless: pylibjpeg (then ")
    missing = codecs.CodecStatus(UID("1.2.840.10008.1.2.4.201"), "HTJ2K", (), ("pylibjpeg-openjpeg>=2.4",))
    assert str(missing) == "HTJ2K: not available (install pylibjpeg-openjpeg>=2.4)"


@pytest.mark.parametrize("name", ["emri_small_jpeg_ls_lossless.dcm", "emri_small_jpeg_2k_lossless.dcm"])
def test_a_truncated_fragment_is_a_named_error_never_a_wrong_image(name: str, tmp_path: Path) -> None:
    ds, frames, reference = _reencapsulated(name)
    frames[3] = frames[3][: int(len(frames[3]) * 0.9)]  # the last tenth of frame 3 is lost
    ds.PixelData = encapsulate(frames, has_bot=True)
    if "jpeg_ls" in name:  # libjpeg alone would return an image for it, wrong after the cut
        lenient, _ = pydicom.pixels.decoders.JPEGLSLosslessDecoder.as_array(ds, index=3, decoding_plugin="pylibjpeg")
        assert not np.array_equal(lenient, reference[3])
    for decode in (lambda: decode_frame(ds, 3), lambda: decode_all_frames(ds)):
        with pytest.raises(DecodeError, match="frame 3: truncated codestream"):
            decode()
    np.testing.assert_array_equal(decode_frame(ds, 4), reference[4])  # the other frames still decode
    ds.save_as(tmp_path / "cut.dcm", enforce_file_format=True)
    with pytest.raises(DecodeError, match="frame 3: truncated codestream") as info:
        decode_file_frame(tmp_path / "cut.dcm", 3)
    assert info.value.path == str(tmp_path / "cut.dcm")
    np.testing.assert_array_equal(decode_file_frame(tmp_path / "cut.dcm", 4), reference[4])
