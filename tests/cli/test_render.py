"""``lightbox render``: PNGs of slices and MPR planes whose --json geometry maps pixels back to
the patient, checked on synthetic series written as real DICOM files."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from vtkmodules.util.numpy_support import vtk_to_numpy
from vtkmodules.vtkIOImage import vtkPNGReader

from tests.render.phantoms import (
    MARKER_CENTER,
    SPHERE_CENTER,
    acquisitions,
    phantom_voxels,
    write_series,
)
from viewer.cli import main

ACQ = acquisitions()


def read_png(path: Path) -> np.ndarray:
    """(rows, columns, channels) uint8, row 0 at the top."""
    reader = vtkPNGReader()
    reader.SetFileName(str(path))
    reader.Update()
    out = reader.GetOutput()
    cols, rows, _ = out.GetDimensions()
    return vtk_to_numpy(out.GetPointData().GetScalars()).reshape(rows, cols, -1)[::-1]


@pytest.fixture(scope="module")
def series(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("series")
    out = {}
    for name in ("coronal", "tilted"):
        write_series(ACQ[name], root / name)
        out[name] = root / name
    return out


def render(capsys, *args: str) -> tuple[int, dict | None]:
    code = main(["render", *map(str, args)])
    text = capsys.readouterr().out
    return code, (json.loads(text) if "--json" in args and code == 0 else None)


def lps_of(geometry: dict, row: float, col: float) -> np.ndarray:
    """The mapping --json documents, applied by a script."""
    return (np.array(geometry["origin_lps_mm"])
            + col * geometry["pixel_spacing_mm"][1] * np.array(geometry["row_direction"])
            + row * geometry["pixel_spacing_mm"][0] * np.array(geometry["column_direction"]))


@pytest.mark.parametrize("plane", ["axial", "coronal", "sagittal"])
@pytest.mark.parametrize("name", ["coronal", "tilted"])
def test_json_geometry_maps_the_marker_back_to_its_lps_point(series, tmp_path, capsys, name, plane) -> None:
    out = tmp_path / "p.png"
    at = ",".join(str(v) for v in MARKER_CENTER)
    # window 1500/100: the 2000 marker is white, the 1000 sphere and the background black
    code, geo = render(capsys, series[name], "--plane", plane, "--at", at, "--window", "1500/100",
                       "--json", "-o", out)
    assert code == 0
    frame = read_png(out)
    assert frame.shape[:2] == (geo["rows"], geo["columns"])
    assert geo["pixel_spacing_mm"] == [0.8, 0.8]  # smallest voxel spacing of both phantoms
    rows, cols = np.nonzero(frame[..., 0] > 127)
    marker = lps_of(geo, rows.mean(), cols.mean())
    assert np.linalg.norm(marker - MARKER_CENTER) < 1.0, marker
    expected_right = {"axial": "L", "coronal": "L", "sagittal": "P"}[plane]
    assert geo["edge_labels"]["right"] == expected_right
    assert geo["plane"] == plane and geo["slab"] is None


def test_default_plane_is_through_the_volume_centre_and_covers_it(series, tmp_path, capsys) -> None:
    code, geo = render(capsys, series["coronal"], "--plane", "axial", "--json", "-o", tmp_path / "a.png")
    assert code == 0
    acq = ACQ["coronal"]
    corners = [acq.affine() @ np.array([k, j, i, 1.0])
               for k in (0, acq.shape[0] - 1) for j in (0, acq.shape[1] - 1) for i in (0, acq.shape[2] - 1)]
    xs = [c[0] for c in corners]
    ys = [c[1] for c in corners]
    first, last = lps_of(geo, 0, 0), lps_of(geo, geo["rows"] - 1, geo["columns"] - 1)
    assert first[0] <= min(xs) + 1e-6 and last[0] >= max(xs) - 1e-6  # covers right to left
    assert first[1] <= min(ys) + 1e-6 and last[1] >= max(ys) - 1e-6  # covers anterior to posterior
    centre = np.mean(corners, axis=0)[:3]
    assert first[2] == pytest.approx(centre[2])  # the axial plane passes through the centre


def test_acquired_slice_pixels_are_the_stored_pixels_windowed(series, tmp_path, capsys) -> None:
    out = tmp_path / "s.png"
    code, geo = render(capsys, series["tilted"], "--slice", "17", "--window", "0/2000", "--json", "-o", out)
    assert code == 0
    acq = ACQ["tilted"]
    k = geo["volume_index"]  # --slice counts in reading order
    stored = phantom_voxels(acq.affine(), acq.shape)[k]
    frame = read_png(out)[..., 0].astype(int)
    assert frame.shape == stored.shape and geo["slice"] == 17
    expected = np.clip((stored.astype(float) + 1000) / 2000 * 255, 0, 255)
    assert np.abs(frame - expected).max() <= 1
    position = (acq.affine() @ np.array([k, 0, 0, 1.0]))[:3]
    np.testing.assert_allclose(geo["origin_lps_mm"], position, atol=1e-5)  # = Image Position (Patient)
    np.testing.assert_allclose(geo["column_direction"], acq.col, atol=1e-9)  # tilted, as acquired


def test_slab_size_and_annotations(series, tmp_path, capsys) -> None:
    out = tmp_path / "slab.png"
    code, geo = render(capsys, series["coronal"], "--plane", "coronal", "--at", "0,0,0", "--slab", "20",
                       "--mode", "mip", "--size", "300x200", "--annotate", "--json", "-o", out)
    assert code == 0
    assert read_png(out).shape[:2] == (200, 300)
    assert geo["slab"] == {"thickness_mm": 20.0, "mode": "mip"}
    # the 20 mm MIP through y=0 contains the sphere's widest disc and the marker (y=-10±3)
    plain = tmp_path / "plain.png"
    assert render(capsys, series["coronal"], "--plane", "coronal", "--at", "0,0,0", "--size", "300x200",
                  "--window", "1500/100", "-o", plain)[0] == 0
    mip = tmp_path / "mip.png"
    assert render(capsys, series["coronal"], "--plane", "coronal", "--at", "0,0,0", "--size", "300x200",
                  "--window", "1500/100", "--slab", "20", "-o", mip)[0] == 0
    assert (read_png(plain)[..., 0] > 127).sum() == 0  # marker not in the thin plane
    assert (read_png(mip)[..., 0] > 127).sum() > 20  # but in the slab
    annotated = read_png(out)
    assert annotated[: 12, :, 0].max() > 200  # text on the top rows (corner text and the H letter)


def test_bad_arguments_exit_2_with_a_message(series, tmp_path, capsys) -> None:
    out = tmp_path / "x.png"
    cases = [
        ("--window", "40"),
        ("--size", "12"),
        ("--at", "1,2,3"),  # without --plane
        ("--plane", "axial", "--at", "1,2"),
        ("--plane", "axial", "--slab", "-3"),
        ("--slice", "999"),
        ("--plane", "axial", "--slice", "3"),
    ]
    for extra in cases:
        assert main(["render", str(series["coronal"]), *extra, "-o", str(out)]) == 2, extra
        assert "lightbox:" in capsys.readouterr().err
    assert main(["render", "1.2.3.4.5", "-o", str(out)]) == 2  # no such UID in the (empty) cache
    assert not out.exists()


def test_renders_a_series_from_the_cache_by_uid(series, tmp_path, capsys, lightbox_home) -> None:
    from viewer.store import Store

    with Store.open(lightbox_home) as store:
        report = store.import_paths([series["coronal"]])
        assert report.ok
        study = store.studies()[0]
        series_uid = store.series(study.study_uid)[0].series_uid
    for source in (series_uid, study.study_uid):
        out = tmp_path / f"{source}.png"
        code, geo = render(capsys, source, "--plane", "axial", "--at",
                           ",".join(map(str, SPHERE_CENTER)), "--json", "-o", out)
        assert code == 0 and geo["series_uid"] == series_uid
        frame = read_png(out)[..., 0]
        row, col = (round(v) for v in np.linalg.solve(  # the sphere centre's pixel, from the JSON
            np.column_stack([np.array(geo["column_direction"]) * geo["pixel_spacing_mm"][0],
                             np.array(geo["row_direction"]) * geo["pixel_spacing_mm"][1],
                             geo["normal"]]), SPHERE_CENTER - np.array(geo["origin_lps_mm"]))[:2])
        assert frame[row, col] > 100 and frame[0, 0] == 0  # sphere (1000) grey, air black


# --- real data: the real CT -----------------------------------------------------------------------


def ct_files_by_z(ct_dir: Path) -> dict[float, Path]:
    """The real CT's files keyed by Image Position (Patient) z, rounded to 0.01 mm."""
    import pydicom

    return {round(float(pydicom.dcmread(p, stop_before_pixels=True).ImagePositionPatient[2]), 2): p
            for p in sorted(ct_dir.glob("*.dcm"))}


def test_negative_window_centre_and_lps_point_as_typed(ct_dir, tmp_path, capsys) -> None:
    """``--window -600/1500`` and ``--at -10,20,300`` exited 2 ("expected one argument")."""
    from viewer.core.pixels.display import display_frame
    from viewer.core.pixels.voi import Window
    from viewer.core.reading import read_dataset

    out = tmp_path / "lung.png"
    code, geo = render(capsys, ct_dir, "--window", "-600/1500", "--json", "-o", out)
    assert code == 0 and (geo["window"]["center"], geo["window"]["width"]) == (-600.0, 1500.0)
    path = ct_files_by_z(ct_dir)[round(geo["origin_lps_mm"][2], 2)]
    expected = display_frame(read_dataset(path), voi=Window(-600, 1500)).pixels.astype(int)
    frame = read_png(out)[..., 0].astype(int)
    assert frame.shape == expected.shape and np.abs(frame - expected).max() <= 1
    assert 30 < np.median(frame) < 225  # a lung window: not the soft-tissue window's black air
    equals = tmp_path / "equals.png"
    assert render(capsys, ct_dir, "--window=-600/1500", "-o", equals)[0] == 0
    np.testing.assert_array_equal(read_png(equals), read_png(out))

    out = tmp_path / "coronal.png"
    code, geo = render(capsys, ct_dir, "--plane", "coronal", "--at", "-10,20,300", "--json", "-o", out)
    assert code == 0
    assert geo["origin_lps_mm"][1] == pytest.approx(20.0)  # the coronal plane through y = 20 mm
    code, geo = render(capsys, ct_dir, "--plane", "sagittal", "--at", "-10,-20.5,300", "--json", "-o", out)
    assert code == 0 and geo["origin_lps_mm"][0] == pytest.approx(-10.0)
    assert main(["render", str(ct_dir), "--window", "-600", "-o", str(out)]) == 2  # still checked
    assert "CENTER/WIDTH" in capsys.readouterr().err


def test_slice_counts_in_reading_order_and_is_labelled_as_the_viewer_does(qtbot, ct_dir, tmp_path, capsys) -> None:
    """``--slice 0`` wrote the pelvis (Instance Number 134) labelled "Im 1/134"; the viewer opens
    on Instance Number 1 (the top slice) and labels the pelvis "Im 134/134"."""
    from viewer.core.pixels.voi import Window
    from viewer.core.volume import load_volume
    from viewer.ui.viewport import Viewport

    by_z = ct_files_by_z(ct_dir)
    reports = {}
    for number in (0, 133):
        code, geo = render(capsys, ct_dir, "--slice", str(number), "--annotate", "--json", "-o",
                           tmp_path / f"{number}.png")
        assert code == 0 and geo["slice"] == number
        reports[number] = geo
    first, last = reports[0], reports[133]
    assert first["instance_number"] == 1 and by_z[round(first["origin_lps_mm"][2], 2)].name == "1-001.dcm"
    assert last["instance_number"] == 134 and by_z[round(last["origin_lps_mm"][2], 2)].name == "1-134.dcm"
    assert first["annotations"]["lower_left"].splitlines()[0] == "Im 1/134"
    assert last["annotations"]["lower_left"].splitlines()[0] == "Im 134/134"
    # the viewer: opens on the same image, and labels both the same way
    view = Viewport()
    qtbot.addWidget(view)
    try:
        view.show_volume(load_volume(sorted(ct_dir.glob("*.dcm"))), Window(40, 400))
        assert view.slice_index == first["volume_index"] == view.slice_at(0)
        for geo in (first, last):
            view.set_slice(geo["volume_index"])
            assert view.scene.corner_text("lower_left").splitlines()[0] == \
                geo["annotations"]["lower_left"].splitlines()[0]
            np.testing.assert_allclose(view.scene.slice_geometry().origin, geo["origin_lps_mm"], atol=1e-4)
    finally:
        view.shutdown()


# --- real data: colour, palette, MONOCHROME1 and VOI LUT images, as the viewer shows them ---------


def pydicom_file(name: str) -> Path:
    from pydicom.data import get_testdata_file

    path = get_testdata_file(name, download=False)
    assert path, f"{name} missing: install the pydicom-data test dependency"
    return Path(path)


def viewer_pixels(path: Path) -> np.ndarray:
    """The core display pipeline's bytes for the file (PS3.4 N.2 or the colour path)."""
    from viewer.core.pixels.display import display_frame
    from viewer.core.reading import read_dataset

    return display_frame(read_dataset(path)).pixels.astype(int)


@pytest.mark.parametrize("name", ["orthanc:1.2.840.10008.1.2.1.dcm", "examples_rgb_color.dcm"])
def test_rgb_images_keep_their_colours(data_dir, tmp_path, capsys, name) -> None:
    """RGB came out grey and garbled through the old grey-only pipeline."""
    path = (data_dir / "transfer-syntaxes-orthanc" / name.split(":")[1]) if name.startswith("orthanc:") \
        else pydicom_file(name)
    out = tmp_path / "rgb.png"
    code, geo = render(capsys, path, "--json", "-o", out)
    assert code == 0 and geo["window"] is None
    frame = read_png(out).astype(int)
    expected = viewer_pixels(path)
    assert expected.ndim == 3 and frame.shape == expected.shape
    assert np.abs(frame - expected).max() <= 1
    colourful = (np.abs(frame[..., 0] - frame[..., 1]) > 20) | (np.abs(frame[..., 1] - frame[..., 2]) > 20)
    assert colourful.mean() > 0.01  # channels differ: not grey


def test_palette_colour_pixels_map_through_the_palette(tmp_path, capsys) -> None:
    from pydicom import dcmread
    from pydicom.pixels import apply_color_lut

    path = pydicom_file("examples_palette.dcm")
    ds = dcmread(path)
    stored = ds.pixel_array
    lut = apply_color_lut(stored, ds)  # pydicom's own palette lookup (C.7.6.3.1.6)
    bits = int(ds.RedPaletteColorLookupTableDescriptor[2])
    expected = np.round(lut.astype(float) / ((1 << bits) - 1) * 255).astype(int)
    out = tmp_path / "palette.png"
    assert render(capsys, path, "-o", out)[0] == 0
    frame = read_png(out).astype(int)
    assert frame.shape == expected.shape
    assert np.abs(frame - expected).max() <= 1
    for value in np.unique(stored)[:: max(1, len(np.unique(stored)) // 8)]:  # index -> palette entry
        row, col = np.argwhere(stored == value)[0]
        assert np.abs(frame[row, col] - expected[row, col]).max() <= 1


def test_monochrome1_radiograph_shows_low_values_white(tmp_path, capsys) -> None:
    """MONOCHROME1 was not inverted: the minimum came out black instead of white (C.7.6.3.1.2)."""
    from pydicom import dcmread

    path = pydicom_file("RG3_UNCI.dcm")  # RG1_UNCI has Pixel Spacing 0.000/0.000: no geometry
    stored = dcmread(path).pixel_array
    out = tmp_path / "cr.png"
    code, geo = render(capsys, path, "--json", "-o", out)
    assert code == 0 and geo["inverted"] is True
    frame = read_png(out)[..., 0].astype(int)
    assert frame.shape == stored.shape
    assert np.abs(frame - viewer_pixels(path)).max() <= 1
    darkest, brightest = np.unravel_index(stored.argmin(), stored.shape), np.unravel_index(stored.argmax(),
                                                                                            stored.shape)
    assert frame[darkest] > 200 and frame[brightest] < 55


def test_voi_lut_table_is_the_default_voi(tmp_path, capsys) -> None:
    path = pydicom_file("vlut_04.dcm")
    out = tmp_path / "vlut.png"
    code, geo = render(capsys, path, "--json", "-o", out)
    assert code == 0 and "voi_lut" in geo["window"]
    frame = read_png(out)[..., 0].astype(int)
    assert np.abs(frame - viewer_pixels(path)).max() <= 1


def test_mpr_plane_of_a_monochrome1_series_is_inverted(ct_dir, tmp_path, capsys) -> None:
    """The real CT's pixels, declared MONOCHROME1: an MPR plane shows air white, as the viewport."""
    import pydicom

    for name in ("mono2", "mono1"):
        (tmp_path / name).mkdir()
        for path in sorted(ct_dir.glob("*.dcm"))[60:72]:  # z = 271.91 .. 304.91 mm
            ds = pydicom.dcmread(path)
            ds.PhotometricInterpretation = name.upper().replace("MONO", "MONOCHROME")
            ds.save_as(tmp_path / name / path.name)
    frames = {}
    for name in ("mono2", "mono1"):
        out = tmp_path / f"{name}.png"
        code, geo = render(capsys, tmp_path / name, "--plane", "axial", "--at", "0,0,290", "--window", "40/400",
                           "--json", "-o", out)
        assert code == 0 and geo["inverted"] is (name == "mono1")
        frames[name] = read_png(out)[..., 0].astype(int)
    assert frames["mono2"][5, 5] < 10 and frames["mono1"][5, 5] > 245  # air: black, then white
    assert np.abs(frames["mono1"] - (255 - frames["mono2"])).max() <= 1


def test_annotate_writes_the_users_templates_and_the_modality_lines(ct_dir, tmp_path, capsys, lightbox_home) -> None:
    code, geo = render(capsys, ct_dir, "--slice", "0", "--annotate", "--json", "-o", tmp_path / "a.png")
    assert code == 0 and "120 kV  430 mAs" in geo["annotations"]["lower_left"].splitlines()
    assert "2012-07-06 11:18 PANCREAS" in geo["annotations"]["upper_right"].splitlines()
    (lightbox_home / "settings.json").write_text(json.dumps(
        {"version": 1, "annotation_templates": {"lower_left": "{Manufacturer}|{image}/{images}|{mas}"}}))
    code, geo = render(capsys, ct_dir, "--slice", "0", "--annotate", "--json", "-o", tmp_path / "b.png")
    maker = __import__("pydicom").dcmread(ct_dir / "1-001.dcm", stop_before_pixels=True).Manufacturer
    assert maker and code == 0 and geo["annotations"]["lower_left"] == f"{maker}|1/134|430 mAs"
    (lightbox_home / "settings.json").write_text(json.dumps({"annotation_templates": {"lower_left": "{x"}}))
    assert main(["render", str(ct_dir), "--annotate", "-o", str(tmp_path / "c.png")]) == 2
    assert "annotation template" in capsys.readouterr().err
