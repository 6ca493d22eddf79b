"""The main window: study browser and thumbnails on the left, the viewer in the centre, jobs below.

Everything slow (import, decode, thumbnails, network) runs as a job on the worker pool; the
window only reacts to results. Window geometry, docks, splitters and the viewport layout are
remembered in ``<home>/ui-state.ini``.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from functools import partial
from pathlib import Path

from PySide6.QtCore import QByteArray, QObject, QSettings, Qt, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QApplication,
    QDialog,
    QDockWidget,
    QFileDialog,
    QInputDialog,
    QLabel,
    QMainWindow,
    QMenu,
    QMessageBox,
    QSplitter,
    QToolButton,
    QWidget,
)

from viewer.core.annotations import AnnotationTemplateError
from viewer.core.measurements import Measurement
from viewer.core.modalities import holds_images
from viewer.core.presets import presets_for, with_overrides
from viewer.core.settings import Settings
from viewer.core.tasks import CancelToken
from viewer.core.volume import StackSummary, Volume, load_stack
from viewer.services.prior_series import matching_series
from viewer.services.priors import find_remote_priors
from viewer.store import ImportReport, Store
from viewer.store.measurements import MeasurementStore, MprPlane, NotInCacheError
from viewer.store.records import SeriesRow
from viewer.ui.jobs import WorkerBridge
from viewer.ui.jobs_panel import Job, JobRunner, JobsPanel
from viewer.ui.layout_grid import LayoutGrid, SeriesDrop
from viewer.ui.qr_panel import QueryRetrievePanel
from viewer.ui.settings_dialog import SettingsDialog
from viewer.ui.stacks import StackSwitcher, is_stacks_warning
from viewer.ui.study_browser import StudyBrowser
from viewer.ui.sync import ViewportSync
from viewer.ui.tag_browser import TagBrowser
from viewer.ui.thumbnails import ThumbnailStrip
from viewer.ui.toolbar import ReadingToolbar
from viewer.ui.user_settings import load_or_recover
from viewer.ui.viewport import Viewport

TITLE = "Lightbox"
REMOVABLE_ROOTS = ("/media/", "/run/media/", "/mnt/", "/cdrom")


def layout_for(series_count: int) -> tuple[int, int]:
    """The default layout for a study: room for its image series, at most 3x3."""
    if series_count <= 1:
        return 1, 1
    if series_count == 2:
        return 1, 2
    if series_count <= 4:
        return 2, 2
    return 3, 3


def is_removable(path: Path) -> bool:
    """Media the user will eject (CD/DVD/USB): import copies, so the cache outlives the medium."""
    text = str(path.resolve())
    return text.startswith(REMOVABLE_ROOTS)


log = logging.getLogger(__name__)


class MeasurementKeeper(QObject):
    """Keeps the viewports' measurements in the cache (:mod:`viewer.store.measurements`).

    Every write is a one-row transaction, run on one worker thread so that the GUI never
    waits for the index (a CLI import in another process may hold its write lock) and so
    that an add, its edits and its deletion reach the index in the order the user made
    them. Reading a series' measurements queues behind the writes, so a measurement drawn a
    moment ago is part of what comes back. :meth:`close` waits for queued writes: closing
    the window right after drawing loses nothing.

    Measurements drawn in MPR planes are kept the same way, per series with their plane
    (:meth:`save_on_plane`, :meth:`restore_planes`), for the MPR windows.
    """

    loaded = Signal(object, object, object)  # Viewport, Volume, list[Measurement] (GUI thread)
    planes_loaded = Signal(object, object)  # the MPR window that asked, list[(Measurement, MprPlane)]
    failed = Signal(str)  # a write the index refused, e.g. an image opened without importing it

    def __init__(self, store: Store, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._index_path = store.index_path
        self._pool: ThreadPoolExecutor | None = ThreadPoolExecutor(max_workers=1,
                                                                   thread_name_prefix="lightbox-measurements")
        self._db: MeasurementStore | None = None  # opened on the worker thread

    def _kept(self) -> MeasurementStore:
        if self._db is None:
            self._db = MeasurementStore.open(self._index_path)
        return self._db

    def _run(self, work, *args) -> Future | None:
        if self._pool is None:
            return None

        def run():
            try:
                return work(*args)
            except NotInCacheError:
                return None  # not cached (a folder dropped without import): shown, not kept
            except Exception as exc:  # a full disk or a locked index must not lose the GUI
                log.warning("measurement not kept: %s", exc)
                self.failed.emit(f"Measurement not saved: {exc}")
                return None

        return self._pool.submit(run)

    def save(self, m: Measurement) -> Future | None:
        copy = Measurement.from_dict(m.to_dict())  # as it is now: the viewport may move its points meanwhile
        return self._run(lambda: self._kept().save(copy))

    def update(self, m: Measurement) -> Future | None:
        copy = Measurement.from_dict(m.to_dict())
        return self._run(lambda: self._kept().update(copy))

    def delete(self, m: Measurement) -> Future | None:
        return self._run(lambda: self._kept().delete(m.id))

    def restore(self, view: Viewport, volume: Volume) -> Future | None:
        """Read the measurements of ``volume``'s series; ``loaded`` delivers them."""
        series_uid = str(volume.headers[0].get("SeriesInstanceUID") or "")
        if not series_uid:
            return None
        return self._run(lambda: self.loaded.emit(view, volume, self._kept().for_series(series_uid)))

    def save_on_plane(self, m: Measurement, series_uid: str, plane: MprPlane) -> Future | None:
        """Keep a measurement drawn in an MPR ``plane`` of ``series_uid``."""
        copy = Measurement.from_dict(m.to_dict())
        return self._run(lambda: self._kept().save_on_plane(copy, series_uid, plane))

    def restore_planes(self, target: object, series_uid: str) -> Future | None:
        """Read the MPR measurements of a series; ``planes_loaded`` delivers them with ``target``."""
        return self._run(lambda: self.planes_loaded.emit(target, self._kept().on_planes(series_uid)))

    def flush(self) -> None:
        """Wait until everything queued so far is in the index."""
        if self._pool is not None:
            self._pool.submit(lambda: None).result()

    def close(self) -> None:
        """Finish the queued writes, then close the worker's connection. Idempotent."""
        pool, self._pool = self._pool, None
        if pool is None:
            return

        def close_db() -> None:
            if self._db is not None:
                self._db.close()

        pool.submit(close_db)
        pool.shutdown(wait=True)


class _MediaRelay(QObject):
    """Delivers the media scan's result (list[Path], or the exception) on the GUI thread."""

    found = Signal(object)


class _BatchRelay(QObject):
    """Re-emits the store's per-batch callback (a worker thread) on the GUI thread."""

    committed = Signal(list)


class MainWindow(QMainWindow):
    volume_shown = Signal(object)  # the Volume now on screen
    load_failed = Signal(str)
    import_finished = Signal(object)  # ImportReport
    study_opened = Signal(str)
    comparison_ready = Signal(str, str)  # current study UID, prior study UID
    measurements_restored = Signal(object, int)  # Viewport, how many stored measurements it now shows

    def __init__(self, store: Store, home: Path, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(TITLE)
        self.setAcceptDrops(True)
        self.store, self.home = store, Path(home)
        self.quiet_errors = False
        self.workers = WorkerBridge(parent=self)
        self.jobs = JobRunner(self.workers, parent=self)
        self._relay = _BatchRelay()
        self._relay.committed.connect(lambda _uids: self.browser.refresh())
        self._media_relay = _MediaRelay()
        self._media_relay.found.connect(self._media_found)
        self._media_scan: threading.Thread | None = None

        self.browser = StudyBrowser(store)
        self.thumbnails = ThumbnailStrip(store, self.workers, self.home / "thumbnails")
        self.left_splitter = left = QSplitter(Qt.Orientation.Vertical)  # browser above thumbnails
        left.addWidget(self.browser)
        left.addWidget(self.thumbnails)
        left.setSizes([500, 220])
        self.grid = LayoutGrid(1, 1, workers=self.workers)
        self.sync = ViewportSync(grid=self.grid, parent=self)
        self.measurement_keeper = MeasurementKeeper(store, parent=self)
        self.measurement_keeper.loaded.connect(self._measurements_loaded)
        self.measurement_keeper.failed.connect(lambda message: self.statusBar().showMessage(message, 15000))
        self.grid.measurement_added.connect(lambda _view, m: self.measurement_keeper.save(m))
        self.grid.measurement_changed.connect(lambda _view, m: self.measurement_keeper.update(m))
        self.grid.measurement_removed.connect(lambda _view, m: self.measurement_keeper.delete(m))
        app = QApplication.instance()
        if app is not None:  # quitting without closing the window still writes what is queued
            app.aboutToQuit.connect(self.measurement_keeper.close)
        self.grid.series_shown.connect(self._series_shown)
        self.grid.series_dropped.connect(self._series_dropped)
        self.grid.load_failed.connect(lambda _view, message: self._failed(RuntimeError(message)))
        self.grid.active_changed.connect(lambda _view: self._update_status())
        self.grid.viewport_added.connect(self._watch_viewport)
        for view in self.grid.all_viewports:
            self._watch_viewport(view)
        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.addWidget(left)
        self.splitter.addWidget(self.grid)
        self.splitter.setStretchFactor(1, 1)
        self.splitter.setSizes([480, 900])
        self.setCentralWidget(self.splitter)

        self.jobs_panel = JobsPanel(self.jobs)
        self.jobs_dock = QDockWidget("Jobs", self)
        self.jobs_dock.setObjectName("jobs")
        self.jobs_dock.setWidget(self.jobs_panel)
        self.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, self.jobs_dock)
        self.jobs.job_added.connect(lambda _job: self.jobs_dock.show())

        self.qr_panel = QueryRetrievePanel(store, self.home, self.workers, self.jobs)
        self.qr_panel.cache_changed.connect(lambda _uid: self.browser.refresh())
        self.qr_dock = QDockWidget("Query / Retrieve", self)
        self.qr_dock.setObjectName("query-retrieve")
        self.qr_dock.setWidget(self.qr_panel)
        self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, self.qr_dock)
        self.qr_dock.hide()

        self.status = QLabel("Import a CD, a folder or files (File menu), or drop them here")
        self.statusBar().addWidget(self.status, 1)
        self.value_label = QLabel()  # the pixel value under the cursor, or the probe's last click
        self.statusBar().addPermanentWidget(self.value_label)
        self.browser.study_selected.connect(self.thumbnails.show_study)
        self.browser.study_activated.connect(self.open_study)
        self.browser.series_activated.connect(self.open_series)
        self.browser.action_requested.connect(self._browser_action)
        self.thumbnails.series_activated.connect(self.open_series)
        self._build_actions()
        self._fit_to_screen()
        self._restore_state()
        self.current_study_uid = ""
        # read once, here: the application takes the theme and the problem (for a dialog) from it
        self.settings, self.settings_problem = load_or_recover(self.home)
        self.apply_reading_settings(self.settings)
        if self.settings_problem:
            self.warn_settings(self.settings_problem)
        self._loading: dict[int, object] = {}  # id(viewport) -> token of the load it waits for

    # --- actions -------------------------------------------------------------------------------
    def _build_actions(self) -> None:
        def action(text: str, slot, shortcut=None) -> QAction:
            a = QAction(text, self)
            if shortcut is not None:
                a.setShortcut(QKeySequence(shortcut))
            a.triggered.connect(slot)
            return a

        open_key = QKeySequence.StandardKey.Open
        self.import_folder_action = action("Import &folder…", self._choose_folder, open_key)
        self.import_files_action = action("Import fi&les…", self._choose_files)
        self.import_zip_action = action("Import &ZIP…", self._choose_zip)
        self.index_in_place_action = action("Index folder in &place (no copy)…", self._choose_folder_in_place)
        self.index_in_place_action.setToolTip("For a large archive on this computer's own disk: the cache "
                                              "points at the files where they are instead of copying them")
        self.import_cd_action = action("Import &CD/DVD…", self.import_media, "Ctrl+D")
        self.tags_action = action("&Tag browser", self.show_tags, "Ctrl+T")
        self.mpr_action = action("&MPR of this series", lambda: self.open_reconstruction("mpr"), "Ctrl+M")
        self.vr_action = action("&3D of this series", lambda: self.open_reconstruction("3d"), "Ctrl+3")
        self.prior_action = action("Compare with &prior…", lambda: self.compare_with_prior(), "Ctrl+P")
        self.qr_action = self.qr_dock.toggleViewAction()
        self.qr_action.setText("&Query/Retrieve")
        self.qr_action.setShortcut(QKeySequence("Ctrl+R"))
        quit_action = action("&Quit", self.close, QKeySequence.StandardKey.Quit)
        self.settings_action = action("&Settings…", self.show_settings, "Ctrl+,")
        file_menu = self.menuBar().addMenu("&File")
        for a in (self.import_cd_action, self.import_folder_action, self.import_files_action,
                  self.import_zip_action, self.index_in_place_action):
            file_menu.addAction(a)
        file_menu.addSeparator()
        file_menu.addAction(self.settings_action)
        file_menu.addSeparator()
        file_menu.addAction(quit_action)
        view_menu = self.menuBar().addMenu("&View")
        view_menu.addAction(self.tags_action)
        view_menu.addAction(self.prior_action)
        view_menu.addAction(self.mpr_action)
        view_menu.addAction(self.vr_action)
        view_menu.addAction(self.jobs_dock.toggleViewAction())
        network_menu = self.menuBar().addMenu("&Network")
        network_menu.addAction(self.qr_action)
        help_menu = self.menuBar().addMenu("&Help")
        help_menu.addAction(action("&Keyboard shortcuts", self.show_shortcuts, "F1"))
        help_menu.addAction(action("&About Lightbox", self.show_about))
        toolbar = self.addToolBar("Main")
        toolbar.setObjectName("main-toolbar")
        import_menu = QMenu("Import", self)  # every way in, as in the File menu
        for a in (self.import_cd_action, self.import_folder_action, self.import_files_action, self.import_zip_action,
                  self.index_in_place_action):
            import_menu.addAction(a)
        self.import_button = QToolButton(toolbar)
        self.import_button.setText("Import")
        self.import_button.setToolTip("Import a CD/DVD, a folder, files or a ZIP archive into the cache")
        self.import_button.setMenu(import_menu)
        self.import_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        toolbar.addWidget(self.import_button)
        for a in (self.qr_action, self.prior_action, self.mpr_action, self.vr_action, self.tags_action):
            toolbar.addAction(a)
        self.addToolBarBreak(Qt.ToolBarArea.TopToolBarArea)
        self.reading_toolbar = ReadingToolbar(self.grid, self.sync, self)
        self.addToolBar(Qt.ToolBarArea.TopToolBarArea, self.reading_toolbar)

    def _fit_to_screen(self, preferred: tuple[int, int] = (1400, 900)) -> None:
        """The first-start size: ``preferred``, but never larger than 95% of the screen's
        free area (a 1366x768 laptop, a 1280x1024 virtual display); saved geometry wins later."""
        screen = self.screen() or QApplication.primaryScreen()
        if screen is None:
            self.resize(*preferred)
            return
        free = screen.availableGeometry()
        width, height = min(preferred[0], int(free.width() * 0.95)), min(preferred[1], int(free.height() * 0.95))
        self.resize(width, height)  # where it goes is the window manager's call

    def _choose_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Import DICOM folder")
        if folder:
            self.import_paths([Path(folder)])

    def _choose_folder_in_place(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Index a DICOM folder in place (no copy)")
        if not folder:
            return
        if is_removable(Path(folder)):
            QMessageBox.information(self, TITLE, f"{folder} is on removable media: it is copied into the cache, "
                                    "so the studies stay readable once the medium is ejected.")
        self.import_paths([Path(folder)], link=not is_removable(Path(folder)))

    def _choose_files(self) -> None:
        paths, _ = QFileDialog.getOpenFileNames(self, "Import DICOM files")
        if paths:
            self.import_paths([Path(p) for p in paths])

    def _choose_zip(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Import ZIP archive", "",
                                              "ZIP archives (*.zip);;All files (*)")
        if path:
            self.import_paths([Path(path)])

    def import_media(self) -> None:
        """Import CD/DVD: find mounted media with a DICOMDIR on another thread (a network share
        under /mnt can take long to walk; the window stays responsive), then import the one
        found, or the one the reader chooses, or ask for the medium's folder."""
        if self._media_scan is not None and self._media_scan.is_alive():
            self.status.setText("Still looking for a CD/DVD…")
            return
        self.status.setText("Looking for a CD/DVD with a DICOMDIR…")

        def scan() -> None:
            try:
                found: object = mounted_dicom_media()
            except Exception as exc:  # unreadable mount points: say so, offer the folder picker
                found = exc
            self._media_relay.found.emit(found)

        # a daemon thread, not the worker pool: a hung mount must not block loads or the exit
        self._media_scan = threading.Thread(target=scan, name="lightbox-media-scan", daemon=True)
        self._media_scan.start()

    def _media_found(self, found: object) -> None:
        media = found if isinstance(found, list) else []
        if len(media) == 1:
            self.import_paths(media, link=False)
            return
        if len(media) > 1:
            names = [str(p) for p in media]
            chosen, ok = QInputDialog.getItem(self, "Import CD/DVD", "Several media carry a DICOMDIR; import:",
                                              names, 0, False)
            if ok and chosen:
                self.import_paths([Path(chosen)], link=False)
            return
        problem = f" ({found})" if isinstance(found, BaseException) else ""
        QMessageBox.information(self, TITLE, "No CD/DVD with a DICOMDIR was found under /media, /run/media, /mnt "
                                f"or /cdrom{problem}. Choose the medium's folder.")
        folder = QFileDialog.getExistingDirectory(self, "Choose the CD/DVD's folder")
        if folder:
            self.import_paths([Path(folder)], link=False)

    # --- import --------------------------------------------------------------------------------
    def import_paths(self, paths: list[Path], link: bool = False, open_first: bool = False) -> Job:
        """Import ``paths`` as a job; studies appear in the browser batch by batch.

        Imports copy by default: a study in the cache must not go "missing" when a Downloads
        folder is tidied up. ``link`` indexes the files where they are (File → Index folder in
        place, and ``lightbox PATH``, which opens a folder as it is).
        """
        title = f"Import {paths[0].name or paths[0]}" + (f" (+{len(paths) - 1})" if len(paths) > 1 else "")

        known: list[str] = []

        def work(progress, cancel) -> ImportReport:
            report = self.store.import_paths(paths, link=link, progress=progress, cancel=cancel,
                                             on_batch=self._relay.committed.emit)
            if open_first and not report.study_uids and report.duplicate:
                known.extend(already_cached_studies(paths))  # opened before: everything was a duplicate
            return report

        job = self.jobs.start(title, work)

        def finished(report: ImportReport | None) -> None:
            self.browser.refresh()
            if report is None:
                self._failed(RuntimeError(f"{title} failed: {job.summary}"))
                return
            self.status.setText(f"{title}: {job.summary}")
            self.import_finished.emit(report)
            if open_first:
                if report.study_uids or known:
                    self.open_study((report.study_uids or known)[0])
                else:
                    self._failed(ValueError(f"no DICOM images found in {', '.join(map(str, paths))}"))

        job.finished.connect(finished)
        return job

    def open_path(self, path: str | Path) -> Job:
        """``lightbox PATH``: index PATH (CD root, folder, file, ZIP) and open its first study.

        Opening a path views it where it is (linked), as a file manager's "Open with" does;
        removable media are copied, so the study outlives the disc.
        """
        return self.import_paths([Path(path)], link=not is_removable(Path(path)), open_first=True)

    # --- opening -------------------------------------------------------------------------------
    @property
    def viewport(self) -> Viewport:
        """The active viewport (toolbar actions, tags and status follow it)."""
        return self.grid.active_viewport

    def _watch_viewport(self, view: Viewport) -> None:
        view.slice_changed.connect(lambda _k: self._update_status())
        view.window_changed.connect(lambda *_: self._update_status())
        view.hovered.connect(lambda report: self.value_label.setText(value_text(report)))
        view.probed.connect(lambda report: self.value_label.setText("Probe: " + value_text(report)))

    def image_series(self, study_uid: str) -> list[SeriesRow]:
        return [s for s in self.store.series(study_uid) if holds_images(s.modality)]

    def open_study(self, study_uid: str) -> None:
        """Show the study's image series in a layout that fits them, placed by series number."""
        self.current_study_uid = study_uid
        self.browser.select_study(study_uid)
        series = self.image_series(study_uid)
        if not series:
            self._failed(ValueError("this study has no image series"))
            return
        self.study_opened.emit(study_uid)
        rows, cols = layout_for(len(series))
        self.grid.set_layout(rows, cols)
        used = self.grid.viewports[: len(series)]
        for view in self.grid.all_viewports:
            if view not in used:
                self._loading.pop(id(view), None)  # a load still running for the last study is dropped
        self.grid.clear_except(used)
        for view, row in zip(used, series, strict=False):
            self.load_series_into(view, row.series_uid)
        self.grid.set_active(self.grid.viewports[0])
        self.focus_viewport()

    def open_series(self, study_uid: str, series_uid: str) -> None:
        """Show one series in the active viewport."""
        self.current_study_uid = study_uid
        self.load_series_into(self.grid.active_viewport, series_uid)
        self.focus_viewport()

    def focus_viewport(self) -> None:
        """Give the keyboard to the active viewport: after a double-click in the browser the
        reader's next PgUp/PgDn/arrow key must scroll the images, not move the tree's selection."""
        self.viewport.vtk_widget.setFocus(Qt.FocusReason.OtherFocusReason)

    def load_series_into(self, view: Viewport, series_uid: str, window=None, stack: int = 0) -> None:
        """Load stack ``stack`` of a cached series off the GUI thread and show it in ``view``.

        A series may hold several stacks (localizer, views, echoes, phases); 0 is the biggest.
        The others stay reachable: the :class:`StackSwitcher` learns them here.
        """
        switcher = StackSwitcher.ensure(self)  # made on first use; lives as long as the window
        paths = [row.path for row in self.store.instances(series_uid)]
        self.status.setText(f"Loading {len(paths)} images…")
        token = object()  # only the newest load asked of a viewport shows up there
        self._loading[id(view)] = token

        def done(loaded: tuple[Volume, list[StackSummary]]) -> None:
            volume, stacks = loaded
            switcher.learn(series_uid, stacks)
            if self._loading.get(id(view)) is token:
                del self._loading[id(view)]
                self.grid.show_series_in(view, volume, window)

        self.workers.submit(load_stack, paths, stack, on_error=self._failed, on_done=done)

    def _series_dropped(self, view: Viewport, drop: SeriesDrop) -> None:
        if not drop.paths and drop.series_instance_uid:  # from the browser: the cache knows the files
            self.load_series_into(view, drop.series_instance_uid)

    def _series_shown(self, view: Viewport, volume: Volume) -> None:
        self.measurement_keeper.restore(view, volume)
        self._update_status()
        stacks_shown = StackSwitcher.ensure(self).shows_stacks_of(view)
        for warning in volume.warnings:  # the other stacks are in the status bar's stack selector
            if not (stacks_shown and is_stacks_warning(warning)):
                self.statusBar().showMessage(warning, 15000)
        self.volume_shown.emit(volume)

    def _measurements_loaded(self, view: Viewport, volume: Volume, stored: list[Measurement]) -> None:
        """Show the series' stored measurements, unless the viewport moved on to another series."""
        if view.volume is not volume:
            return
        ids = {m.id for m in stored}
        drawn = [m for m in view.measurements if m.id not in ids]  # not kept (image outside the cache)
        if stored:
            view.set_measurements([*stored, *drawn])
        self.measurements_restored.emit(view, len(stored))

    def _failed(self, exc: BaseException) -> None:
        self.status.setText(f"Error: {exc}")
        self.load_failed.emit(str(exc))
        if self.isVisible() and not self.quiet_errors:
            QMessageBox.warning(self, TITLE, str(exc))

    def _browser_action(self, name: str, study_uid: str, series_uid: str) -> None:
        if name == "Open":
            if series_uid:
                self.open_series(study_uid, series_uid)
            else:
                self.open_study(study_uid)
        elif name == "Show tags":
            self.show_tags(series_uid=series_uid, study_uid=study_uid)
        elif name == "Delete":
            what = "series" if series_uid else "study"
            answer = QMessageBox.question(self, TITLE, f"Delete this {what} from the local cache? "
                                          "Files imported in place (linked) are left on disk.")
            if answer == QMessageBox.StandardButton.Yes:
                if series_uid:
                    self.store.delete_series(series_uid)
                else:
                    self.store.delete_study(study_uid)
                self._forget_shown(study_uid, series_uid)
                self.browser.refresh()
        elif name == "Export…":
            self.ask_export(study_uid, series_uid)
        elif name == "Send to node…":
            self.ask_send(study_uid, series_uid)
        elif name == "Compare with prior":
            self.compare_with_prior(study_uid)

    def _forget_shown(self, study_uid: str, series_uid: str = "") -> None:
        """Empty the viewports showing a deleted study (or series): its files may be gone, and
        images that are no longer in the cache must not stay on screen as if they were."""
        for view in self.grid.all_viewports:
            header = view.volume.headers[0] if view.volume is not None else None
            if header is None:
                continue
            if (str(header.get("SeriesInstanceUID") or "") == series_uid if series_uid
                    else str(header.get("StudyInstanceUID") or "") == study_uid):
                self._loading.pop(id(view), None)
                view.clear()
        if not series_uid and self.current_study_uid == study_uid:
            self.current_study_uid = ""
        self.status.setText(f"Deleted the {'series' if series_uid else 'study'} from the cache")

    def ask_export(self, study_uid: str, series_uid: str = "") -> None:
        from viewer.ui.export_dialog import ExportDialog

        study = self.store.study(study_uid)
        title = f"{study.patient_name} {study.study_date} {study.description}" if study else study_uid
        if series_uid:
            series = next((s for s in self.store.series(study_uid) if s.series_uid == series_uid), None)
            title += f" — series {series.number or ''} {series.description}" if series else ""
        dialog = ExportDialog(title, parent=self)
        if dialog.exec() and dialog.destination.text().strip():
            self.export_study(study_uid, series_uid=series_uid, **dialog.options())

    def export_study(self, study_uid: str, series_uid: str = "", **options) -> Job:
        """Export as a job: folder, DICOMDIR media or ZIP, optionally de-identified; the whole
        study, or one of its series."""
        from viewer.store.export import export_study

        kind = "DICOMDIR" if options.get("dicomdir") else "ZIP" if options.get("as_zip") else "folder"
        anonymous = " (de-identified)" if options.get("deidentify") else ""
        what = "series" if series_uid else "study"

        def work(progress, cancel):
            return export_study(self.store, study_uid, progress=progress, cancel=cancel,
                                series_uid=series_uid or None, **options)

        return self.jobs.start(f"Export {what} as {kind}{anonymous} to {options['dest']}", work)

    def ask_send(self, study_uid: str, series_uid: str = "") -> None:
        from viewer.ui.export_dialog import SendDialog

        dialog = SendDialog(self.home, "series" if series_uid else "study", parent=self)
        if dialog.exec() and dialog.nodes.currentText():
            self.send(study_uid, series_uid, dialog.nodes.currentText())

    def send(self, study_uid: str, series_uid: str, node_name: str) -> Job:
        """C-STORE (or STOW-RS, for a DICOMweb node) a cached study or series to a node, as a job."""
        from viewer.net.nodes import DicomWebNode, load_config
        from viewer.services.network import send_from_cache

        config = load_config(self.home)
        node = config.node(node_name)

        def work(progress, cancel):
            return send_from_cache(self.store, node, study_uid, series_uid or None, local=config.local,
                                   progress=progress, cancel=cancel)

        how = "STOW-RS" if isinstance(node, DicomWebNode) else "C-STORE"
        return self.jobs.start(f"Send {'series' if series_uid else 'study'} to {node.name} ({how})", work)

    def open_reconstruction(self, kind: str):
        """MPR ("mpr") or volume rendering ("3d") of the series in the active viewport."""
        from viewer.ui.reconstruction_window import ReconstructionWindow

        volume = self.viewport.volume
        if volume is None or volume.voxels.shape[0] < 2:
            self.status.setText("Open a volumetric series first (MPR and 3D need more than one slice)")
            return None
        window = ReconstructionWindow(volume, kind, self.viewport.scene.window, parent=self,
                                      keeper=self.measurement_keeper)
        self.reconstructions = [w for w in getattr(self, "reconstructions", []) if w.isVisible()] + [window]
        window.show()
        window.view.render()
        return window

    def compare_with_prior(self, study_uid: str = "") -> None:
        """Pick a prior of the open (or given) study and read both side by side."""
        from viewer.ui.priors_dialog import PriorsDialog

        study_uid = study_uid or self.current_study_uid
        study = self.store.study(study_uid) if study_uid else None
        if study is None:
            self.status.setText("Open a study first, then compare it with a prior")
            return
        every_prior = self.store.priors(study_uid)
        priors = [p for p in every_prior if p.study.study_date <= study.study_date or not study.study_date]
        config = self.qr_panel.config
        nodes = [*config.nodes.values(), *config.dicomweb.values()]
        dialog = PriorsDialog(study.patient_name, priors, parent=self, searching_remote=bool(nodes))
        cancel = CancelToken()
        if nodes:  # the PACS answers while the reader looks at the local list
            cached = {study_uid} | {p.study.study_uid for p in every_prior}  # this patient's, already here
            search = partial(find_remote_priors, nodes, study.patient_id, exclude=cached,
                             before=study.study_date, local=config.local)
            self.workers.submit(search, cancel=cancel,
                                on_done=lambda found: cancel.cancelled or dialog.add_remote(found),
                                on_error=lambda exc: cancel.cancelled or dialog.remote_failed(str(exc)))
        accepted = dialog.exec()
        cancel.cancel()  # the dialog is closed: late answers are dropped
        if accepted and dialog.chosen_node():
            self.retrieve_prior(study_uid, dialog.chosen(), dialog.chosen_node())
        elif accepted:
            self.open_comparison(study_uid, dialog.chosen())
        elif dialog.search_pacs:
            self.qr_dock.show()
            self.qr_panel.patient_id.setText(study.patient_id)
            self.qr_panel.patient_name.clear()
            if self.qr_panel.config.nodes or self.qr_panel.config.dicomweb:
                self.qr_panel.search()

    def retrieve_prior(self, current_uid: str, prior_uid: str, node_name: str) -> Job:
        """Retrieve a prior from ``node_name`` into the cache, then open the comparison."""
        node = self.qr_panel.config.node(node_name)
        self.status.setText(f"Retrieving the prior from {node_name}; the comparison opens when it is cached")

        def retrieved(_report: object) -> None:
            if job.status == "cancelled":
                return
            if self.store.study(prior_uid) is not None:  # a partial retrieve still compares what came
                self.open_comparison(current_uid, prior_uid)
            else:
                self._failed(RuntimeError(f"the prior could not be retrieved from {node_name}: {job.summary}"))

        job = self.qr_panel.retrieve(prior_uid, node=node)
        job.finished.connect(retrieved)
        return job

    def open_comparison(self, current_uid: str, prior_uid: str) -> None:
        """Current study left, prior right (1x2): the series being read (the active viewport's)
        beside the prior's matching series, synchronised scrolling, same window."""
        current, prior = self.image_series(current_uid), self.image_series(prior_uid)
        if not current or not prior:
            self._failed(ValueError("both studies need an image series to compare"))
            return
        left = self.series_being_read(current)
        # choosing the prior's series reads a header of each: on a worker, never the GUI thread
        self.workers.submit(matching_series, self.store, left, prior, on_error=self._failed,
                            on_done=lambda right: self._show_comparison(current_uid, prior_uid, left, right))

    def _show_comparison(self, current_uid: str, prior_uid: str, left: SeriesRow, right: SeriesRow) -> None:
        self._accept_same_patient(current_uid, prior_uid)
        self.current_study_uid = current_uid
        self.grid.set_layout(1, 2)
        first, second = self.grid.viewports[:2]
        self.set_sync_scrolling(True)
        pending = {"left": None, "right": None}

        def shown(view: Viewport, _volume: Volume) -> None:
            if view is first:
                pending["left"] = view
            elif view is second:
                pending["right"] = view
            if pending["left"] is not None and pending["right"] is not None:
                self.grid.series_shown.disconnect(shown)
                center, width = first.scene.window
                if first.volume.headers[0].get("Modality") == second.volume.headers[0].get("Modality"):
                    second.set_window(center, width)  # matched W/L: the same window on both exams
                self.sync.capture_offsets()
                self.grid.set_active(first)
                self.comparison_ready.emit(current_uid, prior_uid)

        self.grid.series_shown.connect(shown)
        self.load_series_into(first, left.series_uid)
        self.load_series_into(second, right.series_uid)
        self.grid.set_active(first)
        self.focus_viewport()

    def set_sync_scrolling(self, on: bool) -> None:
        """Synchronised scrolling on or off, through the toolbar's Sync menu so that its check
        mark always says what the viewports do."""
        action = getattr(self.reading_toolbar, "sync_actions", {}).get("scroll_enabled")
        if action is not None:
            action.setChecked(on)  # toggled -> ViewportSync.scroll_enabled
        self.sync.scroll_enabled = on

    def series_being_read(self, series: list[SeriesRow]) -> SeriesRow:
        """The series of ``series`` (one study's) shown in the active viewport, else its largest
        stack: the one the reader is reading, rather than the lowest-numbered localizer."""
        volume = self.viewport.volume
        shown = str(volume.headers[0].get("SeriesInstanceUID") or "") if volume is not None else ""
        return next((s for s in series if s.series_uid == shown),
                    max(series, key=lambda s: (s.instance_count, -(s.number or 0))))

    def _accept_same_patient(self, current_uid: str, prior_uid: str) -> None:
        """A prior the reader chose though matched on name and birth date only (another Patient
        ID, see Store.priors) is the same patient for synchronised scrolling."""
        a, b = self.store.study(current_uid), self.store.study(prior_uid)
        if a is not None and b is not None and a.patient_id and b.patient_id and a.patient_id != b.patient_id:
            self.sync.same_patients.add(frozenset((a.patient_id, b.patient_id)))

    # --- network -------------------------------------------------------------------------------
    def start_storage_scp(self) -> str:
        """Start our storage SCP (C-MOVE results, modality pushes) into the cache; returns a status.

        The Q/R panel owns it, so a port that cannot be opened stays visible there (with what
        to do) rather than only in a status-bar message.
        """
        message = self.qr_panel.start_scp()
        self.statusBar().showMessage(message, 15000)
        return message

    # --- tools ---------------------------------------------------------------------------------
    def show_tags(self, *_: object, series_uid: str = "", study_uid: str = "") -> TagBrowser | None:
        """All attributes of the image on screen (or of the chosen series' first image)."""
        from viewer.core.reading import read_header

        volume = self.viewport.volume
        if series_uid:
            rows = self.store.instances(series_uid)
            header = read_header(rows[0].path) if rows else None
        elif volume is not None:
            header = volume.headers[self.viewport.slice_index]
        else:
            header = None
        if header is None:
            self.status.setText("Open an image to see its tags")
            return None
        dialog = TagBrowser(header, parent=self)
        dialog.show()
        return dialog

    def show_settings(self) -> SettingsDialog:
        dialog = SettingsDialog(self.store, self.home, self.workers, parent=self)
        dialog.saved.connect(self.apply_settings)
        dialog.show()
        return dialog

    def apply_settings(self) -> None:
        """Re-read settings.json and nodes.json and apply them to the open window."""
        from PySide6.QtWidgets import QApplication

        from viewer.ui.theme import apply_theme

        settings, problem = load_or_recover(self.home)
        self.settings, self.settings_problem = settings, problem
        if problem:
            self.warn_settings(problem)
        app = QApplication.instance()
        if isinstance(app, QApplication):
            apply_theme(app, dark=settings.theme == "dark")
        self.apply_reading_settings(settings)
        self.qr_panel.reload_nodes()

    def warn_settings(self, problem: str) -> None:
        """A damaged settings.json was set aside: say so where the reader looks (status bar, and
        a dialog unless errors are quiet, as in tests and screenshots)."""
        log.warning("%s", problem)
        self.statusBar().showMessage(problem)
        if self.isVisible() and not self.quiet_errors:
            QMessageBox.warning(self, TITLE, problem)

    def apply_reading_settings(self, settings: Settings) -> None:
        """What settings.json says about reading, for every viewport of the layout (hidden ones
        included): corner annotations on or off and their templates, and the user's W/L presets,
        for series opened from now on and, recomputed, for the series already on screen."""
        self.grid.set_annotations_visible(settings.annotations)
        try:
            self.grid.set_annotation_templates(settings.annotation_templates)
        except AnnotationTemplateError as exc:  # load_settings validates them; a newer grid may not agree
            self.warn_settings(f"Annotation templates not used: {exc}")
        table = with_overrides(settings.user_presets)
        self.grid.set_preset_table(table)
        for view in self.grid.all_viewports:
            if view.volume is not None and not view.scene.is_color:
                view.presets = presets_for(view.volume.headers[0], view.volume.voxels, table)

    def show_shortcuts(self) -> QDialog:
        """F1: the table of every shortcut (the window's, read from its actions, and the viewport's)."""
        from viewer.ui.shortcuts import ShortcutsDialog

        dialog = ShortcutsDialog(self, parent=self)
        dialog.show()
        return dialog

    def show_about(self) -> None:
        import pydicom
        import vtkmodules
        from PySide6 import __version__ as pyside_version

        from viewer import __version__

        try:
            from viewer.core.codecs import availability_report

            codecs = "\n".join(f"{c}" for c in availability_report())
        except Exception as exc:  # the report is informative only
            codecs = f"(decoder report unavailable: {exc})"
        text = (f"Lightbox {__version__} — GPL-3.0-or-later\n\nQt (PySide6) {pyside_version}\n"
                f"VTK {vtkmodules.__version__}\npydicom {pydicom.__version__}\n\nDecoders:\n{codecs}")
        QMessageBox.about(self, "About Lightbox", text)

    def _update_status(self) -> None:
        volume = self.viewport.volume
        if volume is None:
            return
        center, width = self.viewport.scene.window
        k = self.viewport.image_number()
        self.status.setText(f"Image {k + 1}/{volume.voxels.shape[0]}   W {width:.0f} / L {center:.0f}   "
                            f"{volume.voxels.shape[2]}×{volume.voxels.shape[1]}")

    # --- drag and drop -------------------------------------------------------------------------
    def dragEnterEvent(self, event) -> None:
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:
        paths = [Path(u.toLocalFile()) for u in event.mimeData().urls() if u.isLocalFile()]
        if paths:
            self.import_paths(paths)
            event.acceptProposedAction()

    # --- lifetime ------------------------------------------------------------------------------
    def _settings(self) -> QSettings:
        return QSettings(str(self.home / "ui-state.ini"), QSettings.Format.IniFormat)

    def _restore_state(self) -> None:
        settings = self._settings()
        geometry, state = settings.value("geometry"), settings.value("state")
        if isinstance(geometry, QByteArray):
            self.restoreGeometry(geometry)
        if isinstance(state, QByteArray):
            self.restoreState(state)
        for key, splitter in (("splitter", self.splitter), ("left-splitter", self.left_splitter)):
            saved = settings.value(key)
            if isinstance(saved, QByteArray):
                splitter.restoreState(saved)
        rows, _, cols = str(settings.value("layout", "")).partition("x")
        with contextlib.suppress(ValueError):  # none saved yet, or edited by hand into something invalid
            self.grid.set_layout(int(rows), int(cols))

    def closeEvent(self, event) -> None:
        settings = self._settings()
        settings.setValue("geometry", self.saveGeometry())
        settings.setValue("state", self.saveState())
        settings.setValue("splitter", self.splitter.saveState())
        settings.setValue("left-splitter", self.left_splitter.saveState())
        settings.setValue("layout", f"{self.grid.rows}x{self.grid.cols}")
        settings.sync()
        for job in self.jobs.jobs:
            job.cancel()
        if self.qr_panel.scp is not None:
            self.qr_panel.scp.stop()
        self.workers.shutdown()
        self.measurement_keeper.close()  # queued measurement writes reach the index first
        for window in getattr(self, "reconstructions", []):
            window.close()
        self.grid.shutdown()  # children get no closeEvent: finalize VTK here
        super().closeEvent(event)


def value_text(report: dict) -> str:
    """'35 HU at row 300, col 256   LPS (12.3, -40.1, 88.0) mm' for a probe result (hover or click)."""
    value, unit = report.get("value"), report.get("unit", "")
    if isinstance(value, list):  # colour: R, G, B
        shown = f"RGB {', '.join(f'{v:.0f}' for v in value)}"
    elif not isinstance(value, float) or value != value:
        shown = "outside the image"
    else:
        shown = f"{value:.0f} {unit}".rstrip() if value == int(value) else f"{value:.2f} {unit}".rstrip()
    x, y, z = report.get("position", (0.0, 0.0, 0.0))
    return (f"{shown} at row {report.get('row')}, col {report.get('column')}   "
            f"LPS ({x:.1f}, {y:.1f}, {z:.1f}) mm")


def already_cached_studies(paths: list[Path]) -> list[str]:
    """Study UID of the first readable DICOM file under ``paths`` (for re-opening a known folder)."""
    from viewer.core.errors import DicomReadError
    from viewer.core.reading import read_header
    from viewer.core.series import iter_files

    for path in iter_files(paths):
        try:
            uid = str(read_header(path).get("StudyInstanceUID", ""))
        except DicomReadError:
            continue
        if uid:
            return [uid]
    return []


def mounted_dicom_media() -> list[Path]:
    """Roots of mounted removable media that carry a DICOMDIR (PS3.10 file sets)."""
    found = []
    for root in ("/media", "/run/media", "/mnt", "/cdrom"):
        if not os.path.isdir(root):
            continue
        for dirpath, dirnames, filenames in os.walk(root):
            if dirpath.count(os.sep) - root.count(os.sep) >= 3:
                dirnames[:] = []
            if any(name.upper() == "DICOMDIR" for name in filenames):
                found.append(Path(dirpath))
                dirnames[:] = []
    return found
