"""Network failures, one type per thing a user can do something about.

A bare "association failed" sends the user to the log; these say *which* step failed and
what the peer said, so the message alone points at the fix: start the server or check the
port (refused), check routing or firewalls (connect timeout), register our AE title at the
peer (rejected, with the PS3.8 9.3.4 result/source/reason), look at the peer's log (aborted),
or raise a timeout (no answer).
"""

from __future__ import annotations

from viewer.core.errors import NetError


class ConnectFailed(NetError):
    """No TCP (or TLS) connection to the peer; nothing DICOM happened yet."""

    def __init__(self, peer: str, reason: str) -> None:
        self.peer = peer
        self.reason = reason
        super().__init__(f"{peer}: cannot connect: {reason}")


class ConnectionRefused(ConnectFailed):
    """Nothing listens on that host and port (wrong port, server not running)."""


class ConnectTimeout(ConnectFailed):
    """The TCP connection did not complete in time (host down, firewall dropping packets)."""


class HostNotFound(ConnectFailed):
    """The host name does not resolve."""


class TlsFailed(ConnectFailed):
    """TCP connected but the TLS handshake failed (certificate, CA bundle, TLS on/off mismatch)."""


# PS3.8 Table 9-21: A-ASSOCIATE-RJ result, source and reason/diagnostic values.
_RJ_RESULT = {1: "rejected-permanent", 2: "rejected-transient"}
_RJ_SOURCE = {1: "service-user", 2: "service-provider (ACSE)", 3: "service-provider (presentation)"}
_RJ_REASON = {
    (1, 1): "no reason given",
    (1, 2): "application context name not supported",
    (1, 3): "calling AE title not recognized",
    (1, 7): "called AE title not recognized",
    (2, 1): "no reason given",
    (2, 2): "protocol version not supported",
    (3, 1): "temporary congestion",
    (3, 2): "local limit exceeded",
}
_RJ_HINT = {
    (1, 3): "ask the peer's administrator to register our AE title",
    (1, 7): "check the node's AE title",
    (3, 1): "try again later",
    (3, 2): "the peer has too many associations; try again later",
}


class AssociationRejected(NetError):
    """The peer answered A-ASSOCIATE-RJ (PS3.8 9.3.4); ``result``/``source``/``reason`` are its codes."""

    def __init__(self, peer: str, result: int, source: int, reason: int) -> None:
        self.peer = peer
        self.result, self.source, self.reason = result, source, reason
        why = _RJ_REASON.get((source, reason), f"reason {reason}")
        hint = _RJ_HINT.get((source, reason))
        super().__init__(
            f"{peer}: association rejected ({_RJ_RESULT.get(result, result)}) by "
            f"{_RJ_SOURCE.get(source, source)}: {why}" + (f" — {hint}" if hint else "")
        )


# PS3.8 Table 9-26: A-ABORT source and A-P-ABORT provider reasons.
_ABORT_REASON = {
    0: "reason not specified",
    1: "unrecognized PDU",
    2: "unexpected PDU",
    4: "unrecognized PDU parameter",
    5: "unexpected PDU parameter",
    6: "invalid PDU parameter value",
}


class AssociationAborted(NetError):
    """The association ended abnormally: A-ABORT from the peer or the connection dropped.

    ``during`` says what was going on (negotiation, C-FIND, C-GET, ...).
    """

    def __init__(self, peer: str, during: str, detail: str) -> None:
        self.peer = peer
        self.during = during
        self.detail = detail
        super().__init__(f"{peer}: association aborted during {during}: {detail}")


def describe_abort(primitive: object) -> str:
    """Human text for a received A-ABORT / A-P-ABORT primitive (PS3.8 9.3.8)."""
    name = type(primitive).__name__
    if name == "A_ABORT":
        source = getattr(primitive, "abort_source", None)
        if source == 0:
            return "the peer (DICOM service user) sent A-ABORT — see the peer's log"
        reason = getattr(primitive, "provider_reason", None)
        return f"A-ABORT from the peer's DICOM service provider ({_ABORT_REASON.get(reason, reason)})"
    if name == "A_P_ABORT":
        reason = getattr(primitive, "provider_reason", None)
        if reason in (None, 0):
            return "the connection was closed by the peer or the network"
        return f"protocol error ({_ABORT_REASON.get(reason, reason)})"
    return "the connection was closed by the peer or the network"


class PeerTimeout(NetError):
    """The peer accepted the connection but did not answer within the configured timeout."""

    def __init__(self, peer: str, waiting_for: str, seconds: float | None) -> None:
        self.peer = peer
        self.waiting_for = waiting_for
        self.seconds = seconds
        limit = f" within {seconds:g} s" if seconds else ""
        super().__init__(f"{peer}: no answer to {waiting_for}{limit}; the peer may be overloaded or hung")


class ServiceNotSupported(NetError):
    """The association was accepted but the peer refused the presentation context we need."""

    def __init__(self, peer: str, service: str) -> None:
        self.peer = peer
        self.service = service
        super().__init__(f"{peer}: the peer does not support {service}")


class StatusError(NetError):
    """The peer answered with a DIMSE failure status (PS3.7 C / PS3.4 status tables)."""

    def __init__(self, peer: str, operation: str, status: int, meaning: str, comment: str = "") -> None:
        self.peer = peer
        self.operation = operation
        self.status = status
        self.meaning = meaning
        self.comment = comment
        extra = f" ({comment})" if comment else ""
        super().__init__(f"{peer}: {operation} failed with status 0x{status:04X}: {meaning}{extra}")


class PortInUse(NetError):
    """Our storage SCP could not listen on its port."""

    def __init__(self, port: int, reason: str) -> None:
        self.port = port
        super().__init__(
            f"cannot listen on port {port}: {reason} — another program (another Lightbox, storescp, ...) "
            f"may be using it; choose another port with 'lightbox config local --port N'"
        )


class DicomWebError(NetError):
    """A DICOMweb request failed (HTTP status or transport error)."""

    def __init__(self, url: str, reason: str, http_status: int | None = None, body: bytes = b"") -> None:
        self.url = url
        self.http_status = http_status
        self.reason = reason
        self.body = body  # the server's answer, e.g. a STOW-RS failure list with HTTP 409
        code = f"HTTP {http_status}: " if http_status else ""
        super().__init__(f"{url}: {code}{reason}")


class ConfigError(NetError):
    """The node configuration is invalid or names an unknown node."""
