"""Queries, priors, deletion, disk usage, schema versioning and concurrency of the index."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pydicom
import pytest
from pydicom.uid import generate_uid

from viewer.core.errors import StoreError
from viewer.store import Store, StudyQuery
from viewer.store.schema import SCHEMA_VERSION


def _restudy(src: Path, dst: Path, *, study_uid: str, series_uid: str, patient_id: str, name: str,
             birth: str, date: str, accession: str = "", description: str = "") -> Path:
    """A real MR slice moved into another (synthetic) study of a chosen patient."""
    ds = pydicom.dcmread(src)
    ds.StudyInstanceUID, ds.SeriesInstanceUID = study_uid, series_uid
    ds.SOPInstanceUID = generate_uid()
    ds.PatientID, ds.PatientName, ds.PatientBirthDate = patient_id, name, birth
    ds.StudyDate, ds.AccessionNumber, ds.StudyDescription = date, accession, description
    dst.parent.mkdir(parents=True, exist_ok=True)
    ds.save_as(dst)
    return dst


@pytest.fixture
def history(store: Store, mr_dir: Path, tmp_path: Path) -> dict[str, str]:
    """One patient with three studies over the years, and a namesake under another ID."""
    mr = sorted(mr_dir.glob("*.IMA"))
    plan = {
        "2019": ("P1", "Doe^Jane", "19600101", "20190102", "A19", "MR knee"),
        "2021": ("P1", "Doe^Jane", "19600101", "20210303", "A21", "MR head"),
        "2023": ("P1", "Doe^Jane", "19600101", "20230404", "A23", "MR head follow-up"),
        "other-id": ("X9", "DOE^JANE", "19600101", "20200505", "B20", "outside study"),
        "other-person": ("P2", "Doe^Jane", "19700707", "20220606", "C22", "different birth date"),
    }
    uids = {}
    for n, (key, (pid, name, birth, date, acc, desc)) in enumerate(plan.items()):
        uids[key] = generate_uid()
        series = generate_uid()
        for i in range(2):
            _restudy(mr[n * 2 + i], tmp_path / "hist" / key / f"{i}.dcm", study_uid=uids[key], series_uid=series,
                     patient_id=pid, name=name, birth=birth, date=date, accession=acc, description=desc)
    report = store.import_paths([tmp_path / "hist"])
    assert report.imported == 10
    return uids


def test_study_rows_carry_what_a_browser_shows(store: Store, ct_dir: Path) -> None:
    store.import_paths([ct_dir])
    (row,) = store.studies()
    ds = pydicom.dcmread(next(ct_dir.glob("*.dcm")), stop_before_pixels=True)
    assert (row.study_uid, row.patient_id, row.patient_name) == (ds.StudyInstanceUID, ds.PatientID,
                                                                 str(ds.PatientName))
    assert (row.study_date, row.description, row.modalities) == ("20120706", "PANCREAS", ("CT",))
    assert (row.series_count, row.instance_count) == (1, 134)
    (series,) = store.series(row.study_uid)
    assert (series.number, series.modality, series.instance_count) == (201, "CT", 134)
    assert series.description == "PANCREAS DI, iDose (3)"
    assert series.frame_of_reference_uid == ds.FrameOfReferenceUID
    instances = store.instances(series.series_uid)
    assert len(instances) == 134 and all(i.path.is_file() and i.frames == 1 for i in instances)
    assert {i.transfer_syntax for i in instances} == {"1.2.840.10008.1.2"}
    assert store.study(row.study_uid) == row
    assert store.study("1.2.3") is None


def test_queries(store: Store, history: dict[str, str]) -> None:
    def uids(**kw) -> list[str]:
        return [s.study_uid for s in store.studies(StudyQuery(**kw))]

    h = history
    assert uids() == [h["2023"], h["other-person"], h["2021"], h["other-id"], h["2019"]]  # newest first
    assert set(uids(patient_name="doe*")) == set(h.values())
    assert uids(patient_id="P1") == [h["2023"], h["2021"], h["2019"]]
    assert uids(patient_id="P?") == [h["2023"], h["other-person"], h["2021"], h["2019"]]
    assert uids(date_from="20200101", date_to="20211231") == [h["2021"], h["other-id"]]
    assert uids(date_from="2022-01-01") == [h["2023"], h["other-person"]]
    assert uids(accession="A21") == [h["2021"]]
    assert uids(accession="A*") == [h["2023"], h["2021"], h["2019"]]
    assert uids(description="HEAD") == [h["2023"], h["2021"]]
    assert uids(modality="mr") == uids() and uids(modality="CT") == []
    assert uids(patient_name="jane", patient_id="X9") == [h["other-id"]]
    patients = {(p.patient_id, p.study_count) for p in store.patients()}
    assert patients == {("P1", 3), ("X9", 1), ("P2", 1)}


def test_priors(store: Store, history: dict[str, str]) -> None:
    h = history
    priors = store.priors(h["2021"])
    assert [(p.study.study_uid, p.match) for p in priors] == [
        (h["2023"], "patient id"),
        (h["other-id"], "name and birth date"),  # same folded name and birth date, other ID
        (h["2019"], "patient id"),
    ]
    with pytest.raises(StoreError, match="not in the cache"):
        store.priors("1.2.3.4")


def test_delete_study_and_series(store: Store, history: dict[str, str]) -> None:
    h = history
    files = [i.path for i in store.study_instances(h["2019"])]
    assert all(f.is_file() for f in files)
    usage = store.disk_usage()
    assert usage.managed_bytes == sum(usage.per_study.values()) and usage.linked_bytes == 0
    assert store.delete_study(h["2019"]) == 2
    assert not any(f.exists() for f in files)
    assert not files[0].parent.exists()  # empty series/study folders go too
    assert h["2019"] not in store.disk_usage().per_study
    assert store.disk_usage().managed_bytes == usage.managed_bytes - usage.per_study[h["2019"]]

    (series,) = store.series(h["other-id"])
    assert store.delete_series(series.series_uid) == 2
    assert store.study(h["other-id"]) is None  # the emptied study and patient are gone
    assert "X9" not in {p.patient_id for p in store.patients()}
    with pytest.raises(StoreError, match="not in the cache"):
        store.delete_study(h["2019"])
    assert sum(s.instance_count for s in store.studies()) == 6


def test_schema_is_versioned_and_newer_index_refused(lightbox_home: Path) -> None:
    Store.open(lightbox_home).close()
    conn = sqlite3.connect(lightbox_home / "index.sqlite")
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.close()
    with pytest.raises(StoreError, match="newer than this Lightbox"):
        Store.open(lightbox_home)


def test_migrations_run_on_an_old_index(lightbox_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An index at version N is upgraded in place, keeping its rows."""
    from viewer.store import db, schema

    Store.open(lightbox_home).close()
    conn = sqlite3.connect(lightbox_home / "index.sqlite")
    conn.execute("INSERT INTO patient(patient_key, patient_id, issuer, name, name_folded, birth_date, sex) "
                 "VALUES ('id:K|', 'K', '', 'Kept^Row', 'kept row', '', '')")
    conn.commit()
    conn.close()
    step = "CREATE TABLE note (id INTEGER PRIMARY KEY, text TEXT NOT NULL);"
    monkeypatch.setattr(db, "MIGRATIONS", (*schema.MIGRATIONS, step))
    monkeypatch.setattr(db, "SCHEMA_VERSION", schema.SCHEMA_VERSION + 1)
    with Store.open(lightbox_home) as store:
        assert [p.name for p in store.patients()] == ["Kept^Row"]
    conn = sqlite3.connect(lightbox_home / "index.sqlite")
    assert conn.execute("PRAGMA user_version").fetchone()[0] == schema.SCHEMA_VERSION + 1
    assert conn.execute("SELECT count(*) FROM note").fetchone()[0] == 0
    conn.close()


def test_readers_are_not_blocked_by_a_writer(store: Store, ct_dir: Path, mr_dir: Path) -> None:
    """A browser thread keeps querying while an import commits batches on another thread."""
    done = threading.Event()
    seen: list[int] = []
    errors: list[BaseException] = []

    def browse() -> None:
        try:
            while not done.is_set():
                seen.append(sum(s.instance_count for s in store.studies()))
        except BaseException as exc:
            errors.append(exc)

    reader = threading.Thread(target=browse)
    reader.start()
    try:
        store.import_paths([ct_dir, mr_dir])
    finally:
        done.set()
        reader.join()
    assert not errors
    assert seen == sorted(seen)  # counts only grow, batch by batch
    assert seen and max(seen) <= 234
    assert sum(s.instance_count for s in store.studies()) == 234


def test_connections_of_ended_threads_are_closed(store: Store) -> None:
    """Each network association runs on its own thread; their connections must not pile up."""
    for _ in range(20):
        t = threading.Thread(target=store.studies)
        t.start()
        t.join()
    store.studies()
    assert store._db.open_connections <= 3  # this thread, the last worker thread, maybe the committer
