"""Measurements in the cache: kept per image, upgraded caches gain the table, deletions cascade.

Real CT and MR slices from ../shared are imported; measurements are values a viewport makes
(LPS points, a result dict), stored as their to_dict JSON.
"""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pydicom
import pytest

from viewer.core.measurements import Measurement
from viewer.store import Store
from viewer.store.measurements import MeasurementStore, UnknownImageError
from viewer.store.schema import SCHEMA_VERSION


def ct_files(ct_dir: Path, n: int = 3) -> list[Path]:
    return sorted(ct_dir.glob("*.dcm"))[:n]


def uid_of(path: Path) -> str:
    return str(pydicom.dcmread(path, stop_before_pixels=True).SOPInstanceUID)


def length_on(sop_uid: str, mm: float = 42.5, frame: int = 0) -> Measurement:
    return Measurement("length", [(0.0, 0.0, 10.0), (mm, 0.0, 10.0)], sop_uid,
                       {"length": mm, "unit": "mm", "calibration": "patient"}, frame=frame)


@pytest.fixture
def measurements(store: Store):
    m = MeasurementStore.open(store.index_path)
    yield m
    m.close()


def test_save_list_update_delete(store, measurements, ct_dir, mr_dir):
    ct, mr = ct_files(ct_dir), sorted(mr_dir.glob("*.IMA"))[:2]
    store.import_paths(ct + mr)
    by_modality = {s.modality: s.series_uid for st in store.studies() for s in store.series(st.study_uid)}
    a = length_on(uid_of(ct[0]), 42.5)
    b = Measurement("ellipse", [(1.0, 2.0, 3.0), (4.0, 5.0, 3.0)], uid_of(ct[1]),
                    {"mean": 40.1, "sd": 3.2, "min": 30.0, "max": 51.0, "pixels": 12, "area": 9.4,
                     "area_unit": "mm²", "unit": "HU", "calibration": "patient"}, label="liver")
    c = Measurement("probe", [(7.0, 8.0, 9.0)], uid_of(mr[0]), {"value": 312.0, "unit": ""})
    for m in (a, b, c):
        measurements.save(m)
    ct_kept = measurements.for_series(by_modality["CT"])
    assert [m.to_dict() for m in ct_kept] == [a.to_dict(), b.to_dict()]  # in drawing order, every field
    assert [m.id for m in measurements.for_series(by_modality["MR"])] == [c.id]
    assert [m.id for m in measurements.for_image(uid_of(ct[1]))] == [b.id]
    assert measurements.for_image(uid_of(ct[1]), frame=1) == []

    a.points[1] = (30.0, 0.0, 10.0)  # the user dragged an end point
    a.result["length"] = 30.0
    assert measurements.update(a)
    measurements.save(a)  # saving again is an update too, never a second row
    assert measurements.count() == 3
    assert measurements.for_series(by_modality["CT"])[0].result["length"] == 30.0
    assert measurements.for_series(by_modality["CT"])[0].points[1] == (30.0, 0.0, 10.0)

    assert measurements.delete(b.id)
    assert not measurements.delete(b.id)
    assert not measurements.update(b)  # a late edit does not bring a deleted one back
    assert [m.id for m in measurements.for_series(by_modality["CT"])] == [a.id]


def test_frames_of_one_instance_are_told_apart(store, measurements, ct_dir):
    store.import_paths(ct_files(ct_dir, 1))
    uid = uid_of(ct_files(ct_dir, 1)[0])
    measurements.save(length_on(uid, 10.0, frame=0))
    measurements.save(length_on(uid, 20.0, frame=3))
    assert [m.result["length"] for m in measurements.for_image(uid, frame=3)] == [20.0]
    assert sorted(m.frame for m in measurements.for_image(uid)) == [0, 3]


def test_an_image_outside_the_cache_is_refused(store, measurements, ct_dir):
    store.import_paths(ct_files(ct_dir, 1))
    with pytest.raises(UnknownImageError, match="not in the local cache"):
        measurements.save(length_on("1.2.3.4.5.not.imported"))
    assert measurements.count() == 0


def test_measurements_survive_closing_and_reopening_the_cache(lightbox_home, ct_dir):
    files = ct_files(ct_dir)
    with Store.open(lightbox_home) as store:
        store.import_paths(files)
        kept = MeasurementStore.open(store.index_path)
        m = length_on(uid_of(files[2]), 77.25)
        kept.save(m)
        kept.close()
    with Store.open(lightbox_home) as store:
        series_uid = store.series(store.studies()[0].study_uid)[0].series_uid
        again = MeasurementStore.open(store.index_path)
        assert [x.to_dict() for x in again.for_series(series_uid)] == [m.to_dict()]
        again.close()


def test_an_existing_cache_is_upgraded_and_keeps_its_studies(lightbox_home, ct_dir):
    files = ct_files(ct_dir)
    with Store.open(lightbox_home) as store:
        store.import_paths(files)
        index = store.index_path
    # make it what Lightbox's first schema wrote: no measurement table, user_version 1
    conn = sqlite3.connect(index)
    conn.executescript(
        "DROP TABLE measurement; ALTER TABLE patient DROP COLUMN id_collision; "  # and migrations 4-5's columns
        "ALTER TABLE study DROP COLUMN patient_name; ALTER TABLE study DROP COLUMN patient_name_folded; "
        "ALTER TABLE study DROP COLUMN patient_birth_date; ALTER TABLE study DROP COLUMN patient_sex; "
        "ALTER TABLE pending_file DROP COLUMN op; "
        "PRAGMA user_version = 1;")
    conn.close()
    conn = sqlite3.connect(index)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == 1
    assert not conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'measurement'").fetchone()
    conn.close()

    with Store.open(lightbox_home) as store:
        conn = sqlite3.connect(index)
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION >= 2
        conn.close()
        assert len(store.study_instances(store.studies()[0].study_uid)) == 3  # nothing imported was lost
        kept = MeasurementStore.open(index)
        kept.save(length_on(uid_of(files[0])))
        assert kept.count() == 1
        kept.close()


def test_deleting_a_study_or_series_deletes_its_measurements(store, measurements, ct_dir, mr_dir):
    ct, mr = ct_files(ct_dir), sorted(mr_dir.glob("*.IMA"))[:2]
    store.import_paths(ct + mr)
    for f in ct + mr:
        measurements.save(length_on(uid_of(f)))
    assert measurements.count() == 5
    studies = {st.modalities[0]: st.study_uid for st in store.studies()}
    mr_series = store.series(studies["MR"])[0].series_uid
    store.delete_series(mr_series)
    assert measurements.count() == 3
    assert measurements.for_series(mr_series) == []
    store.delete_study(studies["CT"])
    assert measurements.count() == 0


def test_reindexing_a_moved_linked_folder_keeps_measurements(store, measurements, ct_dir, tmp_path):
    """A linked folder that moved is re-imported in place of its vanished files (the instance
    rows are replaced): the images are the same, so their measurements stay."""
    folder = tmp_path / "linked"
    folder.mkdir()
    for f in ct_files(ct_dir):
        shutil.copyfile(f, folder / f.name)
    store.import_paths([folder], link=True)
    m = length_on(uid_of(folder / ct_files(ct_dir)[1].name), 12.0)
    measurements.save(m)
    moved = folder.rename(tmp_path / "moved")
    report = store.import_paths([moved], link=True)
    assert report.imported == 3 and report.warnings  # the vanished copies were replaced
    series_uid = store.series(store.studies()[0].study_uid)[0].series_uid
    assert [x.id for x in measurements.for_series(series_uid)] == [m.id]
