"""Misbehaving peers, built in-process: a real PACS never does these things on purpose.

* :func:`rejecting_scp` - answers A-ASSOCIATE-RJ "calling AE title not recognized";
* :class:`SilentServer` - accepts TCP and never says a word (ACSE timeout);
* :class:`HangUpServer` - accepts TCP, reads the request, closes the socket;
* :class:`QRPeer` - a pynetdicom Q/R SCP whose C-GET / C-MOVE / C-FIND behaviour is chosen
  per test: serve N instances then abort, answer a failure status, stall, or behave.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from typing import Any

from pydicom import Dataset
from pynetdicom import AE, StoragePresentationContexts, evt
from pynetdicom.sop_class import (
    CTImageStorage,
    MRImageStorage,
    StudyRootQueryRetrieveInformationModelFind,
    StudyRootQueryRetrieveInformationModelGet,
    StudyRootQueryRetrieveInformationModelMove,
    Verification,
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def rejecting_scp(port: int) -> Iterator[None]:
    """Accepts only calling AE "SOMEONE-ELSE": everyone else gets A-ASSOCIATE-RJ (1, 1, 3)."""
    ae = AE("GRUMPY")
    ae.add_supported_context(Verification)
    ae.require_calling_aet = ["SOMEONE-ELSE"]
    server = ae.start_server(("127.0.0.1", port), block=False)
    try:
        yield
    finally:
        server.shutdown()


class _RawServer:
    """A TCP server thread; ``serve(conn)`` decides what happens to each connection."""

    def __init__(self, port: int | None = None, backlog: int = 5) -> None:
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", port or 0))
        self.sock.listen(backlog)
        self.port = self.sock.getsockname()[1]
        self.stop = threading.Event()
        self.conns: list[socket.socket] = []
        self.thread = threading.Thread(target=self._loop, daemon=True)

    def __enter__(self) -> _RawServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.sock.close()
        for c in self.conns:
            c.close()
        self.thread.join(5)

    def _loop(self) -> None:
        self.sock.settimeout(0.1)
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except (TimeoutError, OSError):
                continue
            self.conns.append(conn)
            self.serve(conn)

    def serve(self, conn: socket.socket) -> None:
        raise NotImplementedError


class SilentServer(_RawServer):
    """Accepts the connection, reads the A-ASSOCIATE-RQ, answers nothing."""

    def serve(self, conn: socket.socket) -> None:
        conn.settimeout(0.5)
        with suppress(OSError):
            conn.recv(65536)


class HangUpServer(_RawServer):
    """Reads the A-ASSOCIATE-RQ and closes the connection without a word."""

    def serve(self, conn: socket.socket) -> None:
        conn.settimeout(2)
        with suppress(OSError):
            conn.recv(65536)
        conn.close()


class QRPeer:
    """A Query/Retrieve SCP on loopback serving ``datasets`` with a chosen misbehaviour.

    ``mode``:
      * ``"ok"``          - serve everything;
      * ``"abort-after"`` - serve ``n`` instances, then A-ABORT;
      * ``"fail"``        - answer the C-GET/C-MOVE with status ``status`` at once;
      * ``"stall"``       - never answer the C-GET/C-MOVE/C-FIND (until the peer is stopped);
      * ``"slow"``        - ``delay`` seconds between instances, honouring C-CANCEL.
    ``find_models`` / ``retrieve_models`` limit the information models it accepts (Patient
    Root only, for the fallbacks).
    For C-MOVE it sends to ``move_dest`` = (AET, port) when the AET matches, else 0xA801.
    """

    def __init__(
        self,
        datasets: list[Dataset],
        mode: str = "ok",
        n: int = 0,
        status: int = 0xA702,
        delay: float = 0.0,
        move_dest: tuple[str, int] | None = None,
        find_models: tuple[str, ...] = (StudyRootQueryRetrieveInformationModelFind,),
        retrieve_models: tuple[str, ...] = (
            StudyRootQueryRetrieveInformationModelGet,
            StudyRootQueryRetrieveInformationModelMove,
        ),
    ) -> None:
        self.datasets, self.mode, self.n, self.status, self.delay = datasets, mode, n, status, delay
        self.move_dest = move_dest
        self.release = threading.Event()
        self.cancelled = False
        self.find_requests: list[Dataset] = []
        self.retrieve_requests: list[Dataset] = []
        ae = AE("HOSTILE")
        ae.add_supported_context(Verification)
        for sop in find_models:
            ae.add_supported_context(sop)
        for sop in retrieve_models:
            ae.add_supported_context(sop)
        for cx in StoragePresentationContexts:
            ae.add_supported_context(cx.abstract_syntax, scu_role=False, scp_role=True)
        ae.add_requested_context(CTImageStorage)
        ae.add_requested_context(MRImageStorage)
        self.ae = ae
        self.port = free_port()
        self.server: Any = None

    def __enter__(self) -> QRPeer:
        handlers = [
            (evt.EVT_C_GET, self._on_get),
            (evt.EVT_C_MOVE, self._on_move),
            (evt.EVT_C_FIND, self._on_find),
        ]
        self.server = self.ae.start_server(("127.0.0.1", self.port), block=False, evt_handlers=handlers)
        return self

    def __exit__(self, *exc: object) -> None:
        self.release.set()
        self.server.shutdown()

    def _serve(self, event: Any) -> Iterator[Any]:
        self.retrieve_requests.append(event.identifier)
        if self.mode == "fail":
            yield len(self.datasets)
            yield self.status, None
            return
        if self.mode == "stall":
            self.release.wait(30)
            return
        yield len(self.datasets)
        for i, ds in enumerate(self.datasets):
            if event.is_cancelled:
                self.cancelled = True
                yield 0xFE00, None
                return
            if self.mode == "abort-after" and i == self.n:
                event.assoc.abort()
                return
            if self.delay:
                time.sleep(self.delay)
            yield 0xFF00, ds

    def _on_get(self, event: Any) -> Iterator[Any]:
        yield from self._serve(event)

    def _on_move(self, event: Any) -> Iterator[Any]:
        if self.mode == "fail" and self.status == 0xA801:
            yield None, None  # pynetdicom answers "Move destination unknown"
            return
        if self.move_dest is None or str(event.move_destination).strip() != self.move_dest[0]:
            yield None, None
            return
        yield "127.0.0.1", self.move_dest[1]
        yield from self._serve(event)

    def _on_find(self, event: Any) -> Iterator[Any]:
        self.find_requests.append(event.identifier)
        if self.mode == "stall":
            self.release.wait(30)
            return
        level = event.identifier.QueryRetrieveLevel
        seen = set()
        for ds in self.datasets:
            out = Dataset()
            out.QueryRetrieveLevel = level
            for kw in ("PatientName", "PatientID", "StudyInstanceUID", "StudyDate"):
                if kw in ds:
                    setattr(out, kw, ds.data_element(kw).value)
            if level in ("SERIES", "IMAGE"):
                out.SeriesInstanceUID = ds.SeriesInstanceUID
                out.Modality = ds.Modality
            if level == "IMAGE":
                out.SOPInstanceUID = ds.SOPInstanceUID
            key = (level, str(out.get("PatientID")), str(out.get("StudyInstanceUID")))
            if level == "PATIENT":
                del out.StudyInstanceUID
            if level in ("PATIENT", "STUDY") and key in seen:
                continue
            seen.add(key)
            yield 0xFF00, out
