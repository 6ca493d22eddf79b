"""The thumbnail strip of the selected study's series, built in the background and cached.

Thumbnails are computed on worker threads (decode + window of the middle image) and cached
as PNG under ``<home>/thumbnails/<series UID>-<instance count>.png``, so a study opened again
shows them at once, and a series that grew since (a retrieve or push still arriving when its
thumbnail was made) gets a new one; the stale files of the series are then removed.

A series that splits into several stacks (a localizer with its volume, PA and lateral views,
echoes, phases: :class:`viewer.core.volume.StackSummary`) gets one entry per stack, labelled
"stack 2/3", each with its own thumbnail; double-clicking or dragging an entry opens that stack.
The stack listing is cached beside the thumbnail (``<series UID>-<count>.stacks.json``).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from PySide6.QtCore import QMetaMethod, QMimeData, QSize, Qt, Signal
from PySide6.QtGui import QIcon, QImage, QPixmap
from PySide6.QtWidgets import QListView, QListWidget, QListWidgetItem, QWidget

from viewer.core.errors import LightboxError
from viewer.core.thumbnail import THUMBNAIL_SIZE, series_thumbnail
from viewer.core.volume import SeriesLoader, StackSummary, summarize_stacks
from viewer.store import SeriesRow, Store
from viewer.ui.jobs import WorkerBridge
from viewer.ui.layout_grid import SERIES_MIME, series_mime_data
from viewer.ui.stacks import StackSwitcher

UID_ROLE = Qt.ItemDataRole.UserRole + 2
STACK_ROLE = Qt.ItemDataRole.UserRole + 3  # index of the stack an entry shows (0: the biggest)


def array_to_qimage(pixels: np.ndarray) -> QImage:
    pixels = np.ascontiguousarray(pixels)
    h, w = pixels.shape[:2]
    if pixels.ndim == 2:
        image = QImage(pixels.data, w, h, w, QImage.Format.Format_Grayscale8)
    else:
        image = QImage(pixels.data, w, h, 3 * w, QImage.Format.Format_RGB888)
    return image.copy()  # own the bytes: the numpy array goes away


def _cached_image(cached: Path, paths: list[str]) -> QImage:
    if cached.is_file():
        image = QImage(str(cached))
        if not image.isNull():
            return image
    image = array_to_qimage(series_thumbnail(paths))
    cached.parent.mkdir(parents=True, exist_ok=True)
    partial = cached.with_suffix(".part.png")
    if image.save(str(partial), "PNG"):
        partial.replace(cached)
    return image


def _sorted_paths(store: Store, series_uid: str) -> list[str]:
    instances = sorted(store.instances(series_uid), key=lambda r: (r.instance_number is None,
                                                                   r.instance_number or 0))
    return [str(r.path) for r in instances]


def cache_key(series_uid: str, paths: list[str]) -> str:
    """The cache name of a series' thumbnails: its UID and how many instances it had."""
    return f"{series_uid}-{len(paths)}"


def _forget_stale(cache: Path, series_uid: str, key: str) -> None:
    """Remove the thumbnails of the series made when it had another number of instances."""
    for old in cache.glob(f"{series_uid}-*"):
        if not old.name.startswith(key + "."):
            old.unlink(missing_ok=True)


def thumbnail_image(store: Store, series_uid: str, cache: Path) -> QImage:
    """The series' thumbnail, from the cache folder or computed (runs on a worker thread)."""
    paths = _sorted_paths(store, series_uid)
    return _cached_image(cache / f"{cache_key(series_uid, paths)}.png", paths)


def series_stacks(store: Store, series_uid: str, cache: Path) -> list[StackSummary]:
    """The stacks of a cached series (headers only, no pixel decoded), cached as JSON.

    Empty when the files hold no image the loader can place (e.g. a structured report).
    """
    paths = _sorted_paths(store, series_uid)
    key = cache_key(series_uid, paths)
    cached = cache / f"{key}.stacks.json"
    try:
        return [StackSummary(d["index"], d["count"], d["label"], d["images"], tuple(d["shape"]),
                             tuple(d["paths"]), frozenset(d["sop_instance_uids"]))
                for d in json.loads(cached.read_text(encoding="utf-8"))]
    except (OSError, ValueError, KeyError, TypeError):
        pass
    try:
        stacks = summarize_stacks(SeriesLoader(paths, workers=0))
    except LightboxError:
        return []
    cache.mkdir(parents=True, exist_ok=True)
    _forget_stale(cache, series_uid, key)
    partial = cached.with_suffix(".part")
    partial.write_text(json.dumps([{"index": s.index, "count": s.count, "label": s.label, "images": s.images,
                                    "shape": list(s.shape), "paths": list(s.paths),
                                    "sop_instance_uids": sorted(s.sop_instance_uids)} for s in stacks]),
                       encoding="utf-8")
    partial.replace(cached)
    return stacks


def thumbnail_entries(store: Store, series_uid: str, cache: Path) -> list[tuple[StackSummary | None, QImage]]:
    """One (stack, thumbnail) per stack of the series; one (None, thumbnail) when it does not split."""
    stacks = series_stacks(store, series_uid, cache)
    if len(stacks) < 2:
        return [(stacks[0] if stacks else None, thumbnail_image(store, series_uid, cache))]
    key = cache_key(series_uid, _sorted_paths(store, series_uid))
    return [(s, _cached_image(cache / f"{key}.stack{s.index}.png", list(s.paths))) for s in stacks]


class ThumbnailStrip(QListWidget):
    """One icon per series (per stack when it splits); double-click opens it, drag drops it into a viewport."""

    series_activated = Signal(str, str)  # study UID, series UID
    stack_activated = Signal(str, str, int)  # study UID, series UID, stack index (> 0)

    def __init__(self, store: Store, workers: WorkerBridge, cache: Path, parent: QWidget | None = None):
        super().__init__(parent)
        self.store, self.workers, self.cache = store, workers, cache
        self.setViewMode(QListView.ViewMode.IconMode)
        self.setFlow(QListView.Flow.LeftToRight)
        self.setWrapping(True)
        self.setResizeMode(QListView.ResizeMode.Adjust)
        self.setIconSize(QSize(THUMBNAIL_SIZE, THUMBNAIL_SIZE))
        self.setGridSize(QSize(THUMBNAIL_SIZE + 24, THUMBNAIL_SIZE + 44))
        self.setDragEnabled(True)
        self.setWordWrap(True)
        self.study_uid = ""
        self.stacks: dict[str, list[StackSummary]] = {}  # series UID -> its stacks, as the workers found them
        self.itemDoubleClicked.connect(self._activated)
        self.pending = 0

    def show_study(self, study_uid: str) -> None:
        self.clear()
        self.study_uid = study_uid
        series: list[SeriesRow] = self.store.series(study_uid)
        for row in series:
            item = QListWidgetItem(self._caption(row, None))
            item.setData(UID_ROLE, row.series_uid)
            item.setData(STACK_ROLE, 0)
            item.setToolTip(row.description)
            item.setIcon(self._blank())
            self.addItem(item)
            self.pending += 1
            self.workers.submit(
                thumbnail_entries, self.store, row.series_uid, self.cache,
                on_done=lambda entries, r=row, s=study_uid: self._ready(s, r, entries),
                on_error=lambda _exc: self._done_one(),
            )

    @staticmethod
    def _blank() -> QIcon:
        blank = QPixmap(THUMBNAIL_SIZE, THUMBNAIL_SIZE)
        blank.fill(Qt.GlobalColor.black)
        return QIcon(blank)

    @staticmethod
    def _caption(row: SeriesRow, stack: StackSummary | None) -> str:
        number = "" if row.number is None else f"#{row.number} "
        if stack is None or stack.count < 2:
            return f"{number}{row.modality} {row.description}\n{row.instance_count} im"
        return f"{number}{row.modality} {row.description}\nstack {stack.index + 1}/{stack.count} · {stack.images} im"

    def _done_one(self) -> None:
        self.pending = max(0, self.pending - 1)

    def _ready(self, study_uid: str, row: SeriesRow, entries: list[tuple[StackSummary | None, QImage]]) -> None:
        self._done_one()
        if study_uid != self.study_uid:
            return  # the user moved on to another study
        self.stacks[row.series_uid] = [s for s, _ in entries if s is not None]
        first = next((i for i in range(self.count()) if self.item(i).data(UID_ROLE) == row.series_uid), None)
        if first is None:
            return
        for n, (stack, image) in enumerate(entries):
            if n == 0:
                item = self.item(first)
            else:  # the series' other stacks follow its first entry
                item = QListWidgetItem()
                item.setData(UID_ROLE, row.series_uid)
                self.insertItem(first + n, item)
            item.setText(self._caption(row, stack))
            item.setData(STACK_ROLE, stack.index if stack is not None else 0)
            item.setToolTip(row.description if stack is None or stack.count < 2
                            else f"{row.description}\n{stack.label}")
            item.setIcon(QIcon(QPixmap.fromImage(image)))

    def item_of(self, series_uid: str, stack: int = 0) -> QListWidgetItem | None:
        return next((self.item(i) for i in range(self.count()) if self.item(i).data(UID_ROLE) == series_uid
                     and (self.item(i).data(STACK_ROLE) or 0) == stack), None)

    def _activated(self, item: QListWidgetItem) -> None:
        series_uid, stack = item.data(UID_ROLE), int(item.data(STACK_ROLE) or 0)
        window = self.window()
        if stack and hasattr(window, "load_series_into"):
            StackSwitcher.ensure(window)  # the window's switcher opens other stacks
        if stack and self.isSignalConnected(QMetaMethod.fromSignal(self.stack_activated)):
            self.stack_activated.emit(self.study_uid, series_uid, stack)
        else:
            self.series_activated.emit(self.study_uid, series_uid)

    def mimeData(self, items: list[QListWidgetItem]) -> QMimeData:
        """The drag payload: the series UID and its files, only the files of the stack when it splits
        (the grid loads the files it is given, and the files of one stack load as that stack)."""
        if not items:
            return QMimeData()
        series_uid, stack = items[0].data(UID_ROLE), int(items[0].data(STACK_ROLE) or 0)
        stacks = self.stacks.get(series_uid, [])
        if len(stacks) > 1 and stack < len(stacks):
            paths = list(stacks[stack].paths)
        else:
            paths = [str(r.path) for r in self.store.instances(series_uid)]
        return series_mime_data(series_uid, paths, self.study_uid)

    def mimeTypes(self) -> list[str]:
        return [SERIES_MIME]
