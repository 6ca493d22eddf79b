"""Calibrated measurements: spacing sources (PS3.3 C.7.6.2.1.1, C.8.11.4.1.1), ROI statistics
against numpy on the same pixels, and the persisted form."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from pydicom.dataset import Dataset

from viewer.core.measurements import Measurement, SliceGeometry, calibration, measure, roi_mask


def header(**tags) -> Dataset:
    ds = Dataset()
    for k, v in tags.items():
        setattr(ds, k, v)
    return ds


def geometry(spacing=(0.5, 0.8)) -> SliceGeometry:
    affine = np.eye(4)
    affine[:3, 0] = [0, 0, 3]
    affine[:3, 1] = [0, spacing[0], 0]  # rows go posterior, row spacing
    affine[:3, 2] = [spacing[1], 0, 0]  # columns go left, column spacing
    affine[:3, 3] = [-50, -40, 10]
    return SliceGeometry.from_affine(affine, 2)


def test_length_uses_pixel_spacing():
    g = geometry()
    hdr = header(PixelSpacing=[0.5, 0.8], Modality="CT")
    a, b = g.to_patient(10, 10), g.to_patient(40, 50)  # 30 rows, 40 columns apart
    result = measure("length", [a, b], g, np.zeros((64, 64)), hdr)
    assert result["length"] == pytest.approx(math.hypot(30 * 0.5, 40 * 0.8))
    assert (result["unit"], result["calibration"]) == ("mm", "patient")


def test_imager_pixel_spacing_is_flagged_at_detector_and_none_is_pixels():
    g = geometry((1.0, 1.0))  # what load_volume builds when Pixel Spacing is absent
    a, b = g.to_patient(0, 0), g.to_patient(0, 100)
    detector = measure("length", [a, b], g, np.zeros((8, 128)), header(ImagerPixelSpacing=[0.139, 0.139]))
    assert detector["length"] == pytest.approx(13.9)
    assert detector["unit"] == "mm (detector)" and "detector" in detector["warning"]
    bare = measure("length", [a, b], g, np.zeros((8, 128)), header())
    assert bare["length"] == pytest.approx(100) and bare["unit"] == "px" and "pixels" in bare["warning"]
    assert calibration(header(PixelSpacing=[0.3, 0.3], ImagerPixelSpacing=[0.2, 0.2])).kind == "patient"


def test_angle_in_physical_space():
    g = geometry((1.0, 2.0))  # non-square pixels: 1 mm rows, 2 mm columns
    hdr = header(PixelSpacing=[1.0, 2.0])
    vertex = g.to_patient(10, 10)
    right = g.to_patient(10, 20)  # 20 mm along the row
    down = g.to_patient(30, 10)  # 20 mm down
    diagonal = g.to_patient(20, 15)  # 10 mm down, 10 mm across: 45°
    assert measure("angle", [right, vertex, down], g, np.zeros((64, 64)), hdr)["angle"] == pytest.approx(90)
    assert measure("angle", [right, vertex, diagonal], g, np.zeros((64, 64)), hdr)["angle"] == pytest.approx(45)


@pytest.mark.parametrize("kind", ["rectangle", "ellipse", "freehand"])
def test_roi_statistics_match_numpy(kind):
    rng = np.random.default_rng(3)
    pixels = rng.normal(40, 12, (96, 96)).round().astype(np.int16)
    g = geometry()
    hdr = header(PixelSpacing=[0.5, 0.8], Modality="CT")
    corners = [(20.3, 15.6), (61.2, 70.9)]
    if kind == "freehand":
        corners = [(20.3, 15.6), (61.2, 30.1), (50.5, 70.9), (25.4, 60.2)]
    result = measure(kind, [g.to_patient(*p) for p in corners], g, pixels, hdr)
    jj, ii = np.mgrid[0:96, 0:96]
    if kind == "rectangle":
        want = (jj >= 20.3) & (jj <= 61.2) & (ii >= 15.6) & (ii <= 70.9)
        area = (61.2 - 20.3) * 0.5 * (70.9 - 15.6) * 0.8
    elif kind == "ellipse":
        want = ((jj - 40.75) / 20.45) ** 2 + ((ii - 43.25) / 27.65) ** 2 <= 1
        area = math.pi * 20.45 * 0.5 * 27.65 * 0.8
    else:
        from matplotlib.path import Path  # an independent point-in-polygon implementation

        want = Path(corners).contains_points(np.column_stack([jj.ravel(), ii.ravel()])).reshape(96, 96)
        xy = np.array(corners) * [0.5, 0.8]
        area = 0.5 * abs(np.dot(xy[:, 0], np.roll(xy[:, 1], -1)) - np.dot(xy[:, 1], np.roll(xy[:, 0], -1)))
    assert np.array_equal(roi_mask(kind, [g.to_pixel(g.to_patient(*p)) for p in corners], (96, 96)), want)
    values = pixels[want].astype(float)
    assert result["pixels"] == values.size > 500
    assert result["mean"] == pytest.approx(values.mean())
    assert result["sd"] == pytest.approx(values.std())
    assert (result["min"], result["max"]) == (values.min(), values.max())
    assert result["area"] == pytest.approx(area) and result["unit"] == "HU"


def test_probe_reads_the_pixel_and_colour():
    g = geometry()
    grey = np.arange(64 * 64).reshape(64, 64)
    assert measure("probe", [g.to_patient(5.2, 7.4)], g, grey, header(Modality="MR"))["value"] == grey[5, 7]
    rgb = np.zeros((64, 64, 3), np.uint8)
    rgb[5, 7] = (200, 50, 10)
    assert measure("probe", [g.to_patient(5, 7)], g, rgb, header())["value"] == [200, 50, 10]
    assert math.isnan(measure("probe", [g.to_patient(-9, 7)], g, grey, header())["value"])


def test_measurement_round_trips_through_json():
    g = geometry()
    m = Measurement("length", [tuple(g.to_patient(1, 2)), tuple(g.to_patient(3, 4))], "1.2.3",
                    {"length": 2.5, "unit": "mm"}, label="A")
    back = Measurement.from_dict(json.loads(json.dumps(m.to_dict())))
    assert back == m and back.summary() == "A: 2.5 mm"
    with pytest.raises(ValueError):
        Measurement("circle", [], "1")
    with pytest.raises(ValueError):
        Measurement.from_dict({**m.to_dict(), "schema": 99})


def test_presets_keep_keys_and_the_files_voi_function():
    from viewer.core.presets import preset_for_key, presets_for, with_overrides

    ct = header(Modality="CT", WindowCenter=[40, 300], WindowWidth=[400, 1500],
                WindowCenterWidthExplanation=["SOFT", "BONE"])
    presets = presets_for(ct)
    assert [(p.key, p.name) for p in presets][:3] == [("0", "SOFT"), ("1", "Brain"), ("2", "Subdural")]
    assert preset_for_key(presets, "4").window.center == -600 and presets[-1].name == "BONE"
    mg = header(Modality="MG", WindowCenter=2000, WindowWidth=3000, VOILUTFunction="SIGMOID")
    (own,) = presets_for(mg)
    assert own.key == "0" and own.window.function == "SIGMOID"
    auto = presets_for(header(Modality="MR"), np.arange(1000, dtype=float).reshape(10, 10, 10))
    assert auto[0].source == "auto" and auto[0].key == "0"
    table = with_overrides([{"modality": "CT", "name": "bone", "center": 500, "width": 2000}])
    assert next(p for p in table["CT"] if p.name == "bone").key == "8"
