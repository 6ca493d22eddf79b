"""The tag browser: every attribute of the current image as a searchable tree."""

from __future__ import annotations

from pydicom.dataset import Dataset
from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QDialog,
    QLineEdit,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from viewer.core.tags import TagRow, dataset_rows

COLUMNS = ("Tag", "Attribute", "VR", "Value")


class TagBrowser(QDialog):
    """Shows a dataset's attributes; the filter keeps rows whose tag, keyword or value match."""

    def __init__(self, dataset: Dataset, title: str = "DICOM tags", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(title)
        self.resize(900, 700)
        self.search = QLineEdit(placeholderText="Search keyword, tag (0010,0010) or value…")
        self.search.setClearButtonEnabled(True)
        self.tree = QTreeWidget()
        self.tree.setHeaderLabels(COLUMNS)
        self.tree.setAlternatingRowColors(True)
        self.tree.setUniformRowHeights(True)
        layout = QVBoxLayout(self)
        layout.addWidget(self.search)
        layout.addWidget(self.tree)
        self._fill(self.tree.invisibleRootItem(), dataset_rows(dataset))
        for column, width in enumerate((110, 260, 40)):
            self.tree.setColumnWidth(column, width)
        self.search.textChanged.connect(self.apply_filter)
        QShortcut(QKeySequence.StandardKey.Copy, self.tree, activated=self.copy_selection)

    def _fill(self, parent: QTreeWidgetItem, rows: list[TagRow]) -> None:
        for row in rows:
            item = QTreeWidgetItem(parent, [row.tag, row.keyword, row.vr, row.value])
            item.setData(0, Qt.ItemDataRole.UserRole, row)
            self._fill(item, row.children)

    def apply_filter(self, text: str) -> int:
        """Show matching rows (and the sequences that contain them); returns how many match."""

        def visit(item: QTreeWidgetItem) -> int:
            row: TagRow | None = item.data(0, Qt.ItemDataRole.UserRole)
            own = 1 if row is not None and row.matches(text) and text.strip() else 0
            below = sum(visit(item.child(i)) for i in range(item.childCount()))
            visible = not text.strip() or bool(own or below)
            item.setHidden(not visible)
            if below and text.strip():
                item.setExpanded(True)
            return own + below

        root = self.tree.invisibleRootItem()
        return sum(visit(root.child(i)) for i in range(root.childCount()))

    def visible_rows(self) -> list[tuple[str, str, str]]:
        """(tag, attribute, value) of every visible row, depth first (for tests and copy)."""
        out = []

        def visit(item: QTreeWidgetItem) -> None:
            if not item.isHidden():
                out.append((item.text(0), item.text(1), item.text(3)))
                for i in range(item.childCount()):
                    visit(item.child(i))

        root = self.tree.invisibleRootItem()
        for i in range(root.childCount()):
            visit(root.child(i))
        return out

    def copy_selection(self) -> None:
        lines = ["\t".join(item.text(c) for c in range(4)) for item in self.tree.selectedItems()]
        QGuiApplication.clipboard().setText("\n".join(lines))
