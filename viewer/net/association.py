"""Opening associations and turning pynetdicom's silent failures into specific errors.

pynetdicom reports a failed association as a flag on an unstarted thread and a lost
association mid-operation as an empty status ``Dataset``; the reason only reaches its log.
Here we watch the association's events (connection opened, A-ABORT / A-P-ABORT received)
and, when the TCP connection never opened, redo the connect once ourselves to learn why
(refused, timed out, unknown host, TLS). Every SCU service goes through :func:`associate`.
"""

from __future__ import annotations

import logging
import socket
import ssl
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from pynetdicom import AE, _config, evt
from pynetdicom.association import Association
from pynetdicom.presentation import PresentationContext

from viewer.net.errors import (
    AssociationAborted,
    AssociationRejected,
    ConnectFailed,
    ConnectionRefused,
    ConnectTimeout,
    HostNotFound,
    PeerTimeout,
    ServiceNotSupported,
    TlsFailed,
    describe_abort,
)
from viewer.net.nodes import RemoteNode

log = logging.getLogger(__name__)

# pynetdicom logs every C-FIND/C-GET/C-MOVE identifier (patient names and IDs) at INFO by
# default; patient data must not reach logs at INFO.
_config.LOG_REQUEST_IDENTIFIERS = False
_config.LOG_RESPONSE_IDENTIFIERS = False

DEFAULT_CALLING_AET = "LIGHTBOX"


class Watch:
    """Records what pynetdicom saw on one association (set from its reactor thread)."""

    def __init__(self) -> None:
        self.connected = False
        self.abort: Any = None  # the A_ABORT / A_P_ABORT primitive received, if any

    def handlers(self) -> list[tuple[Any, Any]]:
        return [(evt.EVT_CONN_OPEN, self._on_open), (evt.EVT_ACSE_RECV, self._on_acse)]

    def _on_open(self, _event: evt.Event) -> None:
        self.connected = True

    def _on_acse(self, event: evt.Event) -> None:
        primitive = event.primitive
        if type(primitive).__name__ in ("A_ABORT", "A_P_ABORT") and self.abort is None:
            self.abort = primitive


def make_ae(node: RemoteNode, calling_aet: str) -> AE:
    """An AE with the node's timeouts (seconds) and maximum PDU (PS3.8 D.1)."""
    ae = AE(ae_title=calling_aet)
    ae.connection_timeout = node.connect_timeout
    ae.acse_timeout = node.acse_timeout if node.acse_timeout is not None else 3600
    ae.dimse_timeout = node.dimse_timeout
    ae.network_timeout = node.network_timeout
    ae.maximum_pdu_size = node.max_pdu
    return ae


def _diagnose_connect(node: RemoteNode) -> ConnectFailed:
    """Connect again with plain sockets to learn why pynetdicom could not (it only logs it)."""
    peer = node.label
    timeout = node.connect_timeout or 10.0
    try:
        sock = socket.create_connection((node.host, node.port), timeout=timeout)
    except socket.gaierror as exc:
        return HostNotFound(peer, f"host {node.host!r} not found ({exc.strerror})")
    except ConnectionRefusedError:
        return ConnectionRefused(
            peer,
            f"connection refused — nothing listens on {node.host}:{node.port} (server down or wrong port)",
        )
    except TimeoutError:
        return ConnectTimeout(peer, f"no TCP connection within {timeout:g} s — host down, wrong address or a firewall")
    except OSError as exc:
        return ConnectFailed(peer, exc.strerror or str(exc))
    with sock:
        ctx = node.ssl_context()
        if ctx is None:
            return ConnectFailed(peer, "the connection failed once and worked on retry (flaky network?)")
        try:
            with ctx.wrap_socket(sock, server_hostname=node.host):
                pass
        except ssl.SSLCertVerificationError as exc:
            return TlsFailed(peer, f"TLS certificate not trusted: {exc.verify_message} (check the CA bundle)")
        except (ssl.SSLError, OSError) as exc:
            return TlsFailed(peer, f"TLS handshake failed: {exc} (is TLS enabled at the peer?)")
    return ConnectFailed(peer, "TLS connection failed once and worked on retry")


def _raise_for_failed(assoc: Association, watch: Watch, node: RemoteNode, service: str) -> None:
    peer = node.label
    if not watch.connected:
        raise _diagnose_connect(node)
    if assoc.is_rejected:
        rj = assoc.acceptor.primitive
        raise AssociationRejected(peer, int(rj.result), int(rj.result_source), int(rj.diagnostic))
    if watch.abort is not None:
        detail = describe_abort(watch.abort)
        if not node.tls:
            detail += " (if the peer requires TLS, enable it for this node)"
        elif not node.tls_cert:
            detail += " (if the peer requires a client certificate, set one for this node)"
        raise AssociationAborted(peer, "association negotiation", detail)
    ac = assoc.acceptor.primitive
    if ac is not None and getattr(ac, "result", None) == 0:
        raise ServiceNotSupported(peer, service)
    raise PeerTimeout(peer, "the association request", node.acse_timeout)


def raise_lost(assoc: Association, watch: Watch, node: RemoteNode, during: str) -> None:
    """Raise why an operation ended without a status (pynetdicom yields an empty ``Dataset``)."""
    if watch.abort is not None:
        raise AssociationAborted(node.label, during, describe_abort(watch.abort))
    if assoc.is_aborted or getattr(assoc, "_sent_abort", False):
        raise PeerTimeout(node.label, during, node.dimse_timeout)
    raise AssociationAborted(node.label, during, "the association ended without a response")


@contextmanager
def associate(
    node: RemoteNode,
    contexts: Sequence[PresentationContext],
    *,
    service: str,
    calling_aet: str = DEFAULT_CALLING_AET,
    ext_neg: list[Any] | None = None,
    evt_handlers: list[tuple[Any, ...]] | None = None,
) -> Iterator[tuple[Association, Watch]]:
    """Open an association to ``node`` proposing ``contexts``; release it afterwards.

    Raises a specific :class:`~viewer.core.errors.NetError` subclass when it cannot be
    established. On an exception inside the block the association is aborted instead of
    released (a half-finished C-GET must not look like a clean end to the peer).
    ``service`` names the operation for the error when no context was accepted.
    """
    ae = make_ae(node, calling_aet)
    watch = Watch()
    ctx = node.ssl_context()
    tls_args = (ctx, node.host) if ctx is not None else None
    try:
        assoc = ae.associate(
            node.host,
            node.port,
            contexts=list(contexts),
            ae_title=node.aet,
            max_pdu=node.max_pdu,
            ext_neg=ext_neg,
            tls_args=tls_args,
            evt_handlers=[*watch.handlers(), *(evt_handlers or [])],
        )
    except socket.gaierror as exc:  # pynetdicom resolves the name before connecting
        raise HostNotFound(node.label, f"host {node.host!r} not found ({exc.strerror})") from exc
    if not assoc.is_established:
        _raise_for_failed(assoc, watch, node, service)
    log.debug("association established with %s", node.label)
    try:
        yield assoc, watch
    except BaseException:
        if assoc.is_established:
            assoc.abort()
        raise
    else:
        if assoc.is_established:
            assoc.release()
