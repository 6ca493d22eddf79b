"""Retrieve from a PACS (DIMSE or DICOMweb) into the local cache, and send cached studies to one."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable
from typing import Any

from pydicom.dataset import Dataset

from viewer.core.errors import NetError, StoreError
from viewer.core.tasks import CancelToken, ProgressCallback
from viewer.net import dicomweb
from viewer.net.echo import echo
from viewer.net.find import FindQuery, find_all
from viewer.net.nodes import DicomWebNode, LocalSettings, RemoteNode
from viewer.net.retrieve import RetrieveReport, retrieve
from viewer.net.send import SendReport, send
from viewer.net.sink import part10_bytes
from viewer.net.storescp import StorageSCP
from viewer.store import Store


class CacheSink:
    """An instance sink that puts each received instance into the cache and says which study grew.

    The instance goes in as the bytes the peer sent (:func:`~viewer.net.sink.part10_bytes`,
    nothing re-encoded) through a :class:`~viewer.store.store.Receiver`: the file is complete
    on disk when the call returns (so the C-STORE handler may answer success, PS3.4 B.2.3, and
    answers a failure status when it raises), and the index is committed in batches.
    :meth:`flush` (or :meth:`close`) waits for the index; call it when a retrieve ends.

    ``on_added(study_uid)`` lets the GUI refresh its browser while a retrieve runs; it is called
    on the store's committer thread after each indexed batch, so it must only post to the GUI
    (a queued signal), never touch it.
    """

    def __init__(self, store: Store, source: str, on_added: Callable[[str], None] | None = None) -> None:
        self.store, self.source, self.on_added = store, source, on_added
        self.outcomes: dict[str, int] = {}
        self._lock = threading.Lock()
        self.receiver = store.receiver(source, on_indexed=self._indexed)

    def __call__(self, ds: Dataset) -> None:
        outcome = self.receiver.add_part10(part10_bytes(ds))
        with self._lock:
            self.outcomes[outcome] = self.outcomes.get(outcome, 0) + 1

    def _indexed(self, study_uids: list[str]) -> None:
        if self.on_added is not None:
            for uid in study_uids:
                self.on_added(uid)

    def flush(self) -> None:
        """Wait until every instance received so far is indexed (raises StoreError if one batch failed)."""
        self.receiver.flush()

    close = flush


def retrieve_to_cache(
    store: Store,
    node: RemoteNode,
    study_uid: str,
    series_uid: str | None = None,
    *,
    method: str | None = None,
    local: LocalSettings | None = None,
    scp: StorageSCP | None = None,
    on_added: Callable[[str], None] | None = None,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> RetrieveReport:
    """C-GET or C-MOVE a study (or one series) from ``node`` straight into ``store``.

    With a running ``scp`` (the app's storage SCP) a C-MOVE routes its instances to this
    cache sink; without one, the retrieve starts an SCP on ``local.port`` for its duration.
    """
    return _into_cache(store, node.name, on_added, lambda sink: retrieve(
        node, study_uid, series_uid, method=method or node.retrieve,  # type: ignore[arg-type]
        sink=sink, progress=progress, cancel=cancel, local=local, scp=scp))


def wado_to_cache(
    store: Store,
    node: DicomWebNode,
    study_uid: str,
    series_uid: str | None = None,
    *,
    on_added: Callable[[str], None] | None = None,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> RetrieveReport:
    """WADO-RS a study (or one series) from a DICOMweb ``node`` straight into ``store``.

    Each part is stored as the server sent it (no re-encoding) and indexed in batches, like a
    C-GET; instances already received stay cached when the transfer fails or is cancelled.
    """
    return _into_cache(store, node.name, on_added, lambda sink: dicomweb.wado(
        node, study_uid, series_uid, sink=sink, progress=progress, cancel=cancel))


def verify_node(node: RemoteNode | DicomWebNode, local: LocalSettings | None = None) -> float:
    """Round-trip seconds of C-ECHO to a DIMSE node, or of a minimal QIDO-RS to a DICOMweb one."""
    return dicomweb.ping(node) if isinstance(node, DicomWebNode) else echo(node, local)


def find_any(
    node: RemoteNode | DicomWebNode,
    level: str,
    query: FindQuery | None = None,
    *,
    local: LocalSettings | None = None,
    cancel: CancelToken | None = None,
    limit: int | None = None,
) -> list[Dataset]:
    """C-FIND on a DIMSE node, QIDO-RS on a DICOMweb one; the same filters, the same answers."""
    if isinstance(node, DicomWebNode):
        return dicomweb.qido(node, level, query, limit=limit)
    return find_all(node, level, query, cancel=cancel, local=local, limit=limit)


def retrieve_any(
    store: Store,
    node: RemoteNode | DicomWebNode,
    study_uid: str,
    series_uid: str | None = None,
    **options: Any,
) -> RetrieveReport:
    """:func:`wado_to_cache` for a DICOMweb node, :func:`retrieve_to_cache` for a DIMSE one."""
    if isinstance(node, DicomWebNode):
        for dimse_only in ("method", "local", "scp"):
            options.pop(dimse_only, None)
        return wado_to_cache(store, node, study_uid, series_uid, **options)
    return retrieve_to_cache(store, node, study_uid, series_uid, **options)


def _into_cache(store: Store, source: str, on_added: Callable[[str], None] | None,
                transfer: Callable[[CacheSink], RetrieveReport]) -> RetrieveReport:
    """Run ``transfer`` into a cache sink and wait for the index; what arrived before a failure stays."""
    sink = CacheSink(store, source, on_added)
    try:
        report = transfer(sink)
    except BaseException:
        with contextlib.suppress(StoreError):
            sink.flush()
        raise
    try:
        sink.flush()
    except StoreError as exc:
        if report.error is None:
            report.error = NetError(f"received, but the cache could not index them: {exc}")
    return report


def send_from_cache(
    store: Store,
    node: RemoteNode | DicomWebNode,
    study_uid: str,
    series_uid: str | None = None,
    *,
    local: LocalSettings | None = None,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> SendReport:
    """Send a cached study (or one series): C-STORE to a DIMSE node, STOW-RS to a DICOMweb one."""
    rows = store.instances(series_uid) if series_uid else store.study_instances(study_uid)
    paths = [r.path for r in rows]
    if isinstance(node, DicomWebNode):
        return dicomweb.stow(node, paths, progress=progress, cancel=cancel)
    return send(node, paths, progress=progress, cancel=cancel, local=local)
