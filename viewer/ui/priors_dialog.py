"""Choosing the prior exam to compare with: the patient's earlier studies, cached or on a PACS."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from viewer.services.priors import RemotePriors
from viewer.store import PriorRow
from viewer.ui.study_browser import format_date

UID_ROLE = Qt.ItemDataRole.UserRole + 2
NODE_ROLE = Qt.ItemDataRole.UserRole + 3  # "" for a cached study, else the node that holds it


class PriorsDialog(QDialog):
    """Lists local priors newest first, then the PACS nodes' priors as they answer.

    Candidates matched by name and birth date only are marked. Choosing a remote prior
    (:attr:`chosen_node` is then its node) lets the caller retrieve it and open the comparison
    in one step. "Search PACS" closes the dialog with :attr:`search_pacs` set, so the caller
    can open the Q/R panel on this patient for a wider search.
    """

    def __init__(self, patient: str, priors: list[PriorRow], parent: QWidget | None = None,
                 searching_remote: bool = False) -> None:
        super().__init__(parent)
        self.setWindowTitle(f"Compare with prior — {patient}")
        self.search_pacs = False
        self.has_local = bool(priors)
        self.list = QListWidget()
        for prior in priors:
            study = prior.study
            flag = "" if prior.match == "patient id" else "   ⚠ same name and birth date, different ID"
            text = (f"{format_date(study.study_date)}  {'/'.join(study.modalities)}  {study.description}  "
                    f"({study.instance_count} images){flag}")
            item = QListWidgetItem(text)
            item.setData(UID_ROLE, study.study_uid)
            item.setData(NODE_ROLE, "")
            self.list.addItem(item)
        if priors:
            self.list.setCurrentRow(0)
        self.list.itemDoubleClicked.connect(lambda _item: self.accept())
        search = QPushButton("Search PACS for priors…")
        search.clicked.connect(self._search)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        self.ok = buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.ok.setEnabled(bool(priors))
        self.remote_status = QLabel("Searching the PACS nodes for more priors…" if searching_remote else "")
        self.remote_status.setWordWrap(True)
        self.remote_status.setVisible(searching_remote)
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel("Earlier studies of this patient in the local cache:" if priors else
                                "No earlier study of this patient in the local cache."))
        layout.addWidget(self.list)
        layout.addWidget(self.remote_status)
        layout.addWidget(search)
        layout.addWidget(buttons)

    def add_remote(self, found: RemotePriors) -> None:
        """Append the PACS priors (marked with their node) and say which nodes could not answer."""
        for prior in found.priors:
            count = "" if prior.instance_count is None else f"  ({prior.instance_count} images)"
            text = (f"{format_date(prior.study_date)}  {'/'.join(prior.modalities)}  {prior.description}"
                    f"{count}   ⇣ on {prior.node}")
            item = QListWidgetItem(text)
            item.setData(UID_ROLE, prior.study_uid)
            item.setData(NODE_ROLE, prior.node)
            item.setToolTip(f"Held by {prior.node}: choosing it retrieves it into the cache first")
            self.list.addItem(item)
        if self.list.currentItem() is None and self.list.count():
            self.list.setCurrentRow(0)
        self.ok.setEnabled(self.list.count() > 0)
        count = len(found.priors)
        parts = [f"{count} on the PACS ({'it is' if count == 1 else 'they are'} retrieved into the cache when chosen)."
                 if count else "No further priors on the PACS."]
        parts += [f"Not reachable — {failure}" for failure in found.failures]
        self.remote_status.setText("\n".join(parts))
        self.remote_status.setVisible(True)

    def remote_failed(self, message: str) -> None:
        self.remote_status.setText(f"The PACS search failed: {message}")
        self.remote_status.setVisible(True)

    def _search(self) -> None:
        self.search_pacs = True
        self.reject()

    def chosen(self) -> str:
        item = self.list.currentItem()
        return item.data(UID_ROLE) if item is not None else ""

    def chosen_node(self) -> str:
        """The node holding the chosen prior, or "" when it is already in the cache."""
        item = self.list.currentItem()
        return item.data(NODE_ROLE) or "" if item is not None else ""
