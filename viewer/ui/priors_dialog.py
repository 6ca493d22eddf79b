"""Choosing the prior exam to compare with: the same patient's earlier studies in the cache."""

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

from viewer.store import PriorRow
from viewer.ui.study_browser import format_date

UID_ROLE = Qt.ItemDataRole.UserRole + 2


class PriorsDialog(QDialog):
    """Lists local priors newest first; candidates matched by name and birth date only are marked.

    "Search PACS" closes the dialog with :attr:`search_pacs` set, so the caller can open the
    Q/R panel on this patient (one click more retrieves a prior from the hospital PACS).
    """

    def __init__(self, patient: str, priors: list[PriorRow], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(f"Compare with prior — {patient}")
        self.search_pacs = False
        self.list = QListWidget()
        for prior in priors:
            study = prior.study
            flag = "" if prior.match == "patient id" else "   ⚠ same name and birth date, different ID"
            text = (f"{format_date(study.study_date)}  {'/'.join(study.modalities)}  {study.description}  "
                    f"({study.instance_count} images){flag}")
            item = QListWidgetItem(text)
            item.setData(UID_ROLE, study.study_uid)
            self.list.addItem(item)
        if priors:
            self.list.setCurrentRow(0)
        self.list.itemDoubleClicked.connect(lambda _item: self.accept())
        search = QPushButton("Search PACS for priors…")
        search.clicked.connect(self._search)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        buttons.button(QDialogButtonBox.StandardButton.Ok).setEnabled(bool(priors))
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel("Earlier studies of this patient in the local cache:" if priors else
                                "No earlier study of this patient in the local cache."))
        layout.addWidget(self.list)
        layout.addWidget(search)
        layout.addWidget(buttons)

    def _search(self) -> None:
        self.search_pacs = True
        self.reject()

    def chosen(self) -> str:
        item = self.list.currentItem()
        return item.data(UID_ROLE) if item is not None else ""
