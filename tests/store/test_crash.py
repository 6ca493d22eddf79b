"""A real ``lightbox import`` process killed with SIGKILL mid-batch leaves a consistent cache.

The kill is aimed at the worst moment: while a batch's files are being written (journal
entries committed, index rows not yet), detected by watching the index from outside.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pydicom
import pytest

from viewer.store import Store


def index_rows(home: Path, sql: str) -> list[tuple]:
    """Read the index with a plain sqlite3 connection (what the crash left; no recovery)."""
    conn = sqlite3.connect(home / "index.sqlite")
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


def _state(index: Path) -> tuple[int, int]:
    """(instances indexed, files being written) as another process sees them."""
    if not index.exists():
        return 0, 0
    try:
        conn = sqlite3.connect(f"file:{index}?mode=ro", uri=True, timeout=0.05)
        try:
            return conn.execute(
                "SELECT (SELECT count(*) FROM instance), (SELECT count(*) FROM pending_file)"
            ).fetchone()
        finally:
            conn.close()
    except sqlite3.Error:  # schema not created yet, or a lock: look again
        return 0, 0


def _files_under(folder: Path) -> set[str]:
    return {p.relative_to(folder.parent).as_posix() for p in folder.rglob("*") if p.is_file()}


@pytest.mark.skipif(os.name != "posix", reason="SIGKILL and process groups are POSIX")
def test_sigkill_mid_import_leaves_consistent_index(lightbox_home: Path, ct_dir: Path, mr_dir: Path) -> None:
    home = lightbox_home / "killed"
    index = home / "index.sqlite"
    cmd = [sys.executable, "-m", "viewer", "--home", str(home), "import", str(ct_dir), str(mr_dir)]
    killed_at_batch = None
    proc = subprocess.Popen(cmd, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and proc.poll() is None:
            indexed, writing = _state(index)
            if indexed and writing:
                # one batch is committed and the next is being written: kill the import and
                # its header workers at once
                os.killpg(proc.pid, signal.SIGKILL)
                killed_at_batch = True
                break
            time.sleep(0.001)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert killed_at_batch, f"the import finished before it could be killed: {proc.stderr.read()!r}"
    assert proc.returncode == -signal.SIGKILL

    # What the crash left, before any recovery: a journal naming the files being written
    pending = index_rows(home, "SELECT path FROM pending_file")
    assert pending
    indexed_before = {r[0] for r in index_rows(home, "SELECT path FROM instance")}
    assert all(p not in indexed_before for (p,) in pending)

    with Store.open(home) as store:  # recovery runs here
        conn = sqlite3.connect(index)
        try:
            assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
            assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
            assert conn.execute("SELECT count(*) FROM pending_file").fetchone()[0] == 0
            indexed = {r[0] for r in conn.execute("SELECT path FROM instance WHERE storage = 'copy'")}
        finally:
            conn.close()
        on_disk = _files_under(home / "store")
        assert on_disk == indexed  # no orphan, no .part file, nothing indexed without its file
        sources = {str(pydicom.dcmread(p, stop_before_pixels=True).SOPInstanceUID): p
                   for p in (*ct_dir.glob("*.dcm"), *mr_dir.glob("*.IMA"))}
        for rel in indexed:  # and every indexed file is complete
            assert (home / rel).read_bytes() == sources[Path(rel).stem].read_bytes()
        done_before = len(indexed)
        assert 0 < done_before < 234

        report = store.import_paths([ct_dir, mr_dir])  # running the import again completes it
        assert report.failed == 0 and report.conflict == 0
        assert report.imported == 234 - done_before
        assert report.duplicate == done_before
        assert sum(st.instance_count for st in store.studies()) == 234
        assert len(_files_under(home / "store")) == 234


def test_recovery_only_touches_dead_writers_files(lightbox_home: Path, mr_dir: Path) -> None:
    """Journal entries of a dead process are cleaned; a live writer's are left alone; indexed
    files are never deleted even if a journal entry names them."""
    with Store.open(lightbox_home) as store:
        store.import_paths([mr_dir / "000001.IMA"])
        (indexed,) = store.study_instances(store.studies()[0].study_uid)
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                          text=True).stdout.strip()
    stray = lightbox_home / "store" / "1.2.3" / "4.5.6" / "7.8.9.dcm"
    stray.parent.mkdir(parents=True)
    stray.write_bytes(b"half a file")
    part = stray.with_name(f"{stray.name}.{dead}.part")
    part.write_bytes(b"half a temp file")
    busy = lightbox_home / "store" / "1.2.3" / "4.5.6" / "busy.dcm"
    busy.write_bytes(b"being written right now")
    conn = sqlite3.connect(lightbox_home / "index.sqlite")
    conn.executemany("INSERT INTO pending_file(path, pid) VALUES (?, ?)", [
        ("store/1.2.3/4.5.6/7.8.9.dcm", int(dead)),
        (indexed.path.relative_to(lightbox_home).as_posix(), int(dead)),
        ("store/1.2.3/4.5.6/busy.dcm", os.getpid()),
    ])
    conn.commit()
    conn.close()
    with Store.open(lightbox_home) as store:
        assert not stray.exists() and not part.exists()
        assert indexed.path.is_file()
        assert busy.exists()
        assert index_rows(lightbox_home, "SELECT path FROM pending_file") == [("store/1.2.3/4.5.6/busy.dcm",)]
        assert store.recover() == 0


def _dead_pid() -> int:
    return int(subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                              text=True).stdout.strip())


def test_power_cut_after_an_import_keeps_its_complete_files(lightbox_home: Path, mr_dir: Path) -> None:
    """The index's last commit (synchronous=NORMAL) was lost, the journal and the files were not.

    What a power cut right after an import leaves: complete managed copies of a dead import
    process, journalled, with no index rows. The CD may be ejected already, so recovery
    indexes them; only an incomplete copy is deleted (issue 4: nothing lost).
    """
    from viewer.store.layout import managed_relpath

    Store.open(lightbox_home).close()
    dead = _dead_pid()
    sources = sorted(mr_dir.glob("*.IMA"))[:4]
    rels = []
    for src in sources:
        ds = pydicom.dcmread(src, stop_before_pixels=True)
        rel = managed_relpath(ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.SOPInstanceUID)
        (lightbox_home / rel).parent.mkdir(parents=True, exist_ok=True)
        (lightbox_home / rel).write_bytes(src.read_bytes())
        rels.append(rel)
    cut = lightbox_home / rels[3]
    cut.write_bytes(cut.read_bytes()[:50_000])  # this one never reached the disk whole
    conn = sqlite3.connect(lightbox_home / "index.sqlite")
    conn.executemany("INSERT INTO pending_file(path, pid, op) VALUES (?, ?, 'write')", [(r, dead) for r in rels])
    conn.commit()
    conn.close()
    with Store.open(lightbox_home) as store:
        indexed = [i for st in store.studies() for i in store.study_instances(st.study_uid)]
        assert sorted(i.path.relative_to(lightbox_home).as_posix() for i in indexed) == sorted(rels[:3])
        for i in indexed:
            assert i.path.read_bytes() == sources[rels.index(i.path.relative_to(lightbox_home).as_posix())
                                                  ].read_bytes()
        assert not cut.exists()
        assert index_rows(lightbox_home, "SELECT count(*) FROM pending_file") == [(0,)]


def test_a_crashed_delete_is_finished_not_undone(lightbox_home: Path, mr_dir: Path) -> None:
    """A study removed from the index whose files were not yet unlinked stays removed."""
    with Store.open(lightbox_home) as store:
        store.import_paths([mr_dir / "000001.IMA"])
        (inst,) = store.study_instances(store.studies()[0].study_uid)
    rel = inst.path.relative_to(lightbox_home).as_posix()
    conn = sqlite3.connect(lightbox_home / "index.sqlite")
    conn.execute("PRAGMA foreign_keys=ON")
    conn.execute("INSERT OR REPLACE INTO pending_file(path, pid, op) VALUES (?, ?, 'delete')", (rel, _dead_pid()))
    conn.execute("DELETE FROM study")  # what Store._delete commits before unlinking
    conn.commit()
    conn.close()
    with Store.open(lightbox_home) as store:
        assert store.studies() == [] and not inst.path.exists()
