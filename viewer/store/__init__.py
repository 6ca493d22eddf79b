"""The local cache: SQLite index plus a managed file store under the Lightbox home.

Import (files, folders, DICOMDIR media, ZIP archives), deduplication by SOP Instance UID,
patient/study/series/instance queries, priors, deletion and export (DICOMDIR media,
de-identified, ZIP) belong here. It depends on ``viewer.core`` only: no Qt, no VTK.
"""

from viewer.store.records import (
    CONFLICT,
    DUPLICATE,
    IMPORTED,
    STORAGE_COPY,
    STORAGE_LINK,
    DiskUsage,
    FileIssue,
    ImportProgress,
    ImportReport,
    InstanceRow,
    PatientRow,
    PriorRow,
    SeriesRow,
    StudyQuery,
    StudyRow,
)
from viewer.store.store import Store

__all__ = [
    "CONFLICT",
    "DUPLICATE",
    "IMPORTED",
    "STORAGE_COPY",
    "STORAGE_LINK",
    "DiskUsage",
    "FileIssue",
    "ImportProgress",
    "ImportReport",
    "InstanceRow",
    "PatientRow",
    "PriorRow",
    "SeriesRow",
    "Store",
    "StudyQuery",
    "StudyRow",
]
