"""Export a cached study: a plain folder, DICOM media with a DICOMDIR, a ZIP, de-identified or not.

"Burn a CD for the patient" is the DICOMDIR case: a PS3.10 File-set whose DICOMDIR (PS3.3
F.3, written by pydicom's FileSet) lists every file under 8-character upper-case File IDs
(PS3.10 8.2, PS3.12 for CD media), so any viewer on the disc or DCMTK can read it. A plain
export writes ``<study>/<series>/<sop>.dcm``. Either can be packed as a ZIP.

Outputs are built in a staging folder beside the destination and moved into place at the
end, so a cancelled or failed export leaves no half-written DICOMDIR or ZIP behind.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.fileset import FileSet
from pydicom.uid import ImplicitVRLittleEndian

from viewer.core.errors import DicomReadError, StoreError
from viewer.core.reading import read_dataset
from viewer.core.tasks import CancelToken, Progress, ProgressCallback
from viewer.store.deidentify import Deidentifier, DeidOptions
from viewer.store.layout import safe_uid
from viewer.store.store import Store


@dataclass
class ExportReport:
    study_uid: str  # as exported (the replacement UID when de-identified)
    destination: Path  # the folder, or the ZIP file
    files: int = 0
    bytes: int = 0
    dicomdir: bool = False
    deidentified: bool = False
    warnings: list[str] = field(default_factory=list)


def export_study(
    store: Store,
    study_uid: str,
    dest: Path,
    *,
    dicomdir: bool = False,
    deidentify: DeidOptions | None = None,
    as_zip: bool = False,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
    series_uid: str | None = None,
) -> ExportReport:
    """Export one study to ``dest`` (a folder; with ``as_zip`` the ZIP is written inside it);
    with ``series_uid``, only that series of the study.

    A DICOMDIR export needs an empty (or new) folder, since a File-set owns its root.
    """
    instances = store.study_instances(study_uid)
    if series_uid:
        instances = [inst for inst in instances if inst.series_uid == series_uid]
        if not instances:
            raise StoreError(f"series {series_uid} of study {study_uid} is not in the cache (or has no instances)")
    if not instances:
        raise StoreError(f"study {study_uid} is not in the cache (or has no instances)")
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    if dicomdir and not as_zip and any(dest.iterdir()):
        raise StoreError(f"{dest}: a DICOMDIR export needs an empty folder (a File-set owns its root)")
    deid = Deidentifier(deidentify) if deidentify is not None else None
    out_uid = deid.uid(study_uid) if deid else study_uid
    report = ExportReport(out_uid, dest, dicomdir=dicomdir, deidentified=deid is not None)
    cancel = cancel or CancelToken()
    with tempfile.TemporaryDirectory(prefix=".lightbox-export-", dir=dest) as staging_dir:
        staging = Path(staging_dir) / "media"
        staging.mkdir()
        fileset = FileSet() if dicomdir else None
        for n, inst in enumerate(instances, 1):
            cancel.raise_if_cancelled()
            try:
                ds = read_dataset(inst.path)
            except DicomReadError as exc:
                raise StoreError(f"cannot export {inst.sop_uid}: {exc}") from exc
            _complete_meta(ds)
            if deid:
                deid.apply(ds)
            if fileset is not None:
                _fill_for_media(ds, n, report.warnings, quiet=deid is not None)
                try:
                    fileset.add(ds)
                except (ValueError, KeyError, AttributeError) as exc:
                    raise StoreError(f"cannot put instance {inst.sop_uid} on DICOM media: {exc}") from exc
            else:
                target = staging / safe_uid(ds.StudyInstanceUID) / safe_uid(ds.SeriesInstanceUID) / \
                    f"{safe_uid(ds.SOPInstanceUID)}.dcm"
                target.parent.mkdir(parents=True, exist_ok=True)
                ds.save_as(target, enforce_file_format=True)
            if progress:
                progress(Progress(n, len(instances), "exporting"))
        if fileset is not None:
            fileset.write(staging)
        if deid:
            report.warnings.extend(deid.warnings)
        report.files, report.bytes = len(instances), _count(staging)[1]
        if as_zip:
            final = dest / f"{safe_uid(out_uid)}.zip"
            part = Path(staging_dir) / "export.zip"
            _zip_folder(staging, part)
            os.replace(part, final)
            report.destination = final
        else:
            for entry in staging.iterdir():
                target = dest / entry.name
                if target.exists():
                    raise StoreError(f"{target} already exists; export to an empty folder")
                shutil.move(str(entry), target)
    return report


def _complete_meta(ds: Dataset) -> None:
    """Datasets read without File Meta (preamble-less) get one before being written as PS3.10."""
    meta = getattr(ds, "file_meta", None)
    if meta is None:
        ds.file_meta = meta = FileMetaDataset()
    if "TransferSyntaxUID" not in meta:
        meta.TransferSyntaxUID = ImplicitVRLittleEndian
    meta.MediaStorageSOPClassUID = ds.SOPClassUID
    meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID


# Type 1 keys of the DICOMDIR records (PS3.3 F.5.1-F.5.3, F.5.18): a File-set cannot list an
# instance without them. The Basic Profile empties Study Date/Time/ID (Z), which allows a dummy.
_MEDIA_KEYS: tuple[tuple[str, object], ...] = (
    ("PatientID", "UNKNOWN"), ("StudyDate", "19000101"), ("StudyTime", "000000"), ("StudyID", "1"),
    ("SeriesNumber", 1), ("Modality", "OT"),
)


def _fill_for_media(ds: Dataset, number: int, warnings: list[str], *, quiet: bool) -> None:
    for keyword, dummy in _MEDIA_KEYS:
        if ds.get(keyword) in (None, ""):
            setattr(ds, keyword, dummy)
            note = f"{keyword} is empty; written as {dummy!r} because a DICOMDIR record requires it"
            if not quiet and note not in warnings:
                warnings.append(note)
    if ds.get("InstanceNumber") in (None, ""):
        ds.InstanceNumber = number


def _count(folder: Path) -> tuple[int, int]:
    files = size = 0
    for root, _dirs, names in os.walk(folder):
        for name in names:
            files += 1
            size += os.path.getsize(os.path.join(root, name))
    return files, size


def _zip_folder(folder: Path, target: Path) -> None:
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
        for root, dirs, names in os.walk(folder):
            dirs.sort()
            for name in sorted(names):
                path = Path(root) / name
                zf.write(path, path.relative_to(folder).as_posix())
