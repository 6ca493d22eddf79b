"""The reading toolbar: which tool the left button runs, layouts, and view actions.

Tool buttons are exclusive and apply to every viewport of the grid; view actions (rotate,
flip, invert, reset, interpolation, presets, cine) apply to the active viewport, and the sync
toggles to the :class:`~viewer.ui.sync.ViewportSync` when one is given.
"""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtGui import QAction, QActionGroup
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QMenu,
    QSpinBox,
    QToolBar,
    QToolButton,
    QWidget,
)

from viewer.ui.layout_grid import LAYOUTS, MAX_SIDE, LayoutGrid
from viewer.ui.sync import ViewportSync
from viewer.ui.viewport import MEASURE_TOOLS

TOOL_LABELS = {
    "window": ("W/L", "Window/level: drag right for a wider window, up for a higher centre"),
    "zoom": ("Zoom", "Zoom: drag up to magnify (right button anywhere)"),
    "pan": ("Pan", "Pan: drag the image (middle button anywhere)"),
    "scroll": ("Scroll", "Scroll: drag down to move through the slices"),
    "length": ("Length", "Length in mm (Pixel Spacing), 'mm (detector)' or px"),
    "angle": ("Angle", "Angle: drag the first arm, then click the end of the second"),
    "rectangle": ("Rect", "Rectangle ROI: mean, SD, min, max, area"),
    "ellipse": ("Ellipse", "Ellipse ROI: mean, SD, min, max, area"),
    "freehand": ("Free", "Freehand ROI: draw the outline"),
    "probe": ("Probe", "Pixel value under the cursor"),
}


class ReadingToolbar(QToolBar):
    """Tools and view actions for a :class:`LayoutGrid`."""

    tool_changed = Signal(str)

    def __init__(self, grid: LayoutGrid, sync: ViewportSync | None = None, parent: QWidget | None = None) -> None:
        super().__init__("Reading", parent)
        self.grid, self.sync = grid, sync
        self.setObjectName("reading-toolbar")
        self.tool_actions: dict[str, QAction] = {}
        group = QActionGroup(self)
        group.setExclusive(True)
        for tool, (label, tip) in TOOL_LABELS.items():
            action = QAction(label, self, checkable=True, toolTip=tip)
            action.triggered.connect(lambda _=False, t=tool: self.select_tool(t))
            group.addAction(action)
            self.tool_actions[tool] = action
            if tool not in MEASURE_TOOLS:
                self.addAction(action)
        # the six measuring tools share one button (the last one used), to keep the bar narrow
        self.measure_button = QToolButton(self)
        self.measure_button.setPopupMode(QToolButton.ToolButtonPopupMode.MenuButtonPopup)
        measure_menu = QMenu("Measure", self)
        for tool in MEASURE_TOOLS:
            measure_menu.addAction(self.tool_actions[tool])
        self.measure_button.setMenu(measure_menu)
        self.measure_button.setDefaultAction(self.tool_actions["length"])
        self.addWidget(self.measure_button)
        self.tool_actions[grid.tool].setChecked(True)
        self.addSeparator()
        self.layout_menu = QMenu("Layout", self)
        for name, (rows, cols) in LAYOUTS.items():
            self.layout_menu.addAction(name, lambda r=rows, c=cols: grid.set_layout(r, c))
        self.layout_menu.addAction("Custom…", self._custom_layout)
        self._menu_button("Layout", self.layout_menu)
        self.presets_menu = QMenu("Presets", self)
        self.presets_menu.aboutToShow.connect(self._fill_presets)
        self._menu_button("Presets", self.presets_menu)
        self.addSeparator()
        view = lambda method, *args: (lambda: getattr(grid.active_viewport, method)(*args))  # noqa: E731
        self.addAction("⟲", view("rotate", False)).setToolTip("Rotate 90° counter-clockwise ([)")
        self.addAction("⟳", view("rotate", True)).setToolTip("Rotate 90° clockwise (])")
        self.addAction("⇆", view("flip", True)).setToolTip("Flip horizontally (H)")
        self.addAction("⇅", view("flip", False)).setToolTip("Flip vertically (V)")
        self.addAction("Invert", view("toggle_invert")).setToolTip("Invert grey scale (I)")
        self.addAction("Reset", view("reset")).setToolTip("Reset window, zoom, rotation (R)")
        self.smooth = QAction("Smooth", self, checkable=True, checked=True,
                              toolTip="Interpolation on/off (N): off shows each pixel as a square")
        self.smooth.toggled.connect(lambda on: grid.active_viewport.set_interpolation(on))
        self.addAction(self.smooth)
        self.addSeparator()
        self.cine = QAction("▶", self, checkable=True, toolTip="Play/stop (space)")
        self.cine.toggled.connect(self._toggle_cine)
        self.addAction(self.cine)
        self.fps = QDoubleSpinBox(self)
        self.fps.setRange(0, 120)
        self.fps.setDecimals(0)
        self.fps.setSpecialValueText("file fps")
        self.fps.setSuffix(" fps")
        self.fps.setToolTip("Cine rate; 'file fps' follows Frame Time / Frame Time Vector")
        self.fps.valueChanged.connect(lambda value: self.grid.active_viewport.set_cine_fps(value or None))
        self.addWidget(self.fps)
        if sync is not None:
            self.sync_menu = QMenu("Sync", self)
            self.sync_actions: dict[str, QAction] = {}
            for label, attr in (("Synchronised scrolling", "scroll_enabled"),
                                ("Linked W/L", "window_enabled"),
                                ("Linked zoom/pan", "zoom_pan_enabled"),
                                ("Reference lines", "reference_lines_enabled")):
                action = QAction(label, self, checkable=True, checked=getattr(sync, attr))
                action.toggled.connect(lambda on, a=attr: self._set_sync(a, on))
                self.sync_menu.addAction(action)
                self.sync_actions[attr] = action
            self.sync_menu.addSeparator()
            self.sync_menu.addAction("Align shown slices", sync.capture_offsets).setToolTip(
                "Take the slices now shown as the same anatomy (for priors without a shared frame of reference)")
            self._menu_button("Sync", self.sync_menu)
        grid.active_changed.connect(self._active_changed)
        for view in grid.all_viewports:
            self._watch_cine(view)
        grid.viewport_added.connect(self._watch_cine)

    def _menu_button(self, text: str, menu: QMenu) -> None:
        button = QToolButton(self)
        button.setText(text)
        button.setMenu(menu)
        button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.addWidget(button)

    def select_tool(self, tool: str) -> None:
        self.grid.set_tool(tool)
        self.tool_actions[tool].setChecked(True)
        if tool in MEASURE_TOOLS:
            self.measure_button.setDefaultAction(self.tool_actions[tool])
        self.tool_changed.emit(tool)

    def _set_sync(self, attr: str, on: bool) -> None:
        assert self.sync is not None
        setattr(self.sync, attr, on)
        if attr == "reference_lines_enabled":
            self.sync.update_reference_lines()

    def _fill_presets(self) -> None:
        self.presets_menu.clear()
        view = self.grid.active_viewport
        for preset in view.presets:
            key = f"  [{preset.key}]" if preset.key else ""
            text = f"{preset.name}  (L {preset.center:g} / W {preset.width:g}){key}"
            self.presets_menu.addAction(text, lambda p=preset: view.apply_preset(p))
        for lut in view.voi_tables:
            self.presets_menu.addAction(f"VOI LUT {lut.explanation or ''} ({len(lut.data)} entries)".replace("  ", " "),
                                        lambda t=lut: view.apply_voi(t))
        self.presets_menu.addAction("Automatic (this slice)", view.auto_window)

    def _toggle_cine(self, on: bool) -> None:
        view = self.grid.active_viewport
        if on:
            view.set_cine_fps(self.fps.value() or None)
            view.play_cine()
        else:
            view.stop_cine()

    def _watch_cine(self, view) -> None:
        """Keep the play button in step when the space key starts or stops the active viewport."""
        def toggled(on: bool) -> None:
            if view is self.grid.active_viewport:
                self.cine.blockSignals(True)
                self.cine.setChecked(on)
                self.cine.blockSignals(False)
        view.cine_toggled.connect(toggled)

    def _active_changed(self, view) -> None:
        self.smooth.blockSignals(True)
        self.smooth.setChecked(view.scene.interpolated)
        self.smooth.blockSignals(False)
        self.cine.blockSignals(True)
        self.cine.setChecked(view.cine_playing)
        self.cine.blockSignals(False)
        self.fps.blockSignals(True)
        self.fps.setValue(view.cine_fps or 0)
        self.fps.blockSignals(False)

    def _custom_layout(self) -> None:
        dialog = QDialog(self)
        dialog.setWindowTitle("Custom layout")
        form = QFormLayout(dialog)
        rows, cols = QSpinBox(dialog), QSpinBox(dialog)
        for box, value in ((rows, self.grid.rows), (cols, self.grid.cols)):
            box.setRange(1, MAX_SIDE)
            box.setValue(value)
        form.addRow("Rows", rows)
        form.addRow("Columns", cols)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(dialog.accept)
        buttons.rejected.connect(dialog.reject)
        form.addRow(buttons)
        if dialog.exec():
            self.grid.set_layout(rows.value(), cols.value())
