"""Switching between the stacks of the series shown in a viewport.

A series becomes one or more stacks (PS3.3 C.7.6.2: frames that cannot share one grid, e.g. a
localizer filed with its volume, PA and lateral views, echoes or dynamic phases; see
:func:`viewer.core.geometry.build_stacks`). A viewport shows one stack; the reader reaches the
others with a selector in the status bar, with Ctrl+PgDn / Ctrl+PgUp, or from the thumbnail
strip, which shows one entry per stack. The selector is a widget of the main window, not of the
viewport, and follows the active viewport.
"""

from __future__ import annotations

from PySide6.QtCore import QObject
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import QComboBox, QMainWindow

from viewer.core.volume import OTHER_STACKS_WARNING, StackSummary, Volume

NEXT_KEY, PREVIOUS_KEY = "Ctrl+PgDown", "Ctrl+PgUp"


def is_stacks_warning(text: str) -> bool:
    """The loader's "the series holds N stacks ..." warning, which the selector replaces."""
    return text.startswith(OTHER_STACKS_WARNING)


def stack_caption(stack: StackSummary) -> str:
    return f"Stack {stack.index + 1}/{stack.count}: {stack.label} ({stack.images} im)"


def series_uid_of(volume: Volume | None) -> str:
    return str(volume.headers[0].get("SeriesInstanceUID", "")) if volume is not None and volume.headers else ""


class StackSwitcher(QObject):
    """The stack selector of a main window (one per window: :meth:`ensure`).

    It learns a series' stacks from the loads of ``window.load_series_into`` (and from the
    thumbnail strip, which lists them too) and opens another stack with
    ``window.load_series_into(view, series_uid, stack=i)``.
    """

    def __init__(self, window: QMainWindow) -> None:
        super().__init__(window)
        self.window = window
        self.known: dict[str, list[StackSummary]] = {}  # series UID -> its stacks
        self.selector = QComboBox()
        self.selector.setToolTip(f"Stacks of the series in the active viewport ({NEXT_KEY} / {PREVIOUS_KEY})")
        self.selector.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.selector.hide()
        self.selector.activated.connect(self._chosen)
        window.statusBar().addPermanentWidget(self.selector)
        for key, step in ((NEXT_KEY, +1), (PREVIOUS_KEY, -1)):
            shortcut = QShortcut(QKeySequence(key), window)
            shortcut.activated.connect(lambda s=step: self.step(s))
        window.grid.series_shown.connect(lambda _view, _volume: self.refresh())
        window.grid.active_changed.connect(lambda _view: self.refresh())
        thumbnails = getattr(window, "thumbnails", None)
        if thumbnails is not None and hasattr(thumbnails, "stack_activated"):
            thumbnails.stack_activated.connect(self._open_from_strip)

    @classmethod
    def ensure(cls, window: QMainWindow) -> StackSwitcher:
        """The window's switcher, made on first use."""
        switcher = getattr(window, "_stack_switcher", None)
        if switcher is None:
            switcher = window._stack_switcher = cls(window)
        return switcher

    def learn(self, series_uid: str, stacks: list[StackSummary]) -> None:
        self.known[series_uid] = list(stacks)

    def stacks_of(self, series_uid: str) -> list[StackSummary]:
        if series_uid in self.known:
            return self.known[series_uid]
        strip = getattr(self.window, "thumbnails", None)
        return list(getattr(strip, "stacks", {}).get(series_uid, []))

    def current(self, view=None) -> tuple[str, list[StackSummary], int]:
        """(series UID, its stacks, index of the one shown) for ``view`` (default: the active one)."""
        view = view or self.window.grid.active_viewport
        uid = series_uid_of(view.volume)
        stacks = self.stacks_of(uid)
        index = next((s.index for s in stacks if view.volume in s), 0)
        return uid, stacks, index

    def shows_stacks_of(self, view) -> bool:
        """True when the selector can offer the other stacks of the series ``view`` shows."""
        return len(self.current(view)[1]) > 1

    def refresh(self) -> None:
        """Show the selector when the active viewport's series has more than one stack."""
        _uid, stacks, index = self.current()
        self.selector.clear()
        if len(stacks) < 2:
            self.selector.hide()
            return
        for s in stacks:
            self.selector.addItem(stack_caption(s))
        self.selector.setCurrentIndex(index)
        self.selector.show()

    def open(self, stack: int, view=None) -> bool:
        view = view or self.window.grid.active_viewport
        uid, stacks, index = self.current(view)
        if not uid or len(stacks) < 2 or not 0 <= stack < len(stacks) or stack == index:
            return False
        self.window.load_series_into(view, uid, stack=stack)
        return True

    def step(self, delta: int) -> bool:
        """Next (+1) or previous (-1) stack of the active viewport's series, wrapping around."""
        _uid, stacks, index = self.current()
        if len(stacks) < 2:
            self.window.statusBar().showMessage("This series has a single stack", 3000)
            return False
        return self.open((index + delta) % len(stacks))

    def _chosen(self, row: int) -> None:
        self.open(row)
        self.window.focus_viewport()

    def _open_from_strip(self, study_uid: str, series_uid: str, stack: int) -> None:
        self.window.current_study_uid = study_uid
        self.window.load_series_into(self.window.grid.active_viewport, series_uid, stack=stack)
        self.window.focus_viewport()
