"""C-FIND: search a node at STUDY, SERIES or IMAGE level (Query/Retrieve Service, PS3.4 C).

Study Root is used when the peer accepts it, Patient Root otherwise (PS3.4 C.6.1/C.6.2).
Both are hierarchical (PS3.4 C.4.1.2.2): below the top level every ancestor's unique key
must be a single value, so a SERIES query without a Study Instance UID is run as a STUDY
query followed by one SERIES query per matching study (and likewise for IMAGE, and for
STUDY under Patient Root, which needs a Patient ID). Expanded children carry the parent's
patient/study attributes so a result row is self-contained.

Peers differ in which matching keys they honour. Every match is therefore checked again
on our side against the filters whose attribute came back (wildcards PS3.4 C.2.2.2.4,
date ranges C.2.2.2.5), case-insensitively, so a peer that ignores a key cannot widen the
result and one that matches case-insensitively (allowed for PN) is not narrowed.
DCMTK dcmqrscp does not support Modalities in Study (0008,0061) at all: studies that come
back without it are completed with a SERIES query on the same association, and then
filtered by modality here.
"""

from __future__ import annotations

import fnmatch
import logging
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, fields
from typing import Any, Literal

from pydicom.dataset import Dataset
from pydicom.multival import MultiValue
from pynetdicom import build_context
from pynetdicom.association import Association
from pynetdicom.sop_class import (
    PatientRootQueryRetrieveInformationModelFind,
    StudyRootQueryRetrieveInformationModelFind,
)

from viewer.core.tasks import CancelToken
from viewer.net import status as st
from viewer.net.association import Watch, associate, raise_lost
from viewer.net.errors import ConfigError, ServiceNotSupported, StatusError
from viewer.net.nodes import LocalSettings, RemoteNode

log = logging.getLogger(__name__)

Level = Literal["STUDY", "SERIES", "IMAGE"]
LEVELS: tuple[str, ...] = ("PATIENT", "STUDY", "SERIES", "IMAGE")
UNIQUE_KEY = {
    "PATIENT": "PatientID",
    "STUDY": "StudyInstanceUID",
    "SERIES": "SeriesInstanceUID",
    "IMAGE": "SOPInstanceUID",
}

# Return keys per level (PS3.4 C.6.1.1 / C.6.2.1 key tables); the unique key is added.
RETURN_KEYS: dict[str, tuple[str, ...]] = {
    "PATIENT": ("PatientName", "PatientID", "PatientBirthDate", "PatientSex"),
    "STUDY": (
        "StudyDate",
        "StudyTime",
        "AccessionNumber",
        "StudyID",
        "StudyDescription",
        "ReferringPhysicianName",
        "ModalitiesInStudy",
        "NumberOfStudyRelatedSeries",
        "NumberOfStudyRelatedInstances",
    ),
    "SERIES": (
        "Modality",
        "SeriesNumber",
        "SeriesDescription",
        "SeriesDate",
        "SeriesTime",
        "BodyPartExamined",
        "NumberOfSeriesRelatedInstances",
    ),
    "IMAGE": ("SOPClassUID", "InstanceNumber"),
}


@dataclass
class FindQuery:
    """What to look for; empty fields match everything.

    ``patient_name`` and ``description`` take ``*``/``?`` wildcards (PS3.4 C.2.2.2.4).
    ``study_date`` is ``YYYYMMDD``, ``FROM-TO``, ``FROM-`` or ``-TO`` (C.2.2.2.5).
    ``modality`` matches Modalities in Study at STUDY level and Modality below it;
    ``description`` is the Study Description at STUDY level and the Series Description below.
    """

    patient_name: str = ""
    patient_id: str = ""
    study_date: str = ""
    modality: str = ""
    accession: str = ""
    description: str = ""
    study_uid: str = ""
    series_uid: str = ""
    sop_uid: str = ""

    @classmethod
    def coerce(cls, query: FindQuery | Mapping[str, Any] | None) -> FindQuery:
        if query is None:
            return cls()
        if isinstance(query, FindQuery):
            return query
        names = {f.name for f in fields(cls)}
        unknown = set(query) - names
        if unknown:
            raise ConfigError(f"unknown query fields {sorted(unknown)}; known: {sorted(names)}")
        return cls(**{k: str(v or "") for k, v in query.items()})


_DATE_RANGE = re.compile(r"^(\d{8})?(-)?(\d{8})?$")


def date_range(spec: str) -> str:
    """Validate a DA range (PS3.4 C.2.2.2.5) and close open ends.

    ``FROM-`` becomes ``FROM-99991231`` and ``-TO`` becomes ``00010101-TO``: equivalent by the
    standard, and DCMTK dcmqrscp matches nothing for open-ended ranges.
    """
    spec = spec.strip().replace(" ", "")
    m = _DATE_RANGE.match(spec)
    if not spec or not m or (m.group(2) is None and m.group(3)) or spec == "-":
        raise ConfigError(f"invalid date {spec!r}: use YYYYMMDD, FROM-TO, FROM- or -TO (e.g. 20120101-20121231)")
    low, dash, high = m.groups()
    if not dash:
        return spec
    return f"{low or '00010101'}-{high or '99991231'}"


def _filters(q: FindQuery, level: str, target: str, model: str) -> dict[str, str]:
    """Matching keys sent at ``level`` while looking for ``target``-level results."""
    keys: dict[str, str] = {}
    patient_keys = {"PatientName": q.patient_name, "PatientID": q.patient_id}
    if level == "PATIENT" or (level == "STUDY" and model == "study"):
        keys.update(patient_keys)
    if level == "STUDY":
        keys.update(
            StudyDate=date_range(q.study_date) if q.study_date else "",
            AccessionNumber=q.accession,
            StudyInstanceUID=q.study_uid,
        )
        if target == "STUDY":
            keys.update(StudyDescription=q.description, ModalitiesInStudy=q.modality)
    elif level == "SERIES":
        keys.update(Modality=q.modality, SeriesDescription=q.description, SeriesInstanceUID=q.series_uid)
    elif level == "IMAGE":
        keys.update(SOPInstanceUID=q.sop_uid)
    return {k: v for k, v in keys.items() if v}


def _wild_match(pattern: str, value: str) -> bool:
    # PS3.4 C.2.2.2.4: '*' any sequence, '?' one character; fnmatch's [] has no DICOM meaning.
    pattern = pattern.replace("[", "[[]")
    return fnmatch.fnmatchcase(value.casefold(), pattern.casefold())


def _date_match(spec: str, value: str) -> bool:
    """Range matching of DA values (PS3.4 C.2.2.2.5)."""
    value = value.strip()[:8]
    if "-" not in spec:
        return value == spec.strip()
    low, _, high = spec.partition("-")
    return (not low or value >= low.strip()) and (not high or value <= high.strip())


def as_list(value: Any) -> list[str]:
    """A possibly multi-valued attribute value as a list of strings ("CT" and ["CT", "PT"] alike)."""
    if value is None or value == "":
        return []
    return [str(v) for v in value] if isinstance(value, MultiValue | list | tuple) else [str(value)]


def matches(ds: Dataset, filters: Mapping[str, str]) -> bool:
    """Whether ``ds`` satisfies ``filters`` for every attribute it carries a value for."""
    for keyword, wanted in filters.items():
        value = ds.get(keyword)
        if value is None or value == "":
            continue
        if keyword.endswith("Date"):
            if not _date_match(wanted, str(value)):
                return False
        elif keyword == "ModalitiesInStudy":
            if not any(_wild_match(wanted, v) for v in as_list(value)):
                return False
        elif not _wild_match(wanted, str(value)):
            return False
    return True


def _identifier(level: str, filters: Mapping[str, str], parents: Mapping[str, str]) -> Dataset:
    ds = Dataset()
    ds.QueryRetrieveLevel = level
    wanted = RETURN_KEYS[level] + (RETURN_KEYS["PATIENT"] if level == "STUDY" else ())
    for keyword in wanted:
        setattr(ds, keyword, "")
    for keyword, value in {**parents, **filters}.items():
        setattr(ds, keyword, value)
    setattr(ds, UNIQUE_KEY[level], filters.get(UNIQUE_KEY[level], parents.get(UNIQUE_KEY[level], "")))
    return ds


class _Finder:
    """One association's worth of hierarchical C-FINDs."""

    def __init__(self, assoc: Association, watch: Watch, node: RemoteNode, cancel: CancelToken | None) -> None:
        self.assoc, self.watch, self.node, self.cancel = assoc, watch, node, cancel
        uids = {cx.abstract_syntax for cx in assoc.accepted_contexts}
        if StudyRootQueryRetrieveInformationModelFind in uids:
            self.model, self.sop = "study", StudyRootQueryRetrieveInformationModelFind
        elif PatientRootQueryRetrieveInformationModelFind in uids:
            self.model, self.sop = "patient", PatientRootQueryRetrieveInformationModelFind
        else:
            raise ServiceNotSupported(node.label, "Study or Patient Root C-FIND")
        self.msg_id = 0
        self.stop = False  # set once the caller's limit is reached: C-CANCEL, then quiet

    def c_find(self, identifier: Dataset) -> Iterator[Dataset]:
        """One C-FIND; yields matches; C-CANCEL (PS3.7 9.3.2.3) when the token is set."""
        if self.stop:
            return
        self.msg_id += 1
        msg_id = self.msg_id
        responses = self.assoc.send_c_find(identifier, self.sop, msg_id=msg_id)
        cancelled = False
        for status, match in responses:
            if "Status" not in status:
                raise_lost(self.assoc, self.watch, self.node, "C-FIND")
            code = int(status.Status)
            cat = st.category(code)
            if cat == "pending":
                if cancelled:
                    continue
                if self.stop or (self.cancel is not None and self.cancel.cancelled):
                    self.assoc.send_c_cancel(msg_id, query_model=self.sop)
                    cancelled = True
                    continue
                if match is not None:
                    yield match
            elif cat == "failure":
                raise StatusError(self.node.label, "C-FIND", code, st.meaning("C-FIND", code), st.comment(status))
            elif cat == "warning":
                log.warning(
                    "%s: C-FIND ended with warning 0x%04X (%s)",
                    self.node.label,
                    code,
                    st.meaning("C-FIND", code),
                )
        if cancelled and self.cancel is not None:
            self.cancel.raise_if_cancelled()

    def search(self, level: str, target: str, q: FindQuery, parents: dict[str, str]) -> Iterator[Dataset]:
        """Matches at ``level``, expanding through ancestors whose unique key is not given."""
        top = "PATIENT" if self.model == "patient" else "STUDY"
        for ancestor in LEVELS[LEVELS.index(top) : LEVELS.index(level)]:
            key = UNIQUE_KEY[ancestor]
            given = parents.get(key) or getattr(
                q,
                {
                    "PatientID": "patient_id",
                    "StudyInstanceUID": "study_uid",
                    "SeriesInstanceUID": "series_uid",
                }[key],
            )
            if not given or "*" in given or "?" in given:
                for parent in list(self.search(ancestor, target, q, parents)):
                    inherited = dict(parents)
                    inherited[key] = str(parent.get(key, ""))
                    for child in self.search(level, target, q, inherited):
                        _inherit(child, parent)
                        yield child
                return
            parents = {**parents, key: given}
        filters = _filters(q, level, target, self.model)
        ident = _identifier(level, filters, parents)
        pending_fill: list[Dataset] = []
        for match in self.c_find(ident):
            if level == "STUDY" and q.modality and not match.get("ModalitiesInStudy"):
                pending_fill.append(match)  # dcmqrscp: no Modalities in Study; fill after this C-FIND
                continue
            if matches(match, filters):
                yield match
        for match in pending_fill:
            self._fill_modalities(match)
            if matches(match, filters):
                yield match

    def _fill_modalities(self, study: Dataset) -> None:
        ident = _identifier("SERIES", {}, {"StudyInstanceUID": str(study.get("StudyInstanceUID", ""))})
        if self.model == "patient":
            ident.PatientID = study.get("PatientID", "")
        mods = sorted({str(s.get("Modality", "")) for s in self.c_find(ident)} - {""})
        study.ModalitiesInStudy = mods


def _inherit(child: Dataset, parent: Dataset) -> None:
    for elem in parent:
        if elem.keyword in ("QueryRetrieveLevel", "SpecificCharacterSet", "RetrieveAETitle"):
            continue
        if elem.tag not in child or child[elem.tag].value in (None, ""):
            child[elem.tag] = elem


def find(
    node: RemoteNode,
    level: str,
    query: FindQuery | Mapping[str, Any] | None = None,
    cancel: CancelToken | None = None,
    local: LocalSettings | None = None,
    limit: int | None = None,
) -> Iterator[Dataset]:
    """Search ``node``; yields one identifier ``Dataset`` per match, as they arrive.

    ``level`` is STUDY, SERIES or IMAGE (any case). The association stays open while the
    caller iterates (run it on a worker thread); closing the iterator early aborts it.
    Cancelling sends C-CANCEL and raises :class:`~viewer.core.errors.Cancelled`. With
    ``limit``, the search stops after that many matches (C-CANCEL, clean release), so a
    "*" on a large PACS stays cheap. Patient identifiers are never logged at INFO.
    """
    level = level.upper()
    if level not in ("STUDY", "SERIES", "IMAGE"):
        raise ConfigError(f"query level must be STUDY, SERIES or IMAGE, not {level!r}")
    q = FindQuery.coerce(query)
    contexts = [
        build_context(StudyRootQueryRetrieveInformationModelFind),
        build_context(PatientRootQueryRetrieveInformationModelFind),
    ]
    calling = (local or LocalSettings()).ae_title
    with associate(node, contexts, service="C-FIND (Study/Patient Root)", calling_aet=calling) as (
        assoc,
        watch,
    ):
        finder = _Finder(assoc, watch, node, cancel)
        log.debug("%s: C-FIND %s (%s root)", node.label, level, finder.model)
        found = 0
        for match in finder.search(level, level, q, {}):
            if finder.stop:
                continue  # draining after C-CANCEL
            yield match
            found += 1
            if limit is not None and found >= limit:
                finder.stop = True


def find_all(
    node: RemoteNode,
    level: str,
    query: FindQuery | Mapping[str, Any] | None = None,
    cancel: CancelToken | None = None,
    local: LocalSettings | None = None,
    limit: int | None = None,
) -> list[Dataset]:
    """:func:`find` collected into a list (closes the association before returning)."""
    return list(find(node, level, query, cancel=cancel, local=local, limit=limit))
