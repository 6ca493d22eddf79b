"""MPR and 3D of the active series in their own window (closing it releases the GL context).

The MPR window has a tool bar like the 2D pane's reading tools: Crosshair (the MPR's own left
button) and the measuring tools with the 2D pane's labels and tips (length, angle, ROIs,
probe); the status bar shows the value and LPS position under the mouse and the last probe.
Its Measurements list names every measurement of the MPR with its plane; activating one
(double-click, Enter) brings its plane back on screen, Delete removes it. Given the main
window's :class:`~viewer.ui.main_window.MeasurementKeeper`, measurements are kept in the
cache with the plane they were drawn in and come back when an MPR of the series opens again:
drawn when their plane is on screen (the crosshair opens where it always does, so a plane
at the default position shows its measurements at once), listed otherwise, as Horos's ROI
manager and Weasis's measurement list do.

The 3D window's tool bar chooses the preset, shows the crop box and resets the view (right
drag adjusts the transfer function); its File menu exports the iso-surface as STL in patient
LPS mm, on a worker thread with progress and a Cancel button in the status bar, so the
window keeps rotating meanwhile.
"""

from __future__ import annotations

import contextlib

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QAction, QActionGroup
from PySide6.QtWidgets import (
    QComboBox,
    QDockWidget,
    QFileDialog,
    QInputDialog,
    QListWidget,
    QListWidgetItem,
    QMainWindow,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QToolBar,
    QWidget,
)

from viewer.core.errors import Cancelled, LightboxError
from viewer.core.measurements import Measurement, modality_unit
from viewer.core.tasks import CancelToken, Progress
from viewer.core.volume import Volume
from viewer.ui.jobs import WorkerBridge

EXPORT_TITLE = "Export surface as STL"


def _value_text(report: dict) -> str:
    """'35.0 HU at LPS (12.3, -40.1, 88.0) mm' for a probe result."""
    value = report.get("value")
    unit = report.get("unit", "")
    shown = "outside" if not isinstance(value, float) or value != value else f"{value:.1f} {unit}".rstrip()
    x, y, z = report["position"]
    return f"{report['plane'].capitalize()}: {shown} at LPS ({x:.1f}, {y:.1f}, {z:.1f}) mm"


class _MeasurementList(QListWidget):
    """The MPR's measurement list; Delete (or Backspace) asks to remove the current one."""

    delete_pressed = Signal()

    def keyPressEvent(self, event) -> None:
        if event.key() in (Qt.Key.Key_Delete, Qt.Key.Key_Backspace):
            self.delete_pressed.emit()
            return
        super().keyPressEvent(event)


class ReconstructionWindow(QMainWindow):
    """Hosts an MprView or a VolumeView; its closeEvent finalizes VTK before Qt destroys it.

    ``keeper`` (the main window's MeasurementKeeper) keeps the MPR's measurements in the
    cache; without it they last as long as the window. ``workers`` runs the STL export (by
    default a one-thread :class:`~viewer.ui.jobs.WorkerBridge` of this window's own).
    """

    kept_measurements_shown = Signal(int)  # MPR: how many kept measurements came back
    export_progress = Signal(object)  # 3D: a Progress of the running STL export
    export_finished = Signal(object)  # 3D: SurfaceInfo, or the exception (Cancelled when cancelled)

    def __init__(self, volume: Volume, kind: str, window: tuple[float, float],
                 parent: QWidget | None = None, keeper=None, workers: WorkerBridge | None = None) -> None:
        super().__init__(parent)
        self.volume = volume
        self._closed = False
        self._keeper = None
        self.series_uid = str(volume.headers[0].get("SeriesInstanceUID") or "") if len(volume.headers) else ""
        if kind == "mpr":
            from viewer.ui.mpr_view import MprView

            self.view = MprView(volume, window)
            self.setWindowTitle("Lightbox — MPR")
            self._build_mpr_tools()
            self._build_measurement_list()
            if keeper is not None and self.series_uid:
                self._keep_with(keeper)
        else:
            from viewer.ui.volume_view import VolumeView

            modality = str(volume.headers[0].get("Modality", "")) if len(volume.headers) else ""
            self.view = VolumeView(volume, preset="ct-bone" if modality == "CT" else "mr-default")
            self.setWindowTitle("Lightbox — 3D")
            file_menu = self.menuBar().addMenu("&File")
            self.export_stl_action = file_menu.addAction("Export surface as STL…", self.ask_export_stl)
            self.export_stl_action.setToolTip("Iso-surface at a threshold (default: the bone preset's) "
                                              "as STL in patient LPS millimetres")
            self._build_3d_tools()
            self.workers = workers or WorkerBridge(max_workers=1, parent=self)
            self._export: CancelToken | None = None
            self._build_export_status()
        self.setCentralWidget(self.view)
        self.resize(1200, 500 if kind == "mpr" else 800)

    # --- MPR ---------------------------------------------------------------------------------
    def _build_mpr_tools(self) -> None:
        from viewer.ui.mpr_view import MPR_TOOLS
        from viewer.ui.toolbar import TOOL_LABELS

        bar = QToolBar("MPR tools", self)
        bar.setObjectName("mpr-toolbar")
        group = QActionGroup(self)
        group.setExclusive(True)
        self.tool_actions: dict[str, QAction] = {}
        labels = {"crosshair": ("Crosshair", "Crosshair: click or drag to move it; Ctrl+drag rotates (oblique)"),
                  **TOOL_LABELS}
        for tool in MPR_TOOLS:
            text, tip = labels[tool]
            action = QAction(text, self, checkable=True, toolTip=tip)
            action.triggered.connect(lambda _=False, t=tool: self.select_tool(t))
            group.addAction(action)
            bar.addAction(action)
            self.tool_actions[tool] = action
        self.tool_actions["crosshair"].setChecked(True)
        self.addToolBar(bar)
        self.view.hovered.connect(lambda report: self.statusBar().showMessage(_value_text(report)))
        self.view.probed.connect(lambda report: self.statusBar().showMessage("Probe — " + _value_text(report)))
        self.view.measurement_added.connect(lambda m: self.statusBar().showMessage(m.summary().replace("\n", "  ")))

    def select_tool(self, tool: str) -> None:
        self.view.set_tool(tool)
        self.tool_actions[tool].setChecked(True)

    def _build_measurement_list(self) -> None:
        self.measurement_list = _MeasurementList()
        self.measurement_list.setToolTip("Measurements of this MPR with their planes: double-click (or Enter) "
                                         "shows the plane one was drawn in; Delete removes it")
        self.measurement_list.itemActivated.connect(lambda item: self.go_to(item.data(Qt.ItemDataRole.UserRole)))
        self.measurement_list.delete_pressed.connect(self._delete_selected)
        self.measurement_dock = QDockWidget("Measurements", self)
        self.measurement_dock.setObjectName("mpr-measurements")
        self.measurement_dock.setWidget(self.measurement_list)
        self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, self.measurement_dock)
        self.view.measurement_added.connect(lambda _m: self.refresh_measurement_list())
        self.view.measurement_removed.connect(lambda _m: self.refresh_measurement_list())
        self.view.scene.listeners.append(self._update_measurement_lines)  # planes moved: shown or not

    def _line(self, m: Measurement) -> str:
        plane = self.view.plane_of(m)
        where = (plane.view.capitalize() if plane else "?") + ("" if self.view.is_shown(m) else " (not shown)")
        return f"{where} — {m.kind}: {m.summary().replace(chr(10), '  ')}"

    def refresh_measurement_list(self) -> None:
        """One line per measurement: its plane, whether it is on screen, its value."""
        self.measurement_list.clear()
        for m, _plane in self.view.measurements:
            item = QListWidgetItem(self._line(m))
            item.setData(Qt.ItemDataRole.UserRole, m)
            self.measurement_list.addItem(item)

    def _update_measurement_lines(self) -> None:
        """After every crosshair move: cheap (a few measurements), and only changed lines are set."""
        if self._closed:
            return
        for row in range(self.measurement_list.count()):
            item = self.measurement_list.item(row)
            text = self._line(item.data(Qt.ItemDataRole.UserRole))
            if item.text() != text:
                item.setText(text)

    def go_to(self, m: Measurement) -> None:
        """Bring the plane ``m`` was drawn in on screen (from the list)."""
        self.view.go_to(m)
        self.refresh_measurement_list()
        self.statusBar().showMessage(f"{self.view.plane_of(m).view.capitalize()}: {m.summary()}".replace("\n", "  "))

    def _delete_selected(self) -> None:
        item = self.measurement_list.currentItem()
        if item is not None:
            self.view.remove(item.data(Qt.ItemDataRole.UserRole))

    # --- keeping MPR measurements in the cache ----------------------------------------------------
    def _keep_with(self, keeper) -> None:
        """Save what is drawn, forget what is deleted, and ask for what was kept before
        (delivered on the GUI thread through ``keeper.planes_loaded``)."""
        self._keeper = keeper
        self.view.measurement_added.connect(self._save_measurement)
        self.view.measurement_removed.connect(keeper.delete)
        keeper.planes_loaded.connect(self._kept_loaded)
        keeper.restore_planes(self, self.series_uid)

    def _save_measurement(self, m: Measurement) -> None:
        plane = self.view.plane_of(m)
        if self._keeper is not None and plane is not None:
            self._keeper.save_on_plane(m, self.series_uid, plane)

    def _kept_loaded(self, target: object, kept: list) -> None:
        if target is not self or self._closed:
            return
        shown = self.view.show_kept(kept)
        self.refresh_measurement_list()
        if shown:
            self.statusBar().showMessage(f"{shown} kept measurement{'s' if shown != 1 else ''} of this series "
                                         "(Measurements list: double-click to show its plane)")
        self.kept_measurements_shown.emit(shown)

    # --- 3D ----------------------------------------------------------------------------------
    def _build_3d_tools(self) -> None:
        from viewer.render.volume_render import PRESETS

        bar = QToolBar("3D", self)
        bar.setObjectName("3d-toolbar")
        self.preset_combo = QComboBox()
        for key, preset in PRESETS.items():
            self.preset_combo.addItem(preset.name, key)
        self.preset_combo.setCurrentIndex(self.preset_combo.findData(self.view.preset_key))
        self.preset_combo.setToolTip("Rendering preset; right drag moves (vertical) and widens (horizontal) it")
        self.preset_combo.currentIndexChanged.connect(
            lambda _i: self.view.set_preset(self.preset_combo.currentData()))
        bar.addWidget(self.preset_combo)
        self.crop_action = QAction("Crop", self, checkable=True,
                                   toolTip="Show a box whose faces clip the volume (drag its handles)")
        self.crop_action.toggled.connect(self.view.set_crop)
        bar.addAction(self.crop_action)
        bar.addAction(QAction("Reset view", self, toolTip="Anterior view, head up (R)",
                              triggered=lambda: self.view.reset()))
        self.addToolBar(bar)

    def ask_export_stl(self) -> None:
        """File → Export surface as STL…: ask for the threshold, then for the file."""
        unit = modality_unit(self.volume.headers[0]) if len(self.volume.headers) else ""
        low, high = float(self.volume.voxels.min()), float(self.volume.voxels.max())
        threshold, ok = QInputDialog.getDouble(
            self, "Export surface as STL", f"Threshold {unit} (values {low:g} to {high:g})".replace("  ", " "),
            self.view.scene.surface_threshold(), low, high, 1)
        if not ok:
            return
        path, _ = QFileDialog.getSaveFileName(self, EXPORT_TITLE, "surface.stl", "STL files (*.stl)")
        if not path:
            return
        if not path.lower().endswith(".stl"):
            path += ".stl"
        self.export_stl(path, threshold)

    def _build_export_status(self) -> None:
        self.export_bar = QProgressBar()
        self.export_bar.setMaximumWidth(220)
        self.export_bar.setTextVisible(True)
        self.export_cancel = QPushButton("Cancel")
        self.export_cancel.setToolTip("Stop the STL export; the file is left as it was")
        self.export_cancel.clicked.connect(self.cancel_export)
        for widget in (self.export_bar, self.export_cancel):
            self.statusBar().addPermanentWidget(widget)
            widget.hide()

    @property
    def exporting(self) -> bool:
        return self._export is not None

    def export_stl(self, path: str, threshold: float) -> CancelToken:
        """Start writing the ``threshold`` iso-surface to ``path`` on a worker; returns its
        cancel token. Progress shows in the status bar with a Cancel button; the window stays
        live (rotate, presets) meanwhile. One export at a time: the menu entry waits for it."""
        from viewer.render.surface import export_stl

        if self._export is not None:
            raise RuntimeError("an STL export is already running")
        token = CancelToken()
        self._export = token
        self.export_stl_action.setEnabled(False)
        self.export_bar.setRange(0, 0)  # busy until the first report
        self.export_bar.show()
        self.export_cancel.setEnabled(True)
        self.export_cancel.show()
        self.statusBar().showMessage(f"Exporting the surface at {threshold:g} to {path}…")
        self.workers.submit(export_stl, self.volume, path, threshold, cancel=token,
                            on_progress=lambda p: self._export_progress(token, p),
                            on_done=lambda info: self._export_done(token, info),
                            on_error=lambda exc: self._export_done(token, exc))
        return token

    def cancel_export(self) -> None:
        if self._export is not None:
            self._export.cancel()
            self.export_cancel.setEnabled(False)
            self.statusBar().showMessage("Cancelling the STL export…")

    def _export_progress(self, token: CancelToken, progress: Progress) -> None:
        if token is not self._export or self._closed:
            return
        if progress.total:
            self.export_bar.setRange(0, progress.total)
            self.export_bar.setValue(progress.done)
        if not token.cancelled:
            self.statusBar().showMessage(progress.message)
        self.export_progress.emit(progress)

    def _export_done(self, token: CancelToken, result: object) -> None:
        if token is not self._export or self._closed:
            return
        self._export = None
        self.export_bar.hide()
        self.export_cancel.hide()
        self.export_stl_action.setEnabled(True)
        if isinstance(result, Cancelled):
            self.statusBar().showMessage("STL export cancelled; no file was written", 10000)
        elif isinstance(result, BaseException):
            self.statusBar().clearMessage()
            message = str(result) if isinstance(result, LightboxError) else (
                f"The surface could not be exported: {result}")
            QMessageBox.warning(self, EXPORT_TITLE, message)
        else:
            self.statusBar().showMessage(f"Wrote {result.triangles:,} triangles at {result.threshold:g} "
                                         f"to {result.path}")
        self.export_finished.emit(result)

    def closeEvent(self, event) -> None:
        self._closed = True
        if getattr(self, "_export", None) is not None:
            self._export.cancel()  # the worker stops at its next stage and removes its temporary file
        if getattr(self, "workers", None) is not None and self.workers.parent() is self:
            self.workers.shutdown()
        if self._keeper is not None:
            with contextlib.suppress(RuntimeError, TypeError):  # already disconnected
                self._keeper.planes_loaded.disconnect(self._kept_loaded)
        self.view.shutdown()
        super().closeEvent(event)
