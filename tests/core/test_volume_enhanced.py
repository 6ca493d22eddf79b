"""Enhanced CT written by an independent writer (the shared benchmark's make_series.py).

The same synthetic CT is written as shuffled single-frame files and as one Enhanced CT
multi-frame file (Per-frame Functional Groups, one compressed fragment per frame with a
Basic Offset Table); both must load to the same voxels and affine, equal to pydicom's.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pydicom
import pytest

from viewer.core.volume import SeriesLoader, load_volume

MAKE_SERIES = Path(__file__).resolve().parents[3] / "shared" / "bench" / "make_series.py"
SYNTAXES = ["evle", "j2k", "rle"]  # written with pydicom + pylibjpeg (no DCMTK needed)


@pytest.fixture(scope="module")
def series(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("make_series")
    subprocess.run([sys.executable, str(MAKE_SERIES), "--out", str(out), "--slices", "12", "--syntax",
                    ",".join(SYNTAXES), "--shuffle", "--multiframe", "--jobs", "1"], check=True,
                   capture_output=True)
    return out


@pytest.mark.parametrize("syntax", SYNTAXES)
def test_enhanced_multiframe_equals_its_single_frame_series(series: Path, syntax: str) -> None:
    single = load_volume(series / f"{syntax}-shuffled")
    enhanced_file = next((series / f"{syntax}-mf").iterdir())
    enhanced = load_volume(enhanced_file)
    assert enhanced.voxels.shape == single.voxels.shape == (12, 512, 512)
    assert enhanced.voxels.dtype == np.int16
    np.testing.assert_allclose(enhanced.affine, single.affine, atol=1e-4)
    assert np.array_equal(enhanced.voxels, single.voxels)
    assert enhanced.warnings == single.warnings == []
    # every frame of the enhanced file was located for the fast path (BOT / one fragment per frame)
    loader = SeriesLoader(enhanced_file)
    assert all(f.source.fast for f in loader.stacks[0].frames)
    # and the values are pydicom's, frame by frame, in the order of Plane Position along the normal
    # (pydicom's apply_modality_lut reads top-level Rescale attributes only, so the Pixel Value
    # Transformation functional group, PS3.3 C.7.6.16.2.9, is applied here by hand)
    ds = pydicom.dcmread(enhanced_file)
    stored = ds.pixel_array
    shared = ds.SharedFunctionalGroupsSequence[0]
    expected = []
    for f, item in enumerate(ds.PerFrameFunctionalGroupsSequence):
        group = item if "PixelValueTransformationSequence" in item else shared
        pvt = group.PixelValueTransformationSequence[0]
        expected.append(stored[f] * float(pvt.RescaleSlope) + float(pvt.RescaleIntercept))
    order = [int(h.InstanceNumber) - 1 for h in enhanced.headers]
    assert np.array_equal(enhanced.voxels, np.stack(expected)[order])
