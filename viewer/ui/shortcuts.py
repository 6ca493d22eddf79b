"""Help → Keyboard shortcuts: one table of every key and mouse gesture, for readers.

The window's own shortcuts are read from its registered QActions when the dialog opens, so the
table cannot drift from what the menus really do; the image viewport's keys (handled inside the
VTK widget, not as QActions) are listed in :data:`VIEWPORT_KEYS`, the one place they are described
for users (the keys themselves are in :meth:`viewer.ui.viewport.Viewport._on_key`).
"""

from __future__ import annotations

from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QHeaderView,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

#: (keys, what they do) in an image viewport, in the order a reader learns them.
VIEWPORT_KEYS: tuple[tuple[str, str], ...] = (
    ("Mouse wheel, PgUp / PgDn, ↑ / ↓, ← / →", "Previous / next image"),
    ("Home / End", "First / last image"),
    ("Left drag", "The chosen tool (W/L: right widens the window, up raises the level)"),
    ("Right drag", "Zoom about the press point"),
    ("Middle drag, Shift + left drag", "Pan"),
    ("Double-click", "Maximize the viewport / back to the layout"),
    ("1 – 9", "W/L presets of the modality (Presets menu)"),
    ("0", "The window stored in the file (else automatic)"),
    ("I", "Invert"),
    ("R", "Reset window and view"),
    ("F", "Fit the image to the viewport"),
    ("A", "Corner annotations on / off"),
    ("[ / ]", "Rotate 90° left / right"),
    ("H / V", "Flip horizontally / vertically"),
    ("+ / −", "Zoom in / out"),
    ("N", "Smooth / nearest-pixel interpolation"),
    ("Space", "Cine play / stop"),
    ("Esc", "Cancel the measurement being drawn"),
    ("Delete, Backspace", "Delete the measurement under the mouse (else the newest on the image)"),
)


def _label(action: QAction) -> str:
    return action.text().replace("&&", "\0").replace("&", "").replace("\0", "&").rstrip("…").strip()


def window_shortcuts(window: QWidget) -> list[tuple[str, str]]:
    """(keys, action) for every QAction of ``window`` that has a shortcut, as registered now."""
    rows: list[tuple[str, str]] = []
    for action in window.findChildren(QAction):
        owner = action.parent()
        if isinstance(owner, QWidget) and owner.window() is not window:
            continue  # an action of another top-level window (an MPR window is our child)
        keys = ", ".join(k.toString(QKeySequence.SequenceFormat.NativeText) for k in action.shortcuts())
        row = (keys, _label(action))
        if keys and row not in rows:
            rows.append(row)
    return sorted(rows, key=lambda r: r[1].lower())


class ShortcutsDialog(QDialog):
    """The table: the window's shortcuts, then the image viewport's keys and mouse."""

    def __init__(self, window: QWidget, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Keyboard shortcuts")
        sections = [("Window", window_shortcuts(window)), ("Image viewport", list(VIEWPORT_KEYS))]
        self.table = QTableWidget(sum(len(rows) + 1 for _, rows in sections), 2, self)
        self.table.setHorizontalHeaderLabels(["Keys", "Action"])
        self.table.verticalHeader().hide()
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        row = 0
        for title, rows in sections:
            heading = QTableWidgetItem(title)
            font = heading.font()
            font.setBold(True)
            heading.setFont(font)
            self.table.setItem(row, 0, heading)
            self.table.setSpan(row, 0, 1, 2)
            row += 1
            for keys, what in rows:
                self.table.setItem(row, 0, QTableWidgetItem(keys))
                self.table.setItem(row, 1, QTableWidgetItem(what))
                row += 1
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, parent=self)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.table)
        layout.addWidget(buttons)
        self.resize(640, 620)

    def rows(self) -> list[tuple[str, str]]:
        """The table as (keys, action) text, headings included with an empty action."""
        out = []
        for r in range(self.table.rowCount()):
            keys, what = self.table.item(r, 0), self.table.item(r, 1)
            out.append((keys.text() if keys else "", what.text() if what else ""))
        return out
