"""Measurements drawn in MPR planes, kept in the cache: the real CT is imported, a coronal and an
oblique plane are resliced from the cached files, measured as the MPR measures, and the index
gives back the same LPS points, the same plane and the same value in mm, also when the plane is
resampled at another pixel size; deleting a measurement or its series forgets it, and an index
written before MPR measurements existed (schema 2) upgrades and keeps what it held.
"""

from __future__ import annotations

import sqlite3

import numpy as np
import pytest

from viewer.core.measurements import Measurement, measure
from viewer.core.planes import Crosshair, covering_grid, plane_header, plane_slice_geometry, volume_center
from viewer.core.volume import Volume, load_volume
from viewer.render.mpr import Reslicer
from viewer.store import Store
from viewer.store.measurements import MeasurementStore, MprPlane, UnknownSeriesError
from viewer.store.schema import SCHEMA_VERSION


@pytest.fixture(scope="module")
def cached_ct(tmp_path_factory, ct_dir):
    """The real CT imported into a cache of its own, and its volume loaded from the cached files."""
    home = tmp_path_factory.mktemp("ct-home")
    with Store.open(home) as store:
        store.import_paths([ct_dir])
        study = store.studies()[0]
        series_uid = store.series(study.study_uid)[0].series_uid
        volume = load_volume([row.path for row in store.instances(series_uid)])
    return home, series_uid, volume


def copy_home(cached_ct, tmp_path):
    """A copy of the cached index for one test (the files are the module's)."""
    home, series_uid, volume = cached_ct
    for name in ("index.sqlite", "index.sqlite-wal", "index.sqlite-shm"):
        if (home / name).exists():
            (tmp_path / name).write_bytes((home / name).read_bytes())
    return tmp_path / "index.sqlite", series_uid, volume


def plane_measurement(volume: Volume, view: str, rotations=(), pixel_size=None):
    """A length across plane ``view`` (after crosshair ``rotations``) through the volume
    centre, measured on the resliced CT pixels as MprScene.measure does."""
    crosshair = Crosshair(volume_center(volume.affine, volume.voxels.shape))
    for name, angle in rotations:
        crosshair.rotate(name, angle)
    row, col = crosshair.axes(view)
    grid = covering_grid(volume.affine, volume.voxels.shape, crosshair.center, row, col, pixel_size=pixel_size)
    points = [grid.pixel_to_lps(grid.shape[0] * 0.3, grid.shape[1] * 0.25),
              grid.pixel_to_lps(grid.shape[0] * 0.6, grid.shape[1] * 0.7)]
    pixels = Reslicer.from_volume(volume).sample(grid)
    result = measure("length", points, plane_slice_geometry(grid), pixels, plane_header(grid, volume.headers[0]))
    m = Measurement("length", [tuple(p) for p in points], "", result)
    return m, MprPlane(view, tuple(grid.origin), tuple(grid.row_direction), tuple(grid.column_direction)), grid


def remeasure(volume: Volume, m: Measurement, plane: MprPlane, pixel_size=None) -> dict:
    """The stored measurement measured again on its plane as resliced from the stored definition."""
    grid = covering_grid(volume.affine, volume.voxels.shape, np.array(plane.origin), plane.row, plane.column,
                         pixel_size=pixel_size)
    pixels = Reslicer.from_volume(volume).sample(grid)
    return measure(m.kind, m.points, plane_slice_geometry(grid), pixels, plane_header(grid, volume.headers[0]))


def test_coronal_and_oblique_measurements_round_trip_through_the_index(cached_ct, tmp_path):
    index, series_uid, volume = copy_home(cached_ct, tmp_path)
    coronal, coronal_plane, _ = plane_measurement(volume, "coronal")
    oblique, oblique_plane, grid = plane_measurement(volume, "coronal", [("axial", 0.4), ("sagittal", -0.3)])
    assert abs(grid.normal @ np.array([0.0, 1.0, 0.0])) < 0.95  # really oblique
    assert coronal.result["unit"] == "mm" and coronal.result["length"] > 50
    kept = MeasurementStore.open(index)
    try:
        kept.save_on_plane(coronal, series_uid, coronal_plane)
        kept.save_on_plane(oblique, series_uid, oblique_plane)
        kept.save_on_plane(coronal, series_uid, coronal_plane)  # saving again updates, never a second row
        assert kept.count() == 2
        assert kept.for_series(series_uid) == []  # not the 2D pane's: no image of their own
        assert kept.for_image("") == []
    finally:
        kept.close()

    again = MeasurementStore.open(index)  # as after a restart
    try:
        back = again.on_planes(series_uid)
    finally:
        again.close()
    assert [(m.to_dict(), p) for m, p in back] == [(coronal.to_dict(), coronal_plane),
                                                   (oblique.to_dict(), oblique_plane)]
    for (m, plane), drawn in zip(back, (coronal, oblique), strict=True):
        assert m.points == drawn.points  # the same LPS mm, bit for bit
        assert all(abs(plane.distance(p)) < 1e-9 for p in m.points)  # on the plane kept with it
        # the same value whether the plane is resampled as it was or at another pixel size
        assert remeasure(volume, m, plane)["length"] == pytest.approx(drawn.result["length"], abs=1e-9)
        assert remeasure(volume, m, plane, pixel_size=0.5)["length"] == pytest.approx(drawn.result["length"],
                                                                                      abs=1e-9)
        distance = np.linalg.norm(np.subtract(m.points[1], m.points[0]))
        assert drawn.result["length"] == pytest.approx(distance, abs=1e-9)  # a plane length is the LPS distance


def test_a_probe_and_an_roi_come_back_with_the_same_values(cached_ct, tmp_path):
    index, series_uid, volume = copy_home(cached_ct, tmp_path)
    _, plane, grid = plane_measurement(volume, "sagittal", [("coronal", 0.25)])
    pixels = Reslicer.from_volume(volume).sample(grid)
    geometry, header = plane_slice_geometry(grid), plane_header(grid, volume.headers[0])
    corner_a, corner_b = grid.pixel_to_lps(180.37, 150.21), grid.pixel_to_lps(220.62, 210.44)
    roi = Measurement("ellipse", [tuple(corner_a), tuple(corner_b)], "",
                      measure("ellipse", [corner_a, corner_b], geometry, pixels, header))
    probe_at = grid.pixel_to_lps(200.3, 180.2)
    probe = Measurement("probe", [tuple(probe_at)], "", measure("probe", [probe_at], geometry, pixels, header))
    kept = MeasurementStore.open(index)
    try:
        for m in (roi, probe):
            kept.save_on_plane(m, series_uid, plane)
        back = dict((m.kind, m) for m, _ in kept.on_planes(series_uid))
    finally:
        kept.close()
    for m in (roi, probe):
        again = remeasure(volume, back[m.kind], plane)
        for key in ("mean", "sd", "min", "max", "area", "value"):
            if key in m.result:
                assert again[key] == pytest.approx(m.result[key], abs=1e-6), key
    assert roi.result["unit"] == "HU" and roi.result["pixels"] > 100


def test_deleting_forgets_and_the_series_cascade_takes_them(cached_ct, tmp_path):
    index, series_uid, volume = copy_home(cached_ct, tmp_path)
    m, plane, _ = plane_measurement(volume, "axial")
    kept = MeasurementStore.open(index)
    try:
        kept.save_on_plane(m, series_uid, plane)
        assert kept.delete(m.id)
        assert kept.on_planes(series_uid) == []
        kept.save_on_plane(m, series_uid, plane)
        with pytest.raises(UnknownSeriesError, match="import it to keep MPR measurements"):
            kept.save_on_plane(m, "1.2.3.not.cached", plane)
        conn = sqlite3.connect(index)
        conn.execute("PRAGMA foreign_keys = ON")
        conn.execute("DELETE FROM series WHERE series_uid = ?", (series_uid,))
        conn.commit()
        conn.close()
        assert kept.count() == 0
    finally:
        kept.close()


def test_a_schema_2_index_upgrades_and_keeps_its_measurements(cached_ct, tmp_path):
    index, series_uid, volume = copy_home(cached_ct, tmp_path)
    conn = sqlite3.connect(index)
    sop_uid = conn.execute("SELECT sop_uid FROM instance LIMIT 1").fetchone()[0]
    conn.close()
    old = Measurement("length", [(0.0, 0.0, 0.0), (10.0, 0.0, 0.0)], sop_uid, {"length": 10.0, "unit": "mm"})
    kept = MeasurementStore.open(index)
    kept.save(old)
    kept.close()
    # make it what the release before MPR measurements wrote: no plane column, user_version 2
    conn = sqlite3.connect(index)
    conn.executescript(
        "ALTER TABLE measurement DROP COLUMN plane; ALTER TABLE patient DROP COLUMN id_collision; "
        "ALTER TABLE study DROP COLUMN patient_name; ALTER TABLE study DROP COLUMN patient_name_folded; "
        "ALTER TABLE study DROP COLUMN patient_birth_date; ALTER TABLE study DROP COLUMN patient_sex; "
        "ALTER TABLE pending_file DROP COLUMN op; "
        "PRAGMA user_version = 2;")  # migrations 4-5's columns too
    conn.close()

    kept = MeasurementStore.open(index)
    try:
        conn = sqlite3.connect(index)
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION >= 3
        assert "plane" in [r[1] for r in conn.execute("PRAGMA table_info(measurement)")]
        conn.close()
        assert [x.to_dict() for x in kept.for_series(series_uid)] == [old.to_dict()]  # still on its image
        assert kept.on_planes(series_uid) == []
        m, plane, _ = plane_measurement(volume, "coronal")
        kept.save_on_plane(m, series_uid, plane)
        assert [x.id for x, _ in kept.on_planes(series_uid)] == [m.id]
    finally:
        kept.close()


def test_a_plane_is_checked_and_compared_by_geometry():
    plane = MprPlane("coronal", (1.0, 2.0, 3.0), (2.0, 0.0, 0.0), (0.0, 0.0, -1.0))
    assert plane.row == (1.0, 0.0, 0.0)  # normalised
    np.testing.assert_allclose(plane.normal, [0.0, 1.0, 0.0])
    assert plane.same_plane(MprPlane("coronal", (50.0, 2.0, -7.0), (1.0, 0.0, 0.0), (0.0, 0.0, -1.0)))
    assert not plane.same_plane(MprPlane("coronal", (1.0, 2.5, 3.0), (1.0, 0.0, 0.0), (0.0, 0.0, -1.0)))
    assert MprPlane.from_dict(plane.to_dict()) == plane
    with pytest.raises(ValueError, match="orthogonal"):
        MprPlane("coronal", (0.0, 0.0, 0.0), (1.0, 0.0, 0.0), (1.0, 1.0, 0.0))
    with pytest.raises(ValueError, match="unknown MPR view"):
        MprPlane("oblique", (0.0, 0.0, 0.0), (1.0, 0.0, 0.0), (0.0, 1.0, 0.0))
