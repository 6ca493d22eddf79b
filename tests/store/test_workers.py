"""Header worker processes: same results as in-process reading, kept alive, survive a dead worker."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from viewer.store import Store, importer
from viewer.store.header_worker import HeaderWorkers
from viewer.store.headers import read_index_header
from viewer.store.sources import walk


@pytest.fixture
def small_threshold(monkeypatch: pytest.MonkeyPatch) -> None:
    """Use the workers for the 234 real CT + MR files (normally only for thousands)."""
    monkeypatch.setattr(importer, "POOL_MIN_FILES", 50)
    monkeypatch.setattr(importer, "worker_count", lambda: 2)


def _started(store: Store) -> list[int]:
    """Start the store's workers and wait until they are up, so the import hands them chunks."""
    with store._header_workers(2) as pool:
        assert pool is not None
        deadline = time.monotonic() + 60
        while not pool.ready():
            assert time.monotonic() < deadline, "header workers did not start"
            time.sleep(0.01)
        return [p.pid for p in pool.procs]


def test_workers_read_like_this_process(ct_dir: Path, data_dir: Path) -> None:
    files = [str(p) for p in (*walk(ct_dir), *walk(data_dir / "transfer-syntaxes-orthanc"))]
    chunks = [files[i:i + 7] for i in range(0, len(files), 7)]
    workers = HeaderWorkers(2)
    try:
        results = [r for chunk in workers.map(chunks) for r in chunk]
        assert workers.ready()
    finally:
        workers.close()
    assert results == [read_index_header(f) for f in files]
    assert all(p.returncode == 0 for p in workers.procs)


def test_import_through_workers(store: Store, ct_dir: Path, mr_dir: Path, small_threshold: None,
                                monkeypatch: pytest.MonkeyPatch) -> None:
    pids = _started(store)
    mapped: list[int] = []
    real_map = HeaderWorkers.map

    def counting_map(self: HeaderWorkers, chunks: list[list[str]]):
        mapped.append(len(chunks))
        yield from real_map(self, chunks)

    monkeypatch.setattr(HeaderWorkers, "map", counting_map)
    report = store.import_paths([ct_dir, mr_dir], link=True)
    assert (report.imported, report.skipped, report.failed, report.warnings) == (234, 4, 0, [])
    assert mapped == [4]  # 238 files in chunks of 64, all read by the workers
    assert store._header_workers_running()  # kept for the next import
    again = store.import_paths([ct_dir, mr_dir], link=True)
    assert (again.duplicate, again.imported) == (234, 0)
    assert [p.pid for p in store._readers.procs] == pids
    procs = store._readers.procs
    store.close()
    assert all(p.poll() is not None for p in procs)  # closing the store ends them


def test_a_dead_worker_is_not_fatal(store: Store, ct_dir: Path, mr_dir: Path, small_threshold: None,
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    real_map = HeaderWorkers.map

    def dying_map(self: HeaderWorkers, chunks: list[list[str]]):
        self.procs[1].kill()  # one worker dies before it could answer
        self.procs[1].wait()
        yield from real_map(self, chunks)

    monkeypatch.setattr(HeaderWorkers, "map", dying_map)
    _started(store)
    report = store.import_paths([ct_dir, mr_dir], link=True)
    assert (report.imported, report.skipped, report.failed) == (234, 4, 0)
    assert any(w.startswith("header worker") and "in this process" in w for w in report.warnings)
    assert sum(s.instance_count for s in store.studies()) == 234


def test_long_paths_do_not_deadlock_the_pipes(tmp_path: Path, mr_dir: Path) -> None:
    """Chunks of ~1 KiB paths overflow a 64 KiB pipe: the workers must keep reading anyway."""
    import threading

    folder = tmp_path
    for level in range(4):
        folder = folder / (f"{level}" * 240)
    folder.mkdir(parents=True)
    source = mr_dir / "000001.IMA"
    files = []
    for i in range(600):
        link = folder / f"{i:04d}-{'x' * 200}"
        link.hardlink_to(source)
        files.append(str(link))
    assert len(files[0]) > 1000
    chunks = [files[i:i + 64] for i in range(0, len(files), 64)]
    results: list = []
    workers = HeaderWorkers(2)
    reader = threading.Thread(target=lambda: results.extend(r for c in workers.map(chunks) for r in c))
    reader.start()
    reader.join(timeout=60)
    try:
        assert not reader.is_alive(), "parent and workers deadlocked on full pipes"
        assert len(results) == 600 and all(r.sop_uid == results[0].sop_uid for r in results)
    finally:
        workers.kill()


def test_warm_up_makes_the_next_import_use_the_workers(store: Store, ct_dir: Path, mr_dir: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(importer, "worker_count", lambda: 2)
    assert not store._header_workers_running()
    store.warm_up()
    assert store._header_workers_running()
    _started(store)
    used: list[int] = []
    real_map = HeaderWorkers.map

    def counting_map(self: HeaderWorkers, chunks: list[list[str]]):
        used.append(sum(len(c) for c in chunks))
        yield from real_map(self, chunks)

    monkeypatch.setattr(HeaderWorkers, "map", counting_map)
    report = store.import_paths([ct_dir, mr_dir], link=True)  # 238 files: above the warm threshold
    assert report.imported == 234 and used == [238]
