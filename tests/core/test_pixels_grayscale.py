"""The grayscale pipeline against the text of the standard: Modality LUT (PS3.3 C.11.1), VOI LUT
(C.11.2: windows with LINEAR / LINEAR_EXACT / SIGMOID, VOI LUT Sequence), Presentation LUT and
MONOCHROME1 (C.11.6, C.7.6.3.1.2), Pixel Padding (C.7.5.1.1.2)."""

from __future__ import annotations

import math

import numpy as np
import pydicom
import pytest
from pydicom.data import get_testdata_file
from pydicom.dataset import Dataset
from pydicom.pixels.processing import apply_modality_lut as pydicom_modality_lut
from pydicom.pixels.processing import apply_voi_lut as pydicom_voi_lut
from pydicom.sequence import Sequence

from viewer.core.decode import decode_frame
from viewer.core.pixels.display import default_voi, display_frame, presentation_inverted, to_display_uint8
from viewer.core.pixels.modality import apply_modality_lut, rescale
from viewer.core.pixels.voi import (
    LINEAR_EXACT,
    SIGMOID,
    VoiLut,
    Window,
    apply_window,
    auto_window,
    default_window,
    file_voi_luts,
    file_windows,
    padding_mask,
)
from viewer.core.reading import read_dataset


def pydicom_file(name: str) -> str:
    path = get_testdata_file(name, download=False)
    assert path, f"{name} missing: install the pydicom-data test dependency"
    return path


# --- LINEAR (C.11.2.1.2.1) ---------------------------------------------------------------------


def test_linear_window_edges_are_exactly_the_standards() -> None:
    w = Window(40, 400)  # lower edge c - 0.5 - (w-1)/2 = -160, upper c - 0.5 + (w-1)/2 = 239
    y = apply_window(np.array([-1000, -160, -159.999, 39.5, 239, 239.001, 3000]), w, 0, 255)
    assert y[0] == 0 and y[1] == 0  # x <= c - 0.5 - (w-1)/2 -> ymin
    assert y[2] == pytest.approx((((-159.999 - 39.5) / 399) + 0.5) * 255)
    assert y[3] == pytest.approx(127.5)  # x = c - 0.5 is the middle of the output range
    assert y[4] == pytest.approx(255)  # the last x of the ramp reaches ymax
    assert y[5] == 255 and y[6] == 255


def test_linear_window_of_width_one_is_a_threshold_at_c_minus_half() -> None:
    w = Window(10, 1)
    y = apply_window(np.array([9.0, 9.5, 9.5001, 10.0]), w, 0, 255)
    np.testing.assert_array_equal(y, [0, 0, 255, 255])


def test_linear_window_width_below_one_is_refused() -> None:
    with pytest.raises(ValueError, match=r"C\.11\.2\.1\.2\.1"):
        Window(10, 0.5)


def test_linear_display_bytes_round_half_up() -> None:
    out = to_display_uint8(np.array([-160, 39.5, 40, 239]), Window(40, 400))
    expected = [0, 128, math.floor(((40 - 39.5) / 399 + 0.5) * 255 + 0.5), 255]
    np.testing.assert_array_equal(out, expected)
    assert out.dtype == np.uint8


# --- LINEAR_EXACT and SIGMOID (C.11.2.1.3) -------------------------------------------------------


def test_linear_exact_window() -> None:
    w = Window(0, 100, function=LINEAR_EXACT)
    y = apply_window(np.array([-51, -50, -25, 0, 50, 50.01]), w, 0, 1)
    np.testing.assert_allclose(y, [0, 0, 0.25, 0.5, 1.0, 1.0])
    assert apply_window(np.array([0.3]), Window(0, 0.5, function=LINEAR_EXACT), 0, 1)[0] == pytest.approx(1.0)


def test_sigmoid_window() -> None:
    w = Window(100, 50, function=SIGMOID)
    y = apply_window(np.array([100, 125, 75, 1e6]), w, 0, 255)
    assert y[0] == pytest.approx(127.5)
    assert y[1] == pytest.approx(255 / (1 + math.exp(-2)))  # -4 * (x - c) / w = -2
    assert y[2] == pytest.approx(255 / (1 + math.exp(2)))
    assert y[3] == pytest.approx(255)


def test_voi_lut_function_is_read_from_the_file() -> None:
    ds = Dataset()
    ds.WindowCenter, ds.WindowWidth, ds.VOILUTFunction = [40, 300], [400, 0.5], "SIGMOID"
    ds.WindowCenterWidthExplanation = ["SOFT", "NARROW"]
    windows = file_windows(ds)
    assert [(w.center, w.width, w.explanation, w.function) for w in windows] == [
        (40, 400, "SOFT", SIGMOID), (300, 0.5, "NARROW", SIGMOID)]  # 0.5 is valid for SIGMOID
    ds.VOILUTFunction = "LINEAR"
    assert [w.explanation for w in file_windows(ds)] == ["SOFT"]  # 0.5 is not valid for LINEAR


# --- VOI LUT Sequence (C.11.2.1.1) ----------------------------------------------------------------


def test_voi_lut_sequence_of_a_real_file_matches_pydicom() -> None:
    ds = read_dataset(pydicom_file("vlut_04.dcm"))
    stored = decode_frame(ds)
    (lut,) = file_voi_luts(ds)
    assert (lut.first_mapped, lut.bits, lut.data.size) == (0, 16, 256)
    reference = pydicom_voi_lut(stored, ds)  # raw LUT entries
    expected = np.floor(reference.astype(np.float64) / 65535 * 255 + 0.5)
    np.testing.assert_array_equal(to_display_uint8(apply_modality_lut(stored, ds), lut), expected)
    assert display_frame(ds).voi == lut  # no window in the file: its VOI LUT is the default


def test_voi_lut_sequence_clamps_below_and_above_the_table() -> None:
    item = Dataset()
    item.LUTDescriptor = [4, 65526, 8]  # first value mapped -10 written as US (signed data)
    item.LUTData = [0, 85, 170, 255]
    ds = Dataset()
    ds.PixelRepresentation = 1
    ds.VOILUTSequence = Sequence([item])
    (lut,) = file_voi_luts(ds)
    assert lut.first_mapped == -10
    out = to_display_uint8(np.array([-100, -10, -9, -8, -7, -6, 50]), lut)
    np.testing.assert_array_equal(out, [0, 0, 85, 170, 255, 255, 255])


# --- Modality LUT (C.11.1) ------------------------------------------------------------------------


def test_modality_lut_sequence_of_a_real_file_matches_pydicom() -> None:
    ds = read_dataset(pydicom_file("mlut_18.dcm"))
    stored = decode_frame(ds)
    ours = apply_modality_lut(stored, ds)
    np.testing.assert_array_equal(ours, pydicom_modality_lut(stored, ds))
    assert ours.dtype in (np.int16, np.float32)


def test_modality_lut_sequence_clamps_to_first_and_last_entries() -> None:
    item = Dataset()
    item.LUTDescriptor, item.LUTData, item.ModalityLUTType = [4, 2, 16], [10, 20, 30, 40], "HU"
    ds = Dataset()
    ds.ModalityLUTSequence = Sequence([item])
    ds.PixelRepresentation = 0
    out = apply_modality_lut(np.array([0, 2, 3, 4, 5, 100], dtype=np.uint16), ds)
    np.testing.assert_array_equal(out, [10, 10, 20, 30, 40, 40])
    assert out.dtype == np.int16


def test_rescale_keeps_int16_when_exact_and_float32_otherwise() -> None:
    ds = Dataset()
    ds.RescaleSlope, ds.RescaleIntercept = 1, -1024
    stored = np.array([0, 1024, 4095], dtype=np.uint16)
    out = apply_modality_lut(stored, ds)
    assert out.dtype == np.int16 and out.tolist() == [-1024, 0, 3071]
    ds.RescaleSlope = 2
    assert apply_modality_lut(stored, ds).tolist() == [-1024, 1024, 7166]
    ds.RescaleSlope, ds.RescaleIntercept = 0.5, 0.25
    out = apply_modality_lut(stored, ds)
    assert out.dtype == np.float32 and out.tolist() == [0.25, 512.25, 2047.75]
    ds.RescaleSlope, ds.RescaleIntercept = 1, 0
    big = apply_modality_lut(np.array([0, 65535], dtype=np.uint16), ds)
    assert big.dtype == np.float32 and big.tolist() == [0, 65535]  # beyond int16: float32, exact


def _enhanced(slopes: list[float], intercepts: list[float], windows: list[tuple[float, float]]) -> Dataset:
    ds = Dataset()
    ds.NumberOfFrames = len(slopes)
    frames = []
    for slope, intercept, (center, width) in zip(slopes, intercepts, windows, strict=True):
        transform, voi, group = Dataset(), Dataset(), Dataset()
        transform.RescaleSlope, transform.RescaleIntercept, transform.RescaleType = slope, intercept, "US"
        voi.WindowCenter, voi.WindowWidth = center, width
        group.PixelValueTransformationSequence = Sequence([transform])
        group.FrameVOILUTSequence = Sequence([voi])
        frames.append(group)
    ds.PerFrameFunctionalGroupsSequence = Sequence(frames)
    return ds


def test_per_frame_rescale_and_window_of_enhanced_objects() -> None:
    ds = _enhanced([1, 2], [-1000, 0], [(40, 400), (300, 1500)])
    stored = np.array([[1000, 2000]], dtype=np.uint16)
    assert rescale(ds, 0) == (1, -1000) and rescale(ds, 1) == (2, 0)
    np.testing.assert_array_equal(apply_modality_lut(stored, ds, frame=0), [[0, 1000]])
    np.testing.assert_array_equal(apply_modality_lut(stored, ds, frame=1), [[2000, 4000]])
    assert file_windows(ds, 1) == [Window(300, 1500)]


def test_real_enhanced_ct_window_comes_from_the_functional_groups() -> None:
    ds = read_dataset(pydicom_file("eCT_Supplemental.dcm"))
    assert "WindowCenter" not in ds
    windows = file_windows(ds, 0)
    shared = ds.SharedFunctionalGroupsSequence[0]
    per_frame = ds.PerFrameFunctionalGroupsSequence[0]
    source = per_frame if "FrameVOILUTSequence" in per_frame else shared
    assert windows[0].center == float(source.FrameVOILUTSequence[0].WindowCenter)


# --- Pixel padding and the automatic window --------------------------------------------------------


def test_padding_value_and_range_limit() -> None:
    ds = Dataset()
    ds.PixelRepresentation, ds.BitsAllocated = 1, 16
    ds.PixelPaddingValue = 63536  # -2000 read as US
    stored = np.array([-2000, -1999, -1500, 0, 100], dtype=np.int16)
    np.testing.assert_array_equal(padding_mask(stored, ds), [True, False, False, False, False])
    ds.PixelPaddingRangeLimit = 64036  # -1500: the range is inclusive
    np.testing.assert_array_equal(padding_mask(stored, ds), [True, True, True, False, False])


def test_auto_window_ignores_padding() -> None:
    rng = np.random.default_rng(1)
    body = rng.integers(-100, 101, size=(64, 64)).astype(np.int16)
    image = np.full((128, 128), -2000, dtype=np.int16)  # 75 % padding outside the body
    image[32:96, 32:96] = body
    ds = Dataset()
    ds.PixelPaddingValue, ds.PixelRepresentation, ds.BitsAllocated = -2000, 1, 16
    ds.RescaleSlope, ds.RescaleIntercept = 1, 0
    with_padding = auto_window(image)
    assert with_padding.center < -500  # the padding drags an unaware window
    window = default_window(ds, image)
    assert -10 < window.center < 10 and 180 < window.width <= 200
    assert default_voi(ds, image, stored=image) == window


def test_real_ct_padding_is_excluded_from_the_auto_window() -> None:
    ds = read_dataset(pydicom_file("693_UNCI.dcm"))  # padding -2000, intercept -1024
    stored = decode_frame(ds)
    values = apply_modality_lut(stored, ds)
    mask = padding_mask(stored, ds)
    assert mask.any()
    auto = auto_window(values, exclude=mask)
    expected_low, expected_high = np.percentile(values[~mask], [0.5, 99.5])
    assert auto.center == pytest.approx((expected_low + expected_high) / 2)
    assert default_voi(ds, values, stored) == file_windows(ds)[0]  # the file's window still wins


# --- Presentation LUT and MONOCHROME1 (C.11.6, C.7.6.3.1.2) ---------------------------------------


@pytest.mark.parametrize(("photometric", "shape", "inverted"), [
    ("MONOCHROME2", None, False), ("MONOCHROME1", None, True),
    ("MONOCHROME2", "INVERSE", True), ("MONOCHROME1", "INVERSE", True), ("MONOCHROME2", "IDENTITY", False),
])
def test_presentation_inversion(photometric: str, shape: str | None, inverted: bool) -> None:
    ds = Dataset()
    ds.PhotometricInterpretation = photometric
    if shape:
        ds.PresentationLUTShape = shape
    assert presentation_inverted(ds) is inverted


def test_monochrome1_radiograph_shows_the_minimum_as_white() -> None:
    ds = read_dataset(pydicom_file("RG1_UNCI.dcm"))
    assert ds.PhotometricInterpretation == "MONOCHROME1"
    stored = decode_frame(ds)
    image = display_frame(ds)
    assert image.inverted and image.voi == Window(15000, 30000)
    for row, col in [(1000, 900), (0, 0), (1500, 300)]:
        x = float(stored[row, col])  # no rescale in the file
        if x <= 15000 - 0.5 - 29999 / 2:
            y = 0.0
        elif x > 15000 - 0.5 + 29999 / 2:
            y = 255.0
        else:
            y = ((x - 14999.5) / 29999 + 0.5) * 255
        assert image.pixels[row, col] == math.floor(255 - y + 0.5)
    darkest = np.unravel_index(stored.argmin(), stored.shape)
    brightest = np.unravel_index(stored.argmax(), stored.shape)
    assert image.pixels[darkest] > image.pixels[brightest]


def test_ct_display_bytes_at_known_pixels(ct_dir) -> None:
    ds = read_dataset(ct_dir / "1-067.dcm")
    image = display_frame(ds)
    hu = pydicom_modality_lut(pydicom.dcmread(ct_dir / "1-067.dcm").pixel_array, ds)
    window = file_windows(ds)[0]
    assert image.voi == window and not image.inverted
    low, high = window.center - 0.5 - (window.width - 1) / 2, window.center - 0.5 + (window.width - 1) / 2
    for row, col in [(256, 256), (0, 0), (300, 200)]:
        x = float(hu[row, col])
        ramp = ((x - (window.center - 0.5)) / (window.width - 1) + 0.5) * 255
        y = 0.0 if x <= low else 255.0 if x > high else ramp
        assert image.pixels[row, col] == math.floor(y + 0.5)


@pytest.mark.parametrize("little_endian", [True, False])
def test_voi_lut_data_as_ow_bytes_in_either_byte_order(little_endian: bool) -> None:
    item = Dataset()
    item.LUTDescriptor = [3, 0, 16]
    item.add_new("LUTData", "OW", np.array([0, 32768, 65535], dtype="<u2" if little_endian else ">u2").tobytes())
    ds = Dataset()
    ds.set_original_encoding(False, little_endian)
    ds.VOILUTSequence = Sequence([item])
    (lut,) = file_voi_luts(ds)
    np.testing.assert_array_equal(to_display_uint8(np.array([0, 1, 2]), lut), [0, 128, 255])


def test_file_vois_offers_windows_then_tables() -> None:
    from viewer.core.pixels.voi import file_vois

    ds = read_dataset(pydicom_file("vlut_04.dcm"))
    ds.WindowCenter, ds.WindowWidth, ds.WindowCenterWidthExplanation = [128, 100], [256, 50], ["FULL", "NARROW"]
    presets = file_vois(ds)
    assert [type(p).__name__ for p in presets] == ["Window", "Window", "VoiLut"]
    assert [p.explanation for p in presets[:2]] == ["FULL", "NARROW"]


@pytest.mark.parametrize(("dtype", "low", "high"), [(np.int16, -2000, 3000), (np.uint16, 0, 4096),
                                                    (np.uint16, 900, 1100), (np.uint8, 0, 256)])
@pytest.mark.parametrize("voi", [Window(40, 400), Window(1000, 1), Window(0, 7, function=SIGMOID),
                                 VoiLut(-50, 8, np.arange(0, 256, 2, dtype=np.float64))])
def test_the_lookup_table_path_gives_the_same_bytes_as_the_formula(dtype, low, high, voi) -> None:
    from viewer.core.pixels.display import voi_output

    values = np.random.default_rng(3).integers(low, high, (300, 300)).astype(dtype)  # > 65536 pixels
    fast = to_display_uint8(values, voi, invert=True)
    slow = np.floor(255.0 - voi_output(values.astype(np.float64), voi) + 0.5).astype(np.uint8)
    np.testing.assert_array_equal(fast, slow)


def test_a_voi_lut_with_missing_entries_is_not_used() -> None:
    item = Dataset()
    item.LUTDescriptor, item.LUTData = [256, 0, 8], list(range(100))  # 100 of 256 entries
    ds = Dataset()
    ds.VOILUTSequence = Sequence([item])
    assert file_voi_luts(ds) == []
    item.LUTDescriptor = [100, 0, 4]  # bits per entry outside 8..16
    assert file_voi_luts(ds) == []
    item.LUTDescriptor = [100, 0, 8]
    assert len(file_voi_luts(ds)) == 1


def test_auto_window_of_narrow_float_data_uses_linear_exact() -> None:
    values = np.linspace(0.0, 0.01, 10_000, dtype=np.float32).reshape(100, 100)
    window = auto_window(values)
    assert window.function == LINEAR_EXACT and 0.009 < window.width < 0.01
    shown = to_display_uint8(values, window)
    assert shown.min() == 0 and shown.max() == 255 and len(np.unique(shown)) == 256
    integers = auto_window(np.zeros((10, 10), dtype=np.int16))
    assert integers.function == "LINEAR" and integers.width == 1.0


def test_region_statistics_leave_padding_out() -> None:
    from viewer.core.pixels.statistics import value_statistics

    ds = read_dataset(pydicom_file("693_UNCI.dcm"))  # CT with Pixel Padding Value -2000
    stored = decode_frame(ds)
    hu = apply_modality_lut(stored, ds)
    everything = value_statistics(hu)
    patient = value_statistics(hu, ds=ds, stored=stored)
    body = stored != int(ds.PixelPaddingValue)
    assert patient.count == int(body.sum()) < everything.count
    assert patient.mean == pytest.approx(float(hu[body].mean()))
    square = np.zeros(hu.shape, dtype=bool)
    square[200:210, 200:210] = True
    inside = value_statistics(hu, square, ds=ds, stored=stored)
    assert inside.count == 100 and inside.mean == pytest.approx(float(hu[200:210, 200:210].mean()))
    assert value_statistics(hu, ~body, ds=ds, stored=stored) is None  # nothing but padding
