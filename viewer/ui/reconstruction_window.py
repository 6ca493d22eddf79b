"""MPR and 3D of the active series in their own window (closing it releases the GL context).

The MPR window has a tool bar like the 2D pane's reading tools: Crosshair (the MPR's own left
button) and the measuring tools with the 2D pane's labels and tips (length, angle, ROIs,
probe); the status bar shows the value and LPS position under the mouse and the last probe.
The 3D window's tool bar chooses the preset, shows the crop box and resets the view (right
drag adjusts the transfer function); its File menu exports the iso-surface as STL in patient
LPS mm.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QActionGroup, QGuiApplication
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QInputDialog,
    QMainWindow,
    QMessageBox,
    QToolBar,
    QWidget,
)

from viewer.core.errors import LightboxError
from viewer.core.measurements import modality_unit
from viewer.core.volume import Volume


def _value_text(report: dict) -> str:
    """'35.0 HU at LPS (12.3, -40.1, 88.0) mm' for a probe result."""
    value = report.get("value")
    unit = report.get("unit", "")
    shown = "outside" if not isinstance(value, float) or value != value else f"{value:.1f} {unit}".rstrip()
    x, y, z = report["position"]
    return f"{report['plane'].capitalize()}: {shown} at LPS ({x:.1f}, {y:.1f}, {z:.1f}) mm"


class ReconstructionWindow(QMainWindow):
    """Hosts an MprView or a VolumeView; its closeEvent finalizes VTK before Qt destroys it."""

    def __init__(self, volume: Volume, kind: str, window: tuple[float, float],
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.volume = volume
        if kind == "mpr":
            from viewer.ui.mpr_view import MprView

            self.view = MprView(volume, window)
            self.setWindowTitle("Lightbox — MPR")
            self._build_mpr_tools()
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
        path, _ = QFileDialog.getSaveFileName(self, "Export surface as STL", "surface.stl", "STL files (*.stl)")
        if not path:
            return
        if not path.lower().endswith(".stl"):
            path += ".stl"
        self.export_stl(path, threshold)

    def export_stl(self, path: str, threshold: float) -> None:
        from viewer.render.surface import export_stl

        QGuiApplication.setOverrideCursor(Qt.CursorShape.WaitCursor)
        try:
            info = export_stl(self.volume, path, threshold)
        except LightboxError as exc:
            QGuiApplication.restoreOverrideCursor()
            QMessageBox.warning(self, "Export surface as STL", str(exc))
            return
        QGuiApplication.restoreOverrideCursor()
        self.statusBar().showMessage(f"Wrote {info.triangles:,} triangles at {threshold:g} to {info.path}")

    def closeEvent(self, event) -> None:
        self.view.shutdown()
        super().closeEvent(event)
