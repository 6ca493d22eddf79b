"""Two people under one Patient ID stay two patients (issue 4, priors by "same Patient ID and issuer").

A Patient ID is only unique within its issuer, and in practice not even there: a typo at
registration, a recycled ID or two sites without an Issuer of Patient ID (0010,0021) give two
people the same ID. Merging them would show one person's images as the other's priors, so
the cache keeps them apart when the folded names or birth dates disagree, flags the ID
collision and says so in the import report.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pydicom
from pydicom.uid import generate_uid

from viewer.store import Store, StudyQuery


def _person(src: Path, dst: Path, *, patient_id: str, name: str, birth: str, date: str) -> str:
    """A real MR slice as the only instance of a new study of a chosen person."""
    ds = pydicom.dcmread(src)
    ds.PatientID, ds.PatientName, ds.PatientBirthDate = patient_id, name, birth
    ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.SOPInstanceUID = generate_uid(), generate_uid(), generate_uid()
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    ds.StudyDate = date
    dst.parent.mkdir(parents=True, exist_ok=True)
    ds.save_as(dst)
    return str(ds.StudyInstanceUID)


def _two_people(mr_dir: Path, folder: Path) -> tuple[str, str]:
    mr = sorted(mr_dir.glob("*.IMA"))
    smith = _person(mr[0], folder / "0.dcm", patient_id="12345", name="SMITH^JOHN", birth="19500101",
                    date="20200101")
    doe = _person(mr[1], folder / "1.dcm", patient_id="12345", name="DOE^JANE", birth="19800202",
                  date="20200102")
    return smith, doe


def test_same_id_different_people_are_two_patients(store: Store, mr_dir: Path, tmp_path: Path) -> None:
    smith, doe = _two_people(mr_dir, tmp_path / "in")
    report = store.import_paths([tmp_path / "in"])
    assert report.imported == 2
    assert any("12345" in w and "SMITH^JOHN" in w and "DOE^JANE" in w for w in report.warnings), report.warnings
    patients = sorted((p.name, p.birth_date, p.id_collision) for p in store.patients())
    assert patients == [("DOE^JANE", "19800202", True), ("SMITH^JOHN", "19500101", True)]
    rows = {s.study_uid: (s.patient_name, s.birth_date) for s in store.studies()}
    assert rows == {smith: ("SMITH^JOHN", "19500101"), doe: ("DOE^JANE", "19800202")}
    assert [s.study_uid for s in store.studies(StudyQuery(patient_name="doe*"))] == [doe]
    assert store.priors(smith) == [] and store.priors(doe) == []


def test_same_person_with_a_missing_birth_date_is_one_patient(store: Store, mr_dir: Path, tmp_path: Path) -> None:
    mr = sorted(mr_dir.glob("*.IMA"))
    first = _person(mr[0], tmp_path / "in" / "0.dcm", patient_id="777", name="Roe^Ann", birth="19610303",
                    date="20200101")
    second = _person(mr[1], tmp_path / "in" / "1.dcm", patient_id="777", name="ROE^ANN", birth="",
                     date="20210101")
    report = store.import_paths([tmp_path / "in"])
    assert report.warnings == []
    assert [(p.study_count, p.id_collision) for p in store.patients()] == [(2, False)]
    assert [(p.study.study_uid, p.match) for p in store.priors(second)] == [(first, "patient id")]


def test_anonymous_studies_without_id_or_birth_date_are_not_merged(store: Store, mr_dir: Path,
                                                                   tmp_path: Path) -> None:
    mr = sorted(mr_dir.glob("*.IMA"))
    a = _person(mr[0], tmp_path / "in" / "0.dcm", patient_id="", name="ANONYMOUS", birth="", date="20200101")
    b = _person(mr[1], tmp_path / "in" / "1.dcm", patient_id="", name="ANONYMOUS", birth="", date="20200102")
    store.import_paths([tmp_path / "in"])
    assert len(store.patients()) == 2
    assert store.priors(a) == [] and store.priors(b) == []


def test_an_old_cache_that_merged_two_people_is_split_on_open(lightbox_home: Path, mr_dir: Path,
                                                              tmp_path: Path) -> None:
    """What an index written before per-study demographics looks like after its migration."""
    smith, doe = _two_people(mr_dir, tmp_path / "in")
    with Store.open(lightbox_home) as store:
        store.import_paths([tmp_path / "in"])
    conn = sqlite3.connect(lightbox_home / "index.sqlite")
    keep = conn.execute("SELECT patient FROM study WHERE study_uid = ?", (smith,)).fetchone()[0]
    conn.execute("UPDATE study SET patient = ?", (keep,))  # the old merge: both under SMITH's row
    conn.execute("DELETE FROM patient WHERE id != ?", (keep,))
    conn.execute("UPDATE patient SET patient_key = 'id:12345|', id_collision = 0")
    conn.execute("UPDATE study SET patient_name = NULL, patient_name_folded = NULL, patient_birth_date = NULL, "
                 "patient_sex = NULL")  # the migration cannot know them
    conn.commit()
    conn.close()
    with Store.open(lightbox_home) as store:
        assert sorted((p.name, p.id_collision) for p in store.patients()) == [("DOE^JANE", True),
                                                                              ("SMITH^JOHN", True)]
        assert {s.study_uid: s.birth_date for s in store.studies()} == {smith: "19500101", doe: "19800202"}
        assert store.priors(doe) == []


def test_study_rows_say_which_patient_and_ls_shows_the_collision(lightbox_home: Path, mr_dir: Path,
                                                                 tmp_path: Path) -> None:
    import json
    import subprocess
    import sys

    smith, doe = _two_people(mr_dir, tmp_path / "in")
    with Store.open(lightbox_home) as store:
        store.import_paths([tmp_path / "in"])
        rows = {s.study_uid: s for s in store.studies()}
    assert rows[smith].patient_ref != rows[doe].patient_ref  # a browser groups by this, not by the ID
    assert rows[smith].id_collision and rows[doe].id_collision
    out = subprocess.run([sys.executable, "-m", "viewer", "--home", str(lightbox_home), "ls", "--json"],
                         capture_output=True, text=True, check=True).stdout
    studies = {s["study_uid"]: s for s in json.loads(out)["studies"]}
    assert (studies[doe]["patient_name"], studies[doe]["birth_date"], studies[doe]["id_collision"]) == (
        "DOE^JANE", "19800202", True)
    assert "patient_ref" not in studies[doe]
