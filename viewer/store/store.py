"""The local cache: one SQLite index plus the managed files, shared by the GUI, the CLI and the
network layer.

Every instance enters through :meth:`Store._begin` and :meth:`Store._finish`, whatever its
origin (an import batch, a C-STORE received by the storage SCP, a C-GET), so deduplication,
atomic writes and crash recovery are written once:

1. each instance is classified against the index and the instances in flight: new,
   duplicate (same SOP Instance UID, same content) or conflict (same UID, different
   content; the first is kept);
2. the managed paths of the new ones are journalled in ``pending_file`` and committed;
3. the files are written by a pool of threads (temp file, rename), then made durable at once
   (one syncfs(2) for the batch, else fdatasync per file; folders fsync'ed);
4. one transaction indexes them and clears the journal.

A process killed anywhere in 2-4 leaves journal entries of a dead process; :meth:`recover`
(run by :meth:`open` and before every import) indexes the complete, valid files nothing
indexes and deletes the others. The index therefore never points at a missing or half-written
managed file, no orphan survives, and a power cut that loses the index's last commit (it runs
with synchronous=NORMAL) does not lose the files of an import whose source may be gone.

Network receipts go through a :class:`Receiver` (:meth:`Store.receiver`): each instance is
journalled and written (temp file, rename) on the receiving thread, so the C-STORE status can
say whether it was stored (PS3.4 B.2.3), and a committer thread syncs and indexes them in
batches. Their journal entries are marked as acknowledged receipts (negative pid), and
:meth:`recover` indexes such a complete file instead of deleting it: an instance we answered
success for is not lost to a crash before its batch was committed.
"""

from __future__ import annotations

import contextlib
import ctypes
import filecmp
import io
import logging
import os
import sqlite3
import sys
import threading
import time
import weakref
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

import pydicom
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, ImplicitVRLittleEndian

from viewer.core.errors import DicomReadError, StoreError
from viewer.core.reading import read_dataset
from viewer.core.tasks import CancelToken, ProgressCallback
from viewer.store.db import Database
from viewer.store.header_worker import HeaderWorkers
from viewer.store.headers import (
    FileProblem,
    InstanceHeader,
    header_from_dataset,
    read_index_header,
    read_index_header_bytes,
)
from viewer.store.layout import (
    STORE_DIR,
    copy_atomic,
    fsync_dir,
    managed_relpath,
    remove_empty_parents,
    temp_path,
    write_atomic,
)
from viewer.store.names import fold
from viewer.store.records import (
    CONFLICT,
    DUPLICATE,
    IMPORTED,
    STORAGE_COPY,
    STORAGE_LINK,
    DiskUsage,
    FileIssue,
    ImportReport,
    InstanceRow,
    PatientRow,
    PriorRow,
    SeriesRow,
    StudyQuery,
    StudyRow,
)

if TYPE_CHECKING:
    from viewer.store.export import ExportReport

log = logging.getLogger(__name__)

INDEX_FILE = "index.sqlite"
WRITER_THREADS = 8  # file copies are I/O bound and release the GIL
RECEIPT_BATCH = 100  # a Receiver indexes after this many instances ...
RECEIPT_INTERVAL = 0.5  # ... or this many seconds after the first one waiting
RECOVERED_SOURCE = "recovered after a crash"
_datasync = getattr(os, "fdatasync", os.fsync)  # data and size, not timestamps (POSIX fdatasync(2))


@dataclass
class Item:
    """One instance on its way into the cache."""

    header: InstanceHeader
    path: Path | None = None  # a file on disk
    data: bytes | None = None  # or its bytes in memory (ZIP member, network receipt), Part 10
    link: bool = False  # index ``path`` in place instead of copying it


@dataclass(eq=False)  # identity semantics: plans are compared by identity
class _Planned:
    item: Item
    stored_path: str  # as recorded in the index
    storage: str
    size: int = 0
    synced: bool = True  # False: written without fdatasync, which _finish does before indexing


@dataclass(eq=False)
class _Batch:
    """A batch between :meth:`Store._begin` and :meth:`Store._finish`."""

    plans: list[_Planned]
    to_write: list[_Planned]  # the managed files among them
    stale: list[str]  # SOP Instance UIDs whose indexed file is gone
    writes: list[Future[BaseException | None]]  # one per to_write: None, or why it failed
    report: ImportReport


class Store:
    """The cache under one Lightbox home. Thread-safe; open it once per process."""

    def __init__(self, home: Path, db: Database) -> None:
        self.home = home
        self._db = db
        self._writers: ThreadPoolExecutor | None = None
        self._writers_lock = threading.Lock()
        self._readers: HeaderWorkers | None = None
        self._readers_lock = threading.Lock()
        self._in_flight: dict[str, Item] = {}  # SOP Instance UID -> begun, not yet indexed
        self._receivers: weakref.WeakSet[Receiver] = weakref.WeakSet()

    # --- lifecycle -----------------------------------------------------------------------

    @classmethod
    def open(cls, home: Path) -> Store:
        """Open (creating or upgrading) the cache at ``home`` and clean up after any crash."""
        home = Path(home).expanduser().resolve()
        try:
            (home / STORE_DIR).mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"{home}: cannot create the cache folder: {exc.strerror or exc}") from exc
        store = cls(home, Database(home / INDEX_FILE))
        store.recover()
        store._split_merged_patients()
        return store

    def _split_merged_patients(self) -> None:
        """Give studies indexed before schema 4 their own demographics, and split wrong merges.

        Such a study's name, birth date and sex come from one of its files (the patient row's
        when none is readable). Then each is placed again with :func:`_patient_ref`, in the
        order they were indexed: two people merged under one Patient ID, or anonymous studies
        merged by name alone, become separate patients; patients left empty are deleted.
        """
        conn = self._db.connection()
        todo = conn.execute(
            "SELECT st.id, st.study_uid, p.name, p.birth_date, p.sex, "
            "(SELECT i.path || char(0) || i.storage FROM instance i JOIN series se ON i.series = se.id "
            " WHERE se.study = st.id LIMIT 1) "
            "FROM study st JOIN patient p ON st.patient = p.id WHERE st.patient_name IS NULL ORDER BY st.id"
        ).fetchall()
        if not todo:
            return
        found: list[tuple[int, str, str, str, str]] = []
        for ref, uid, name, birth, sex, where in todo:
            if where:
                stored, storage = where.split("\0")
                header = read_index_header(self._resolve(stored, storage))
                if isinstance(header, InstanceHeader):
                    name, birth, sex = header.patient_name, header.birth_date, header.sex
            found.append((ref, uid, name, birth, sex))
        warnings: list[str] = []  # logged below: no import report to put them in
        with self._db.write() as c:
            for ref, _, name, birth, sex in found:
                c.execute("UPDATE study SET patient_name = ?, patient_name_folded = ?, patient_birth_date = ?, "
                          "patient_sex = ? WHERE id = ? AND patient_name IS NULL",
                          (name, fold(name), birth, sex, ref))
            for ref, uid, name, birth, sex in found:
                pid, issuer, key = c.execute(
                    "SELECT p.patient_id, p.issuer, p.patient_key FROM study st JOIN patient p ON st.patient = p.id "
                    "WHERE st.id = ?", (ref,)).fetchone()
                if not pid and key.startswith("name:") and not birth:
                    key = f"study:{uid}"  # no ID, no birth date: nothing says two studies are one person
                    row = c.execute("SELECT id FROM patient WHERE patient_key = ?", (key,)).fetchone()
                    patient = row[0] if row else _insert_patient(c, key, "", "", name, fold(name), "", sex, False)
                elif pid:
                    own = c.execute("SELECT patient FROM study WHERE id = ?", (ref,)).fetchone()[0]
                    if all(_agree(fold(name), birth, n, b) for n, b in c.execute(
                            "SELECT patient_name_folded, patient_birth_date FROM study "
                            "WHERE patient = ? AND id < ?", (own, ref))):
                        continue  # agrees with the studies placed before it
                    patient = _patient_ref(c, pid, issuer, name, birth, sex, uid, warnings, exclude_study=ref)
                else:
                    continue
                c.execute("UPDATE study SET patient = ? WHERE id = ?", (patient, ref))
            c.execute("DELETE FROM patient WHERE NOT EXISTS (SELECT 1 FROM study WHERE study.patient = patient.id)")
        for message in warnings:
            log.warning("%s", message)

    def close(self) -> None:
        for receiver in list(self._receivers):  # index what was acknowledged before closing
            try:
                receiver.flush()
            except StoreError as exc:
                log.error("%s", exc)
        with self._writers_lock:
            if self._writers is not None:
                self._writers.shutdown(wait=True)
                self._writers = None
        with self._readers_lock:
            if self._readers is not None:
                self._readers.close()
                self._readers = None
        self._db.close()

    def warm_up(self) -> None:
        """Start the header worker processes now, so the next big import uses every core at once.

        Optional: an application may call this when idle after start-up. Without it, only an
        import of thousands of files starts the workers (and pays their start-up); with it,
        any import of a few hundred files or more is read on all cores.
        """
        from viewer.store.importer import worker_count

        count = worker_count()
        if count > 1:
            with self._header_workers(count):
                pass

    def _header_workers_running(self) -> bool:
        readers = self._readers
        return readers is not None and all(p.poll() is None for p in readers.procs)

    @contextmanager
    def _header_workers(self, count: int) -> Iterator[HeaderWorkers | None]:
        """This store's header worker processes (kept between imports), or None while in use."""
        if not self._readers_lock.acquire(blocking=False):
            yield None
            return
        try:
            if self._readers is None or any(p.poll() is not None for p in self._readers.procs):
                if self._readers is not None:
                    self._readers.kill()
                self._readers = HeaderWorkers(count)
            yield self._readers
        finally:
            self._readers_lock.release()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def index_path(self) -> Path:
        return self._db.path

    def recover(self) -> int:
        """Clean up after a crashed writer; return how many unindexed files were deleted.

        A journalled file nothing indexes is indexed when it is a complete, valid copy being
        written (op 'write': an import's or an acknowledged network receipt's), else deleted.
        Why index: a power cut can lose the index's last commit (synchronous=NORMAL) while
        the batch's files and journal were synced; the CD may be ejected and the peer was told
        the instance is stored (PS3.4 B.2.3). Files of a crashed deletion (op 'delete') are
        deleted. Entries from before schema 5 ('legacy') keep the old rule: receipts (negative
        pid) indexed, the rest deleted, as they cannot be told apart from a deletion.
        """
        removed = 0
        with self._db.write() as conn:
            recovered: list[_Planned] = []
            for rel, pid, op in conn.execute("SELECT path, pid, op FROM pending_file").fetchall():
                if _alive(abs(pid)):
                    continue
                final = self.home / rel
                indexed = conn.execute(
                    "SELECT 1 FROM instance WHERE path = ? AND storage = 'copy'", (rel,)
                ).fetchone()
                if not indexed and final.exists():
                    keep = op == "write" or (op == "legacy" and pid < 0)
                    plan = self._recoverable(conn, rel, final) if keep else None
                    if plan is not None:
                        recovered.append(plan)
                    else:
                        final.unlink()
                        removed += 1
                final.with_name(f"{final.name}.{abs(pid)}.part").unlink(missing_ok=True)
                remove_empty_parents(final, self.home / STORE_DIR)
                conn.execute("DELETE FROM pending_file WHERE path = ?", (rel,))
            if recovered:
                collisions: list[str] = []
                _index(conn, recovered, RECOVERED_SOURCE, collisions)
                for message in collisions:
                    log.warning("%s", message)
                log.warning("indexed %d complete instances a crash left unindexed", len(recovered))
        return removed

    def _recoverable(self, conn: sqlite3.Connection, rel: str, final: Path) -> _Planned | None:
        """A plan to index a file a crash left unindexed, or None when it must be deleted."""
        header = read_index_header(final)
        if isinstance(header, FileProblem) or not header.part10:
            return None  # e.g. a power cut before the data reached the disk
        if rel != managed_relpath(header.study_uid, header.series_uid, header.sop_uid):
            return None
        if conn.execute("SELECT 1 FROM instance WHERE sop_uid = ?", (header.sop_uid,)).fetchone():
            return None  # indexed since from another copy
        try:
            with open(final, "rb") as f:
                _datasync(f.fileno())
        except OSError:
            return None
        fsync_dir(final.parent)
        return _Planned(Item(replace(header, source=RECOVERED_SOURCE), path=final), rel, STORAGE_COPY, header.size)

    # --- adding instances ----------------------------------------------------------------

    def import_paths(
        self,
        paths: list[Path],
        *,
        link: bool = False,
        progress: ProgressCallback | None = None,
        cancel: CancelToken | None = None,
        on_batch: Callable[[list[str]], None] | None = None,
    ) -> ImportReport:
        """Import files, folders, DICOMDIR media and ZIP archives (see :mod:`viewer.store.importer`).

        Copies into the managed store unless ``link`` (index in place; files inside ZIPs are
        copied anyway). Run it on a worker thread: ``progress`` (an :class:`ImportProgress`)
        and ``on_batch`` (the study UIDs a just-committed batch added to) are called on that
        thread, after each batch. A set ``cancel`` stops after the batch being written;
        committed batches stay, and the report says ``cancelled``. Bad files never raise:
        they are counted and listed in the report with their reasons.
        """
        from viewer.store.importer import Importer

        self.recover()
        return Importer(self, link=link, progress=progress, cancel=cancel, on_batch=on_batch).run(
            [Path(p) for p in paths]
        )

    def add_dataset(self, ds: Dataset, *, source: str = "network") -> str:
        """Put one received instance into the cache; return "imported", "duplicate" or "conflict".

        Called from network worker threads (storage SCP, C-GET). The dataset is written as a
        PS3.10 file in its own transfer syntax; an instance whose SOP Instance UID is already
        cached is a duplicate when its content is the same, else a conflict (the first kept).
        The caller hands the dataset over: writing may resolve its ambiguous VRs in place
        (PS3.5 A.1 "US or SS"), so one Dataset object must not be passed from two threads.
        """
        header = header_from_dataset(ds, source, 0)
        if isinstance(header, FileProblem):
            raise StoreError(f"cannot cache the instance received from {source}: {header.reason}")
        data = encode_part10(ds)
        ts = str(ds.file_meta.TransferSyntaxUID) if "TransferSyntaxUID" in getattr(ds, "file_meta", ()) \
            else ExplicitVRLittleEndian
        return self._add_one(replace(header, size=len(data), transfer_syntax=ts), data, source)

    def add_part10(self, data: bytes, *, source: str = "network") -> str:
        """Like :meth:`add_dataset` for an instance already encoded as a PS3.10 file.

        The fast path for receivers: a C-STORE data set as the peer sent it, behind its File
        Meta Information, is stored byte for byte; nothing is re-encoded in Python (the
        encoding is most of :meth:`add_dataset`'s cost). Raises :class:`StoreError` for bytes
        that are not a complete DICOM instance.
        """
        header = read_index_header_bytes(data, source)
        if isinstance(header, FileProblem):
            raise StoreError(f"cannot cache the instance received from {source}: {header.reason}")
        if not header.part10:
            raise StoreError(f"cannot cache the instance received from {source}: not a PS3.10 file")
        return self._add_one(header, data, source)

    def receiver(
        self,
        source: str,
        *,
        on_indexed: Callable[[list[str]], None] | None = None,
        batch_size: int = RECEIPT_BATCH,
        interval: float = RECEIPT_INTERVAL,
    ) -> Receiver:
        """A batched intake for instances arriving one by one (storage SCP, C-GET, WADO-RS).

        Much cheaper than :meth:`add_part10` per instance; see :class:`Receiver`.
        ``on_indexed(study_uids)`` is called on the committer thread after each batch.
        """
        receiver = Receiver(self, source, on_indexed=on_indexed, batch_size=batch_size, interval=interval)
        self._receivers.add(receiver)
        return receiver

    def _add_one(self, header: InstanceHeader, data: bytes, source: str) -> str:
        report = ImportReport()
        self._commit([Item(header, data=data)], report, source=source)
        if report.failures:
            raise StoreError(report.failures[0].reason)
        return IMPORTED if report.imported else DUPLICATE if report.duplicate else CONFLICT

    def _writer_pool(self) -> ThreadPoolExecutor:
        with self._writers_lock:
            if self._writers is None:
                self._writers = ThreadPoolExecutor(WRITER_THREADS, thread_name_prefix="lightbox-store")
            return self._writers

    def _commit(self, items: list[Item], report: ImportReport, *, source: str) -> list[str]:
        """Classify, write and index a batch; update ``report``; return the studies that grew."""
        return self._finish(self._begin(items, report), source=source)

    def _begin(self, items: list[Item], report: ImportReport, *, receipt: bool = False) -> _Batch:
        """Steps 1-2 and the start of 3: classify, journal, and hand the files to the writers.

        Returns at once; :meth:`_finish` waits for the files and indexes them. The importer
        begins batch k+1 before finishing batch k, so writing never waits for header reading
        or a commit. Instances begun but not yet indexed are "in flight": later batches and
        network receipts are classified against them too.

        ``receipt``: a :class:`Receiver`'s instance. Its file is written on the calling
        thread without fdatasync (``_finish`` syncs the batch) and journalled with a negative
        pid (an acknowledged receipt; :meth:`recover` indexes it when complete, like any 'write').
        """
        with self._db.write_lock:
            conn = self._db.connection()
            plans: list[_Planned] = []
            stale: list[str] = []
            uids = [item.header.sop_uid for item in items]
            known = {r[0]: r[1:] for r in conn.execute(
                f"SELECT sop_uid, path, storage FROM instance WHERE sop_uid IN ({','.join('?' * len(uids))})",
                uids,
            )}
            for item in items:
                h = item.header
                first = self._in_flight.get(h.sop_uid)
                if first is not None:  # in this batch or one still being written
                    if _same_content(item, first.path, first.data):
                        report.duplicate += 1
                    else:
                        report.conflict += 1
                        report.conflicts.append(FileIssue(h.source, _conflict_reason(first.header.source)))
                    continue
                row = known.get(h.sop_uid)
                if row is not None:
                    existing = self._resolve(row[0], row[1])
                    if existing.is_file():
                        self._classify_known(item, existing, report)
                        continue
                    stale.append(h.sop_uid)  # its file vanished (a linked folder moved): re-take it
                    report.warnings.append(f"{h.source}: replaces an indexed copy whose file is missing")
                self._in_flight[h.sop_uid] = item
                if item.link and item.path is not None:
                    plans.append(_Planned(item, str(item.path), STORAGE_LINK, h.size))  # absolute
                else:
                    rel = managed_relpath(h.study_uid, h.series_uid, h.sop_uid)
                    plans.append(_Planned(item, rel, STORAGE_COPY))
            batch = _Batch(plans, [p for p in plans if p.storage == STORAGE_COPY], stale, [], report)
            if batch.to_write:
                pid = -os.getpid() if receipt else os.getpid()
                try:
                    with self._db.write() as c:
                        c.executemany("INSERT OR REPLACE INTO pending_file(path, pid, op) VALUES (?, ?, 'write')",
                                      [(p.stored_path, pid) for p in batch.to_write])
                except BaseException:
                    self._forget(batch)
                    raise
                if not receipt:
                    pool = self._writer_pool()
                    batch.writes = [pool.submit(self._write_one, p) for p in batch.to_write]
        if receipt:  # outside the lock: other receiving threads classify meanwhile
            for p in batch.to_write:
                done: Future[BaseException | None] = Future()
                done.set_result(self._write_received(p))
                batch.writes.append(done)
        return batch

    def _finish(self, batch: _Batch, *, source: str) -> list[str]:
        """Steps 3-4: wait for the batch's files, then index them in one transaction."""
        report = batch.report
        try:
            failed: list[_Planned] = []
            for plan, future in zip(batch.to_write, batch.writes, strict=True):
                exc = future.result()
                if exc is not None:
                    failed.append(plan)
                    reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
                    report.failed += 1
                    report.failures.append(
                        FileIssue(plan.item.header.source, f"cannot write to the cache: {reason}"))
            if failed:
                self._discard(failed)
            written = [p for p in batch.to_write if p not in failed]
            unsynced = [p for p in written if not p.synced]
            if unsynced:
                lost = self._sync(unsynced, report)
                if lost:
                    failed += lost
                    written = [p for p in written if p not in lost]
            for folder in {(self.home / p.stored_path).parent for p in written}:
                fsync_dir(folder)  # the renames are durable before the index points at them
            plans = [p for p in batch.plans if p.storage == STORAGE_LINK or p not in failed]
            with self._db.write_lock:
                try:
                    with self._db.write() as c:
                        for uid in batch.stale:
                            c.execute("DELETE FROM instance WHERE sop_uid = ?", (uid,))
                        studies = _index(c, plans, source, report.warnings)
                        c.executemany("DELETE FROM pending_file WHERE path = ?",
                                      [(p.stored_path,) for p in written])
                except sqlite3.Error as exc:
                    self._discard(written)
                    raise StoreError(f"cannot index the batch in {self._db.path}: {exc}") from exc
        finally:
            self._forget(batch)
        for p in plans:
            report.imported += 1
            report.bytes += p.size
        for uid in studies:
            if uid not in report.study_uids:
                report.study_uids.append(uid)
        return studies

    def _forget(self, batch: _Batch) -> None:
        with self._db.write_lock:
            for p in batch.plans:
                if self._in_flight.get(p.item.header.sop_uid) is p.item:
                    del self._in_flight[p.item.header.sop_uid]

    def _sync(self, plans: list[_Planned], report: ImportReport) -> list[_Planned]:
        """Make files written without fdatasync durable; return (and discard) those that failed.

        On Linux one syncfs(2) for the whole batch: each fdatasync of a new file is an ext4
        journal commit, during which the receiving thread's next create and rename wait;
        100 commits a batch cost a retrieve into the cache ~40% here, one costs nothing
        measurable. It also flushes other dirty files of that file system, once per batch.
        Where syncfs is missing or reports an error, each file is synced to find the culprit.
        """
        if len(plans) > 1 and _syncfs(self.home / STORE_DIR):
            return []
        lost = []
        for p in plans:
            try:
                with open(self.home / p.stored_path, "rb") as f:
                    _datasync(f.fileno())
            except OSError as exc:
                lost.append(p)
                report.failed += 1
                report.failures.append(FileIssue(p.item.header.source,
                                                 f"cannot write to the cache: {exc.strerror or exc}"))
        if lost:
            self._discard(lost)
        return lost

    def _write_received(self, plan: _Planned) -> BaseException | None:
        """Write a receipt at its final name (temp file, rename); no fdatasync yet (see _finish)."""
        item = plan.item
        assert item.data is not None and item.header.part10
        failed = self._write_one(plan)
        if failed is None:
            item.path = self.home / plan.stored_path  # later copies compare against the file
            item.data = None  # so the bytes can go
        return failed

    def _write_one(self, plan: _Planned) -> BaseException | None:
        try:
            plan.size = _write_managed(plan.item, self.home / plan.stored_path)
            plan.synced = False  # _finish syncs the batch at once before indexing it
            return None
        except (OSError, DicomReadError, ValueError, TypeError) as exc:
            return exc

    def _classify_known(self, item: Item, existing: Path, report: ImportReport) -> None:
        # the same file (re-indexing a linked folder) needs no reading
        same_file = item.path is not None and _same_file(item.path, existing)
        if same_file or _same_content(item, existing, None):
            report.duplicate += 1
        else:
            report.conflict += 1
            report.conflicts.append(FileIssue(item.header.source, _conflict_reason(str(existing))))

    def _discard(self, plans: list[_Planned]) -> None:
        """Remove files written for plans that will not be indexed, and their journal entries."""
        for p in plans:
            final = self.home / p.stored_path
            with contextlib.suppress(OSError):  # NotADirectoryError when its folder never existed
                final.unlink(missing_ok=True)
                temp_path(final).unlink(missing_ok=True)
        with self._db.write() as c:
            c.executemany("DELETE FROM pending_file WHERE path = ?", [(p.stored_path,) for p in plans])

    def _resolve(self, stored: str, storage: str) -> Path:
        return self.home / stored if storage == STORAGE_COPY else Path(stored)

    def export_study(self, study_uid: str, dest: Path, **options: object) -> ExportReport:
        """Export a study; see :func:`viewer.store.export.export_study` for the options."""
        from viewer.store.export import export_study

        return export_study(self, study_uid, dest, **options)  # type: ignore[arg-type]

    # --- queries -------------------------------------------------------------------------

    def patients(self) -> list[PatientRow]:
        rows = self._db.connection().execute(
            "SELECT p.patient_id, p.issuer, p.name, p.birth_date, p.sex, "
            "(SELECT count(*) FROM study WHERE patient = p.id), p.id_collision != 0 "
            "FROM patient p ORDER BY p.name_folded, p.patient_id"
        ).fetchall()
        return [PatientRow(*r) for r in rows]

    def studies(self, query: StudyQuery | None = None) -> list[StudyRow]:
        """Studies matching ``query`` (all when None), newest first."""
        where, args = _study_filter(query or StudyQuery())
        sql = f"{_STUDY_SELECT} {'WHERE ' + ' AND '.join(where) if where else ''} {_STUDY_ORDER}"
        with self._db.snapshot() as conn:
            return [_study_row(r) for r in conn.execute(sql, args).fetchall()]

    def study(self, study_uid: str) -> StudyRow | None:
        with self._db.snapshot() as conn:
            row = conn.execute(f"{_STUDY_SELECT} WHERE st.study_uid = ?", (study_uid,)).fetchone()
        return _study_row(row) if row else None

    def series(self, study_uid: str) -> list[SeriesRow]:
        rows = self._db.connection().execute(
            "SELECT se.series_uid, st.study_uid, se.number, se.description, se.modality, se.body_part, "
            "se.frame_of_ref, (SELECT count(*) FROM instance WHERE series = se.id) "
            "FROM series se JOIN study st ON se.study = st.id WHERE st.study_uid = ? "
            "ORDER BY se.number IS NULL, se.number, se.series_uid",
            (study_uid,),
        ).fetchall()
        return [SeriesRow(*r) for r in rows]

    def instances(self, series_uid: str) -> list[InstanceRow]:
        """The series' instances with their files, in instance-number order (not geometric)."""
        return self._instances("se.series_uid = ?", series_uid)

    def study_instances(self, study_uid: str) -> list[InstanceRow]:
        return self._instances("se.study = (SELECT id FROM study WHERE study_uid = ?)", study_uid)

    def _instances(self, where: str, arg: str) -> list[InstanceRow]:
        rows = self._db.connection().execute(
            "SELECT i.sop_uid, se.series_uid, i.sop_class_uid, i.instance_number, i.transfer_syntax, "
            "i.frames, i.path, i.size, i.storage FROM instance i JOIN series se ON i.series = se.id "
            f"WHERE {where} ORDER BY se.number IS NULL, se.number, se.series_uid, "
            "i.instance_number IS NULL, i.instance_number, i.sop_uid",
            (arg,),
        ).fetchall()
        return [
            InstanceRow(r[0], r[1], r[2], r[3], r[4], r[5], self._resolve(r[6], r[8]), r[7], r[8])
            for r in rows
        ]

    def priors(self, study_uid: str) -> list[PriorRow]:
        """Other studies of the same patient, newest first (see :class:`PriorRow` for ``match``).

        "patient id" only where the studies' folded names and birth dates agree (a missing one
        agrees): one ID used for two people must not show one's images as the other's priors.
        """
        with self._db.snapshot() as conn:
            target = conn.execute(
                "SELECT st.id, p.id, coalesce(st.patient_name_folded, p.name_folded), "
                "coalesce(st.patient_birth_date, p.birth_date) FROM study st "
                "JOIN patient p ON st.patient = p.id WHERE st.study_uid = ?",
                (study_uid,),
            ).fetchone()
            if target is None:
                raise StoreError(f"study {study_uid} is not in the cache")
            study_ref, patient_ref, name, birth = target
            same = conn.execute(f"{_STUDY_SELECT} WHERE st.patient = ? AND st.id != ? {_STUDY_ORDER}",
                                (patient_ref, study_ref)).fetchall()
            similar = []
            if name and birth:
                similar = conn.execute(
                    f"{_STUDY_SELECT} WHERE p.id != ? AND coalesce(st.patient_name_folded, p.name_folded) = ? "
                    f"AND coalesce(st.patient_birth_date, p.birth_date) = ? {_STUDY_ORDER}",
                    (patient_ref, name, birth),
                ).fetchall()
        rows = [PriorRow(_study_row(r), "patient id") for r in same if _agree(name, birth, fold(r[3]), r[4])]
        rows += [PriorRow(_study_row(r), "name and birth date") for r in similar]
        rows.sort(key=lambda p: (p.study.study_date, p.study.study_time), reverse=True)
        return rows

    def disk_usage(self) -> DiskUsage:
        rows = self._db.connection().execute(
            "SELECT st.study_uid, i.storage, sum(i.size) FROM instance i JOIN series se ON i.series = se.id "
            "JOIN study st ON se.study = st.id GROUP BY st.study_uid, i.storage"
        ).fetchall()
        per_study: dict[str, int] = {}
        managed = linked = 0
        for uid, storage, size in rows:
            per_study[uid] = per_study.get(uid, 0) + size
            if storage == STORAGE_COPY:
                managed += size
            else:
                linked += size
        return DiskUsage(managed, linked, per_study)

    # --- deletion ------------------------------------------------------------------------

    def delete_study(self, study_uid: str) -> int:
        """Remove a study from the index and delete its managed files; return files deleted.

        Linked files are never deleted: they belong to the user's folder.
        """
        return self._delete("study", study_uid)

    def delete_series(self, series_uid: str) -> int:
        """Remove a series (and its study/patient when they become empty); return files deleted."""
        return self._delete("series", series_uid)

    def _delete(self, table: str, uid: str) -> int:
        column = "st.study_uid" if table == "study" else "se.series_uid"
        pid = os.getpid()
        with self._db.write() as conn:
            if not conn.execute(f"SELECT 1 FROM {table} WHERE {table}_uid = ?", (uid,)).fetchone():
                raise StoreError(f"{table} {uid} is not in the cache")
            managed = [r[0] for r in conn.execute(
                "SELECT i.path FROM instance i JOIN series se ON i.series = se.id "
                f"JOIN study st ON se.study = st.id WHERE {column} = ? AND i.storage = 'copy'",
                (uid,),
            ).fetchall()]
            # journal the files first: if we die before unlinking them, recovery will
            conn.executemany("INSERT OR REPLACE INTO pending_file(path, pid, op) VALUES (?, ?, 'delete')",
                             [(p, pid) for p in managed])
            conn.execute(f"DELETE FROM {table} WHERE {table}_uid = ?", (uid,))
            conn.execute("DELETE FROM study WHERE NOT EXISTS "
                         "(SELECT 1 FROM series WHERE series.study = study.id)")
            conn.execute("DELETE FROM patient WHERE NOT EXISTS "
                         "(SELECT 1 FROM study WHERE study.patient = patient.id)")
        for rel in managed:
            final = self.home / rel
            final.unlink(missing_ok=True)
            remove_empty_parents(final, self.home / STORE_DIR)
        with self._db.write() as conn:
            conn.executemany("DELETE FROM pending_file WHERE path = ?", [(p,) for p in managed])
        return len(managed)


class Receiver:
    """Instances arriving one at a time (C-STORE, WADO-RS), written at once, indexed in batches.

    Why: one index transaction, journal commit and fdatasync per instance made a retrieve into
    the cache about twice as slow as into a folder. Here :meth:`add_part10` journals the
    instance and writes its file (temp file, rename) on the receiving thread and returns; a
    committer thread (started when work is waiting, gone when there is none) syncs the
    files and indexes them in one transaction per ``batch_size`` instances or ``interval``
    seconds. :meth:`flush` waits for everything accepted so far; call it when a retrieve or
    an association ends.

    C-STORE status (PS3.4 B.2.3): :meth:`add_part10` returns only once the instance is
    complete on disk under its final name, and raises :class:`StoreError` when it is not,
    so a storage SCP may answer success on return and a failure status on the exception.
    A crash before the batch is indexed leaves journalled receipts that :meth:`Store.recover`
    indexes on the next start; a failed index transaction is reported by :meth:`flush`.
    """

    def __init__(
        self,
        store: Store,
        source: str,
        *,
        on_indexed: Callable[[list[str]], None] | None = None,
        batch_size: int = RECEIPT_BATCH,
        interval: float = RECEIPT_INTERVAL,
    ) -> None:
        self.store, self.source, self.on_indexed = store, source, on_indexed
        self.batch_size, self.interval = max(1, batch_size), interval
        self.report = ImportReport()  # everything indexed (and refused) so far
        self.errors: list[StoreError] = []  # failed batches, not yet reported by flush()
        self._pending: list[_Batch] = []
        self._first_at = 0.0
        self._committing = False
        self._flushing = 0
        self._thread: threading.Thread | None = None
        self._cond = threading.Condition()

    def add_part10(self, data: bytes) -> str:
        """Store one PS3.10 instance; return "imported", "duplicate" or "conflict".

        "imported" means written and queued for the index (see the class docstring). Raises
        :class:`StoreError` when the bytes are not a complete instance or cannot be written.
        """
        header = read_index_header_bytes(data, self.source)
        if isinstance(header, FileProblem):
            raise StoreError(f"cannot cache the instance received from {self.source}: {header.reason}")
        if not header.part10:
            raise StoreError(f"cannot cache the instance received from {self.source}: not a PS3.10 file")
        one = ImportReport()
        batch = self.store._begin([Item(header, data=data)], one, receipt=True)
        if not batch.plans:
            with self._cond:
                self.report.duplicate += one.duplicate
                self.report.conflict += one.conflict
                self.report.conflicts += one.conflicts
            return DUPLICATE if one.duplicate else CONFLICT
        failure = batch.writes[0].result() if batch.writes else None
        if failure is not None:
            self.store._finish(batch, source=self.source)  # discards the file, clears the journal
            with self._cond:
                self.report.failed += one.failed
                self.report.failures += one.failures
            raise StoreError(one.failures[0].reason if one.failures else str(failure))
        with self._cond:
            if not self._pending:
                self._first_at = time.monotonic()
            self._pending.append(batch)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name=f"lightbox-receiver {self.source}",
                                                daemon=True)
                self._thread.start()
            elif len(self._pending) >= self.batch_size:
                self._cond.notify_all()
        return IMPORTED

    def flush(self) -> ImportReport:
        """Wait until every instance accepted so far is indexed; raise the first failed batch's error."""
        with self._cond:
            self._flushing += 1
            self._cond.notify_all()
            try:
                while self._pending or self._committing:
                    self._cond.wait()
            finally:
                self._flushing -= 1
            errors, self.errors = self.errors, []
        if errors:
            raise errors[0]
        return self.report

    close = flush

    def __enter__(self) -> Receiver:
        return self

    def __exit__(self, *exc: object) -> None:
        self.flush()

    def _run(self) -> None:
        while True:
            with self._cond:
                while True:
                    if not self._pending:
                        self._thread = None
                        self._cond.notify_all()
                        return
                    wait = self._first_at + self.interval - time.monotonic()
                    if self._flushing or len(self._pending) >= self.batch_size or wait <= 0:
                        break
                    self._cond.wait(wait)
                take, self._pending = self._pending, []
                self._committing = True
            try:
                self._commit(take)
            finally:
                with self._cond:
                    self._committing = False
                    self._cond.notify_all()

    def _commit(self, batches: list[_Batch]) -> None:
        merged = _Batch(
            [p for b in batches for p in b.plans],
            [p for b in batches for p in b.to_write],
            [u for b in batches for u in b.stale],
            [f for b in batches for f in b.writes],
            self.report,
        )
        try:
            studies = self.store._finish(merged, source=self.source)
        except StoreError as exc:
            log.error("%s", exc)
            with self._cond:
                self.errors.append(exc)
            return
        except BaseException as exc:  # never leave the batch's files unindexed silently
            log.exception("indexing received instances failed")
            with self._cond:
                self.errors.append(StoreError(f"indexing received instances failed: {exc}"))
            return
        if studies and self.on_indexed is not None:
            try:
                self.on_indexed(studies)
            except Exception:
                log.exception("on_indexed callback failed")


# --- helpers -------------------------------------------------------------------------------


def _load_syncfs() -> Callable[[int], int] | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        return ctypes.CDLL(None, use_errno=True).syncfs  # type: ignore[no-any-return]
    except (OSError, AttributeError):
        return None


_libc_syncfs = _load_syncfs()


def _syncfs(folder: Path) -> bool:
    """syncfs(2) on the file system holding ``folder``; False if unavailable or it failed.

    Linux 5.8+ reports writeback errors of that file system here (syncfs(2) NOTES).
    """
    if _libc_syncfs is None:
        return False
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return False
    try:
        return _libc_syncfs(fd) == 0
    finally:
        os.close(fd)


def _alive(pid: int) -> bool:
    """Whether process ``pid`` still runs (its journal entries may be files in flight)."""
    if pid == os.getpid():
        return True
    if os.name == "nt":  # os.kill(pid, 0) would terminate the process on Windows
        return _alive_windows(pid)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def encode_part10(ds: Dataset) -> bytes:
    """``ds`` as PS3.10 file bytes, with File Meta Information completed (PS3.10 7.1)."""
    meta = FileMetaDataset(getattr(ds, "file_meta", None) or FileMetaDataset())
    if "TransferSyntaxUID" not in meta:
        pixel = ds.get("PixelData")
        if pixel is not None and ds["PixelData"].is_undefined_length:
            raise StoreError("compressed pixel data without a Transfer Syntax UID")
        meta.TransferSyntaxUID = ExplicitVRLittleEndian
    meta.MediaStorageSOPClassUID = ds.SOPClassUID
    meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    copy = Dataset(ds)
    copy.file_meta = meta
    copy.preamble = b"\0" * 128
    buf = io.BytesIO()
    pydicom.dcmwrite(buf, copy, enforce_file_format=True)
    return buf.getvalue()


def _write_managed(item: Item, final: Path) -> int:
    """Write one managed file, unsynced: the caller syncs the batch and its folders at once."""
    h = item.header
    if item.data is not None and h.part10:
        data = item.data
        return write_atomic(final, lambda f: f.write(data), sync_dir=False, sync=False)
    if item.path is not None and h.part10:
        return copy_atomic(item.path, final, sync_dir=False, sync=False)
    # a dataset without File Meta: store it as a proper Part 10 file (Implicit VR LE, PS3.5 10.1)
    ds = _dataset_of(item)
    if "TransferSyntaxUID" not in ds.file_meta:
        ds.file_meta.TransferSyntaxUID = ImplicitVRLittleEndian
    data = encode_part10(ds)
    return write_atomic(final, lambda f: f.write(data), sync_dir=False, sync=False)


def _dataset_of(item: Item) -> Dataset:
    if item.path is not None:
        return read_dataset(item.path)
    assert item.data is not None
    return pydicom.dcmread(io.BytesIO(item.data), force=True)


def _same_content(item: Item, other_path: Path | None, other_data: bytes | None) -> bool:
    """Same bytes, or the same dataset in a different file wrapping (File Meta, preamble)."""
    try:
        if item.path is not None and other_path is not None:
            if filecmp.cmp(item.path, other_path, shallow=False):
                return True
        else:
            mine = item.data if item.data is not None else item.path.read_bytes()  # type: ignore[union-attr]
            theirs = other_data if other_data is not None else other_path.read_bytes()  # type: ignore[union-attr]
            if mine == theirs:
                return True
        other = (read_dataset(other_path) if other_path is not None
                 else pydicom.dcmread(io.BytesIO(other_data or b""), force=True))
        return _without_group_lengths(_dataset_of(item)) == _without_group_lengths(other)
    except (OSError, DicomReadError):
        return False


def _without_group_lengths(ds: Dataset) -> dict:
    """Elements except group lengths (gggg,0000), retired (PS3.5 7.2) and dropped by writers."""
    return {elem.tag: elem for elem in ds if elem.tag.element != 0}


def _alive_windows(pid: int) -> bool:
    import ctypes

    kernel32 = ctypes.windll.kernel32  # type: ignore[attr-defined]
    handle = kernel32.OpenProcess(0x1000, False, pid)  # PROCESS_QUERY_LIMITED_INFORMATION
    if not handle:
        return kernel32.GetLastError() == 5  # ERROR_ACCESS_DENIED: it exists, someone else's
    try:
        code = ctypes.c_ulong()
        kernel32.GetExitCodeProcess(handle, ctypes.byref(code))
        return code.value == 259  # STILL_ACTIVE
    finally:
        kernel32.CloseHandle(handle)


def _same_file(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def _conflict_reason(first: str) -> str:
    return f"same SOP Instance UID as {first} but different content; the first one is kept"


def _agree(name_a: str, birth_a: str, name_b: str, birth_b: str) -> bool:
    """Whether two (folded name, birth date) pairs may be one person: equal wherever both are given."""
    return (not name_a or not name_b or name_a == name_b) and (not birth_a or not birth_b or birth_a == birth_b)


def _describe(name: str, birth: str) -> str:
    return f"{name or '(no name)'} born {birth or '(no birth date)'}"


def _patient_ref(conn: sqlite3.Connection, pid: str, issuer: str, name: str, birth: str, sex: str,
                 study_uid: str, warnings: list[str], *, exclude_study: int | None = None) -> int:
    """The patient row a study of this person belongs to, created when there is none.

    Same Patient ID and issuer is the same patient only when the folded names and birth dates
    agree with every study already under it (a missing value agrees with anything): two people
    under one ID get two patients, both flagged ``id_collision``, and a warning for the report.
    Without an ID, name + birth date identify the patient; with neither ID nor birth date
    ("ANONYMOUS") nothing does, and the study is a patient of its own.
    """
    folded = fold(name)
    if not pid:
        key = f"name:{folded}|{birth}" if birth else f"study:{study_uid}"
        row = conn.execute("SELECT id FROM patient WHERE patient_key = ?", (key,)).fetchone()
        return row[0] if row else _insert_patient(conn, key, pid, issuer, name, folded, birth, sex, False)
    candidates = conn.execute(
        "SELECT id, name, name_folded, birth_date FROM patient WHERE patient_id = ? AND issuer = ? ORDER BY id",
        (pid, issuer),
    ).fetchall()
    for ref, _, p_name, p_birth in candidates:
        studies = conn.execute(
            "SELECT coalesce(patient_name_folded, ''), coalesce(patient_birth_date, '') FROM study "
            "WHERE patient = ? AND id IS NOT ?", (ref, exclude_study),
        ).fetchall()
        if _agree(folded, birth, p_name, p_birth) and all(_agree(folded, birth, n, b) for n, b in studies):
            return ref
    if not candidates:
        return _insert_patient(conn, f"id:{pid}|{issuer}", pid, issuer, name, folded, birth, sex, False)
    n = len(candidates)
    while conn.execute("SELECT 1 FROM patient WHERE patient_key = ?", (f"id:{pid}|{issuer}#{n}",)).fetchone():
        n += 1
    conn.execute("UPDATE patient SET id_collision = 1 WHERE patient_id = ? AND issuer = ?", (pid, issuer))
    others = "; ".join(_describe(c[1], c[3]) for c in candidates)
    message = (f"Patient ID {pid}{f' (issuer {issuer})' if issuer else ''} is used by {others} and by "
               f"{_describe(name, birth)}: kept as separate patients; correct the ID at the PACS/RIS")
    log.info("%s", message)  # callers report it (import report, Receiver.report); recover() logs it
    if message not in warnings:
        warnings.append(message)
    return _insert_patient(conn, f"id:{pid}|{issuer}#{n}", pid, issuer, name, folded, birth, sex, True)


def _insert_patient(conn: sqlite3.Connection, key: str, pid: str, issuer: str, name: str, folded: str,
                    birth: str, sex: str, collision: bool) -> int:
    return conn.execute(  # type: ignore[return-value]
        "INSERT INTO patient(patient_key, patient_id, issuer, name, name_folded, birth_date, sex, id_collision) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (key, pid, issuer, name, folded, birth, sex, int(collision)),
    ).lastrowid


def _index(conn: sqlite3.Connection, plans: Iterable[_Planned], source: str,
           warnings: list[str] | None = None) -> list[str]:
    """Insert the rows for planned instances (creating patient/study/series as needed).

    A new study's patient is chosen by :func:`_patient_ref`; ``warnings`` receives ID collisions.
    """
    warnings = [] if warnings is None else warnings
    studies: dict[str, int] = {}
    series: dict[str, int] = {}
    grown: list[str] = []
    rows: list[tuple] = []
    for p in plans:
        h = p.item.header
        if h.study_uid not in studies:
            row = conn.execute("SELECT id FROM study WHERE study_uid = ?", (h.study_uid,)).fetchone()
            if row is None:
                patient = _patient_ref(conn, h.patient_id, h.issuer, h.patient_name, h.birth_date, h.sex,
                                       h.study_uid, warnings)
                row = (conn.execute(
                    "INSERT INTO study(study_uid, patient, study_date, study_time, description, accession, "
                    "referring, study_id, patient_name, patient_name_folded, patient_birth_date, patient_sex) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (h.study_uid, patient, h.study_date, h.study_time, h.study_description, h.accession,
                     h.referring_physician, h.study_id, h.patient_name, fold(h.patient_name), h.birth_date,
                     h.sex),
                ).lastrowid,)
            studies[h.study_uid] = row[0]
        if h.series_uid not in series:
            row = conn.execute("SELECT id FROM series WHERE series_uid = ?", (h.series_uid,)).fetchone()
            series[h.series_uid] = row[0] if row else conn.execute(
                "INSERT INTO series(series_uid, study, number, description, modality, body_part, "
                "frame_of_ref) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (h.series_uid, studies[h.study_uid], h.series_number, h.series_description, h.modality,
                 h.body_part, h.frame_of_reference_uid),
            ).lastrowid
        rows.append((h.sop_uid, series[h.series_uid], h.sop_class_uid, h.instance_number, h.transfer_syntax,
                     h.frames, p.stored_path, p.size, p.storage, source))
        if h.study_uid not in grown:
            grown.append(h.study_uid)
    conn.executemany(
        "INSERT INTO instance(sop_uid, series, sop_class_uid, instance_number, transfer_syntax, frames, "
        "path, size, storage, source) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        rows,
    )
    return grown


_STUDY_SELECT = (
    "SELECT st.study_uid, p.patient_id, p.issuer, coalesce(st.patient_name, p.name), "
    "coalesce(st.patient_birth_date, p.birth_date), coalesce(st.patient_sex, p.sex), st.study_date, "
    "st.study_time, st.description, st.accession, st.referring, st.study_id, "
    "(SELECT group_concat(DISTINCT modality) FROM series WHERE study = st.id), "
    "(SELECT count(*) FROM series WHERE study = st.id), "
    "(SELECT count(*) FROM instance i JOIN series se ON i.series = se.id WHERE se.study = st.id), "
    "p.id, p.id_collision != 0 "
    "FROM study st JOIN patient p ON st.patient = p.id"
)
_STUDY_ORDER = "ORDER BY st.study_date DESC, st.study_time DESC, st.study_uid"


def _study_row(r: tuple) -> StudyRow:
    modalities = tuple(sorted({m for m in (r[12] or "").split(",") if m}))
    return StudyRow(*r[:12], modalities, r[13], r[14], r[15], bool(r[16]))  # type: ignore[arg-type]


def _glob(pattern: str) -> str:
    """A DICOM wildcard pattern as an SQLite GLOB pattern (``[`` escaped)."""
    return pattern.replace("[", "[[]")


def _study_filter(q: StudyQuery) -> tuple[list[str], list[object]]:
    where: list[str] = []
    args: list[object] = []
    if q.patient_name:
        where.append("pn_match(?, coalesce(st.patient_name_folded, p.name_folded))")
        args.append(q.patient_name)
    for value, column in ((q.patient_id, "p.patient_id"), (q.accession, "st.accession")):
        if value:
            if "*" in value or "?" in value:
                where.append(f"{column} GLOB ?")
                args.append(_glob(value))
            else:
                where.append(f"{column} = ?")
                args.append(value)
    if q.date_from:
        where.append("st.study_date >= ?")
        args.append(q.date_from.replace("-", ""))
    if q.date_to:
        where.append("st.study_date <= ?")
        args.append(q.date_to.replace("-", ""))
    if q.modality:
        where.append("EXISTS (SELECT 1 FROM series WHERE study = st.id AND upper(modality) = upper(?))")
        args.append(q.modality)
    if q.description:
        where.append("instr(lower(st.description), lower(?)) > 0")
        args.append(q.description)
    return where, args
