"""``lightbox render SOURCE --stl OUT.stl [--threshold VALUE]``: the surface of a series written
as real DICOM files comes back in LPS mm where the phantom was built; the real CT's bone
surface is written with the default (bone) threshold; misuse exits 2 with a message."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tests.render.phantoms import (
    MARKER_CENTER,
    MARKER_HALF,
    SPHERE_CENTER,
    SPHERE_RADIUS,
    acquisitions,
    write_series,
)
from tests.render.test_surface import read_stl
from viewer.cli import main


def test_stl_of_a_dicom_series_is_in_patient_space(tmp_path, capsys) -> None:
    write_series(acquisitions()["tilted"], tmp_path / "tilted")
    out = tmp_path / "out" / "sphere.stl"
    # 1500 lies between the sphere (1000) and the marker (2000): only the 6 mm cube remains
    code = main(["render", str(tmp_path / "tilted"), "--stl", str(out), "--threshold", "1500", "--json"])
    assert code == 0
    report = json.loads(capsys.readouterr().out)
    assert report["threshold"] == 1500 and report["coordinates"] == "patient LPS, mm"
    corners, _ = read_stl(out)
    assert len(corners) == report["triangles"] > 0
    points = corners.reshape(-1, 3)
    assert np.all(np.abs(points - MARKER_CENTER) <= MARKER_HALF + 1.0)  # the cube, within a voxel
    code = main(["render", str(tmp_path / "tilted"), "--stl", str(out), "--threshold", "0"])
    assert code == 0
    corners, _ = read_stl(out)
    radii = np.linalg.norm(corners.reshape(-1, 3) - SPHERE_CENTER, axis=1)
    radii = radii[radii < 1.5 * SPHERE_RADIUS]  # the sphere's points (the marker cube is further out)
    assert np.mean(radii) == pytest.approx(SPHERE_RADIUS, abs=min(acquisitions()["tilted"].pixel_spacing))


def test_real_ct_bone_surface_with_the_default_threshold(ct_dir, tmp_path, capsys) -> None:
    out = tmp_path / "bone.stl"
    code = main(["render", str(ct_dir), "--stl", str(out), "--json"])
    assert code == 0
    report = json.loads(capsys.readouterr().out)
    assert report["threshold"] == 300 and report["triangles"] > 10_000
    assert report["output"] == str(out.resolve()) and out.stat().st_size == 84 + 50 * report["triangles"]


def test_stl_misuse_exits_2(tmp_path, capsys) -> None:
    write_series(acquisitions()["axial"], tmp_path / "axial")
    src = str(tmp_path / "axial")
    assert main(["render", src, "--stl", str(tmp_path / "a.stl"), "--plane", "axial"]) == 2
    assert "--plane apply to PNG output" in capsys.readouterr().err
    assert main(["render", src, "--threshold", "300", "-o", str(tmp_path / "a.png")]) == 2
    assert "--threshold goes with --stl" in capsys.readouterr().err
    assert main(["render", src]) == 2
    assert "-o OUT.png" in capsys.readouterr().err
    assert main(["render", src, "--stl", str(tmp_path / "a.stl"), "--threshold", "9999"]) == 2
    assert "values run from -1000 to 2000" in capsys.readouterr().err
    assert not (tmp_path / "a.stl").exists()
