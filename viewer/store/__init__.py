"""The local cache: SQLite index plus a managed file store under the Lightbox home.

Import (files, folders, DICOMDIR media, ZIP archives), deduplication by SOP Instance UID,
patient/study/series/instance queries, priors, deletion and export (DICOMDIR media,
de-identified, ZIP) belong here. It depends on ``viewer.core`` only: no Qt, no VTK.
"""
