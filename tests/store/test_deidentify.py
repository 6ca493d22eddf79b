"""De-identified export checked against PS3.15 Table E.1-1 for every listed attribute in the input.

The inputs are the real CT and MR series (exported through the cache) and every other real
image in ../shared/data (de-identified directly): together they carry 65 different attributes
of the table, at the top level and inside sequences (Referenced Image Sequence, ...).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from pathlib import Path

import pydicom
import pytest
from pydicom.dataset import Dataset

from viewer.store import Store
from viewer.store.deid_table import BASIC_PROFILE, DEVICE_IDENTITY
from viewer.store.deidentify import Deidentifier, DeidOptions
from viewer.store.export import export_study

UID = re.compile(r"^[0-9]+(\.[0-9]+)*$")
SET_BY_PROFILE = {"PatientIdentityRemoved", "DeidentificationMethod", "DeidentificationMethodCodeSequence",
                  "LongitudinalTemporalInformationModified"}
RESOLVED = {"X/Z": "Z", "X/D": "X", "X/Z/D": "Z", "Z/D": "Z", "X/Z/U*": "U*"}  # as documented


class Checker:
    """Checks output datasets against their inputs; remembers every UID replacement it saw."""

    def __init__(self, options: DeidOptions, shift: dt.timedelta | None = None) -> None:
        self.options = options
        self.shift = shift
        self.uids: dict[str, str] = {}
        self.checked: set[str] = set()

    def check(self, before: Dataset, after: Dataset) -> None:
        assert after.PatientIdentityRemoved == "YES"
        codes = [(c.CodeValue, c.CodingSchemeDesignator) for c in after.DeidentificationMethodCodeSequence]
        assert ("113100", "DCM") in codes
        assert (("113107", "DCM") in codes) == self.options.retain_dates_shifted
        assert (("113109", "DCM") in codes) == self.options.retain_device_identity
        assert "PS3.15 E Basic Profile" in str(after.DeidentificationMethod)
        if "DeidentificationMethod" in before:  # an earlier de-identification stays described
            assert str(before.DeidentificationMethod) in str(after.DeidentificationMethod)
        assert not any(e.tag.is_private for e in after.iterall())
        assert after.file_meta.MediaStorageSOPInstanceUID == after.SOPInstanceUID
        if "PixelData" in before:
            assert after.PixelData == before.PixelData
        self._compare(before, after)

    def _map(self, old: str, new: str) -> None:
        assert UID.match(new) and len(new) <= 64 and new != old
        assert self.uids.setdefault(old, new) == new, f"{old} replaced inconsistently"

    def _compare(self, before: Dataset, after: Dataset) -> None:
        for elem in before:
            if elem.keyword in SET_BY_PROFILE:
                continue
            action = BASIC_PROFILE.get(elem.keyword)
            if action is None:
                if elem.VR == "SQ" and elem.tag in after and not elem.tag.is_private:
                    for b, a in zip(elem.value, after[elem.tag].value, strict=True):
                        self._compare(b, a)
                continue
            self.checked.add(elem.keyword)
            action = RESOLVED.get(action, action)
            if elem.keyword == "PatientID":
                action = "D"
            out = after.get(elem.tag)
            if self.options.retain_device_identity and elem.keyword in DEVICE_IDENTITY:
                assert out is not None and out.value == elem.value, elem.keyword
            elif (self.options.retain_dates_shifted and elem.VR == "DA" and action in "XZD"
                  and elem.keyword != "PatientBirthDate" and elem.value):
                day = dt.datetime.strptime(str(elem.value), "%Y%m%d") - self.shift
                assert out is not None and out.value == day.strftime("%Y%m%d"), elem.keyword
            elif action == "X":
                assert out is None, f"{elem.keyword} should be removed"
            elif action == "Z":
                assert out is not None, f"{elem.keyword} should be kept, empty"
                expected = "ANONYMOUS" if elem.keyword == "PatientName" else None
                assert out.value in ([], "", None, b"") or out.value == expected, elem.keyword
            elif action == "D":
                assert out is not None and out.value not in ("", None)
                if elem.value:
                    assert out.value != elem.value, elem.keyword
            elif action == "U":
                assert out is not None
                olds = [elem.value] if isinstance(elem.value, str) else list(elem.value)
                news = [out.value] if isinstance(out.value, str) else list(out.value)
                for old, new in zip(olds, news, strict=True):
                    self._map(str(old), str(new))
            elif action == "U*":
                assert out is not None and len(out.value) == len(elem.value)
                for b, a in zip(elem.value, out.value, strict=True):
                    self._compare(b, a)

    def assert_one_to_one(self) -> None:
        assert len(set(self.uids.values())) == len(self.uids)


def _by_pixels(paths) -> dict[str, Dataset]:
    out = {}
    for p in paths:
        ds = pydicom.dcmread(p)
        out[hashlib.sha1(ds.PixelData).hexdigest()] = ds
    return out


@pytest.mark.parametrize("options", [
    DeidOptions(),
    DeidOptions(retain_dates_shifted=True, date_shift_days=1000, retain_device_identity=True),
], ids=["basic", "dates-and-device"])
def test_deidentified_export_of_real_series(store: Store, ct_dir: Path, mr_dir: Path, tmp_path: Path,
                                            options: DeidOptions) -> None:
    store.import_paths([ct_dir, mr_dir])
    checker = Checker(options, dt.timedelta(days=1000))
    present: set[str] = set()
    for study in store.studies():
        originals = _by_pixels(i.path for i in store.study_instances(study.study_uid))
        present |= {e.keyword for ds in originals.values() for e in ds.iterall()
                    if e.keyword in BASIC_PROFILE and e.keyword not in SET_BY_PROFILE}
        out = tmp_path / study.study_uid
        report = export_study(store, study.study_uid, out, deidentify=options)
        assert report.deidentified and report.study_uid != study.study_uid
        exported = _by_pixels(out.rglob("*.dcm"))
        assert exported.keys() == originals.keys()
        for key, after in exported.items():
            checker.check(originals[key], after)
            assert after.StudyInstanceUID == report.study_uid
            assert after.LongitudinalTemporalInformationModified == (
                "MODIFIED" if options.retain_dates_shifted else "REMOVED")
        series = {ds.SeriesInstanceUID for ds in exported.values()}
        frames = {ds.FrameOfReferenceUID for ds in exported.values()}
        assert len(series) == 1 and len(frames) == 1  # the series still hangs together
        ids = {ds.PatientID for ds in exported.values()}
        assert len(ids) == 1 and study.patient_id not in ids
        text = b"".join(p.read_bytes()[:8192] for p in out.rglob("*.dcm"))
        assert study.patient_id.encode() not in text
    checker.assert_one_to_one()
    if options.retain_device_identity:
        assert {"StationName", "DeviceSerialNumber"} <= checker.checked
    assert checker.checked == present and len(present) == 37


def test_every_profile_attribute_in_the_real_data(data_dir: Path) -> None:
    """Every other real image, de-identified directly: all 65 listed attributes they carry."""
    files = [p for d in ("transfer-syntaxes-orthanc", "dicomdir-charsets", "mr-transfer-syntaxes")
             for p in sorted((data_dir / d).iterdir()) if p.suffix not in (".md", ".upstream")
             and p.name != "DICOMDIR"]
    files += sorted((data_dir / "ct-pancreas-tcia").glob("*.dcm"))[:2]
    files += sorted((data_dir / "mr-head-ctk").glob("*.IMA"))[:2]
    deid = Deidentifier(DeidOptions())
    checker = Checker(DeidOptions())
    present = set()
    for path in files:
        before = pydicom.dcmread(path, force=True)
        present |= {e.keyword for e in before.iterall()
                    if e.keyword in BASIC_PROFILE and e.keyword not in SET_BY_PROFILE}
        after = deid.apply(pydicom.dcmread(path, force=True))
        if "TransferSyntaxUID" not in after.file_meta:
            after.file_meta.TransferSyntaxUID = "1.2.840.10008.1.2"
        checker.check(before, after)
        assert str(after.PatientName) == "ANONYMOUS"
    assert checker.checked == present
    assert len(present) == 65
    checker.assert_one_to_one()
