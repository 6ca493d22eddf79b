"""Received instances into the cache: ``Store.receiver`` batches and ``CacheSink`` (what C-GET,
C-MOVE, pushes and WADO-RS use), on real CT and MR files."""

from __future__ import annotations

import io
import os
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import pydicom
import pytest
from pydicom.dataset import Dataset
from pydicom.filewriter import write_file_meta_info
from pynetdicom.dsutils import create_file_meta

from viewer.core.errors import StoreError
from viewer.net.sink import STORE_OUT_OF_RESOURCES, STORE_SUCCESS, file_meta_bytes, handle_store, part10_bytes
from viewer.services.network import CacheSink
from viewer.store import CONFLICT, DUPLICATE, IMPORTED, Store

ROOT = Path(__file__).resolve().parents[2]


def _ct_files(ct_dir: Path, n: int) -> list[Path]:
    return sorted(ct_dir.glob("*.dcm"))[:n]


def _received(path: Path) -> Dataset:
    """A dataset as handle_store hands it on: File Meta from pynetdicom, the peer's bytes kept."""
    raw = path.read_bytes()
    ds = pydicom.dcmread(io.BytesIO(raw))
    meta = create_file_meta(sop_class_uid=ds.SOPClassUID, sop_instance_uid=ds.SOPInstanceUID,
                            transfer_syntax=ds.file_meta.TransferSyntaxUID)
    start = 132 + 12 + int(ds.file_meta.FileMetaInformationGroupLength)
    plain = Dataset(ds)
    plain.file_meta = meta
    object.__setattr__(plain, "_lightbox_received_encoding", raw[start:])
    return plain


def _journal(store: Store) -> list[tuple]:
    with sqlite3.connect(store.index_path) as conn:
        return conn.execute("SELECT path, pid FROM pending_file").fetchall()


@pytest.fixture()
def store(tmp_path: Path):
    s = Store.open(tmp_path / "home")
    yield s
    s.close()


def test_file_meta_encoder_matches_pydicom(ct_dir: Path, data_dir: Path) -> None:
    files = _ct_files(ct_dir, 3) + sorted((data_dir / "mr-transfer-syntaxes").glob("*.dcm"))
    for path in files:
        ds = pydicom.dcmread(path, stop_before_pixels=True)
        metas = [ds.file_meta, create_file_meta(sop_class_uid=ds.SOPClassUID, sop_instance_uid=ds.SOPInstanceUID,
                                                transfer_syntax=ds.file_meta.TransferSyntaxUID)]
        for meta in metas:
            expected = io.BytesIO()
            write_file_meta_info(expected, meta, enforce_standard=True)
            assert file_meta_bytes(meta) == expected.getvalue(), path


def test_receiver_indexes_in_batches(store: Store, ct_dir: Path) -> None:
    files = _ct_files(ct_dir, 25)
    batches: list[list[str]] = []
    receiver = store.receiver("test", on_indexed=batches.append, batch_size=10, interval=60)
    for path in files:
        assert receiver.add_part10(part10_bytes(_received(path))) == IMPORTED
    report = receiver.flush()
    assert report.imported == 25 and not report.failures
    # Not one commit per instance: every commit but the flush's waits for 10. The committer
    # takes everything waiting when it wakes, so a slow sync makes fewer, larger batches.
    assert 1 <= len(batches) <= 3
    (study,) = store.studies()
    assert study.instance_count == 25 and batches[0] == [study.study_uid]
    assert _journal(store) == []
    for inst in store.study_instances(study.study_uid):  # byte for byte what the peer sent, in Part 10
        src = next(p for p in files if pydicom.dcmread(p, stop_before_pixels=True).SOPInstanceUID == inst.sop_uid)
        assert pydicom.dcmread(inst.path).PixelData == pydicom.dcmread(src).PixelData
        assert not list(inst.path.parent.glob("*.part"))


def test_duplicates_and_conflicts_while_in_flight(store: Store, mr_dir: Path) -> None:
    receiver = store.receiver("test", interval=60)
    ds = _received(mr_dir / "000001.IMA")
    data = part10_bytes(ds)
    assert receiver.add_part10(data) == IMPORTED
    assert receiver.add_part10(data) == DUPLICATE  # before it is indexed
    changed = pydicom.dcmread(mr_dir / "000001.IMA")
    changed.PatientName = "Other^Name"
    assert receiver.add_part10(part10_bytes(changed)) == CONFLICT
    report = receiver.flush()
    assert (report.imported, report.duplicate, report.conflict) == (1, 1, 1)
    assert receiver.add_part10(data) == DUPLICATE  # and after
    assert store.studies()[0].instance_count == 1


def test_concurrent_associations(store: Store, ct_dir: Path) -> None:
    files = _ct_files(ct_dir, 40)
    receiver = store.receiver("test", batch_size=7, interval=0.05)
    errors: list[BaseException] = []

    def work(part: list[Path]) -> None:
        try:
            for p in part:
                receiver.add_part10(part10_bytes(_received(p)))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(files[i::4],)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    receiver.flush()
    assert not errors
    assert store.studies()[0].instance_count == 40


def test_unwritable_instance_is_refused_with_a_failure_status(store: Store, ct_dir: Path) -> None:
    """PS3.4 B.2.3: what cannot be stored must not be answered with success."""
    ds = _received(_ct_files(ct_dir, 1)[0])
    blocker = store.home / "store" / str(ds.StudyInstanceUID)
    blocker.parent.mkdir(parents=True, exist_ok=True)
    blocker.write_text("a file where the study folder should be")
    sink = CacheSink(store, "test")
    with pytest.raises(StoreError, match="cannot write to the cache"):
        sink(ds)

    class Event:  # what pynetdicom hands handle_store
        def __init__(self, src: Path) -> None:
            full = _received(src)
            self.dataset = Dataset(full)
            self.file_meta = full.file_meta
            self.request = type("Req", (), {"DataSet": io.BytesIO(full._lightbox_received_encoding)})()

    assert handle_store(Event(_ct_files(ct_dir, 2)[1]), sink) == STORE_OUT_OF_RESOURCES
    sink.flush()
    assert store.studies() == [] and _journal(store) == []
    blocker.unlink()
    assert handle_store(Event(_ct_files(ct_dir, 2)[1]), sink) == STORE_SUCCESS
    sink.flush()
    assert store.studies()[0].instance_count == 1


def test_acknowledged_receipts_survive_a_crash(tmp_path: Path, ct_dir: Path) -> None:
    """A process killed after answering success but before its batch was indexed: the next
    open indexes those files (they were acknowledged), and deletes nothing else."""
    home = tmp_path / "home"
    files = [str(p) for p in _ct_files(ct_dir, 6)]
    script = f"""
import os, sys
sys.path.insert(0, {str(ROOT)!r})
sys.path.insert(0, {str(ROOT / 'tests' / 'services')!r})
from pathlib import Path
from test_cache_sink import _received
from viewer.net.sink import part10_bytes
from viewer.store import Store
store = Store.open(Path({str(home)!r}))
receiver = store.receiver("crash", interval=3600)
for f in {files!r}:
    receiver.add_part10(part10_bytes(_received(Path(f))))
os._exit(0)  # killed: nothing indexed, journal left behind
"""
    subprocess.run([sys.executable, "-c", script], check=True, timeout=120)
    with sqlite3.connect(home / "index.sqlite") as conn:
        assert conn.execute("SELECT count(*) FROM instance").fetchone()[0] == 0
        entries = conn.execute("SELECT pid FROM pending_file").fetchall()
    assert len(entries) == 6 and all(pid < 0 for (pid,) in entries)
    # a half-written temp file and a corrupt receipt are not indexed
    store_dir = home / "store"
    victims = sorted(store_dir.rglob("*.dcm"))
    victims[0].write_bytes(victims[0].read_bytes()[:2000])
    with Store.open(home) as store:
        (study,) = store.studies()
        assert study.instance_count == 5
        assert _journal(store) == []
        assert not victims[0].exists()
        assert {r.path for r in store.study_instances(study.study_uid)} == set(victims[1:])
        assert os.path.basename(str(victims[1])).endswith(".dcm")


@pytest.mark.pacs
def test_wado_rs_into_the_cache_keeps_the_servers_bytes(store: Store, orthanc: dict[str, str], ct_dir: Path) -> None:
    from viewer.net.nodes import DicomWebNode
    from viewer.services.network import retrieve_any

    from ..net.helpers import CT_COUNT, CT_SERIES, CT_STUDY

    grown: list[str] = []
    node = DicomWebNode("orthanc-web", orthanc["PACS_DICOMWEB_URL"])
    report = retrieve_any(store, node, CT_STUDY, CT_SERIES, method="get", on_added=grown.append)
    assert report.ok and report.received == CT_COUNT, report.summary()
    assert grown and set(grown) == {CT_STUDY}
    rows = store.instances(CT_SERIES)
    assert len(rows) == CT_COUNT
    originals = {str(pydicom.dcmread(p, stop_before_pixels=True).SOPInstanceUID): p for p in ct_dir.glob("*.dcm")}
    assert all(r.path.read_bytes() == originals[r.sop_uid].read_bytes() for r in rows)  # stored as served
