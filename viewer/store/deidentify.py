"""De-identification by the PS3.15 Annex E Basic Application Level Confidentiality Profile.

One :class:`Deidentifier` serves one export: its UID map and date shift are shared by every
instance, so series, frames of reference and references (Referenced SOP Instance UIDs in
Source Image Sequence, ...) still fit together after replacement (E.3.9 "U": consistent
within the set of instances). The table itself is :mod:`viewer.store.deid_table`.

Where the table leaves a choice that depends on the IOD's attribute type (X/Z, X/D, Z/D,
X/Z/D), this implementation picks without IOD knowledge the action that stays conformant for
the types those attributes have in image IODs: X/Z -> Z, X/D -> X, X/Z/D -> Z, Z/D -> Z
(D for Patient ID, Type 1 in the DICOMDIR PATIENT record), X/Z/U* -> keep the sequence and
replace the UIDs inside it. Applied recursively inside sequences (E.1.1).

Options (E.3): Retain Longitudinal Temporal Information with Modified Dates (every date the
profile touches is shifted by the same number of days, times kept) and Retain Device
Identity. Private attributes are removed unless ``keep_private`` (which is then stated in
the De-identification Method, as it is not part of the Basic Profile).
"""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass

from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence
from pydicom.uid import generate_uid

from viewer.store.deid_table import BASIC_PROFILE, DEVICE_IDENTITY, REPEATING_GROUP_REMOVALS

# CID 7050 "De-identification Method" codes (PS3.16), scheme DCM
CODE_BASIC = ("113100", "Basic Application Confidentiality Profile")
CODE_DATES = ("113107", "Retain Longitudinal Temporal Information Modified Dates Option")
CODE_DEVICE = ("113109", "Retain Device Identity Option")

_RESOLVED = {"X/Z": "Z", "X/D": "X", "X/Z/D": "Z", "Z/D": "Z", "X/Z/U*": "U*"}
_DUMMY_TEXT = {"PN": "ANONYMOUS", "AE": "ANONYMOUS", "CS": "ANONYMIZED", "AS": "000Y",
               "DA": "19000101", "TM": "000000", "DT": "19000101000000", "UR": "http://example.invalid"}
_BINARY = {"OB", "OW", "OD", "OF", "OL", "OV", "UN"}
_NUMBERS = {"US", "SS", "UL", "SL", "FL", "FD", "SV", "UV", "IS", "DS"}


@dataclass(frozen=True)
class DeidOptions:
    """Choices for one de-identified export."""

    retain_dates_shifted: bool = False  # E.3.6 Retain Longitudinal Temporal Information, Modified Dates
    date_shift_days: int | None = None  # None: a random shift of 1-3650 days into the past
    retain_device_identity: bool = False  # E.3.3
    keep_private: bool = False  # not Basic Profile; stated in the method when used
    patient_name: str = "ANONYMOUS"
    patient_id: str | None = None  # None: a random pseudonym per original patient


class Deidentifier:
    """Applies the profile to datasets of one export, consistently across them."""

    def __init__(self, options: DeidOptions | None = None) -> None:
        self.options = options or DeidOptions()
        days = self.options.date_shift_days
        self.shift = dt.timedelta(days=days if days is not None else secrets.randbelow(3650) + 1)
        self.uids: dict[str, str] = {}
        self._patients: dict[str, str] = {}
        self.warnings: list[str] = []

    def uid(self, old: str) -> str:
        """The replacement of ``old`` (the same for every instance of this export)."""
        if old not in self.uids:
            self.uids[old] = generate_uid()
        return self.uids[old]

    def apply(self, ds: Dataset) -> Dataset:
        """De-identify ``ds`` in place (and its File Meta) and return it."""
        opts = self.options
        original_id = str(ds.get("PatientID", ""))
        if "BurnedInAnnotation" in ds and str(ds.BurnedInAnnotation).upper() == "YES":
            self.warnings.append(f"instance {self.uid(str(ds.get('SOPInstanceUID', '')))} declares burned-in "
                                 f"annotation: its pixels may still identify the patient")
        if not opts.keep_private:
            ds.remove_private_tags()
        self._clean(ds)
        ds.PatientName = opts.patient_name
        ds.PatientID = opts.patient_id or self._pseudonym(original_id)
        ds.PatientIdentityRemoved = "YES"
        # Data de-identified before (TCIA, ...) keeps the earlier method's description; the
        # codes describe what holds now, so they are this profile's and options' only.
        methods = [str(m) for m in _values(ds.get("DeidentificationMethod")) if str(m) != self._method()]
        ds.DeidentificationMethod = [*methods, self._method()] if methods else self._method()
        ds.DeidentificationMethodCodeSequence = Sequence([self._code(c) for c in self._codes()])
        ds.LongitudinalTemporalInformationModified = "MODIFIED" if opts.retain_dates_shifted else "REMOVED"
        meta = getattr(ds, "file_meta", None)
        if meta is not None:
            if "SOPInstanceUID" in ds:
                meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
            for keyword in ("SourceApplicationEntityTitle", "SendingApplicationEntityTitle",
                            "ReceivingApplicationEntityTitle", "PrivateInformationCreatorUID",
                            "PrivateInformation"):
                if keyword in meta:
                    del meta[keyword]
        return ds

    # --- internals -----------------------------------------------------------------------

    def _pseudonym(self, original: str) -> str:
        if original not in self._patients:
            self._patients[original] = "ANON" + secrets.token_hex(4).upper()
        return self._patients[original]

    def _codes(self) -> list[tuple[str, str]]:
        codes = [CODE_BASIC]
        if self.options.retain_dates_shifted:
            codes.append(CODE_DATES)
        if self.options.retain_device_identity:
            codes.append(CODE_DEVICE)
        return codes

    def _method(self) -> str:
        text = "PS3.15 E Basic Profile"
        if self.options.retain_dates_shifted:
            text += ", dates shifted"
        if self.options.retain_device_identity:
            text += ", device kept"
        if self.options.keep_private:
            text += ", private kept"
        return text

    @staticmethod
    def _code(code: tuple[str, str]) -> Dataset:
        item = Dataset()
        item.CodeValue, item.CodingSchemeDesignator, item.CodeMeaning = code[0], "DCM", code[1]
        return item

    def _clean(self, ds: Dataset) -> None:
        for tag in list(ds.keys()):
            elem = ds[tag]
            if _repeating_group_removal(tag.group, tag.element):
                del ds[tag]
                continue
            action = BASIC_PROFILE.get(elem.keyword, "K")
            action = _RESOLVED.get(action, action)
            if elem.keyword == "PatientID":
                action = "D"
            if action != "K" and self.options.retain_device_identity and elem.keyword in DEVICE_IDENTITY:
                action = "K"
            if (self.options.retain_dates_shifted and action in ("X", "Z", "D") and elem.VR in ("DA", "DT")
                    and elem.keyword != "PatientBirthDate"):
                elem.value = self._shifted(elem)
                continue
            if action == "X":
                del ds[tag]
            elif action == "Z":
                elem.value = [] if elem.VR == "SQ" else (b"" if elem.VR in _BINARY else None
                                                         if elem.VR in _NUMBERS else "")
            elif action == "D":
                self._dummy(elem)
            elif action == "U":
                elem.value = self._replace_uids(elem.value)
            elif elem.VR == "SQ":  # K and U*: keep the sequence, apply the profile inside
                for item in elem.value:
                    self._clean(item)

    def _dummy(self, elem: DataElement) -> None:
        vr = elem.VR
        if vr == "SQ":
            for item in elem.value:
                self._clean(item)
        elif vr == "UI":
            elem.value = self._replace_uids(elem.value)
        elif vr in _BINARY:
            elem.value = b"\0\0"
        elif vr in _NUMBERS:
            elem.value = "0" if vr in ("IS", "DS") else 0
        else:
            elem.value = _DUMMY_TEXT.get(vr, "ANONYMIZED")

    def _replace_uids(self, value: object) -> object:
        if isinstance(value, str):
            return self.uid(value) if value else value
        if value is None:
            return value
        return [self.uid(str(v)) for v in value]  # type: ignore[attr-defined]

    def _shifted(self, elem: DataElement) -> object:
        def one(text: str) -> str:
            text = str(text).strip()
            if len(text) < 8 or not text[:8].isdigit():
                return text
            try:
                day = dt.datetime.strptime(text[:8], "%Y%m%d").date()
            except ValueError:
                return ""
            return (day - self.shift).strftime("%Y%m%d") + text[8:]

        value = elem.value
        if value is None or value == "":
            return value
        if isinstance(value, str) or not hasattr(value, "__iter__"):
            return one(str(value))
        return [one(str(v)) for v in value]


def _values(elem_value: object) -> list[object]:
    if elem_value in (None, ""):
        return []
    if isinstance(elem_value, str):
        return [elem_value]
    return list(elem_value)  # type: ignore[call-overload]


def _repeating_group_removal(group: int, element: int) -> bool:
    return any(
        group & mask == base and (elem is None or element == elem) for base, mask, elem in REPEATING_GROUP_REMOVALS
    )
