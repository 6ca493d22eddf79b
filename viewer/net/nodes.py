"""Remote DICOM nodes, DICOMweb nodes and our own AE settings, persisted in the Lightbox home.

One JSON file (``nodes.json``) keeps everything so the settings dialog and the CLI edit the
same thing. Secrets (DICOMweb password/token) never appear in ``repr`` or logs; the file is
written with mode 0600 and atomically (temp file + ``os.replace``) so a crash never leaves
half a configuration.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import ssl
import tempfile
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, Literal

from viewer.net.errors import ConfigError

CONFIG_NAME = "nodes.json"
SCHEMA_VERSION = 1

RetrieveMethod = Literal["move", "get"]

# PS3.5 6.2: AE is at most 16 characters, no backslash or control characters; leading and
# trailing spaces are not significant.
_AET = re.compile(r"^[\x20-\x5b\x5d-\x7e]{1,16}$")


def validate_aet(aet: str) -> str:
    """Return ``aet`` stripped, or raise :class:`ConfigError` saying what is wrong (PS3.5 6.2)."""
    value = aet.strip()
    if not value or not _AET.match(value):
        raise ConfigError(f"invalid AE title {aet!r}: 1-16 printable characters, no backslash")
    return value


def _validate_port(port: int) -> int:
    if not 0 < int(port) < 65536:
        raise ConfigError(f"invalid port {port}: must be 1-65535")
    return int(port)


@dataclass
class RemoteNode:
    """A DIMSE peer (PACS, modality, workstation).

    ``retrieve`` picks C-MOVE (the peer connects back to our storage SCP; it must know our AE
    title, host and port) or C-GET (instances come back on the same association: no inbound
    port, works through NAT and firewalls). Timeouts are seconds; ``None`` waits forever.
    """

    name: str
    aet: str
    host: str
    port: int
    retrieve: RetrieveMethod = "move"
    tls: bool = False
    tls_ca: str | None = None  # CA bundle to verify the peer; None = system store
    tls_cert: str | None = None  # our client certificate (PEM), if the peer wants one
    tls_key: str | None = None
    tls_check_hostname: bool = True
    max_pdu: int = 0  # 0 = unlimited (PS3.8 D.1: maximum length we receive)
    connect_timeout: float | None = 10.0
    acse_timeout: float | None = 30.0
    dimse_timeout: float | None = 60.0
    network_timeout: float | None = 120.0

    def __post_init__(self) -> None:
        if not self.name.strip():
            raise ConfigError("a node needs a name")
        self.aet = validate_aet(self.aet)
        self.port = _validate_port(self.port)
        if self.retrieve not in ("move", "get"):
            raise ConfigError(f"node {self.name}: retrieve method must be 'move' or 'get', not {self.retrieve!r}")
        if bool(self.tls_cert) != bool(self.tls_key):
            raise ConfigError(f"node {self.name}: a TLS client certificate needs its key (and vice versa)")

    @property
    def label(self) -> str:
        """How error messages name the peer: ``NAME (AET@host:port)``."""
        return f"{self.name} ({self.aet}@{self.host}:{self.port}{', TLS' if self.tls else ''})"

    def ssl_context(self) -> ssl.SSLContext | None:
        """The client-side TLS context (PS3.15 B.1 secure transport), or ``None`` without TLS."""
        if not self.tls:
            return None
        try:
            ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=self.tls_ca)
            ctx.check_hostname = self.tls_check_hostname
            if self.tls_cert:
                ctx.load_cert_chain(self.tls_cert, self.tls_key)
        except (OSError, ssl.SSLError) as exc:
            raise ConfigError(f"node {self.name}: cannot load TLS files: {exc}") from exc
        return ctx


@dataclass
class DicomWebNode:
    """A DICOMweb service (PS3.18): ``url`` is the service root, e.g. ``http://host/dicom-web``.

    ``username``/``password`` give HTTP Basic auth, ``token`` a Bearer token; both are kept
    out of ``repr`` so they never reach a log line.
    """

    name: str
    url: str
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    token: str | None = field(default=None, repr=False)
    ca_file: str | None = None
    timeout: float = 60.0

    def __post_init__(self) -> None:
        if not self.name.strip():
            raise ConfigError("a node needs a name")
        if not self.url.startswith(("http://", "https://")):
            raise ConfigError(f"DICOMweb node {self.name}: URL must start with http:// or https://")
        self.url = self.url.rstrip("/")

    @property
    def label(self) -> str:
        return f"{self.name} ({self.url})"


@dataclass
class LocalSettings:
    """Our own AE: title, storage SCP port and bind address, and who may push to us.

    ``accept_aets`` empty means any calling AE may store; otherwise others are rejected with
    "calling AE title not recognized" (PS3.8 9.3.4). ``bind_host`` "" listens on every
    interface, as modalities pushing to us need; tests bind 127.0.0.1.
    """

    ae_title: str = "LIGHTBOX"
    port: int = 11112
    bind_host: str = ""
    accept_aets: list[str] = field(default_factory=list)
    max_pdu: int = 0
    tls_cert: str | None = None  # with tls_key: the storage SCP speaks TLS only (PS3.15 B.1)
    tls_key: str | None = None
    tls_client_ca: str | None = None  # if set, callers must present a certificate from this CA

    def __post_init__(self) -> None:
        self.ae_title = validate_aet(self.ae_title)
        self.port = _validate_port(self.port)
        self.accept_aets = [validate_aet(a) for a in self.accept_aets]
        if bool(self.tls_cert) != bool(self.tls_key):
            raise ConfigError("local AE: a TLS certificate needs its key (and vice versa)")
        if self.tls_client_ca and not self.tls_cert:
            raise ConfigError("local AE: requiring client certificates needs TLS (a certificate and key)")

    def server_ssl_context(self) -> ssl.SSLContext | None:
        """The storage SCP's TLS context, or ``None`` when it listens without TLS."""
        if not self.tls_cert:
            return None
        try:
            ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            ctx.load_cert_chain(self.tls_cert, self.tls_key)
            if self.tls_client_ca:
                ctx.verify_mode = ssl.CERT_REQUIRED
                ctx.load_verify_locations(self.tls_client_ca)
        except (OSError, ssl.SSLError) as exc:
            raise ConfigError(f"local AE: cannot load TLS files: {exc}") from exc
        return ctx


@dataclass
class NetConfig:
    """Everything in ``nodes.json``."""

    local: LocalSettings = field(default_factory=LocalSettings)
    nodes: dict[str, RemoteNode] = field(default_factory=dict)
    dicomweb: dict[str, DicomWebNode] = field(default_factory=dict)

    def node(self, name: str) -> RemoteNode | DicomWebNode:
        """The node called ``name`` (DIMSE first), or a :class:`ConfigError` listing the known ones."""
        if name in self.nodes:
            return self.nodes[name]
        if name in self.dicomweb:
            return self.dicomweb[name]
        known = ", ".join(sorted([*self.nodes, *self.dicomweb])) or "none configured"
        raise ConfigError(f"unknown node {name!r} (known: {known}); add one with 'lightbox node add'")

    def add(self, node: RemoteNode | DicomWebNode) -> None:
        """Add or replace a node; a name is unique across DIMSE and DICOMweb nodes."""
        self.nodes.pop(node.name, None)
        self.dicomweb.pop(node.name, None)
        if isinstance(node, RemoteNode):
            self.nodes[node.name] = node
        else:
            self.dicomweb[node.name] = node

    def remove(self, name: str) -> None:
        self.node(name)  # raises for an unknown name
        self.nodes.pop(name, None)
        self.dicomweb.pop(name, None)


def config_path(home: str | os.PathLike[str]) -> Path:
    return Path(home) / CONFIG_NAME


def _build(cls: type, data: dict[str, Any], where: str) -> Any:
    known = {f.name for f in fields(cls)}
    unknown = set(data) - known
    if unknown:
        raise ConfigError(f"{where}: unknown settings {sorted(unknown)}")
    try:
        return cls(**data)
    except TypeError as exc:
        raise ConfigError(f"{where}: {exc}") from exc


def load_config(home: str | os.PathLike[str]) -> NetConfig:
    """Read ``HOME/nodes.json``; a missing file is the default configuration."""
    path = config_path(home)
    if not path.exists():
        return NetConfig()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{path}: cannot read node configuration: {exc}") from exc
    if data.get("version", 1) > SCHEMA_VERSION:
        raise ConfigError(f"{path}: written by a newer Lightbox (version {data['version']})")
    cfg = NetConfig(local=_build(LocalSettings, data.get("local", {}), f"{path}: local"))
    for item in data.get("nodes", []):
        cfg.add(_build(RemoteNode, item, f"{path}: node {item.get('name')!r}"))
    for item in data.get("dicomweb", []):
        cfg.add(_build(DicomWebNode, item, f"{path}: DICOMweb node {item.get('name')!r}"))
    return cfg


def save_config(home: str | os.PathLike[str], cfg: NetConfig) -> Path:
    """Write ``HOME/nodes.json`` atomically with owner-only permissions (it may hold secrets)."""
    path = config_path(home)
    path.parent.mkdir(parents=True, exist_ok=True)
    data = {
        "version": SCHEMA_VERSION,
        "local": asdict(cfg.local),
        "nodes": [asdict(n) for n in cfg.nodes.values()],
        "dicomweb": [asdict(n) for n in cfg.dicomweb.values()],
    }
    fd, tmp = tempfile.mkstemp(prefix=".nodes-", suffix=".json", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(data, f, indent=2)
            f.write("\n")
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return path
