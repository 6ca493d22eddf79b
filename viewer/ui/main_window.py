"""The main window: series of the opened study on the left, the viewport on the right."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QFileDialog,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMainWindow,
    QMessageBox,
    QSplitter,
    QWidget,
)

from viewer.core.pixels.voi import default_window
from viewer.core.series import SeriesFiles, SeriesScan, find_series
from viewer.core.volume import Volume, load_volume
from viewer.ui.jobs import WorkerBridge
from viewer.ui.viewport import Viewport

TITLE = "Lightbox"


class MainWindow(QMainWindow):
    """Opens files and folders and reads them slice by slice."""

    volume_shown = Signal(object)  # the Volume now on screen
    load_failed = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(TITLE)
        self.workers = WorkerBridge(parent=self)
        self.series_list = QListWidget()
        self.series_list.setMinimumWidth(220)
        self.series_list.itemActivated.connect(self._series_activated)
        self.series_list.currentItemChanged.connect(lambda item, _prev: self._series_activated(item))
        self.viewport = Viewport()
        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(self.series_list)
        splitter.addWidget(self.viewport)
        splitter.setStretchFactor(1, 1)
        splitter.setSizes([260, 900])
        self.setCentralWidget(splitter)
        self.status = QLabel("Open a DICOM file or folder (Ctrl+O)")
        self.statusBar().addWidget(self.status, 1)
        self.viewport.slice_changed.connect(lambda _k: self._update_status())
        self.viewport.window_changed.connect(lambda *_: self._update_status())
        self._build_menus()
        self.resize(1200, 800)
        self._scan: SeriesScan | None = None

    def _build_menus(self) -> None:
        file_menu = self.menuBar().addMenu("&File")
        open_folder = QAction("Open &folder…", self, shortcut=QKeySequence.StandardKey.Open)
        open_folder.triggered.connect(self._choose_folder)
        open_file = QAction("Open fi&le…", self)
        open_file.triggered.connect(self._choose_file)
        quit_action = QAction("&Quit", self, shortcut=QKeySequence.StandardKey.Quit)
        quit_action.triggered.connect(self.close)
        for action in (open_folder, open_file):
            file_menu.addAction(action)
        file_menu.addSeparator()
        file_menu.addAction(quit_action)

    # --- opening -------------------------------------------------------------------------------
    def _choose_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Open DICOM folder")
        if folder:
            self.open_path(folder)

    def _choose_file(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open DICOM file")
        if path:
            self.open_path(path)

    def open_path(self, path: str | Path) -> None:
        """Find the series under ``path`` (in the background) and show the first one."""
        self.status.setText(f"Scanning {path}…")
        self.workers.submit(find_series, Path(path), on_done=self._scanned, on_error=self._failed)

    def _scanned(self, scan: SeriesScan) -> None:
        self._scan = scan
        self.series_list.clear()
        for series in scan.series:
            label = f"{series.modality}  #{series.number if series.number is not None else '–'}  " \
                    f"{series.description or '(no description)'}\n{len(series.paths)} images"
            item = QListWidgetItem(label)
            item.setData(Qt.ItemDataRole.UserRole, series)
            self.series_list.addItem(item)
        if not scan.series:
            self._failed(ValueError(f"no DICOM images found ({len(scan.skipped)} files skipped)"))
            return
        self.series_list.setCurrentRow(0)

    def _series_activated(self, item: QListWidgetItem | None) -> None:
        if item is None:
            return
        series: SeriesFiles = item.data(Qt.ItemDataRole.UserRole)
        self.status.setText(f"Loading series #{series.number} ({len(series.paths)} images)…")
        self.workers.submit(load_volume, series.paths, on_done=self._loaded, on_error=self._failed)

    def _loaded(self, volume: Volume) -> None:
        header = volume.headers[0]
        window = default_window(header, volume.voxels)
        inverted = header.get("PhotometricInterpretation") == "MONOCHROME1"
        self.viewport.show_volume(volume, window, inverted=inverted)
        self._update_status()
        for warning in volume.warnings:
            self.statusBar().showMessage(warning, 10000)
        self.volume_shown.emit(volume)

    def _failed(self, exc: BaseException) -> None:
        self.status.setText(f"Error: {exc}")
        self.load_failed.emit(str(exc))
        if self.isVisible() and not getattr(self, "quiet_errors", False):
            QMessageBox.warning(self, TITLE, str(exc))

    def _update_status(self) -> None:
        volume = self.viewport.volume
        if volume is None:
            return
        center, width = self.viewport.scene.window
        k = self.viewport.slice_index
        self.status.setText(
            f"Image {k + 1}/{volume.voxels.shape[0]}   W {width:.0f} / L {center:.0f}   "
            f"{volume.voxels.shape[2]}×{volume.voxels.shape[1]}"
        )

    # --- lifetime ------------------------------------------------------------------------------
    def closeEvent(self, event) -> None:
        self.workers.shutdown()
        self.viewport.shutdown()  # children get no closeEvent: finalize VTK here
        super().closeEvent(event)
