"""The thumbnail strip of the selected study's series, built in the background and cached.

Thumbnails are computed on worker threads (decode + window of the middle image) and cached
as PNG under ``<home>/thumbnails/<series UID>.png``, so a study opened again shows them at once.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PySide6.QtCore import QMimeData, QSize, Qt, Signal
from PySide6.QtGui import QIcon, QImage, QPixmap
from PySide6.QtWidgets import QListView, QListWidget, QListWidgetItem, QWidget

from viewer.core.thumbnail import THUMBNAIL_SIZE, series_thumbnail
from viewer.store import SeriesRow, Store
from viewer.ui.jobs import WorkerBridge
from viewer.ui.layout_grid import SERIES_MIME, series_mime_data

UID_ROLE = Qt.ItemDataRole.UserRole + 2


def array_to_qimage(pixels: np.ndarray) -> QImage:
    pixels = np.ascontiguousarray(pixels)
    h, w = pixels.shape[:2]
    if pixels.ndim == 2:
        image = QImage(pixels.data, w, h, w, QImage.Format.Format_Grayscale8)
    else:
        image = QImage(pixels.data, w, h, 3 * w, QImage.Format.Format_RGB888)
    return image.copy()  # own the bytes: the numpy array goes away


def thumbnail_image(store: Store, series_uid: str, cache: Path) -> QImage:
    """The series' thumbnail, from the cache folder or computed (runs on a worker thread)."""
    cached = cache / f"{series_uid}.png"
    if cached.is_file():
        image = QImage(str(cached))
        if not image.isNull():
            return image
    instances = sorted(store.instances(series_uid), key=lambda r: (r.instance_number is None,
                                                                   r.instance_number or 0))
    image = array_to_qimage(series_thumbnail([r.path for r in instances]))
    cache.mkdir(parents=True, exist_ok=True)
    partial = cached.with_suffix(".part.png")
    if image.save(str(partial), "PNG"):
        partial.replace(cached)
    return image


class ThumbnailStrip(QListWidget):
    """One icon per series; double-click opens it, drag drops it into a viewport."""

    series_activated = Signal(str, str)  # study UID, series UID

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
        self.itemDoubleClicked.connect(
            lambda item: self.series_activated.emit(self.study_uid, item.data(UID_ROLE)))
        self.pending = 0

    def show_study(self, study_uid: str) -> None:
        self.clear()
        self.study_uid = study_uid
        series: list[SeriesRow] = self.store.series(study_uid)
        for row in series:
            number = "" if row.number is None else f"#{row.number} "
            item = QListWidgetItem(f"{number}{row.modality} {row.description}\n{row.instance_count} im")
            item.setData(UID_ROLE, row.series_uid)
            item.setToolTip(row.description)
            blank = QPixmap(THUMBNAIL_SIZE, THUMBNAIL_SIZE)
            blank.fill(Qt.GlobalColor.black)
            item.setIcon(QIcon(blank))
            self.addItem(item)
            self.pending += 1
            self.workers.submit(
                thumbnail_image, self.store, row.series_uid, self.cache,
                on_done=lambda image, uid=row.series_uid, s=study_uid: self._ready(s, uid, image),
                on_error=lambda _exc: self._done_one(),
            )

    def _done_one(self) -> None:
        self.pending = max(0, self.pending - 1)

    def _ready(self, study_uid: str, series_uid: str, image: QImage) -> None:
        self._done_one()
        if study_uid != self.study_uid:
            return  # the user moved on to another study
        for i in range(self.count()):
            if self.item(i).data(UID_ROLE) == series_uid:
                self.item(i).setIcon(QIcon(QPixmap.fromImage(image)))

    def mimeData(self, items: list[QListWidgetItem]) -> QMimeData:
        if not items:
            return QMimeData()
        series_uid = items[0].data(UID_ROLE)
        paths = [str(r.path) for r in self.store.instances(series_uid)]
        return series_mime_data(series_uid, paths, self.study_uid)

    def mimeTypes(self) -> list[str]:
        return [SERIES_MIME]
