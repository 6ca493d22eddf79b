"""C-GET and C-MOVE of a study and of a series from both real PACS, into a folder sink."""

from __future__ import annotations

from pathlib import Path

import pytest

from viewer.core.tasks import CancelToken, Progress
from viewer.net.nodes import LocalSettings, RemoteNode
from viewer.net.retrieve import missing_instances, retrieve
from viewer.net.sink import FolderSink
from viewer.net.storescp import StorageSCP

from .helpers import CT_COUNT, CT_SERIES, CT_STUDY, read_folder

pytestmark = pytest.mark.pacs


def _check_pixels(folder: Path, ct_pixels: dict[str, bytes]) -> None:
    got = read_folder(folder)
    assert set(got) == set(ct_pixels)
    for uid, ds in got.items():
        assert ds.file_meta.TransferSyntaxUID.is_little_endian
        assert bytes(ds.PixelData) == ct_pixels[uid], uid
        assert ds.StudyInstanceUID == CT_STUDY


@pytest.mark.parametrize("method", ["get", "move"])
def test_retrieve_series(
    node: RemoteNode, local: LocalSettings, method: str, tmp_path: Path, ct_pixels: dict[str, bytes]
) -> None:
    seen: list[Progress] = []
    report = retrieve(
        node, CT_STUDY, CT_SERIES, method=method, sink=FolderSink(tmp_path), local=local, progress=seen.append
    )
    assert report.ok, report.summary()
    assert (report.received, report.completed, report.failed, report.status) == (CT_COUNT, CT_COUNT, 0, 0)
    assert len(set(report.received_sop_uids)) == CT_COUNT
    assert seen and seen[-1].done == CT_COUNT
    assert [p.done for p in seen] == sorted(p.done for p in seen)
    assert any(p.total == CT_COUNT for p in seen[:-1])  # totals came from the pending responses
    _check_pixels(tmp_path, ct_pixels)


@pytest.mark.parametrize("method", ["get", "move"])
def test_retrieve_study_into_a_fresh_cache(
    pacs: dict, local: LocalSettings, method: str, tmp_path: Path, ct_pixels: dict[str, bytes]
) -> None:
    """The whole study, method from the node's setting, straight into the real cache."""
    import pydicom

    from viewer.store import Store

    from .helpers import pacs_node

    node = pacs_node(pacs, retrieve=method)
    with Store.open(tmp_path / "home") as store:
        report = retrieve(node, CT_STUDY, sink=lambda ds: store.add_dataset(ds, source=node.name), local=local)
        assert report.method == method and report.ok, report.summary()
        (study,) = store.studies()
        assert study.instance_count == CT_COUNT
        rows = store.instances(CT_SERIES)
    assert {r.sop_uid for r in rows} == set(ct_pixels)
    for row in rows[::10]:
        assert bytes(pydicom.dcmread(row.path).PixelData) == ct_pixels[row.sop_uid]


def test_move_through_a_running_scp_routes_to_the_retrieve_sink(
    node: RemoteNode, local: LocalSettings, tmp_path: Path
) -> None:
    pushed, moved = tmp_path / "pushed", tmp_path / "moved"
    with StorageSCP(local, FolderSink(pushed)) as scp:
        some = sorted(missing_instances(node, CT_STUDY, [], local=local)[CT_SERIES])[:5]
        report = retrieve(node, CT_STUDY, CT_SERIES, some, method="move", sink=FolderSink(moved), scp=scp)
        assert scp.received == 5
    assert report.ok and report.received == 5, report.summary()
    assert sorted(p.stem for p in moved.glob("*.dcm")) == some
    assert not pushed.exists() or not list(pushed.iterdir())


@pytest.mark.parametrize("method", ["get", "move"])
def test_cancel_then_resume(node: RemoteNode, local: LocalSettings, method: str, tmp_path: Path) -> None:
    """Cancel after 20 instances: C-CANCEL ends it, what arrived stays, the rest is fetched after."""
    token = CancelToken()
    sink = FolderSink(tmp_path)

    def cancelling_sink(ds) -> None:
        sink(ds)
        if sink.count == 20:
            token.cancel()

    report = retrieve(node, CT_STUDY, CT_SERIES, method=method, sink=cancelling_sink, local=local, cancel=token)
    assert report.cancelled and not report.ok
    assert report.status == 0xFE00 and report.error is None  # both PACS honour C-CANCEL
    assert 20 <= report.received < CT_COUNT, report.summary()
    on_disk = {p.stem for p in tmp_path.glob("*.dcm")}
    assert on_disk == set(report.received_sop_uids)
    assert not list(tmp_path.glob(".*.part"))

    todo = missing_instances(node, CT_STUDY, on_disk, local=local)
    assert sum(map(len, todo.values())) == CT_COUNT - len(on_disk)
    for series, uids in todo.items():
        rest = retrieve(node, CT_STUDY, series, uids, method=method, sink=sink, local=local)
        assert rest.ok and rest.received == len(uids), rest.summary()
    assert len(list(tmp_path.glob("*.dcm"))) == CT_COUNT


def test_move_to_an_unknown_destination_is_explained(node: RemoteNode, local: LocalSettings, tmp_path: Path) -> None:
    stranger = LocalSettings(ae_title="NOBODY-KNOWS", port=local.port, bind_host="127.0.0.1")
    report = retrieve(node, CT_STUDY, CT_SERIES, method="move", sink=FolderSink(tmp_path), local=stranger)
    assert not report.ok and report.received == 0
    assert report.error is not None
    assert report.status is not None and report.status not in (0x0000, 0xFF00)


def test_two_moves_at_once_share_one_scp(node: RemoteNode, local: LocalSettings, tmp_path: Path) -> None:
    """The app's SCP serves concurrent moves; each instance goes to the sink of its own move."""
    import threading

    from viewer.net.find import find_all

    mr = find_all(node, "SERIES", {"patient_name": "Facial*"})[0]
    results: dict[str, object] = {}
    with StorageSCP(local, FolderSink(tmp_path / "unrouted")) as scp:

        def run(name: str, study: str, series: str) -> None:
            results[name] = retrieve(node, study, series, method="move", sink=FolderSink(tmp_path / name), scp=scp)

        jobs = [
            threading.Thread(target=run, args=("ct", CT_STUDY, CT_SERIES)),
            threading.Thread(target=run, args=("mr", str(mr.StudyInstanceUID), str(mr.SeriesInstanceUID))),
        ]
        for j in jobs:
            j.start()
        for j in jobs:
            j.join(120)
    assert all(r.ok for r in results.values()), [r.summary() for r in results.values()]
    assert len(list((tmp_path / "ct").glob("*.dcm"))) == CT_COUNT
    assert len(list((tmp_path / "mr").glob("*.dcm"))) == 100
    assert not (tmp_path / "unrouted").exists() or not list((tmp_path / "unrouted").iterdir())
