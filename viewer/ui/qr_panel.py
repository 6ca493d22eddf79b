"""The query/retrieve panel: pick a PACS node, verify it, search it, pull studies into the cache.

DIMSE nodes are verified with C-ECHO, searched with C-FIND and retrieved with C-GET/C-MOVE;
DICOMweb nodes with a minimal QIDO-RS search, QIDO-RS and WADO-RS (PS3.18), with the same
filters and the same result tree. Every network call runs on the worker pool (searches) or
as a job (retrieves), so the window stays responsive; retrieved instances go through the
cache sink and the study browser is refreshed while they arrive. Closing the window cancels
the retrieves still running and waits (bounded) for their associations to end.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

from pydicom.dataset import Dataset
from PySide6.QtCore import QEvent, QObject, Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from viewer.core.annotations import display_name
from viewer.core.errors import Cancelled, LightboxError
from viewer.core.tasks import CancelToken
from viewer.net.find import FindQuery
from viewer.net.nodes import DicomWebNode, LocalSettings, NetConfig, RemoteNode, load_config
from viewer.net.storescp import StorageSCP
from viewer.services.network import CacheSink, find_any, retrieve_any, verify_node
from viewer.store import Store
from viewer.ui.jobs import WorkerBridge
from viewer.ui.jobs_panel import Job, JobRunner
from viewer.ui.study_browser import MODALITIES, format_date

STUDY_COLUMNS = ("Patient", "Patient ID", "Study date", "Modalities", "Description", "Accession", "Series",
                 "Images")
UID_ROLE = Qt.ItemDataRole.UserRole + 2
LEVEL_ROLE = Qt.ItemDataRole.UserRole + 3
KIND_ROLE = Qt.ItemDataRole.UserRole + 4  # on node combo items: "dimse" or "dicomweb"
CLOSE_WAIT = 10.0  # seconds the window waits at close for cancelled retrieves (C-CANCEL grace is 5)


class _AddedRelay(QObject):
    added = Signal(str)


class QueryRetrievePanel(QWidget):
    """Searches a remote node and retrieves the selection into the local cache."""

    results_ready = Signal(int)  # number of studies found
    retrieve_finished = Signal(object)  # RetrieveReport (None on error)
    echo_finished = Signal(str)
    cache_changed = Signal(str)  # study UID that received instances (throttled)

    def __init__(self, store: Store, home: Path, workers: WorkerBridge, jobs: JobRunner,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.store, self.home, self.workers, self.jobs = store, Path(home), workers, jobs
        self._scp: StorageSCP | None = None
        self._scp_local: LocalSettings | None = None  # what the running (or failed) SCP was started with
        self._scp_wanted = False  # the SCP was started once: settings changes restart it
        self._scp_restart_pending = False  # a restart waits for the running retrieves
        self.scp_state = QLabel("Storage SCP: not started")
        self.scp_state.setWordWrap(True)
        self.scp_state.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.config = NetConfig()
        self.closed = False
        self._running: dict[CancelToken, threading.Event] = {}  # retrieves in flight -> finished
        self._running_lock = threading.Lock()
        self._watched: QObject | None = None
        self.node_combo = QComboBox()
        self.echo_button = QPushButton("Verify")
        self.echo_button.setToolTip("C-ECHO: check that the node answers")
        self.node_status = QLabel()
        self.patient_name = QLineEdit(placeholderText="e.g. DOE^J*")
        self.patient_id = QLineEdit()
        self.study_date = QLineEdit(placeholderText="YYYYMMDD or FROM-TO")
        self.modality = QComboBox()
        self.modality.addItems(["Any", *MODALITIES[1:]])
        self.accession = QLineEdit()
        self.description = QLineEdit()
        self.search_button = QPushButton("Search")
        self.search_button.setDefault(True)
        self.results = QTreeWidget()
        self.results.setHeaderLabels(STUDY_COLUMNS)
        self.results.setSortingEnabled(True)
        self.results.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.results.setAlternatingRowColors(True)
        self.method = QComboBox()
        self.method.addItems(["node default", "C-GET", "C-MOVE"])
        self.retrieve_button = QPushButton("Retrieve selected")
        self.message = QLabel()
        self.message.setWordWrap(True)

        top = QHBoxLayout()
        top.addWidget(QLabel("Node"))
        top.addWidget(self.node_combo, 1)
        top.addWidget(self.echo_button)
        top.addWidget(self.node_status, 2)
        form = QFormLayout()
        form.addRow("Patient name", self.patient_name)
        form.addRow("Patient ID", self.patient_id)
        form.addRow("Study date", self.study_date)
        form.addRow("Modality", self.modality)
        form.addRow("Accession", self.accession)
        form.addRow("Description", self.description)
        bottom = QHBoxLayout()
        bottom.addWidget(QLabel("Method"))
        bottom.addWidget(self.method)
        bottom.addStretch(1)
        bottom.addWidget(self.retrieve_button)
        layout = QVBoxLayout(self)
        layout.addWidget(self.scp_state)
        layout.addLayout(top)
        layout.addLayout(form)
        layout.addWidget(self.search_button)
        layout.addWidget(self.results, 1)
        layout.addLayout(bottom)
        layout.addWidget(self.message)

        self.echo_button.clicked.connect(self.verify)
        self.search_button.clicked.connect(self.search)
        for edit in (self.patient_name, self.patient_id, self.study_date, self.accession, self.description):
            edit.returnPressed.connect(self.search)
        self.retrieve_button.clicked.connect(self.retrieve_selected)
        self.results.itemExpanded.connect(self._expand_study)
        self.node_combo.currentIndexChanged.connect(self._node_changed)
        self._relay = _AddedRelay()
        self._relay.added.connect(self._instance_added)
        self._refresh_timer = QTimer(self, singleShot=True, interval=300)
        self._pending_study = ""
        self._refresh_timer.timeout.connect(lambda: self.cache_changed.emit(self._pending_study))
        self.reload_nodes()

    # --- lifetime ------------------------------------------------------------------------------
    def showEvent(self, event) -> None:
        self._watch_window()
        super().showEvent(event)

    def _watch_window(self) -> None:
        """Watch the top-level window: its close ends our retrieves (children get no closeEvent).

        Done when shown and when a retrieve starts (the panel may sit in a hidden dock).
        """
        top = self.window()
        if top is not self._watched and top is not self:
            if self._watched is not None:
                self._watched.removeEventFilter(self)
            top.installEventFilter(self)
            self._watched = top

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched is self._watched and event.type() == QEvent.Type.Close:
            self.shutdown()
        return False

    def shutdown(self, wait: float = CLOSE_WAIT) -> bool:
        """Cancel running retrieves and wait up to ``wait`` s for them; True when all ended.

        A cancelled C-GET/C-MOVE sends C-CANCEL and aborts the association if the peer does
        not answer within its grace period, so the wait is bounded; what arrived is indexed.
        Results that come back afterwards are ignored (the widgets may be gone).
        """
        self.closed = True
        with self._running_lock:
            running = list(self._running.items())
        for token, _done in running:
            token.cancel()
        deadline = time.monotonic() + wait
        return all(done.wait(max(0.0, deadline - time.monotonic())) for _token, done in running)

    @property
    def running_retrieves(self) -> int:
        with self._running_lock:
            return len(self._running)

    def _live(self, callback: Callable[[Any], None]) -> Callable[[Any], None]:
        """``callback`` unless the panel has shut down by the time the worker answers."""
        def call(value: Any) -> None:
            if not self.closed:
                callback(value)
        return call

    # --- storage SCP ---------------------------------------------------------------------------
    @property
    def scp(self) -> StorageSCP | None:
        """Our running storage SCP (C-MOVE destination, modality pushes), or None."""
        return self._scp

    @scp.setter
    def scp(self, scp: StorageSCP | None) -> None:
        self._scp = scp
        if scp is not None:
            self._scp_wanted, self._scp_local = True, scp.local
        self._show_scp_state("")

    def start_scp(self) -> str:
        """(Re)start the storage SCP with our AE settings; returns the state the panel now shows.

        A port that cannot be opened leaves the viewer usable (C-GET still works) and says
        what to do in the panel until the settings change.
        """
        self._scp_wanted, self._scp_restart_pending = True, False
        old, self._scp = self._scp, None
        if old is not None:
            old.stop()
        local = self.config.local
        self._scp_local = local
        scp = StorageSCP(local, CacheSink(self.store, "storage SCP", self._relay.added.emit))
        try:
            scp.start()
        except (LightboxError, OSError, ValueError) as exc:  # port taken, no permission, bad TLS files
            reason = getattr(exc.__cause__, "strerror", None) or str(exc)
            return self._show_scp_state(
                f"Storage SCP not running: cannot listen on port {local.port} as {local.ae_title} ({reason}). "
                "Choose another port in File → Settings → Network, or close the program that uses it; "
                "C-MOVE needs it, C-GET does not.")
        self.scp = scp
        return self.scp_state.text()

    def _show_scp_state(self, problem: str) -> str:
        if problem:
            text, color = problem, "#d04040"
        elif self._scp is not None:
            text, color = (f"Storage SCP: {self._scp.ae_title} listening on port {self._scp.port} "
                           "(C-MOVE destination, pushes from modalities)"), ""
        else:
            text, color = "Storage SCP: not started", ""
        if self._scp_restart_pending:
            text += " — new AE settings apply when the running retrieves end"
        self.scp_state.setText(text)
        self.scp_state.setStyleSheet(f"color: {color}" if color else "")
        return text

    def _apply_local_settings(self) -> None:
        """Restart the SCP when our AE settings changed (title, port, accepted callers, TLS...),
        or retry it when it had failed; a running retrieve finishes on the old one first."""
        if not self._scp_wanted or (self._scp is not None and self._scp_local == self.config.local):
            return
        if self.running_retrieves:
            self._scp_restart_pending = True
            self._show_scp_state("")
            return
        self.start_scp()

    # --- nodes ---------------------------------------------------------------------------------
    def reload_nodes(self) -> None:
        """Re-read ``nodes.json`` (after settings changed); our AE changes restart the storage SCP."""
        try:
            self.config = load_config(self.home)
        except Exception as exc:  # a broken config file must not break the window
            self.message.setText(str(exc))
            self.config = NetConfig()
        self._apply_local_settings()
        current = self.node_combo.currentText()
        self.node_combo.blockSignals(True)
        self.node_combo.clear()
        for name in sorted(self.config.nodes):
            node = self.config.nodes[name]
            self.node_combo.addItem(name, "dimse")
            self.node_combo.setItemData(self.node_combo.count() - 1, node.label, Qt.ItemDataRole.ToolTipRole)
        for name in sorted(self.config.dicomweb):
            self.node_combo.addItem(name, "dicomweb")
            self.node_combo.setItemData(self.node_combo.count() - 1, f"DICOMweb: {self.config.dicomweb[name].url}",
                                        Qt.ItemDataRole.ToolTipRole)
        if self.node_combo.findText(current) >= 0:
            self.node_combo.setCurrentText(current)
        self.node_combo.blockSignals(False)
        self._node_changed()
        has_nodes = bool(self.config.nodes or self.config.dicomweb)
        for w in (self.echo_button, self.search_button, self.retrieve_button):
            w.setEnabled(has_nodes)
        if not has_nodes:
            self.message.setText("No PACS nodes configured: add one in Settings or with 'lightbox node add'.")

    def node(self) -> RemoteNode | DicomWebNode:
        return self.config.node(self.node_combo.currentText())

    def _node_changed(self, *_: object) -> None:
        web = self.node_combo.currentData() == "dicomweb"
        self.method.setEnabled(not web)  # WADO-RS is the only retrieve a DICOMweb node has
        self.echo_button.setToolTip("QIDO-RS: check that the service answers" if web
                                    else "C-ECHO: check that the node answers")

    def verify(self) -> None:
        node = self.node()
        self.node_status.setText("verifying…")

        def done(seconds: float) -> None:
            text = f"OK, {seconds * 1000:.0f} ms"
            self.node_status.setText(text)
            self.echo_finished.emit(text)

        def failed(exc: BaseException) -> None:
            self.node_status.setText(f"failed: {exc}")
            self.echo_finished.emit(f"failed: {exc}")

        self.workers.submit(verify_node, node, self.config.local, on_done=self._live(done), on_error=self._live(failed))

    # --- search --------------------------------------------------------------------------------
    def query(self) -> FindQuery:
        modality = self.modality.currentText()
        return FindQuery(patient_name=self.patient_name.text().strip(), patient_id=self.patient_id.text().strip(),
                         study_date=self.study_date.text().strip(),
                         modality="" if modality == "Any" else modality,
                         accession=self.accession.text().strip(), description=self.description.text().strip())

    def search(self) -> None:
        node, query = self.node(), self.query()
        self.message.setText(f"Searching {node.name}…")
        self.search_button.setEnabled(False)

        def done(studies: list[Dataset]) -> None:
            self.search_button.setEnabled(True)
            self.show_studies(studies)
            self.message.setText(f"{len(studies)} studies on {node.name}")
            self.results_ready.emit(len(studies))

        def failed(exc: BaseException) -> None:
            self.search_button.setEnabled(True)
            self.message.setText(f"Search failed: {exc}")
            self.results_ready.emit(-1)

        self._find(node, "STUDY", query, done, failed)

    def _find(self, node: RemoteNode | DicomWebNode, level: str, query: FindQuery,
              done: Callable[[list[Dataset]], None], failed: Callable[[BaseException], None]) -> None:
        """C-FIND or QIDO-RS at ``level`` on a worker; answers on the GUI thread."""
        search = partial(find_any, node, level, query, local=self.config.local)
        self.workers.submit(search, on_done=self._live(done), on_error=self._live(failed))

    def show_studies(self, studies: list[Dataset]) -> None:
        self.results.clear()
        for ds in studies:
            item = QTreeWidgetItem([
                display_name(ds.get("PatientName")), str(ds.get("PatientID", "")),
                format_date(str(ds.get("StudyDate", ""))), "/".join(_values(ds.get("ModalitiesInStudy"))),
                str(ds.get("StudyDescription", "")), str(ds.get("AccessionNumber", "")),
                str(ds.get("NumberOfStudyRelatedSeries", "")), str(ds.get("NumberOfStudyRelatedInstances", "")),
            ])
            item.setData(0, UID_ROLE, str(ds.StudyInstanceUID))
            item.setData(0, LEVEL_ROLE, "STUDY")
            item.setChildIndicatorPolicy(QTreeWidgetItem.ChildIndicatorPolicy.ShowIndicator)
            self.results.addTopLevelItem(item)
        for column in range(len(STUDY_COLUMNS)):
            self.results.resizeColumnToContents(column)

    def _expand_study(self, item: QTreeWidgetItem) -> None:
        if item.data(0, LEVEL_ROLE) != "STUDY" or item.childCount():
            return
        node, study_uid = self.node(), item.data(0, UID_ROLE)

        def done(series: list[Dataset]) -> None:
            for ds in sorted(series, key=lambda s: int(s.get("SeriesNumber") or 0)):
                child = QTreeWidgetItem(item, [
                    f"#{ds.get('SeriesNumber', '')} {ds.get('SeriesDescription', '')}", "", "",
                    str(ds.get("Modality", "")), str(ds.get("SeriesDescription", "")), "", "",
                    str(ds.get("NumberOfSeriesRelatedInstances", "")),
                ])
                child.setData(0, UID_ROLE, str(ds.SeriesInstanceUID))
                child.setData(0, LEVEL_ROLE, "SERIES")

        self._find(node, "SERIES", FindQuery(study_uid=study_uid), done,
                   lambda exc: self.message.setText(f"Series query failed: {exc}"))

    # --- retrieve ------------------------------------------------------------------------------
    def retrieve_selected(self) -> list[Job]:
        jobs = []
        for item in self.results.selectedItems():
            if item.data(0, LEVEL_ROLE) == "SERIES":
                jobs.append(self.retrieve(item.parent().data(0, UID_ROLE), item.data(0, UID_ROLE)))
            else:
                jobs.append(self.retrieve(item.data(0, UID_ROLE)))
        if not jobs:
            self.message.setText("Select a study or a series to retrieve")
        return jobs

    def retrieve(self, study_uid: str, series_uid: str | None = None,
                 node: RemoteNode | DicomWebNode | None = None) -> Job:
        """Retrieve from the selected node (with the method chosen in the panel), or from ``node``
        with its configured method (a prior picked in the priors dialog)."""
        chosen = self.method.currentText() if node is None else ""
        node = node or self.node()
        if isinstance(node, DicomWebNode):
            method, label = "wado", "WADO-RS"
        else:
            method = {"C-GET": "get", "C-MOVE": "move"}.get(chosen, node.retrieve)
            label = method.upper()
        what = "series" if series_uid else "study"
        local, scp, relay, store = self.config.local, self.scp, self._relay, self.store
        running, lock = self._running, self._running_lock

        def work(progress, cancel):
            finished = threading.Event()
            with lock:
                running[cancel] = finished
            try:
                if self.closed:  # the window closed before the job started: no association at all
                    raise Cancelled("the window closed before the retrieve started")
                return retrieve_any(store, node, study_uid, series_uid, method=method, local=local, scp=scp,
                                    on_added=relay.added.emit, progress=progress, cancel=cancel)
            finally:
                with lock:
                    running.pop(cancel, None)
                finished.set()

        self._watch_window()
        job = self.jobs.start(f"Retrieve {what} from {node.name} ({label})", work)
        job.finished.connect(self._retrieved)
        return job

    def _retrieved(self, report: object) -> None:
        if self.closed:
            return
        if self._scp_restart_pending and not self.running_retrieves:
            self.start_scp()
        self.cache_changed.emit(self._pending_study)
        self.retrieve_finished.emit(report)

    def _instance_added(self, study_uid: str) -> None:
        if self.closed:
            return
        self._pending_study = study_uid
        if not self._refresh_timer.isActive():
            self._refresh_timer.start()


def _values(value: object) -> list[str]:
    if value is None or value == "":
        return []
    if isinstance(value, str):
        return [value]
    return [str(v) for v in value]  # type: ignore[union-attr]
