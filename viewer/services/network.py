"""Retrieve from a PACS into the local cache, and send cached studies to a PACS."""

from __future__ import annotations

import threading
from collections.abc import Callable

from pydicom.dataset import Dataset

from viewer.core.tasks import CancelToken, ProgressCallback
from viewer.net.nodes import LocalSettings, RemoteNode
from viewer.net.retrieve import RetrieveReport, retrieve
from viewer.net.send import SendReport, send
from viewer.net.storescp import StorageSCP
from viewer.store import Store


class CacheSink:
    """An instance sink that adds each received dataset to the cache and says which study grew.

    ``on_added(study_uid)`` lets the GUI refresh its browser while a retrieve runs; it is called
    on the receiving thread, so it must only post to the GUI (a queued signal), never touch it.
    """

    def __init__(self, store: Store, source: str, on_added: Callable[[str], None] | None = None) -> None:
        self.store, self.source, self.on_added = store, source, on_added
        self.outcomes: dict[str, int] = {}
        self._lock = threading.Lock()

    def __call__(self, ds: Dataset) -> None:
        outcome = self.store.add_dataset(ds, source=self.source)
        with self._lock:
            self.outcomes[outcome] = self.outcomes.get(outcome, 0) + 1
        if self.on_added is not None:
            self.on_added(str(ds.get("StudyInstanceUID", "")))


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
    sink = CacheSink(store, node.name, on_added)
    return retrieve(node, study_uid, series_uid, method=method or node.retrieve, sink=sink,  # type: ignore[arg-type]
                    progress=progress, cancel=cancel, local=local, scp=scp)


def send_from_cache(
    store: Store,
    node: RemoteNode,
    study_uid: str,
    series_uid: str | None = None,
    *,
    local: LocalSettings | None = None,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> SendReport:
    """C-STORE a cached study (or one series) to ``node``."""
    rows = store.instances(series_uid) if series_uid else store.study_instances(study_uid)
    return send(node, [r.path for r in rows], progress=progress, cancel=cancel, local=local)
