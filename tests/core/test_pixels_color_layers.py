"""Colour (PS3.3 C.7.6.3.1.2 YBR/RGB, C.7.6.3.1.3 Planar Configuration, C.7.6.3.1.5/6 palettes,
C.7.9 segmented palettes), overlay planes (C.9.2) and display shutters (C.7.6.11), asserted on
values computed here from the standard's text, independently of the code under test."""

from __future__ import annotations

import struct

import numpy as np
import pytest
from pydicom.data import get_testdata_file
from pydicom.dataset import Dataset
from pydicom.pixels import pixel_array

from viewer.core.decode import decode_frame_with_properties
from viewer.core.pixels.color import to_8_bits, to_display_rgb
from viewer.core.pixels.display import display_frame
from viewer.core.pixels.overlays import overlay_layer, overlay_planes
from viewer.core.pixels.shutters import shutter, shutter_mask
from viewer.core.reading import read_dataset


def pydicom_file(name: str) -> str:
    path = get_testdata_file(name, download=False)
    assert path, f"{name} missing: install the pydicom-data test dependency"
    return path


# The colour bars of SC_rgb.dcm (rows 5, 15, ... 95 at column 50), from pydicom's own test table.
SC_RGB_BARS = [(255, 0, 0), (255, 128, 128), (0, 255, 0), (128, 255, 128), (0, 0, 255), (128, 128, 255),
               (0, 0, 0), (64, 64, 64), (192, 192, 192), (255, 255, 255)]
BAR_ROWS = [5, 15, 25, 35, 45, 55, 65, 75, 85, 95]


def test_rgb_display_is_the_stored_rgb() -> None:
    image = display_frame(read_dataset(pydicom_file("SC_rgb.dcm")))
    assert image.pixels.dtype == np.uint8 and image.voi is None
    assert [tuple(int(v) for v in image.pixels[r, 50]) for r in BAR_ROWS] == SC_RGB_BARS


def test_16_bit_rgb_is_scaled_to_bytes() -> None:
    image = display_frame(read_dataset(pydicom_file("SC_rgb_16bit.dcm")))
    assert [tuple(int(v) for v in image.pixels[r, 50]) for r in BAR_ROWS] == SC_RGB_BARS
    np.testing.assert_array_equal(to_8_bits(np.array([0, 2048, 4095], dtype=np.uint16), 12), [0, 128, 255])


def _ybr_full_to_rgb(ybr: np.ndarray) -> np.ndarray:
    """C.7.6.3.1.2 YBR_FULL: R = Y + 1.402 (Cr-128), G = Y - 0.3441 (Cb-128) - 0.7141 (Cr-128),
    B = Y + 1.772 (Cb-128) (the inverse of the standard's forward equations)."""
    y, cb, cr = (ybr[..., i].astype(np.float64) for i in range(3))
    rgb = np.stack([y + 1.402 * (cr - 128), y - 0.344136 * (cb - 128) - 0.714136 * (cr - 128),
                    y + 1.772 * (cb - 128)], axis=-1)
    return np.clip(np.round(rgb), 0, 255)


def test_ybr_full_is_converted_by_the_standards_equations() -> None:
    path = pydicom_file("SC_ybr_full_uncompressed.dcm")
    ds = read_dataset(path)
    image = display_frame(ds)
    expected = _ybr_full_to_rgb(pixel_array(path, raw=True))
    assert np.abs(image.pixels.astype(np.int16) - expected).max() <= 1
    for row, bar in zip(BAR_ROWS, SC_RGB_BARS, strict=True):  # the same bars, within YBR rounding
        assert np.abs(image.pixels[row, 50].astype(int) - bar).max() <= 5


def test_raw_ybr_arrays_go_through_the_same_conversion() -> None:
    path = pydicom_file("SC_ybr_full_uncompressed.dcm")
    raw = pixel_array(path, raw=True)
    rgb = to_display_rgb(raw, "YBR_FULL", read_dataset(path))
    assert np.abs(rgb.astype(np.int16) - _ybr_full_to_rgb(raw)).max() <= 1


def test_ybr_full_422_jpeg_matches_dcmtks_decompression() -> None:
    ours = display_frame(read_dataset(pydicom_file("SC_rgb_dcmtk_+eb+cy+np.dcm")))
    reference = pixel_array(pydicom_file("SC_rgb_dcmtk_ebcynp_dcmd.dcm"))  # dcmdjpeg's RGB output
    assert decode_frame_with_properties(read_dataset(pydicom_file("SC_rgb_dcmtk_+eb+cy+np.dcm"))
                                        ).photometric_interpretation == "RGB"
    assert np.abs(ours.pixels.astype(np.int16) - reference).mean() < 1.0
    assert np.abs(ours.pixels.astype(np.int16) - reference).max() <= 16  # chroma upsampling differs


def test_ybr_rct_jpeg2000_is_exactly_the_uncompressed_rgb() -> None:
    """YBR_RCT is the reversible component transform: lossless back to the original RGB."""
    ours = display_frame(read_dataset(pydicom_file("US1_J2KR.dcm")))
    np.testing.assert_array_equal(ours.pixels, pixel_array(pydicom_file("US1_UNCR.dcm")))


def test_ybr_ict_jpeg2000_is_close_to_the_uncompressed_rgb() -> None:
    ours = display_frame(read_dataset(pydicom_file("US1_J2KI.dcm"))).pixels.astype(np.int16)
    original = pixel_array(pydicom_file("US1_UNCI.dcm")).astype(np.int16)
    assert np.abs(ours - original).mean() < 2.0


def test_planar_configuration_does_not_change_the_image() -> None:
    by_plane = display_frame(read_dataset(pydicom_file("color-pl.dcm")))
    by_pixel = display_frame(read_dataset(pydicom_file("color-px.dcm")))
    assert read_dataset(pydicom_file("color-pl.dcm")).PlanarConfiguration == 1
    np.testing.assert_array_equal(by_plane.pixels, by_pixel.pixels)


# --- palettes -------------------------------------------------------------------------------------


def test_palette_color_uses_the_lookup_tables() -> None:
    ds = read_dataset(pydicom_file("OBXXXX1A.dcm"))
    entries, first, bits = ds.RedPaletteColorLookupTableDescriptor
    assert bits == 16
    luts = [np.frombuffer(ds[f"{c}PaletteColorLookupTableData"].value, dtype="<u2")
            for c in ("Red", "Green", "Blue")]
    indices = decode_frame_with_properties(ds).pixels
    image = display_frame(ds)
    for row, col in [(300, 400), (10, 10), (500, 700), (100, 650)]:
        index = min(max(int(indices[row, col]) - first, 0), entries - 1)
        expected = [int(np.floor(float(lut[index]) * 255 / 65535 + 0.5)) for lut in luts]
        assert image.pixels[row, col].tolist() == expected
    assert len({tuple(p) for p in image.pixels.reshape(-1, 3)[::97]}) > 10  # really in colour


def _expand_segmented(words: list[int]) -> list[float]:
    """C.7.9.2: discrete (0), linear (1) and indirect (2) segments, written from the text."""
    out: list[float] = []
    segment_starts: list[int] = []
    i = 0
    while i < len(words):
        segment_starts.append(i)
        opcode, length = words[i], words[i + 1]
        if opcode == 0:
            out += words[i + 2:i + 2 + length]
            i += 2 + length
        elif opcode == 1:
            y0, y1 = out[-1], words[i + 2]
            out += [y0 + (y1 - y0) * k / length for k in range(1, length + 1)]
            i += 3
        elif opcode == 2:
            offset = words[i + 2] | (words[i + 3] << 16)
            start = offset // 2  # byte offset into the segmented data
            copied = _expand_segmented_from(words, start, length, out)
            out += copied
            i += 4
        else:
            raise AssertionError(f"bad opcode {opcode}")
    return out


def _expand_segmented_from(words: list[int], start: int, segments: int, so_far: list[float]) -> list[float]:
    acc = list(so_far)
    i = start
    for _ in range(segments):
        opcode, length = words[i], words[i + 1]
        if opcode == 0:
            acc += words[i + 2:i + 2 + length]
            i += 2 + length
        else:
            y0, y1 = acc[-1], words[i + 2]
            acc += [y0 + (y1 - y0) * k / length for k in range(1, length + 1)]
            i += 3
    return acc[len(so_far):]


def test_segmented_palette_renders_as_the_standard_expands_it() -> None:
    ds = read_dataset(pydicom_file("gdcm-US-ALOKA-16.dcm"))
    assert "SegmentedRedPaletteColorLookupTableData" in ds
    tables = []
    for colour in ("Red", "Green", "Blue"):
        raw = ds[f"Segmented{colour}PaletteColorLookupTableData"].value
        tables.append(_expand_segmented(list(struct.unpack(f"<{len(raw) // 2}H", raw))))
    indices = decode_frame_with_properties(ds).pixels
    image = display_frame(ds)
    for row, col in [(240, 320), (100, 100), (400, 50), (300, 500)]:
        index = int(indices[row, col])
        expected = [table[min(index, len(table) - 1)] * 255 / 65535 for table in tables]
        assert np.abs(image.pixels[row, col].astype(float) - expected).max() <= 1.0, (row, col)


def test_small_synthetic_segmented_palette() -> None:
    # discrete 0, 65535/4 ... then a linear ramp to 65535 over 4 entries: 8 entries in all
    words = [0, 4, 0, 8192, 16384, 24576, 1, 4, 65535]
    ds = Dataset()
    ds.set_original_encoding(False, True)
    for colour in ("Red", "Green", "Blue"):
        setattr(ds, f"{colour}PaletteColorLookupTableDescriptor", [8, 0, 16])
        ds.add_new(f"Segmented{colour}PaletteColorLookupTableData", "OW", struct.pack("<9H", *words))
    ds.BitsStored, ds.PhotometricInterpretation = 8, "PALETTE COLOR"
    rgb = to_display_rgb(np.arange(10, dtype=np.uint8).reshape(1, 10), "PALETTE COLOR", ds)
    expected_16 = [0, 8192, 16384, 24576, 34816.75, 45055.5, 55295.25, 65535, 65535, 65535]
    np.testing.assert_allclose(rgb[0, :, 0], np.floor(np.array(expected_16) * 255 / 65535 + 0.5), atol=1)


# --- overlays -------------------------------------------------------------------------------------


def _unpack_overlay(data: bytes, rows: int, columns: int) -> np.ndarray:
    """PS3.5 8.1.2 / C.9.2.1.3: 1-bit overlay data, the first pixel in the least significant bit."""
    bits = [(byte >> k) & 1 for byte in data for k in range(8)]
    return np.array(bits[: rows * columns], dtype=bool).reshape(rows, columns)


@pytest.mark.parametrize("name", ["MR-SIEMENS-DICOM-WithOverlays.dcm", "examples_overlay.dcm"])
def test_overlay_bits_land_on_the_image_grid(name: str) -> None:
    ds = read_dataset(pydicom_file(name))
    (plane,) = overlay_planes(ds)
    rows, columns = int(ds[0x6000, 0x0010].value), int(ds[0x6000, 0x0011].value)
    expected = _unpack_overlay(ds[0x6000, 0x3000].value, rows, columns)
    assert plane.type == "G" and plane.origin == (1, 1)
    layer = overlay_layer(ds, 0)
    assert layer.shape == (int(ds.Rows), int(ds.Columns))
    np.testing.assert_array_equal(layer, expected)
    on = np.argwhere(expected)
    assert len(on) > 100
    for r, c in on[:: max(1, len(on) // 5)]:
        assert layer[r, c]
    image = display_frame(ds)
    assert image.composed()[tuple(on[0])] == 255  # drawn over, not mixed into the values
    np.testing.assert_array_equal(image.overlay, expected)


def test_overlay_origin_shifts_and_crops() -> None:
    path = pydicom_file("examples_overlay.dcm")
    ds = read_dataset(path)
    rows, columns = int(ds[0x6000, 0x0010].value), int(ds[0x6000, 0x0011].value)
    expected = _unpack_overlay(ds[0x6000, 0x3000].value, rows, columns)
    ds[0x6000, 0x0050].value = [11, -4]  # 10 rows down, 5 columns left (off the left edge)
    layer = overlay_layer(ds, 0)
    np.testing.assert_array_equal(layer[10:, :-5], expected[:-10, 5:])
    assert not layer[:10].any()


def test_no_overlay_means_no_layer() -> None:
    assert overlay_layer(read_dataset(pydicom_file("CT_small.dcm"))) is None


# --- shutters -------------------------------------------------------------------------------------


def _shuttered(**attributes: object) -> Dataset:
    ds = Dataset()
    ds.Rows, ds.Columns = 10, 12
    for key, value in attributes.items():
        setattr(ds, key, value)
    return ds


def test_rectangular_shutter_edges_are_inclusive() -> None:
    ds = _shuttered(ShutterShape="RECTANGULAR", ShutterLeftVerticalEdge=3, ShutterRightVerticalEdge=8,
                    ShutterUpperHorizontalEdge=2, ShutterLowerHorizontalEdge=5)
    mask = shutter_mask(ds)
    expected = np.zeros((10, 12), dtype=bool)
    expected[1:5, 2:8] = True  # rows 2..5, columns 3..8, 1-based
    np.testing.assert_array_equal(mask, expected)


def test_circular_shutter() -> None:
    ds = _shuttered(ShutterShape="CIRCULAR", CenterOfCircularShutter=[5, 6], RadiusOfCircularShutter=2)
    mask = shutter_mask(ds)
    assert mask.sum() == 13  # the pixel centres within distance 2 of (5, 6)
    assert mask[4, 5] and mask[2, 5] and mask[4, 7] and not mask[2, 6] and not mask[3, 3]


def test_polygonal_shutter_as_a_rectangle_equals_the_rectangle() -> None:
    polygon = _shuttered(ShutterShape="POLYGONAL", VerticesOfThePolygonalShutter=[2, 3, 2, 8, 5, 8, 5, 3])
    rectangle = _shuttered(ShutterShape="RECTANGULAR", ShutterLeftVerticalEdge=3, ShutterRightVerticalEdge=8,
                           ShutterUpperHorizontalEdge=2, ShutterLowerHorizontalEdge=5)
    np.testing.assert_array_equal(shutter_mask(polygon), shutter_mask(rectangle))


def test_polygonal_triangle() -> None:
    ds = _shuttered(ShutterShape="POLYGONAL", VerticesOfThePolygonalShutter=[1, 1, 1, 9, 9, 1])
    mask = shutter_mask(ds)
    assert mask[0, 0] and mask[0, 8] and mask[8, 0] and mask[2, 2]
    assert not mask[8, 8] and not mask[6, 6] and not mask[:, 10:].any()


def test_several_shapes_intersect_and_fill_with_the_presentation_value() -> None:
    ds = _shuttered(ShutterShape=["RECTANGULAR", "CIRCULAR"], ShutterLeftVerticalEdge=1,
                    ShutterRightVerticalEdge=6, ShutterUpperHorizontalEdge=1, ShutterLowerHorizontalEdge=10,
                    CenterOfCircularShutter=[5, 6], RadiusOfCircularShutter=2, ShutterPresentationValue=0xFFFF)
    result = shutter(ds)
    assert result.presentation_value == 1.0
    circle = shutter_mask(_shuttered(ShutterShape="CIRCULAR", CenterOfCircularShutter=[5, 6],
                                     RadiusOfCircularShutter=2))
    expected = circle.copy()
    expected[:, 6:] = False
    np.testing.assert_array_equal(result.mask, expected)


def test_no_shutter() -> None:
    assert shutter(_shuttered()) is None


def test_embedded_overlay_in_unused_high_bits_is_a_layer_not_a_value() -> None:
    """Retired embedded overlays (Overlay Bits Allocated 16, bit 14 of 12-bit data): the layer comes
    from bit 14, and Bits Stored masking keeps it out of the stored values (PS3.5 8.1.1)."""
    from pydicom.dataset import FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian

    from viewer.core.decode import decode_frame

    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.set_original_encoding(False, True)
    ds.Rows, ds.Columns, ds.SamplesPerPixel, ds.PhotometricInterpretation = 4, 4, 1, "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 12, 11, 0
    values = np.arange(16, dtype=np.uint16).reshape(4, 4) * 200
    diagonal = np.eye(4, dtype=bool)
    ds.PixelData = (values | (diagonal.astype(np.uint16) << 14)).tobytes()
    ds.add_new((0x6000, 0x0010), "US", 4)
    ds.add_new((0x6000, 0x0011), "US", 4)
    ds.add_new((0x6000, 0x0040), "CS", "G")
    ds.add_new((0x6000, 0x0050), "SS", [1, 1])
    ds.add_new((0x6000, 0x0100), "US", 16)
    ds.add_new((0x6000, 0x0102), "US", 14)
    np.testing.assert_array_equal(decode_frame(ds), values)
    np.testing.assert_array_equal(overlay_layer(ds, 0), diagonal)


def test_multi_frame_overlay_follows_image_frame_origin() -> None:
    """C.9.3: Number of Frames in Overlay planes, the first applying to Image Frame Origin (1-based)."""
    ds = Dataset()
    ds.set_original_encoding(False, True)
    ds.Rows, ds.Columns, ds.NumberOfFrames = 4, 8, 3
    first = np.zeros((4, 8), dtype=bool)
    first[0] = True  # top row
    second = np.zeros((4, 8), dtype=bool)
    second[:, 0] = True  # left column
    packed = np.packbits(np.concatenate([first.ravel(), second.ravel()]), bitorder="little").tobytes()
    for element, vr, value in [(0x0010, "US", 4), (0x0011, "US", 8), (0x0015, "IS", 2), (0x0040, "CS", "G"),
                               (0x0050, "SS", [1, 1]), (0x0051, "US", 2), (0x0100, "US", 1),
                               (0x0102, "US", 0), (0x3000, "OW", packed)]:
        ds.add_new((0x6000, element), vr, value)
    (plane,) = overlay_planes(ds)
    assert plane.frames == 2 and plane.first_frame == 2
    assert not overlay_layer(ds, 0).any()
    np.testing.assert_array_equal(overlay_layer(ds, 1), first)
    np.testing.assert_array_equal(overlay_layer(ds, 2), second)
