"""Misbehaving peers: each failure is reported as its own error, and what arrived is kept."""

from __future__ import annotations

import socket
import time
from pathlib import Path

import pydicom
import pytest
from pynetdicom.sop_class import (
    PatientRootQueryRetrieveInformationModelFind,
    PatientRootQueryRetrieveInformationModelGet,
    PatientRootQueryRetrieveInformationModelMove,
)

from viewer.core.tasks import CancelToken
from viewer.net.echo import echo
from viewer.net.errors import (
    AssociationAborted,
    AssociationRejected,
    ConnectionRefused,
    ConnectTimeout,
    HostNotFound,
    PeerTimeout,
    PortInUse,
    StatusError,
)
from viewer.net.find import find_all
from viewer.net.nodes import LocalSettings, RemoteNode
from viewer.net.retrieve import retrieve
from viewer.net.sink import FolderSink
from viewer.net.storescp import StorageSCP

from .hostile import HangUpServer, QRPeer, SilentServer, free_port, rejecting_scp

N = 12


@pytest.fixture(scope="module")
def ct_datasets(ct_dir: Path) -> list[pydicom.Dataset]:
    return [pydicom.dcmread(p) for p in sorted(ct_dir.glob("*.dcm"))[:N]]


def _node(port: int, aet: str = "HOSTILE", **kw: object) -> RemoteNode:
    kw.setdefault("dimse_timeout", 2.0)
    kw.setdefault("acse_timeout", 2.0)
    return RemoteNode("hostile", aet, "127.0.0.1", port, **kw)  # type: ignore[arg-type]


def _study(ds: list[pydicom.Dataset]) -> tuple[str, str]:
    return str(ds[0].StudyInstanceUID), str(ds[0].SeriesInstanceUID)


# --- association level ---------------------------------------------------------------------


def test_connection_refused() -> None:
    with pytest.raises(ConnectionRefused, match=r"nothing listens on 127\.0\.0\.1"):
        echo(_node(free_port()))


def test_unknown_host() -> None:
    with pytest.raises(HostNotFound, match="not found"):
        echo(RemoteNode("x", "X", "no-such-host.invalid", 104))


def test_connect_timeout() -> None:
    """A listener whose accept queue is full drops our SYN: the TCP connect times out."""
    with socket.socket() as lsock:
        lsock.bind(("127.0.0.1", 0))
        lsock.listen(0)
        port = lsock.getsockname()[1]
        fillers = []
        for _ in range(3):  # fill the backlog (never accepted)
            s = socket.socket()
            s.setblocking(False)
            s.connect_ex(("127.0.0.1", port))
            fillers.append(s)
        time.sleep(0.2)
        try:
            start = time.monotonic()
            with pytest.raises(ConnectTimeout, match="no TCP connection within"):
                echo(_node(port, connect_timeout=1.0))
            assert time.monotonic() - start < 6
        finally:
            for s in fillers:
                s.close()


def test_association_rejected_with_reason() -> None:
    port = free_port()
    with rejecting_scp(port), pytest.raises(AssociationRejected) as info:
        echo(_node(port, aet="GRUMPY"))
    err = info.value
    assert (err.result, err.source, err.reason) == (1, 1, 3)
    assert "calling AE title not recognized" in str(err)
    assert "register our AE title" in str(err)


def test_peer_never_answers_the_association_request() -> None:
    with SilentServer() as server, pytest.raises(PeerTimeout, match="association request within 1 s"):
        echo(_node(server.port, acse_timeout=1.0))


def test_peer_hangs_up_during_negotiation() -> None:
    with HangUpServer() as server, pytest.raises(AssociationAborted, match="negotiation") as info:
        echo(_node(server.port))
    assert "closed" in str(info.value)


def test_our_port_taken_is_explained(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        scp = StorageSCP(LocalSettings(port=port, bind_host="127.0.0.1"), FolderSink(tmp_path))
        with pytest.raises(PortInUse, match=f"cannot listen on port {port}.*already in use"):
            scp.start()
        assert not scp.running


# --- operations ----------------------------------------------------------------------------


def test_abort_mid_get_keeps_what_arrived(ct_datasets: list, tmp_path: Path) -> None:
    study, series = _study(ct_datasets)
    with QRPeer(ct_datasets, mode="abort-after", n=5) as peer:
        report = retrieve(_node(peer.port), study, series, method="get", sink=FolderSink(tmp_path))
    assert isinstance(report.error, AssociationAborted)
    assert "C-GET" in str(report.error)
    assert report.received == 5 and report.partial and not report.ok
    assert len(list(tmp_path.glob("*.dcm"))) == 5
    # resume: the same peer now behaves; fetch only what is missing
    have = {p.stem for p in tmp_path.glob("*.dcm")}
    missing = [str(d.SOPInstanceUID) for d in ct_datasets if str(d.SOPInstanceUID) not in have]
    with QRPeer([d for d in ct_datasets if str(d.SOPInstanceUID) in missing]) as peer:
        rest = retrieve(_node(peer.port), study, series, missing, method="get", sink=FolderSink(tmp_path))
    assert rest.ok, rest.summary()
    assert len(list(tmp_path.glob("*.dcm"))) == N


def test_abort_mid_move_is_reported_at_once(ct_datasets: list, tmp_path: Path) -> None:
    """The move association dies half way: reported now, not after the activity timeout."""
    study, series = _study(ct_datasets)
    local = LocalSettings(ae_title="LBTEST", port=free_port(), bind_host="127.0.0.1")
    with QRPeer(ct_datasets, mode="abort-after", n=4, move_dest=("LBTEST", local.port)) as peer:
        start = time.monotonic()
        report = retrieve(
            _node(peer.port, dimse_timeout=30.0), study, series, method="move", sink=FolderSink(tmp_path), local=local
        )
        assert time.monotonic() - start < 5
    assert isinstance(report.error, AssociationAborted) and "C-MOVE" in str(report.error)
    assert report.received == 4 and report.partial


@pytest.mark.parametrize("method", ["get", "move"])
def test_failure_status_is_reported(method: str, ct_datasets: list, tmp_path: Path) -> None:
    study, series = _study(ct_datasets)
    local = LocalSettings(ae_title="LBTEST", port=free_port(), bind_host="127.0.0.1")
    with QRPeer(ct_datasets, mode="fail", status=0xA702, move_dest=("LBTEST", local.port)) as peer:
        report = retrieve(_node(peer.port), study, series, method=method, sink=FolderSink(tmp_path), local=local)
    assert report.status == 0xA702 and report.received == 0
    assert isinstance(report.error, StatusError)
    assert "0xA702" in str(report.error) and "unable to perform sub-operations" in str(report.error)


def test_move_destination_unknown(ct_datasets: list, tmp_path: Path) -> None:
    study, series = _study(ct_datasets)
    local = LocalSettings(ae_title="LBTEST", port=free_port(), bind_host="127.0.0.1")
    with QRPeer(ct_datasets, move_dest=("SOMEONE", 1)) as peer:
        report = retrieve(_node(peer.port), study, series, method="move", sink=FolderSink(tmp_path), local=local)
    assert report.status == 0xA801
    assert "does not know AE title 'LBTEST'" in str(report.error)


def test_move_from_hostile_peer_counts_and_routes(ct_datasets: list, tmp_path: Path) -> None:
    study, series = _study(ct_datasets)
    local = LocalSettings(ae_title="LBTEST", port=free_port(), bind_host="127.0.0.1")
    with QRPeer(ct_datasets, move_dest=("LBTEST", local.port)) as peer:
        report = retrieve(_node(peer.port), study, series, method="move", sink=FolderSink(tmp_path), local=local)
    assert report.ok and report.received == N, report.summary()


@pytest.mark.parametrize("method", ["get", "move"])
def test_peer_stalls(method: str, ct_datasets: list, tmp_path: Path) -> None:
    study, series = _study(ct_datasets)
    local = LocalSettings(ae_title="LBTEST", port=free_port(), bind_host="127.0.0.1")
    with QRPeer(ct_datasets, mode="stall", move_dest=("LBTEST", local.port)) as peer:
        start = time.monotonic()
        report = retrieve(
            _node(peer.port, dimse_timeout=1.0), study, series, method=method, sink=FolderSink(tmp_path), local=local
        )
        assert time.monotonic() - start < 5
    assert isinstance(report.error, PeerTimeout), report.summary()
    assert f"C-{method.upper()} within 1 s" in str(report.error)


def test_find_stall_times_out(ct_datasets: list) -> None:
    with QRPeer(ct_datasets, mode="stall") as peer, pytest.raises(PeerTimeout, match="C-FIND within 1 s"):
        find_all(_node(peer.port, dimse_timeout=1.0), "STUDY", {})


def test_cancel_honoured_by_peer(ct_datasets: list, tmp_path: Path) -> None:
    """A slow peer that honours C-CANCEL: final status Cancel, instances so far are kept."""
    study, series = _study(ct_datasets)
    token = CancelToken()
    sink = FolderSink(tmp_path)

    def cancel_after_three(ds: pydicom.Dataset) -> None:
        sink(ds)
        if sink.count == 3:
            token.cancel()

    with QRPeer(ct_datasets, mode="slow", delay=0.2) as peer:
        report = retrieve(_node(peer.port), study, series, method="get", sink=cancel_after_three, cancel=token)
        assert peer.cancelled
    assert report.cancelled and report.status == 0xFE00 and report.error is None
    assert 3 <= report.received < N


def test_patient_root_fallback(ct_datasets: list) -> None:
    """A peer without Study Root: STUDY queries go through PATIENT level (PatientID required)."""
    with QRPeer(ct_datasets, find_models=(PatientRootQueryRetrieveInformationModelFind,)) as peer:
        studies = find_all(_node(peer.port), "STUDY", {"patient_name": "Pancreas*"})
    assert [str(s.StudyInstanceUID) for s in studies] == [str(ct_datasets[0].StudyInstanceUID)]
    levels = [str(r.QueryRetrieveLevel) for r in peer.find_requests]
    assert levels == ["PATIENT", "STUDY"]
    assert peer.find_requests[1].PatientID == ct_datasets[0].PatientID


@pytest.mark.parametrize("method", ["get", "move"])
def test_patient_root_retrieve_fallback(method: str, ct_datasets: list, tmp_path: Path) -> None:
    """A peer with Patient Root retrieve only: the identifier carries the Patient ID, looked up first."""
    study, series = _study(ct_datasets)
    local = LocalSettings(ae_title="LBTEST", port=free_port(), bind_host="127.0.0.1")
    with QRPeer(
        ct_datasets,
        move_dest=("LBTEST", local.port),
        find_models=(PatientRootQueryRetrieveInformationModelFind,),
        retrieve_models=(PatientRootQueryRetrieveInformationModelGet, PatientRootQueryRetrieveInformationModelMove),
    ) as peer:
        report = retrieve(_node(peer.port), study, series, method=method, sink=FolderSink(tmp_path), local=local)
    assert report.ok and report.received == N, report.summary()
    (request,) = peer.retrieve_requests
    assert request.PatientID == ct_datasets[0].PatientID and request.QueryRetrieveLevel == "SERIES"


class _PickyStore:
    """A storage SCP that refuses some instances (0xA700) and can abort after N stores."""

    def __init__(self, refuse: set[str], abort_after: int | None = None) -> None:
        from pynetdicom import AE, AllStoragePresentationContexts, evt

        self.refuse, self.abort_after, self.stored = refuse, abort_after, 0
        ae = AE("PICKY")
        for cx in AllStoragePresentationContexts:
            ae.add_supported_context(cx.abstract_syntax)
        self.port = free_port()
        self.server = ae.start_server(
            ("127.0.0.1", self.port), block=False, evt_handlers=[(evt.EVT_C_STORE, self._on_store)]
        )

    def _on_store(self, event) -> int:
        if self.abort_after is not None and self.stored == self.abort_after:
            event.assoc.abort()
            return 0xA700
        if str(event.request.AffectedSOPInstanceUID) in self.refuse:
            return 0xA700
        self.stored += 1
        return 0x0000

    def close(self) -> None:
        self.server.shutdown()


def test_send_itemises_refusals_and_stops_on_abort(ct_dir: Path) -> None:
    from viewer.net.send import send

    files = sorted(ct_dir.glob("*.dcm"))[:6]
    uids = [str(pydicom.dcmread(f, stop_before_pixels=True).SOPInstanceUID) for f in files]
    peer = _PickyStore(refuse={uids[1], uids[4]})
    try:
        report = send(_node(peer.port, aet="PICKY"), files)
    finally:
        peer.close()
    assert report.sent == 4 and report.failed == 2 and report.error is None
    assert [f for f, _ in report.failures] == [str(files[1]), str(files[4])]
    assert all("0xA700" in why and "Out of Resources" in why for _, why in report.failures)

    peer = _PickyStore(refuse=set(), abort_after=3)
    try:
        report = send(_node(peer.port, aet="PICKY"), files)
    finally:
        peer.close()
    assert report.sent == 3 and isinstance(report.error, AssociationAborted)
    assert [f for f, _ in report.failures][-2:] == [str(files[4]), str(files[5])]
    assert report.failed == 3  # the one in flight and the two never sent
