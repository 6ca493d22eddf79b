"""The values the store hands to other layers: frozen rows, queries and the import report.

Rows are frozen dataclasses so a browser model can keep them across threads without copying
and nobody can mutate the cache by accident; only the importer builds an
:class:`ImportReport` incrementally, and it is handed out only when the import has finished.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from viewer.core.tasks import Progress

# How an instance got into the cache; recorded per instance (the issue asks that the index
# knows which files are ours to delete).
STORAGE_COPY = "copy"  # a managed file under home/store, owned by the cache
STORAGE_LINK = "link"  # indexed in place; never deleted or moved by the cache

# Outcomes of adding one instance (returned by Store.add_dataset).
IMPORTED, DUPLICATE, CONFLICT = "imported", "duplicate", "conflict"


@dataclass(frozen=True)
class PatientRow:
    patient_id: str
    issuer: str
    name: str  # PN as decoded, all component groups ("Yamada^Tarou=山田^太郎=やまだ^たろう")
    birth_date: str  # DA, "YYYYMMDD" or ""
    sex: str
    study_count: int
    # Another patient in the cache has the same Patient ID and issuer but a different name or
    # birth date: two people under one ID (a registration error to report to the PACS admin).
    id_collision: bool = False


@dataclass(frozen=True)
class StudyRow:
    study_uid: str
    patient_id: str
    issuer: str
    patient_name: str
    birth_date: str
    sex: str
    study_date: str
    study_time: str
    description: str
    accession: str
    referring_physician: str
    study_id: str
    modalities: tuple[str, ...]
    series_count: int
    instance_count: int
    # The cache's patient: group studies by this, not by Patient ID, which two people may share.
    patient_ref: int = 0
    id_collision: bool = False  # see PatientRow.id_collision


@dataclass(frozen=True)
class SeriesRow:
    series_uid: str
    study_uid: str
    number: int | None
    description: str
    modality: str
    body_part: str
    frame_of_reference_uid: str
    instance_count: int


@dataclass(frozen=True)
class InstanceRow:
    sop_uid: str
    series_uid: str
    sop_class_uid: str
    instance_number: int | None
    transfer_syntax: str
    frames: int
    path: Path
    size: int
    storage: str  # STORAGE_COPY or STORAGE_LINK


@dataclass(frozen=True)
class PriorRow:
    """A study of the same patient; ``match`` says how sure the link is.

    ``"patient id"``: same Patient ID and Issuer. ``"name and birth date"``: a different ID
    but the same (folded) name and birth date -- a candidate the user must confirm.
    """

    study: StudyRow
    match: str


@dataclass(frozen=True)
class StudyQuery:
    """Study search; every field is optional and the given ones are ANDed.

    ``patient_name`` uses DICOM wildcards (``*`` any run, ``?`` one character; PS3.4
    C.2.2.2.4), is case- and accent-insensitive and is matched against each PN component
    group and each name component; without a wildcard it matches as a prefix.
    ``date_from``/``date_to`` are inclusive ``YYYYMMDD`` strings.
    """

    patient_name: str | None = None
    patient_id: str | None = None
    date_from: str | None = None
    date_to: str | None = None
    modality: str | None = None
    accession: str | None = None
    description: str | None = None  # substring, case-insensitive


@dataclass(frozen=True)
class DiskUsage:
    managed_bytes: int  # files owned by the cache (copy mode and network)
    linked_bytes: int  # files indexed in place
    per_study: dict[str, int]  # study UID -> managed + linked bytes

    @property
    def total_bytes(self) -> int:
        return self.managed_bytes + self.linked_bytes


@dataclass(frozen=True)
class FileIssue:
    """One file the import could not take, or took with a remark, and why."""

    path: str
    reason: str


@dataclass(frozen=True)
class ImportProgress(Progress):
    """Progress of an import: ``done`` files scanned of ``total`` found so far."""

    imported: int = 0
    duplicate: int = 0
    conflict: int = 0
    skipped: int = 0
    failed: int = 0
    bytes: int = 0


@dataclass
class ImportReport:
    """What an import did. ``scanned == imported + duplicate + conflict + skipped + failed``."""

    scanned: int = 0
    imported: int = 0
    duplicate: int = 0
    conflict: int = 0
    skipped: int = 0  # not DICOM (or a DICOMDIR), left alone
    failed: int = 0
    bytes: int = 0  # bytes of the imported files
    failures: list[FileIssue] = field(default_factory=list)
    conflicts: list[FileIssue] = field(default_factory=list)
    skipped_files: list[FileIssue] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    study_uids: list[str] = field(default_factory=list)  # studies that received instances
    cancelled: bool = False

    @property
    def ok(self) -> bool:
        return self.failed == 0 and not self.cancelled

    def progress(self, total: int, message: str = "") -> ImportProgress:
        return ImportProgress(
            done=self.scanned, total=total, message=message, imported=self.imported,
            duplicate=self.duplicate, conflict=self.conflict, skipped=self.skipped,
            failed=self.failed, bytes=self.bytes,
        )

    def merge(self, other: ImportReport) -> None:
        """Add the outcome of ``other`` (a batch) to this report."""
        for name in ("scanned", "imported", "duplicate", "conflict", "skipped", "failed", "bytes"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.failures += other.failures
        self.conflicts += other.conflicts
        self.skipped_files += other.skipped_files
        self.warnings += other.warnings
        self.study_uids += [uid for uid in other.study_uids if uid not in self.study_uids]
        self.cancelled = self.cancelled or other.cancelled

    def to_json(self) -> dict[str, Any]:
        return asdict(self)
