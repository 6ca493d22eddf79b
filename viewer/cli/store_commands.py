"""Cache commands: ``lightbox import | ls | export | rm``.

Exit codes: 0 success; 1 partial (``import``: some files failed or conflicted with a cached
instance of the same SOP Instance UID; all are listed); 2 usage or fatal error (message on
stderr, nothing on stdout), e.g. ``ls --from`` not a date. ``import`` also exits 2 when it
found no DICOM instance at all (only non-DICOM files: a wrong path or an empty drive), with
a message on stderr and, with ``--json``, the report on stdout; and when cancelled (Ctrl+C:
see below). 141: stdout was closed early (``| head``), see :mod:`viewer.cli`.

``--json`` output (stable; one JSON object on stdout, UTF-8, keys never removed, new keys may
be added; paths are absolute; a file inside a ZIP is ``ARCHIVE!MEMBER``):

``lightbox import PATH... [--link] --json``::

    {"command": "import",
     "scanned": int,      # files examined (inside ZIPs: members); = the five counts below
     "imported": int, "duplicate": int, "conflict": int, "skipped": int, "failed": int,
     "bytes": int,        # size of the imported files
     "failures":      [{"path": str, "reason": str}],   # failed files and why
     "conflicts":     [{"path": str, "reason": str}],   # same SOP Instance UID, other content
     "skipped_files": [{"path": str, "reason": str}],   # not DICOM, DICOMDIR, nested ZIP
     "warnings": [str],   # e.g. preamble-less files, a DICOMDIR that was not trusted
     "study_uids": [str], # studies that received instances
     "cancelled": bool}   # Ctrl+C: stopped after the batch being written (exit 2)

``lightbox ls [--patient TEXT] [--id ID] [--modality M] [--accession A] [--description TEXT]
[--from YYYYMMDD] [--to YYYYMMDD] --json``::

    {"command": "ls",
     "studies": [{"study_uid": str, "patient_name": str, "patient_id": str, "issuer": str,
                  "birth_date": str, "sex": str, "study_date": str, "study_time": str,
                  "description": str, "accession": str, "referring_physician": str,
                  "study_id": str, "modalities": [str], "series_count": int,
                  "instance_count": int, "bytes": int,
                  "id_collision": bool,  # another patient has this Patient ID + issuer: a PACS/RIS error
                  "series": [{"series_uid": str, "number": int|null, "description": str,
                              "modality": str, "body_part": str,
                              "frame_of_reference_uid": str, "instance_count": int}]}],
     "disk_usage": {"managed_bytes": int, "linked_bytes": int, "total_bytes": int}}

Names are the decoded Person Name values (all component groups, ``=`` separated); dates are
DICOM ``YYYYMMDD``, times ``HHMMSS[.ffffff]``, "" when absent.

``lightbox export STUDY_UID --to DIR [--dicomdir] [--anonymize [--keep-dates] [--keep-device]] [--zip]
--json``::

    {"command": "export", "study_uid": str,   # the replacement UID when --anonymize
     "destination": str, "files": int, "bytes": int, "dicomdir": bool, "deidentified": bool,
     "warnings": [str]}

``lightbox rm STUDY_UID --json``::

    {"command": "rm", "study_uid": str, "files_deleted": int}
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import json
import signal
import sys
import threading
from collections.abc import Iterator
from dataclasses import asdict
from pathlib import Path
from typing import Any

from viewer.core.home import lightbox_home
from viewer.core.tasks import CancelToken, Progress

EXIT_OK, EXIT_PARTIAL, EXIT_FAILURE = 0, 1, 2


def register(commands: argparse._SubParsersAction) -> None:
    p = commands.add_parser("import", help="import files, folders, DICOMDIR media or ZIPs into the cache")
    p.add_argument("paths", nargs="+", metavar="PATH", help="file, folder, DICOMDIR or ZIP")
    p.add_argument("--link", action="store_true",
                   help="index files where they are instead of copying them (large local folders)")
    p.add_argument("--json", action="store_true", help="print the report as JSON (schema: see docs)")
    p.set_defaults(func=run_import)

    p = commands.add_parser("ls", help="list the studies in the cache")
    p.add_argument("--patient", metavar="TEXT",
                   help="patient name; DICOM wildcards * and ?, case and accent insensitive")
    p.add_argument("--id", metavar="ID", help="patient ID (wildcards allowed)")
    p.add_argument("--modality", metavar="M", help="modality in study, e.g. CT")
    p.add_argument("--accession", metavar="A", help="accession number (wildcards allowed)")
    p.add_argument("--description", metavar="TEXT", help="study description contains TEXT (any case)")
    p.add_argument("--from", dest="date_from", metavar="YYYYMMDD", help="studies on or after this date")
    p.add_argument("--to", dest="date_to", metavar="YYYYMMDD", help="studies on or before this date")
    p.add_argument("--json", action="store_true", help="print JSON (schema: see docs)")
    p.set_defaults(func=run_ls)

    p = commands.add_parser("export", help="export a study to a folder, DICOM media or a ZIP")
    p.add_argument("study_uid", metavar="STUDY_UID")
    p.add_argument("--to", required=True, metavar="DIR", help="destination folder")
    p.add_argument("--dicomdir", action="store_true", help="write DICOM media with a DICOMDIR (a patient CD)")
    p.add_argument("--anonymize", action="store_true",
                   help="de-identify (PS3.15 Annex E Basic Profile; private tags removed)")
    p.add_argument("--keep-dates", action="store_true",
                   help="with --anonymize: keep dates, shifted (Retain Longitudinal Modified Dates)")
    p.add_argument("--keep-device", action="store_true",
                   help="with --anonymize: keep device identity (Retain Device Identity)")
    p.add_argument("--zip", action="store_true", help="write one ZIP file into DIR")
    p.add_argument("--json", action="store_true", help="print JSON (schema: see docs)")
    p.set_defaults(func=run_export)

    p = commands.add_parser("rm", help="remove a study from the cache (linked files are kept)")
    p.add_argument("study_uid", metavar="STUDY_UID")
    p.add_argument("--json", action="store_true", help="print JSON (schema: see docs)")
    p.set_defaults(func=run_rm)


def _open(args: argparse.Namespace):  # -> Store (imported lazily: keeps `lightbox --help` fast)
    from viewer.store import Store

    return Store.open(lightbox_home(args.home))


def _print_json(obj: dict[str, Any]) -> None:
    json.dump(obj, sys.stdout, ensure_ascii=False, indent=1)
    sys.stdout.write("\n")


def run_import(args: argparse.Namespace) -> int:
    paths = [Path(p) for p in args.paths]
    missing = [str(p) for p in paths if not p.exists()]
    if missing:
        print(f"lightbox import: no such file or folder: {', '.join(missing)}", file=sys.stderr)
        return EXIT_FAILURE
    progress = None if args.json or not sys.stderr.isatty() else _tty_progress
    cancel = CancelToken()
    with _cancel_on_interrupt(cancel), _open(args) as store:
        report = store.import_paths(paths, link=args.link, progress=progress, cancel=cancel)
    if progress:
        print(file=sys.stderr)
    if args.json:
        _print_json({"command": "import", **report.to_json()})
    else:
        print(f"scanned {report.scanned}: imported {report.imported}, duplicate {report.duplicate}, "
              f"conflict {report.conflict}, skipped {report.skipped} (not DICOM), failed {report.failed}; "
              f"{len(report.study_uids)} studies")
        for issue in report.failures:
            print(f"failed: {issue.path}: {issue.reason}")
        for issue in report.conflicts:
            print(f"conflict: {issue.path}: {issue.reason}")
        for warning in report.warnings:
            print(f"warning: {warning}")
    if report.cancelled:
        print(f"lightbox import: cancelled; the {report.imported} instances imported before stay in the cache",
              file=sys.stderr)
        return EXIT_FAILURE
    if not (report.imported or report.duplicate or report.conflict or report.failed):
        print(f"lightbox import: no DICOM files found in {', '.join(map(str, paths))} "
              f"({report.skipped} other files skipped)", file=sys.stderr)
        return EXIT_FAILURE
    return EXIT_PARTIAL if report.failed or report.conflict else EXIT_OK


@contextlib.contextmanager
def _cancel_on_interrupt(cancel: CancelToken) -> Iterator[None]:
    """The first Ctrl+C (SIGINT) cancels the import after the batch being written, so what is
    committed stays consistent and the report (``"cancelled": true``) is still printed; a
    second one interrupts at once."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.getsignal(signal.SIGINT)

    def handler(signum: int, frame: object) -> None:
        cancel.cancel()
        signal.signal(signal.SIGINT, previous)
        print("\nlightbox import: cancelling after the batch being written (Ctrl+C again to stop now)",
              file=sys.stderr)

    signal.signal(signal.SIGINT, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def _tty_progress(p: Progress) -> None:
    total = f"/{p.total}" if p.total else ""
    print(f"\r{p.message}: {p.done}{total} files", end="", file=sys.stderr, flush=True)


def _date_arg(option: str, value: str | None) -> str | None:
    """A --from/--to value as YYYYMMDD (YYYY-MM-DD accepted); ValueError says what is wrong."""
    if value is None:
        return None
    text = value.strip().replace("-", "")
    try:
        if len(text) != 8 or not text.isdigit():
            raise ValueError
        datetime.date(int(text[:4]), int(text[4:6]), int(text[6:]))
    except ValueError:
        raise ValueError(f"{option} {value!r} is not a date: use YYYYMMDD or YYYY-MM-DD, e.g. 20240131") from None
    return text


def run_ls(args: argparse.Namespace) -> int:
    from viewer.store import StudyQuery

    try:
        args.date_from = _date_arg("--from", args.date_from)
        args.date_to = _date_arg("--to", args.date_to)
    except ValueError as exc:
        print(f"lightbox ls: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    query = StudyQuery(patient_name=args.patient, patient_id=args.id, modality=args.modality,
                       accession=args.accession, date_from=args.date_from, date_to=args.date_to,
                       description=args.description)
    with _open(args) as store:
        studies = store.studies(query)
        usage = store.disk_usage()
        if args.json:
            rows = []
            for st in studies:
                row = asdict(st)
                del row["patient_ref"]  # a row id of this cache, meaningless elsewhere
                row["modalities"] = list(st.modalities)
                row["bytes"] = usage.per_study.get(st.study_uid, 0)
                row["series"] = [
                    {k: v for k, v in asdict(se).items() if k != "study_uid"} for se in store.series(st.study_uid)
                ]
                rows.append(row)
            _print_json({"command": "ls", "studies": rows,
                         "disk_usage": {"managed_bytes": usage.managed_bytes, "linked_bytes": usage.linked_bytes,
                                        "total_bytes": usage.total_bytes}})
            return EXIT_OK
    for st in studies:
        shared = " - ID COLLISION: shared by another patient" if st.id_collision else ""
        print(f"{st.study_date or '--------'}  {st.patient_name or '(no name)'}  [{st.patient_id}{shared}]  "
              f"{'/'.join(st.modalities)}  {st.description}  {st.series_count} series, "
              f"{st.instance_count} images  {st.study_uid}")
    print(f"{len(studies)} studies; cache {usage.total_bytes / 1e6:.1f} MB", file=sys.stderr)
    return EXIT_OK


def run_export(args: argparse.Namespace) -> int:
    from viewer.store.deidentify import DeidOptions
    from viewer.store.export import export_study

    if (args.keep_dates or args.keep_device) and not args.anonymize:
        print("lightbox export: --keep-dates/--keep-device need --anonymize", file=sys.stderr)
        return EXIT_FAILURE
    options = DeidOptions(retain_dates_shifted=args.keep_dates, retain_device_identity=args.keep_device) \
        if args.anonymize else None
    with _open(args) as store:
        report = export_study(store, args.study_uid, Path(args.to), dicomdir=args.dicomdir,
                              deidentify=options, as_zip=args.zip)
    if args.json:
        out = asdict(report)
        out["destination"] = str(report.destination)
        _print_json({"command": "export", **out})
    else:
        print(f"exported {report.files} files ({report.bytes / 1e6:.1f} MB) to {report.destination}")
        for warning in report.warnings:
            print(f"warning: {warning}")
    return EXIT_OK


def run_rm(args: argparse.Namespace) -> int:
    with _open(args) as store:
        deleted = store.delete_study(args.study_uid)
    if args.json:
        _print_json({"command": "rm", "study_uid": args.study_uid, "files_deleted": deleted})
    else:
        print(f"removed study {args.study_uid} ({deleted} cached files deleted)")
    return EXIT_OK
