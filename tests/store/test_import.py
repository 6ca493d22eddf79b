"""Import of real media: the DICOMDIR character-set CD, a messy folder, ZIPs, link mode."""

from __future__ import annotations

import shutil
from pathlib import Path

import pydicom
import pytest

from viewer.core.tasks import CancelToken, Progress
from viewer.store import STORAGE_COPY, STORAGE_LINK, ImportProgress, Store, StudyQuery

# The README of dicomdir-charsets: file -> PatientName in its own character set.
CHARSET_NAMES = {
    "SCSARAB": "قباني^لنزار",
    "SCSFREN": "Buc^Jérôme",
    "SCSGERM": "Äneas^Rüdiger",
    "SCSGREEK": "Διονυσιος",
    "SCSH31": "Yamada^Tarou=山田^太郎=やまだ^たろう",
    "SCSH32": "ﾔﾏﾀﾞ^ﾀﾛｳ=山田^太郎=やまだ^たろう",
    "SCSHBRW": "שרון^דבורה",
    "SCSI2": "Hong^Gildong=洪^吉洞=홍^길동",
    "SCSRUSS": "Люкceмбypг",
    "SCSX1": "Wang^XiaoDong=王^小東",
    "SCSX2": "Wang^XiaoDong=王^小东",
}


def _counts(store: Store) -> tuple[int, int, int, int]:
    studies = store.studies()
    series = [se for st in studies for se in store.series(st.study_uid)]
    instances = [i for se in series for i in store.instances(se.series_uid)]
    return len(store.patients()), len(studies), len(series), len(instances)


def _check_report_adds_up(report) -> None:
    assert report.scanned == (report.imported + report.duplicate + report.conflict + report.skipped
                              + report.failed)


def test_dicomdir_charsets_import_exactly(store: Store, data_dir: Path) -> None:
    media = data_dir / "dicomdir-charsets"
    report = store.import_paths([media])
    _check_report_adds_up(report)
    # the 11 files the DICOMDIR lists, then what it does not list: README.md, skipped
    assert (report.scanned, report.imported, report.skipped, report.failed) == (12, 11, 1, 0)
    assert [Path(i.path).name for i in report.skipped_files] == ["README.md"]
    assert report.warnings == []
    assert _counts(store) == (11, 11, 11, 11)
    names = {p.patient_id: p.name for p in store.patients()}
    by_file = {pydicom.dcmread(media / f, stop_before_pixels=True).PatientID: name
               for f, name in CHARSET_NAMES.items()}
    assert names == by_file
    for inst in (i for st in store.studies() for se in store.series(st.study_uid)
                 for i in store.instances(se.series_uid)):
        assert inst.storage == STORAGE_COPY
        assert inst.path.is_relative_to(store.home / "store") and inst.path.is_file()


def test_dicomdir_charsets_copies_are_byte_identical(store: Store, data_dir: Path) -> None:
    media = data_dir / "dicomdir-charsets"
    store.import_paths([media / "DICOMDIR"])  # the DICOMDIR file itself is a valid source
    originals = {pydicom.dcmread(media / f, stop_before_pixels=True).SOPInstanceUID: media / f
                 for f in CHARSET_NAMES}
    for st in store.studies():
        for se in store.series(st.study_uid):
            for inst in store.instances(se.series_uid):
                assert inst.path.read_bytes() == originals[inst.sop_uid].read_bytes()


def test_names_searchable_in_every_character_set(store: Store, data_dir: Path) -> None:
    store.import_paths([data_dir / "dicomdir-charsets"])

    def found(pattern: str) -> set[str]:
        return {s.patient_name for s in store.studies(StudyQuery(patient_name=pattern))}

    assert found("buc^jerome") == {"Buc^Jérôme"}  # accent- and case-insensitive
    assert found("JÉRÔME") == {"Buc^Jérôme"}  # any name component
    assert found("aneas*") == {"Äneas^Rüdiger"}
    assert found("山田*") == {CHARSET_NAMES["SCSH31"], CHARSET_NAMES["SCSH32"]}  # ideographic group
    assert found("やまだ") == {CHARSET_NAMES["SCSH31"], CHARSET_NAMES["SCSH32"]}  # phonetic group
    assert found("ﾔﾏﾀﾞ*") == {CHARSET_NAMES["SCSH32"]}
    assert found("홍^길동") == {CHARSET_NAMES["SCSI2"]}
    assert found("wang^xiao?ong") == {CHARSET_NAMES["SCSX1"], CHARSET_NAMES["SCSX2"]}
    assert found("διονυσιος") == {"Διονυσιος"}
    assert found("שרון*") == {"שרון^דבורה"}
    assert found("*نزار") == {"قباني^لنزار"}
    assert found("nobody*") == set()


def test_cd_copied_in_lower_case_resolves_the_dicomdir(store: Store, data_dir: Path, tmp_path: Path,
                                                      mr_dir: Path) -> None:
    cd = tmp_path / "cd"
    cd.mkdir()
    for f in (data_dir / "dicomdir-charsets").iterdir():
        if f.name != "README.md":
            shutil.copyfile(f, cd / f.name.lower())
    (cd / "autorun.inf").write_text("[autorun]\n")
    report = store.import_paths([cd])
    assert (report.scanned, report.imported, report.skipped) == (12, 11, 1)
    assert report.warnings == []
    assert _counts(store) == (11, 11, 11, 11)


def test_files_the_dicomdir_omits_are_not_lost(store: Store, data_dir: Path, tmp_path: Path,
                                               mr_dir: Path) -> None:
    cd = tmp_path / "cd"
    shutil.copytree(data_dir / "dicomdir-charsets", cd)
    (cd / "EXTRA").mkdir()
    for f in sorted(mr_dir.glob("*.IMA"))[:3]:
        shutil.copyfile(f, cd / "EXTRA" / f.stem)
    report = store.import_paths([cd / "DICOMDIR"])
    assert (report.scanned, report.imported, report.skipped) == (15, 14, 1)
    assert report.warnings == [f"{cd / 'DICOMDIR'}: 3 DICOM file(s) on the media are not in the DICOMDIR; "
                               "imported them too"]


def test_broken_dicomdir_falls_back_to_scanning(store: Store, data_dir: Path, tmp_path: Path) -> None:
    cd = tmp_path / "cd"
    shutil.copytree(data_dir / "dicomdir-charsets", cd)
    (cd / "SCSGREEK").unlink()  # the DICOMDIR now references a missing file
    (cd / "EXTRA").write_bytes((data_dir / "mr-head-ctk" / "000001.IMA").read_bytes())  # not referenced
    report = store.import_paths([cd])
    assert any("missing file" in w and "scanned the folder instead" in w for w in report.warnings)
    _check_report_adds_up(report)
    # 10 remaining SCS files + EXTRA imported; DICOMDIR and README.md skipped
    assert (report.imported, report.skipped, report.failed) == (11, 2, 0)
    assert {i.reason for i in report.skipped_files} >= {"a DICOMDIR (a directory of the media, not an instance)"}

    garbage = tmp_path / "cd2"
    garbage.mkdir()
    (garbage / "DICOMDIR").write_bytes(b"\0" * 128 + b"DICM" + b"\xff" * 64)
    shutil.copyfile(data_dir / "dicomdir-charsets" / "SCSFREN", garbage / "SCSFREN")
    report = store.import_paths([garbage])
    assert any("cannot be read" in w for w in report.warnings)
    assert report.duplicate == 1


def test_messy_folder_imports_exactly_as_specified(store: Store, messy) -> None:
    batches: list[list[str]] = []
    reports: list[Progress] = []
    report = store.import_paths([messy.root], on_batch=batches.append, progress=reports.append)
    _check_report_adds_up(report)
    assert report.scanned == 25  # 10 MR + 4 junk + 2 cut + dup + conflict + preamble-less + 6 in the ZIP
    assert report.imported == 10 + 1 + 5
    assert report.duplicate == 1
    assert report.conflict == 1
    assert report.skipped == 4 + 1  # junk + readme.txt inside the ZIP
    assert report.failed == 2
    failed = {Path(i.path).name: i.reason for i in report.failures}
    assert set(failed) == {"cut_pixels.dcm", "cut_header.dcm"}
    assert "truncated" in failed["cut_pixels.dcm"] and "pixel data" in failed["cut_pixels.dcm"]
    assert "truncated" in failed["cut_header.dcm"]
    assert [Path(i.path) for i in report.conflicts] == [messy.conflict]
    assert str(messy.conflict_original) in report.conflicts[0].reason
    skipped = {i.path for i in report.skipped_files}
    assert skipped == {str(p) for p in messy.junk} | {f"{messy.archive}!readme.txt"}
    assert any(str(messy.preambleless) in w and "preamble" in w for w in report.warnings)

    assert _counts(store) == (3, 3, 3, 16)
    assert sorted({uid for b in batches for uid in b}) == sorted(report.study_uids)
    assert len(report.study_uids) == 3
    last = reports[-1]
    assert isinstance(last, ImportProgress) and last.done == last.total == 25 and last.imported == 16
    # the conflicting file did not replace the first one
    mr = store.studies(StudyQuery(modality="MR"))[0]
    assert mr.patient_name == str(pydicom.dcmread(messy.mr_files[0], stop_before_pixels=True).PatientName)
    # the preamble-less dataset is cached as a proper Part 10 file
    old = [i for st in store.studies() for se in store.series(st.study_uid)
           for i in store.instances(se.series_uid) if i.transfer_syntax == "1.2.840.10008.1.2"
           and se.modality == "MR" and st.study_uid != mr.study_uid]
    assert len(old) == 1 and old[0].path.read_bytes()[128:132] == b"DICM"

    again = store.import_paths([messy.root])  # re-importing is a no-op
    _check_report_adds_up(again)
    assert (again.imported, again.duplicate, again.conflict, again.skipped, again.failed) == (0, 17, 1, 5, 2)
    assert _counts(store) == (3, 3, 3, 16)


def test_link_mode_indexes_in_place(store: Store, mr_dir: Path) -> None:
    report = store.import_paths([mr_dir], link=True)
    assert (report.imported, report.skipped) == (100, 1)
    (study,) = store.studies()
    (series,) = store.series(study.study_uid)
    rows = store.instances(series.series_uid)
    assert all(r.storage == STORAGE_LINK and r.path.parent == mr_dir for r in rows)
    assert [r.instance_number for r in rows] == sorted(r.instance_number for r in rows)
    assert not any((store.home / "store").rglob("*.dcm"))
    usage = store.disk_usage()
    assert usage.managed_bytes == 0 and usage.linked_bytes == sum(r.size for r in rows)
    assert store.delete_study(study.study_uid) == 0  # linked files are never deleted
    assert len(list(mr_dir.glob("*.IMA"))) == 100


def test_zip_given_directly_and_zip_in_link_mode(store: Store, messy) -> None:
    report = store.import_paths([messy.archive], link=True)
    assert (report.scanned, report.imported, report.skipped) == (6, 5, 1)
    assert any("cannot be linked" in w for w in report.warnings)
    (study,) = store.studies()
    assert study.instance_count == 5
    assert all(i.storage == STORAGE_COPY for i in store.study_instances(study.study_uid))


def test_missing_path_is_a_failure(store: Store, tmp_path: Path) -> None:
    report = store.import_paths([tmp_path / "nope"])
    assert (report.scanned, report.failed) == (1, 1)
    assert report.failures[0].reason == "no such file or folder"


def test_cancel_keeps_committed_batches(store: Store, ct_dir: Path, mr_dir: Path) -> None:
    cancel = CancelToken()
    seen: list[list[str]] = []

    def on_batch(studies: list[str]) -> None:
        seen.append(studies)
        cancel.cancel()  # the user cancels as soon as the first studies show up

    report = store.import_paths([ct_dir, mr_dir], cancel=cancel, on_batch=on_batch)
    assert report.cancelled and not report.ok
    assert 1 <= len(seen) <= 2  # the batch already being written when the user cancelled completes
    assert 0 < report.imported < 234
    assert sum(st.instance_count for st in store.studies()) == report.imported
    resumed = store.import_paths([ct_dir, mr_dir])
    assert resumed.imported == 234 - report.imported
    assert resumed.duplicate == report.imported


@pytest.mark.parametrize("link", [False, True])
def test_large_import_uses_workers_and_keeps_order(store: Store, ct_dir: Path, mr_dir: Path, link: bool) -> None:
    """234 files: above the threshold where headers are read in worker processes."""
    report = store.import_paths([ct_dir, mr_dir], link=link)
    assert (report.imported, report.failed, report.skipped) == (234, 0, 4)
    assert report.warnings == []
    ct = store.studies(StudyQuery(modality="CT"))[0]
    assert (ct.series_count, ct.instance_count, ct.description) == (1, 134, "PANCREAS")


def test_a_thousand_files_some_cut_short(store: Store, data_dir: Path, tmp_path: Path) -> None:
    """Every real file four times over (symlinks, indexed in place) plus 60 truncated copies and
    junk: all good instances imported once, every bad file reported with its reason."""
    real = sorted(p for p in data_dir.rglob("*") if p.is_file() and p.suffix not in (".md", ".upstream", ".sha256")
                  and p.name != "DICOMDIR")
    uids = {str(pydicom.dcmread(p, stop_before_pixels=True, force=True).SOPInstanceUID) for p in real}
    assert len(real) == len(uids) == 267
    root = tmp_path / "big"
    for copy in range(4):
        folder = root / f"copy{copy}"
        folder.mkdir(parents=True)
        for i, src in enumerate(real):
            (folder / f"{i:03d}_{src.name}").symlink_to(src)
    cut_dir = root / "cut"
    cut_dir.mkdir()
    images = [p for p in real if p.stat().st_size > 20_000][:60]
    for i, src in enumerate(images):
        raw = src.read_bytes()
        (cut_dir / f"cut{i:02d}").write_bytes(raw[: len(raw) * (i + 1) // 62])  # 1/62 .. 60/62 of the file
    (root / "thumbs.db").write_bytes(b"\0" * 512)
    report = store.import_paths([root], link=True)
    _check_report_adds_up(report)
    assert report.scanned == 4 * 267 + 60 + 1 > 1000
    assert (report.imported, report.duplicate, report.conflict) == (267, 3 * 267, 0)
    assert report.skipped == 1
    assert report.failed == 60
    assert sorted(Path(f.path).name for f in report.failures) == [f"cut{i:02d}" for i in range(60)]
    assert all("truncated" in f.reason or "corrupt" in f.reason for f in report.failures)
    assert sum(s.instance_count for s in store.studies()) == 267


def test_duplicates_of_a_batch_still_being_written(store: Store, mr_dir: Path, tmp_path: Path) -> None:
    """The next batch is classified while the previous one is written and not yet indexed:
    its copies and conflicts must be recognised against the instances in flight."""
    folder = tmp_path / "mr"
    folder.mkdir()
    files = sorted(mr_dir.glob("*.IMA"))[:60]
    for f in files:
        shutil.copyfile(f, folder / f.name)
    shutil.copyfile(files[0], folder / "000027a")  # sorts into the second batch (after 25 files)
    other = pydicom.dcmread(files[1])
    other.PatientName = "Someone^Else"
    other.save_as(folder / "000028a")
    report = store.import_paths([folder])
    assert (report.imported, report.duplicate, report.conflict, report.failed) == (60, 1, 1, 0)
    assert report.conflicts[0].path == str(folder / "000028a")
    assert report.conflicts[0].reason.startswith(f"same SOP Instance UID as {folder / files[1].name}")
    assert sum(s.instance_count for s in store.studies()) == 60
    assert not store._in_flight


def test_many_preambleless_files_do_not_flood_the_warnings(store: Store, data_dir: Path, tmp_path: Path) -> None:
    """An ACR-NEMA era disc: every file without preamble; the report stays readable."""
    src = pydicom.dcmread(data_dir / "transfer-syntaxes-orthanc" / "1.2.840.10008.1.2.dcm", force=True)
    raw = (data_dir / "transfer-syntaxes-orthanc" / "1.2.840.10008.1.2.dcm").read_bytes()
    uid = str(src.SOPInstanceUID).encode()
    for i in range(14):  # same dataset, a distinct SOP Instance UID of the same length in each
        new = (str(src.SOPInstanceUID)[:-3] + f"{i:03d}").encode()
        (tmp_path / f"IMG{i:05d}").write_bytes(raw.replace(uid, new))
    report = store.import_paths([tmp_path])
    assert (report.imported, report.failed) == (14, 0)
    assert len(report.warnings) == 11 and report.warnings[-1].startswith("... and 4 more files")


def test_zip_batches_are_bounded_in_memory(store: Store, messy, monkeypatch: pytest.MonkeyPatch) -> None:
    from viewer.store import importer

    monkeypatch.setattr(importer, "MAX_BATCH_BYTES", 1 << 20)  # the five CT members are ~0.5 MB each
    batches: list[list[str]] = []
    report = store.import_paths([messy.archive], on_batch=batches.append)
    assert report.imported == 5
    assert len(batches) == 3  # 2 + 2 + 1 members per batch
