"""The local cache: SQLite index plus a managed file store under the Lightbox home.

Import (files, folders, DICOMDIR media, ZIP archives), deduplication by SOP Instance UID,
patient/study/series/instance queries, priors, deletion and export (DICOMDIR media,
de-identified, ZIP) belong here. It depends on ``viewer.core`` only: no Qt, no VTK.

Use from other layers (one :class:`Store` per process; every method is thread-safe)::

    store = Store.open(lightbox_home())                  # home/index.sqlite + home/store/...
    report = store.import_paths([path], link=False, progress=cb, cancel=token, on_batch=cb2)
    store.add_dataset(ds, source="PACS")                 # storage SCP / C-GET: "imported" |
    store.add_part10(part10_bytes, source="PACS")        #   "duplicate" | "conflict"
    store.studies(StudyQuery(patient_name="doe*", modality="CT"))  # newest first
    store.series(study_uid); store.instances(series_uid); store.priors(study_uid)
    store.delete_study(study_uid); store.disk_usage()
    store.export_study(study_uid, folder, dicomdir=True, deidentify=DeidOptions(), as_zip=False)
    store.warm_up()                                      # optional, when idle: header workers
    store.close()

Layout: ``schema`` (migrations), ``db`` (connections), ``headers`` + ``header_worker`` (fast
header reading), ``sources`` (folders, DICOMDIR, ZIP), ``importer``, ``layout`` (atomic
files), ``store`` (the facade), ``names`` (PN matching), ``export``, ``deidentify`` +
``deid_table`` (PS3.15 Annex E), ``records`` (the frozen rows).
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
