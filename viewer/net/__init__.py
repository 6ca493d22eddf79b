"""DICOM networking: remote nodes, DIMSE services over pynetdicom and DICOMweb.

Verification (C-ECHO), query (C-FIND), retrieve (C-MOVE, C-GET), send (C-STORE), the local
storage SCP, and QIDO-RS / WADO-RS / STOW-RS. Calls block and are meant for worker threads;
they take cancel tokens and report progress. Depends on ``viewer.core`` only: no Qt, no VTK.

Everything a caller needs is importable from here::

    from viewer.net import RemoteNode, LocalSettings, echo, find, retrieve, send, StorageSCP

The functions ``echo``, ``find``, ``retrieve`` and ``send`` share their modules' names, so
``viewer.net.retrieve`` as an attribute is the function: reach module internals (and patch
them) with ``from viewer.net.retrieve import ...`` or ``sys.modules``, not attribute access.
"""

import logging

from viewer.net.dicomweb import ping, qido, stow, wado
from viewer.net.echo import echo
from viewer.net.errors import (
    AssociationAborted,
    AssociationRejected,
    ConfigError,
    ConnectFailed,
    ConnectionRefused,
    ConnectTimeout,
    DicomWebError,
    HostNotFound,
    PeerTimeout,
    PortInUse,
    ServiceNotSupported,
    StatusError,
    TlsFailed,
)
from viewer.net.find import FindQuery, find, find_all
from viewer.net.nodes import DicomWebNode, LocalSettings, NetConfig, RemoteNode, load_config, save_config
from viewer.net.retrieve import RetrieveReport, missing_instances, retrieve
from viewer.net.send import SendReport, send
from viewer.net.sink import FolderSink, InstanceSink
from viewer.net.storescp import StorageSCP

logging.getLogger(__name__).addHandler(logging.NullHandler())

__all__ = [
    "AssociationAborted",
    "AssociationRejected",
    "ConfigError",
    "ConnectFailed",
    "ConnectTimeout",
    "ConnectionRefused",
    "DicomWebError",
    "DicomWebNode",
    "FindQuery",
    "FolderSink",
    "HostNotFound",
    "InstanceSink",
    "LocalSettings",
    "NetConfig",
    "PeerTimeout",
    "PortInUse",
    "RemoteNode",
    "RetrieveReport",
    "SendReport",
    "ServiceNotSupported",
    "StatusError",
    "StorageSCP",
    "TlsFailed",
    "echo",
    "find",
    "find_all",
    "load_config",
    "missing_instances",
    "ping",
    "qido",
    "retrieve",
    "save_config",
    "send",
    "stow",
    "wado",
]
