"""The study browser: patient → study → series from the local cache, with quick filters.

Rows come from :class:`viewer.store.Store` queries (SQLite in WAL mode answers in
milliseconds while an import commits beside it); the widget only arranges them. Series rows
are filled when a study is expanded or selected, so a cache of thousands of studies opens at
once. Series and study rows drag into viewports with the thumbnails' payload
(:data:`viewer.ui.layout_grid.SERIES_MIME`); a study drags as its biggest image series.
Patient rows carry their latest study date, so sorting by date orders patients too.
"""

from __future__ import annotations

import datetime as dt

from PySide6.QtCore import QDate, QMimeData, QModelIndex, QPoint, Qt, Signal
from PySide6.QtGui import QAction, QStandardItem, QStandardItemModel
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDateEdit,
    QHBoxLayout,
    QLineEdit,
    QMenu,
    QTreeView,
    QVBoxLayout,
    QWidget,
)

from viewer.core.annotations import display_name
from viewer.core.modalities import holds_images
from viewer.store import Store
from viewer.store.records import StudyQuery, StudyRow
from viewer.ui.layout_grid import SERIES_MIME, series_mime_data

COLUMNS = ("Patient / Study / Series", "Patient ID", "Birth date", "Sex", "Study date", "Modalities",
           "Description", "Accession", "Series", "Images")
KIND_ROLE = Qt.ItemDataRole.UserRole + 1  # "patient" | "study" | "series"
UID_ROLE = Qt.ItemDataRole.UserRole + 2
DATE_FILTERS = ("Any date", "Today", "Yesterday", "Last 7 days", "Last 30 days", "Range…")
MODALITIES = ("All modalities", "CT", "MR", "CR", "DX", "MG", "US", "NM", "PT", "XA", "RF", "OT", "SR", "SEG")
CONTEXT_ACTIONS = ("Open", "Compare with prior", "Export…", "Send to node…", "Show tags", "Delete")
#: Series without images to show (structured reports, presentation states, key objects...): a
#: study dragged into a viewport brings its biggest series of another modality.


def format_date(value: str) -> str:
    return f"{value[:4]}-{value[4:6]}-{value[6:8]}" if len(value) == 8 and value.isdigit() else value


def date_range(choice: str, today: dt.date, start: QDate, end: QDate) -> tuple[str | None, str | None]:
    """The inclusive YYYYMMDD range a date filter choice means."""
    fmt = "%Y%m%d"
    if choice == "Today":
        return today.strftime(fmt), today.strftime(fmt)
    if choice == "Yesterday":
        day = today - dt.timedelta(days=1)
        return day.strftime(fmt), day.strftime(fmt)
    if choice == "Last 7 days":
        return (today - dt.timedelta(days=6)).strftime(fmt), today.strftime(fmt)
    if choice == "Last 30 days":
        return (today - dt.timedelta(days=29)).strftime(fmt), today.strftime(fmt)
    if choice == "Range…":
        return start.toString("yyyyMMdd"), end.toString("yyyyMMdd")
    return None, None


def _item(text: object, kind: str = "", uid: str = "") -> QStandardItem:
    item = QStandardItem("" if text is None else str(text))
    item.setEditable(False)
    item.setDragEnabled(kind in ("study", "series"))
    if kind:
        item.setData(kind, KIND_ROLE)
        item.setData(uid, UID_ROLE)
    return item


class BrowserModel(QStandardItemModel):
    """The tree's model; series and study rows drag as a series (the thumbnails' payload)."""

    def __init__(self, store: Store) -> None:
        super().__init__()
        self.store = store

    def mimeTypes(self) -> list[str]:
        return [SERIES_MIME]

    def mimeData(self, indexes: list[QModelIndex]) -> QMimeData:
        item = self.itemFromIndex(indexes[0].siblingAtColumn(0)) if indexes else None
        kind = item.data(KIND_ROLE) if item is not None else None
        if kind == "series":
            study_uid, series_uid = item.parent().data(UID_ROLE), item.data(UID_ROLE)
        elif kind == "study":
            study_uid = item.data(UID_ROLE)
            series_uid = self.main_series(study_uid)
        else:
            return QMimeData()
        if not series_uid:
            return QMimeData()
        paths = [str(r.path) for r in self.store.instances(series_uid)]
        return series_mime_data(series_uid, paths, study_uid)

    def main_series(self, study_uid: str) -> str:
        """The series a study shows when dragged into one viewport: its biggest image series."""
        series = [s for s in self.store.series(study_uid) if holds_images(s.modality)]
        best = max(series, key=lambda s: (s.instance_count, -(s.number or 0)), default=None)
        return best.series_uid if best is not None else ""


class StudyBrowser(QWidget):
    study_selected = Signal(str)  # study UID
    study_activated = Signal(str)  # double-click on a study
    series_activated = Signal(str, str)  # study UID, series UID
    action_requested = Signal(str, str, str)  # action, study UID, series UID ("" for a study)

    def __init__(self, store: Store, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.store = store
        self.search = QLineEdit(placeholderText="Filter: name (wildcards * ?), ID, accession, description")
        self.search.setClearButtonEnabled(True)
        self.date_filter = QComboBox()
        self.date_filter.addItems(DATE_FILTERS)
        self.date_from = QDateEdit(QDate.currentDate().addDays(-30), calendarPopup=True)
        self.date_to = QDateEdit(QDate.currentDate(), calendarPopup=True)
        for edit in (self.date_from, self.date_to):
            edit.setDisplayFormat("yyyy-MM-dd")
            edit.setVisible(False)
        self.modality_filter = QComboBox()
        self.modality_filter.addItems(MODALITIES)
        filters = QHBoxLayout()
        filters.addWidget(self.search, 3)
        filters.addWidget(self.date_filter)
        filters.addWidget(self.date_from)
        filters.addWidget(self.date_to)
        filters.addWidget(self.modality_filter)
        self.model = BrowserModel(store)
        self.model.setHorizontalHeaderLabels(COLUMNS)
        self.tree = QTreeView()
        self.tree.setModel(self.model)
        self.tree.setAlternatingRowColors(True)
        self.tree.setUniformRowHeights(True)
        self.tree.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.tree.setSortingEnabled(True)
        self.tree.setDragEnabled(True)
        self.tree.setDragDropMode(QAbstractItemView.DragDropMode.DragOnly)
        self.tree.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.tree.customContextMenuRequested.connect(self._context_menu)
        self.tree.doubleClicked.connect(self._activated)
        self.tree.expanded.connect(self._expanded)
        self.tree.selectionModel().currentChanged.connect(self._current_changed)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(filters)
        layout.addWidget(self.tree)
        self.search.textChanged.connect(self.refresh)
        self.date_filter.currentTextChanged.connect(self._date_choice)
        self.date_from.dateChanged.connect(self.refresh)
        self.date_to.dateChanged.connect(self.refresh)
        self.modality_filter.currentTextChanged.connect(self.refresh)
        self.studies: list[StudyRow] = []
        self.refresh()
        self.tree.setColumnWidth(0, 260)

    # --- querying ----------------------------------------------------------------------------
    def query(self) -> list[StudyRow]:
        """Studies matching the filters: the text matches name, ID, accession or description."""
        date_from, date_to = date_range(self.date_filter.currentText(), dt.date.today(),
                                        self.date_from.date(), self.date_to.date())
        modality = self.modality_filter.currentText()
        base = {"date_from": date_from, "date_to": date_to,
                "modality": None if modality == MODALITIES[0] else modality}
        text = self.search.text().strip()
        if not text:
            return self.store.studies(StudyQuery(**base))
        found: dict[str, StudyRow] = {}
        wildcard = text if any(c in text for c in "*?") else f"*{text}*"
        for field_name, value in (("patient_name", text), ("patient_id", wildcard),
                                  ("accession", wildcard), ("description", text)):
            for row in self.store.studies(StudyQuery(**base, **{field_name: value})):
                found.setdefault(row.study_uid, row)
        return list(found.values())

    def refresh(self) -> None:
        """Re-read the cache (after an import batch, a retrieve, a delete) keeping the expansion."""
        expanded = {self.model.itemFromIndex(i).data(UID_ROLE) for i in self._expanded_indexes()}
        current = self.current_study_uid()
        self.studies = sorted(self.query(), key=lambda s: (s.patient_name, s.study_date), reverse=False)
        self.model.removeRows(0, self.model.rowCount())
        # grouped by the cache's patient, not by Patient ID, which two people may share
        patients: dict[int, QStandardItem] = {}
        latest: dict[int, str] = {}  # patient -> latest study date (YYYYMMDD)
        for study in self.studies:
            latest[study.patient_ref] = max(latest.get(study.patient_ref, ""), study.study_date or "")
        for study in self.studies:
            key = study.patient_ref
            parent = patients.get(key)
            if parent is None:
                name = display_name(study.patient_name) or "(no name)"
                parent = _item(name + (" ⚠" if study.id_collision else ""), "patient", study.patient_id)
                parent.setToolTip(study.patient_name + (
                    f"\nPatient ID {study.patient_id} is also used for another person in the cache: "
                    "check the registration with the PACS administrator" if study.id_collision else ""))
                date = _item(format_date(latest[key]))
                date.setToolTip("latest study")
                self.model.appendRow([parent, _item(study.patient_id), _item(format_date(study.birth_date)),
                                      _item(study.sex), date] + [_item("") for _ in range(5)])
                patients[key] = parent
            label = " ".join(p for p in (format_date(study.study_date), study.description) if p)
            fallback = f"{'/'.join(study.modalities)} study {study.study_id or study.accession}".strip()
            study_item = _item(label or fallback, "study", study.study_uid)
            study_item.appendRow([_item("loading…")])
            parent.appendRow([study_item, _item(""), _item(""), _item(""),
                              _item(format_date(study.study_date)), _item("/".join(study.modalities)),
                              _item(study.description), _item(study.accession), _item(study.series_count),
                              _item(study.instance_count)])
        for index in self._all_indexes():
            if self.model.itemFromIndex(index).data(UID_ROLE) in expanded:
                self.tree.expand(index)
        if len(patients) <= 20:
            for row in range(self.model.rowCount()):
                self.tree.expand(self.model.index(row, 0))
        if current:
            self.select_study(current)

    def _all_indexes(self) -> list[QModelIndex]:
        out: list[QModelIndex] = []

        def visit(parent: QModelIndex) -> None:
            for row in range(self.model.rowCount(parent)):
                index = self.model.index(row, 0, parent)
                out.append(index)
                visit(index)

        visit(QModelIndex())
        return out

    def _expanded_indexes(self) -> list[QModelIndex]:
        return [i for i in self._all_indexes() if self.tree.isExpanded(i)]

    def _fill_series(self, study_item: QStandardItem) -> None:
        if study_item.rowCount() == 1 and study_item.child(0).data(KIND_ROLE) is None:
            study_item.removeRows(0, 1)
            for series in self.store.series(study_item.data(UID_ROLE)):
                number = "" if series.number is None else f"#{series.number} "
                label = f"{number}{series.description or '(no description)'}"
                study_item.appendRow([_item(label, "series", series.series_uid), _item(""), _item(""),
                                      _item(""), _item(""), _item(series.modality), _item(series.body_part),
                                      _item(""), _item(""), _item(series.instance_count)])

    # --- selection ---------------------------------------------------------------------------
    def _expanded(self, index: QModelIndex) -> None:
        item = self.model.itemFromIndex(index.siblingAtColumn(0))
        if item is not None and item.data(KIND_ROLE) == "study":
            self._fill_series(item)

    def _study_item_of(self, index: QModelIndex) -> QStandardItem | None:
        item = self.model.itemFromIndex(index.siblingAtColumn(0))
        while item is not None and item.data(KIND_ROLE) not in ("study", None):
            if item.data(KIND_ROLE) == "patient":
                return None
            item = item.parent()
        if item is not None and item.data(KIND_ROLE) == "series":
            item = item.parent()
        return item if item is not None and item.data(KIND_ROLE) == "study" else None

    def current_study_uid(self) -> str:
        index = self.tree.currentIndex()
        item = self._study_item_of(index) if index.isValid() else None
        return item.data(UID_ROLE) if item is not None else ""

    def select_study(self, study_uid: str) -> bool:
        for index in self._all_indexes():
            item = self.model.itemFromIndex(index)
            if item.data(KIND_ROLE) == "study" and item.data(UID_ROLE) == study_uid:
                self.tree.setCurrentIndex(index)
                return True
        return False

    def _current_changed(self, index: QModelIndex, _previous: QModelIndex) -> None:
        item = self._study_item_of(index)
        if item is not None:
            self._fill_series(item)
            self.study_selected.emit(item.data(UID_ROLE))

    def _activated(self, index: QModelIndex) -> None:
        item = self.model.itemFromIndex(index.siblingAtColumn(0))
        if item is None:
            return
        if item.data(KIND_ROLE) == "study":
            self.study_activated.emit(item.data(UID_ROLE))
        elif item.data(KIND_ROLE) == "series":
            self.series_activated.emit(item.parent().data(UID_ROLE), item.data(UID_ROLE))

    def _context_menu(self, pos: QPoint) -> None:
        index = self.tree.indexAt(pos)
        item = self.model.itemFromIndex(index.siblingAtColumn(0)) if index.isValid() else None
        study = self._study_item_of(index) if index.isValid() else None
        if study is None:
            return
        series_uid = item.data(UID_ROLE) if item is not None and item.data(KIND_ROLE) == "series" else ""
        menu = QMenu(self)
        for name in CONTEXT_ACTIONS:
            action = QAction(name, menu)
            action.triggered.connect(
                lambda _=False, n=name: self.action_requested.emit(n, study.data(UID_ROLE), series_uid))
            menu.addAction(action)
        menu.exec(self.tree.viewport().mapToGlobal(pos))

    def _date_choice(self, choice: str) -> None:
        ranged = choice == "Range…"
        self.date_from.setVisible(ranged)
        self.date_to.setVisible(ranged)
        self.refresh()
