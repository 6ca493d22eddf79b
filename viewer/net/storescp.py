"""Our storage SCP: receives C-MOVE sub-operations and unsolicited pushes (PS3.4 B, C.4.2).

Runs pynetdicom's server on its own threads (one per association). Instances go to the
default sink, except that a running C-MOVE can :meth:`StorageSCP.route` its own
instances elsewhere and count them: a C-STORE that belongs to a move carries the Move
Originator AE Title and Message ID (PS3.7 9.1.1.1, Table 9.1-1), and when a peer leaves them
out we go by the study/series/instance UIDs that were asked for alone.
"""

from __future__ import annotations

import errno
import itertools
import logging
import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from pydicom.dataset import Dataset
from pynetdicom import AE, ALL_TRANSFER_SYNTAXES, AllStoragePresentationContexts, evt
from pynetdicom.sop_class import Verification
from pynetdicom.transport import ThreadedAssociationServer

from viewer.net.errors import PortInUse
from viewer.net.nodes import LocalSettings
from viewer.net.sink import InstanceSink, handle_store

log = logging.getLogger(__name__)

_route_ids = itertools.count(1)


@dataclass
class Route:
    """Instances of one C-MOVE: where they go and which arrived."""

    msg_id: int
    study_uid: str
    series_uid: str | None
    sop_uids: frozenset[str] | None
    sink: InstanceSink
    received: list[str] = field(default_factory=list)

    def wants(self, originator_msg_id: int | None, ds: Dataset) -> bool:
        """Whether a received instance belongs to this move.

        The UIDs must be among those asked for; when the peer sent a Move Originator Message
        ID it must be ours. The Move Originator AE Title is not compared: pynetdicom-based
        peers put their own AE title there instead of ours.
        """
        if originator_msg_id is not None and originator_msg_id != self.msg_id:
            return False
        if str(ds.get("StudyInstanceUID", "")) != self.study_uid:
            return False
        if self.series_uid and str(ds.get("SeriesInstanceUID", "")) != self.series_uid:
            return False
        return not self.sop_uids or str(ds.get("SOPInstanceUID", "")) in self.sop_uids


class StorageSCP:
    """A C-STORE receiver on ``local.port`` under ``local.ae_title``.

    ``start()`` raises :class:`~viewer.net.errors.PortInUse` with advice when the port is
    taken. Calling AE titles outside ``local.accept_aets`` (when non-empty) are rejected
    during association negotiation. TLS comes from ``local.tls_cert``/``tls_key`` (or an
    explicit server-side ``ssl_context``).
    """

    def __init__(
        self,
        local: LocalSettings,
        sink: InstanceSink,
        *,
        bind_host: str | None = None,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self.local = local
        self.sink = sink
        self.bind_host = local.bind_host if bind_host is None else bind_host
        self.ssl_context = ssl_context if ssl_context is not None else local.server_ssl_context()
        self.received = 0
        self._routes: list[Route] = []
        self._lock = threading.Lock()
        self._server: ThreadedAssociationServer | None = None

    @property
    def ae_title(self) -> str:
        return self.local.ae_title

    @property
    def port(self) -> int:
        if self._server is not None:
            return int(self._server.server_address[1])
        return self.local.port

    @property
    def running(self) -> bool:
        return self._server is not None

    def start(self) -> None:
        if self._server is not None:
            return
        ae = AE(ae_title=self.local.ae_title)
        ae.maximum_pdu_size = self.local.max_pdu
        ae.dimse_timeout = 120
        ae.network_timeout = 300
        ae.maximum_associations = 16
        for cx in AllStoragePresentationContexts:
            ae.add_supported_context(cx.abstract_syntax, ALL_TRANSFER_SYNTAXES)
        ae.add_supported_context(Verification)
        if self.local.accept_aets:
            ae.require_calling_aet = list(self.local.accept_aets)
        handlers = [(evt.EVT_C_STORE, self._on_store), (evt.EVT_C_ECHO, lambda _e: 0x0000)]
        try:
            self._server = ae.start_server(
                (self.bind_host, self.local.port),
                block=False,
                ssl_context=self.ssl_context,
                evt_handlers=handlers,
            )
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise PortInUse(self.local.port, "address already in use") from exc
            if exc.errno == errno.EACCES:
                raise PortInUse(self.local.port, "permission denied (ports below 1024 need privileges)") from exc
            raise PortInUse(self.local.port, exc.strerror or str(exc)) from exc
        log.info("storage SCP %s listening on %s:%d", self.local.ae_title, self.bind_host or "*", self.port)

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()
            log.info("storage SCP %s stopped", self.local.ae_title)

    def __enter__(self) -> StorageSCP:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @contextmanager
    def route(
        self,
        study_uid: str,
        series_uid: str | None = None,
        sop_uids: frozenset[str] | None = None,
        sink: InstanceSink | None = None,
        msg_id: int | None = None,
    ) -> Iterator[Route]:
        """Send the instances of one C-MOVE (``msg_id``) to ``sink`` and record them."""
        r = Route(msg_id or next_message_id(), study_uid, series_uid, sop_uids, sink or self.sink)
        with self._lock:
            self._routes.append(r)
        try:
            yield r
        finally:
            with self._lock:
                self._routes.remove(r)

    def _on_store(self, event: Any) -> int:
        req = event.request
        originator = req.MoveOriginatorMessageID
        chosen: list[Route] = []

        def deliver(ds: Dataset) -> None:
            with self._lock:
                for r in self._routes:
                    if r.wants(originator, ds):
                        chosen.append(r)
                        break
            (chosen[0].sink if chosen else self.sink)(ds)

        code = handle_store(event, deliver)
        if code == 0:
            with self._lock:
                self.received += 1
                if chosen:
                    chosen[0].received.append(str(req.AffectedSOPInstanceUID))
        return code


def next_message_id() -> int:
    """A message ID unique among this process's moves (PS3.7 9.1.1: 16 bits, non-zero)."""
    return next(_route_ids) % 0xFFFF + 1
