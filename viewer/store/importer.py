"""The import pipeline: list the sources, read headers on every core, commit in batches.

Header reading is CPU-bound Python, so with enough files it runs in worker processes (see
:mod:`viewer.store.header_worker`); the parent only writes files and the index.

Each batch is committed before the next is read (see :class:`viewer.store.store.Store`), so
a cancelled or killed import keeps every finished batch, and ``on_batch`` lets the browser
show studies while the rest is still being read.
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path

from viewer.core.tasks import CancelToken, ProgressCallback
from viewer.store.header_worker import WorkerError
from viewer.store.headers import FileProblem, HeaderResult, read_index_header, read_index_header_bytes
from viewer.store.records import FileIssue, ImportReport
from viewer.store.sources import list_sources, zip_members
from viewer.store.store import Item, Store, _Batch

BATCH = 100  # instances per transaction: ~1 commit per 50 MB of CT, frequent browser updates
FIRST_BATCH = 25  # small first batches: writing starts (and the browser shows a study) sooner
# Below this many files a cold start of the workers (~0.3 s of CPU each, mostly importing
# pydicom) costs more than they save on 2 cores; measured with bench/index.py.
POOL_MIN_FILES = 8000
POOL_MIN_FILES_WARM = 200  # ... unless this store's workers are already running
CHUNK = 64  # files per worker round trip
MAX_BATCH_BYTES = 256 << 20  # ZIP members in memory per batch (100 big multi-frames would not fit)
MAX_SAME_WARNINGS = 10  # per-file warnings of one kind before they are summed up
MAX_ZIP_MEMBER = 2 << 30  # refuse to inflate a member beyond 2 GiB into memory


def worker_count() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:
        return max(1, os.cpu_count() or 1)


class Importer:
    """One run of :meth:`Store.import_paths`: its report, its batch, its callbacks."""

    def __init__(
        self,
        store: Store,
        *,
        link: bool,
        progress: ProgressCallback | None,
        cancel: CancelToken | None,
        on_batch: Callable[[list[str]], None] | None,
    ) -> None:
        self.store = store
        self.link = link
        self.progress = progress
        self.cancel = cancel or CancelToken()
        self.on_batch = on_batch
        self.report = ImportReport()
        self.total = 0
        self._batch: list[Item] = []
        self._pending: _Batch | None = None
        self._batch_size = FIRST_BATCH
        self._preambleless = 0
        self._batch_bytes = 0  # ZIP members held in memory by the current batch

    def run(self, paths: list[Path]) -> ImportReport:
        try:
            return self._run(paths)
        finally:
            if self._pending is not None:  # an exception left a batch being written: index it
                pending, self._pending = self._pending, None
                with contextlib.suppress(Exception):
                    self.store._finish(pending, source="import")

    def _run(self, paths: list[Path]) -> ImportReport:
        report = self.report
        listing = list_sources(paths)
        report.warnings.extend(listing.warnings)
        for missing in listing.missing:
            report.scanned += 1
            report.failed += 1
            report.failures.append(FileIssue(missing, "no such file or folder"))
        self.total = len(listing.files) + len(listing.missing)
        archives = list(listing.archives)
        self._report("reading headers")
        files = listing.files
        unlisted: dict[Path, int] = {}
        for result, path in zip(self._headers([str(p) for p in files]), files, strict=False):
            if isinstance(result, FileProblem) and result.kind == "archive":
                archives.append(path)
                self.total -= 1
                continue
            if path in listing.unlisted and not isinstance(result, FileProblem):
                dicomdir = listing.unlisted[path]
                unlisted[dicomdir] = unlisted.get(dicomdir, 0) + 1
            self._take(result, path, None)
            if self.cancel.cancelled:
                break
        if self._preambleless > MAX_SAME_WARNINGS:
            report.warnings.append(f"... and {self._preambleless - MAX_SAME_WARNINGS} more files without "
                                   f"DICOM preamble or File Meta Information")
        for dicomdir, count in unlisted.items():
            report.warnings.append(f"{dicomdir}: {count} DICOM file(s) on the media are not in the "
                                   f"DICOMDIR; imported them too")
        self._flush()
        for archive in archives:
            if self.cancel.cancelled:
                break
            self._import_zip(archive)
        self._settle()
        report.cancelled = self.cancel.cancelled
        self._report("cancelled" if report.cancelled else "done")
        return report

    # --- steps ---------------------------------------------------------------------------

    def _take(self, result: HeaderResult, path: Path | None, data: bytes | None) -> None:
        report = self.report
        report.scanned += 1
        if isinstance(result, FileProblem):
            issue = FileIssue(result.source, result.reason)
            if result.kind == "failed":
                report.failed += 1
                report.failures.append(issue)
            else:  # skipped, or an archive inside an archive
                report.skipped += 1
                report.skipped_files.append(issue if result.kind == "skipped"
                                            else FileIssue(result.source, "a ZIP inside a ZIP (not opened)"))
            return
        if not result.part10:
            self._preambleless += 1
            if self._preambleless <= MAX_SAME_WARNINGS:  # an old CD may hold thousands of them
                report.warnings.append(f"{result.source}: no DICOM preamble or File Meta Information "
                                       f"(PS3.10 7.1); read as Implicit VR Little Endian (PS3.5 10.1)")
        self._batch.append(Item(result, path=path, data=data, link=self.link and data is None))
        self._batch_bytes += len(data) if data is not None else 0
        if len(self._batch) >= self._batch_size or self._batch_bytes >= MAX_BATCH_BYTES:
            self._flush()

    def _flush(self) -> None:
        """Start writing this batch, then finish (index) the previous one.

        The writer threads copy batch k while batch k-1 is indexed and batch k+1's headers
        are read (file writes and fsync release the GIL). Batches are indexed in order.
        """
        if not self._batch:
            return
        batch, self._batch = self._batch, []
        self._batch_bytes = 0
        self._batch_size = min(BATCH, self._batch_size * 2)
        begun = self.store._begin(batch, ImportReport())
        self._settle()
        self._pending = begun

    def _settle(self) -> None:
        """Index the batch being written; merge its outcome and tell the listeners."""
        if self._pending is None:
            return
        pending, self._pending = self._pending, None
        studies = self.store._finish(pending, source="import")
        self.report.merge(pending.report)
        self._report("importing")
        if studies and self.on_batch is not None:
            self.on_batch(studies)

    def _report(self, message: str) -> None:
        if self.progress is not None:
            self.progress(self.report.progress(self.total, message))

    def _import_zip(self, archive: Path) -> None:
        if self.link:
            self.report.warnings.append(f"{archive}: files inside a ZIP cannot be linked; copied instead")
        try:
            with tempfile.TemporaryDirectory(prefix="lightbox-zip-") as scratch_dir:
                scratch = Path(scratch_dir) / "member"
                for source, zf, info in zip_members(archive):
                    if self.cancel.cancelled:
                        break
                    self.total += 1
                    if info.file_size > MAX_ZIP_MEMBER:
                        self._take(FileProblem(source, "failed", "member too large to import from the ZIP"),
                                   None, None)
                        continue
                    try:
                        data = zf.read(info)
                    except (zipfile.BadZipFile, OSError, NotImplementedError, RuntimeError) as exc:
                        self._take(FileProblem(source, "failed", f"cannot extract: {exc}"), None, None)
                        continue
                    self._take(read_index_header_bytes(data, source, scratch), None, data)
                self._flush()
        except (zipfile.BadZipFile, OSError) as exc:
            self.report.scanned += 1
            self.report.failed += 1
            self.report.failures.append(FileIssue(str(archive), f"cannot open the ZIP archive: {exc}"))

    def _headers(self, files: list[str]) -> Iterator[HeaderResult]:
        """Header results in file order; in worker processes when there are many files.

        While the workers start (a fresh process imports pydicom), this process reads the first
        chunks itself; the rest go to the workers once they are up.
        """
        workers = worker_count()
        threshold = POOL_MIN_FILES_WARM if self.store._header_workers_running() else POOL_MIN_FILES
        if len(files) < threshold or workers < 2 or getattr(sys, "frozen", False):
            yield from self._inline(files)
            return
        chunks = [files[i:i + CHUNK] for i in range(0, len(files), CHUNK)]
        done = 0
        with self.store._header_workers(workers) as pool:
            if pool is None:  # another import of this store is using them
                yield from self._inline(files)
                return
            try:
                while done < len(chunks) and not pool.ready():
                    yield from self._inline(chunks[done])
                    done += 1
                    if self.cancel.cancelled:
                        return
                for results in pool.map(chunks[done:]):
                    done += 1
                    yield from results
                    if self.cancel.cancelled:
                        pool.kill()
                        return
            except WorkerError as exc:
                pool.kill()
                self.report.warnings.append(f"{exc}; reading the remaining headers in this process")
            except BaseException:  # also GeneratorExit when the consumer stops early
                if pool.outstanding:
                    pool.kill()  # unread results would be handed to the next import
                raise
        yield from self._inline([f for chunk in chunks[done:] for f in chunk])

    def _inline(self, files: list[str]) -> Iterator[HeaderResult]:
        for f in files:
            if self.cancel.cancelled:
                return
            yield read_index_header(f)
