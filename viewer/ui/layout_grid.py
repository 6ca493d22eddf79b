"""A grid of viewports (1x1, 1x2, 2x1, 2x2, 3x3 or any rows x columns), one of them active.

The active viewport has a highlighted frame; toolbar actions apply to it. A series is put
into a viewport by dropping it there with the MIME type :data:`SERIES_MIME`, whose payload is
UTF-8 JSON::

    {"series_instance_uid": "1.2.3...", "study_instance_uid": "1.2...", "paths": ["/a/1.dcm", ...]}

Either ``paths`` (files of the series, any order) or ``series_instance_uid`` (to be looked up
in the cache by the application) must be present; :func:`series_mime_data` builds it for a
drag source (the study browser, a thumbnail strip). The grid emits ``series_dropped``; when it
was given a :class:`~viewer.ui.jobs.WorkerBridge` it also loads dropped paths itself, off the
GUI thread, and shows the volume in the viewport it was dropped on.

Viewports are kept when the layout shrinks (hidden, with their series), so going back to a
bigger layout restores what was there.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field

from PySide6.QtCore import QByteArray, QEvent, QMimeData, QObject, Qt, Signal
from PySide6.QtWidgets import QFrame, QGridLayout, QVBoxLayout, QWidget

from viewer.core.annotations import validate_templates
from viewer.core.pixels.display import default_voi, presentation_inverted
from viewer.core.pixels.voi import VoiLut, Window
from viewer.core.volume import Volume, load_volume
from viewer.ui.viewport import Viewport

SERIES_MIME = "application/x-lightbox-series"
LAYOUTS: dict[str, tuple[int, int]] = {"1x1": (1, 1), "1x2": (1, 2), "2x1": (2, 1), "2x2": (2, 2), "3x3": (3, 3)}
MAX_SIDE = 4
ACTIVE_BORDER = "#f0b400"
IDLE_BORDER = "#303030"


@dataclass
class SeriesDrop:
    """What a drag of a series carries (see the module docstring for the JSON form)."""

    series_instance_uid: str = ""
    paths: list[str] = field(default_factory=list)
    study_instance_uid: str = ""

    def to_json(self) -> bytes:
        return json.dumps({"series_instance_uid": self.series_instance_uid,
                           "study_instance_uid": self.study_instance_uid,
                           "paths": [str(p) for p in self.paths]}).encode("utf-8")

    @classmethod
    def from_mime(cls, mime: QMimeData) -> SeriesDrop | None:
        if not mime.hasFormat(SERIES_MIME):
            return None
        try:
            data = json.loads(bytes(mime.data(SERIES_MIME).data()).decode("utf-8"))
        except (ValueError, UnicodeDecodeError):
            return None
        drop = cls(str(data.get("series_instance_uid") or ""), [str(p) for p in data.get("paths") or []],
                   str(data.get("study_instance_uid") or ""))
        return drop if drop.paths or drop.series_instance_uid else None


def series_mime_data(series_instance_uid: str = "", paths: list[str] | None = None,
                     study_instance_uid: str = "") -> QMimeData:
    """MIME data for dragging a series onto a viewport."""
    mime = QMimeData()
    mime.setData(SERIES_MIME, QByteArray(SeriesDrop(series_instance_uid, list(paths or []),
                                                    study_instance_uid).to_json()))
    return mime


class ViewportFrame(QFrame):
    """A viewport with a 2-pixel border that shows whether it is the active one."""

    def __init__(self, viewport: Viewport, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.viewport = viewport
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addWidget(viewport)
        self.set_active(False)

    def set_active(self, active: bool) -> None:
        self.active = active
        color = ACTIVE_BORDER if active else IDLE_BORDER
        self.setStyleSheet(f"ViewportFrame {{ border: 2px solid {color}; background: black; }}")


class LayoutGrid(QWidget):
    """Viewports in rows x columns; drop-in replacement for a single :class:`Viewport`."""

    active_changed = Signal(object)  # Viewport
    series_dropped = Signal(object, object)  # Viewport, SeriesDrop
    series_shown = Signal(object, object)  # Viewport, Volume
    load_failed = Signal(object, str)  # Viewport, message
    layout_changed = Signal(int, int)
    viewport_added = Signal(object)  # a Viewport created for a bigger layout
    measurement_added = Signal(object, object)  # Viewport, Measurement: persist it
    measurement_removed = Signal(object, object)  # Viewport, Measurement: forget it
    measurement_changed = Signal(object, object)  # Viewport, Measurement: its points moved, save again

    def __init__(self, rows: int = 1, cols: int = 1, parent: QWidget | None = None, workers=None) -> None:
        super().__init__(parent)
        self.workers = workers  # a WorkerBridge: dropped paths are loaded here when given
        self._grid = QGridLayout(self)
        self._grid.setContentsMargins(0, 0, 0, 0)
        self._grid.setSpacing(1)
        self._frames: list[ViewportFrame] = []
        self._active: Viewport | None = None
        self.rows, self.cols = 0, 0
        self.tool = "window"
        self.maximized: Viewport | None = None
        self.preset_table = None  # set by set_preset_table; None = the built-ins
        self.annotations_visible = True  # the same in every viewport: set_annotations_visible
        self.annotation_templates: dict[str, str] = {}  # corner -> template; see set_annotation_templates
        self.set_layout(rows, cols)

    # --- layout -------------------------------------------------------------------------------
    @property
    def viewports(self) -> list[Viewport]:
        """The viewports of the current layout, row by row."""
        return [f.viewport for f in self._frames[: self.rows * self.cols]]

    @property
    def all_viewports(self) -> list[Viewport]:
        """Every viewport created, including ones hidden by a smaller layout."""
        return [f.viewport for f in self._frames]

    @property
    def active_viewport(self) -> Viewport:
        assert self._active is not None
        return self._active

    def set_layout(self, rows: int, cols: int) -> None:
        """Show ``rows`` x ``cols`` viewports (1..4 each); extra ones are hidden, not destroyed."""
        if not (1 <= rows <= MAX_SIDE and 1 <= cols <= MAX_SIDE):
            raise ValueError(f"layout must be between 1x1 and {MAX_SIDE}x{MAX_SIDE}, got {rows}x{cols}")
        self.maximized = None
        while len(self._frames) < rows * cols:
            self._add_frame()
        for frame in self._frames:
            self._grid.removeWidget(frame)
        for n, frame in enumerate(self._frames):
            if n < rows * cols:
                self._grid.addWidget(frame, n // cols, n % cols)
                frame.show()
            else:
                frame.hide()
        for r in range(MAX_SIDE):
            self._grid.setRowStretch(r, 1 if r < rows else 0)
            self._grid.setColumnStretch(r, 1 if r < cols else 0)
        self.rows, self.cols = rows, cols
        if self._active is None or self._active not in self.viewports:
            self.set_active(self.viewports[0])
        self.layout_changed.emit(rows, cols)

    def set_named_layout(self, name: str) -> None:
        self.set_layout(*LAYOUTS[name])

    def _add_frame(self) -> None:
        view = Viewport()
        view.set_tool(self.tool)
        frame = ViewportFrame(view, self)
        self._frames.append(frame)
        view.activated.connect(lambda v=view: self.set_active(v))
        view.double_clicked.connect(lambda v=view: self.toggle_maximized(v))
        view.measurement_added.connect(lambda m, v=view: self.measurement_added.emit(v, m))
        view.measurement_removed.connect(lambda m, v=view: self.measurement_removed.emit(v, m))
        view.measurement_changed.connect(lambda m, v=view: self.measurement_changed.emit(v, m))
        if self.preset_table is not None:
            view.preset_table = self.preset_table
        view.set_annotations_visible(self.annotations_visible)
        if self.annotation_templates:
            view.set_annotation_templates(self.annotation_templates)
        view.annotations_changed.connect(self._viewport_annotations)  # the A key in any viewport
        view.vtk_widget.setAcceptDrops(True)
        view.vtk_widget.installEventFilter(self)
        self.viewport_added.emit(view)

    def toggle_maximized(self, viewport: Viewport) -> None:
        """Show ``viewport`` alone (double-click), or go back to the layout it came from."""
        frames = self._frames[: self.rows * self.cols]
        if self.maximized is None:
            for frame in frames:
                frame.setVisible(frame.viewport is viewport)
            self.maximized = viewport
        else:
            for frame in frames:
                frame.show()
            self.maximized = None
        self.set_active(viewport)

    def set_preset_table(self, table) -> None:
        """W/L presets per modality for every viewport (see viewer.core.presets.with_overrides);
        applies to series shown from now on."""
        self.preset_table = table
        for view in self.all_viewports:
            view.preset_table = table

    def set_annotations_visible(self, visible: bool) -> None:
        """Corner annotations (and edge labels, scale bar, warnings) on or off in every viewport,
        hidden ones included; the A key in any viewport calls this through its signal."""
        self.annotations_visible = bool(visible)
        for view in self.all_viewports:
            view.set_annotations_visible(self.annotations_visible)

    def toggle_annotations(self) -> None:
        self.set_annotations_visible(not self.annotations_visible)

    def _viewport_annotations(self, visible: bool) -> None:
        if visible != self.annotations_visible:  # one viewport toggled: the others follow (once)
            self.set_annotations_visible(visible)

    def set_annotation_templates(self, templates: Mapping[str, str] | None) -> None:
        """Corner templates for every viewport (``Settings.annotation_templates``; None or {} =
        the defaults). Raises AnnotationTemplateError for a template it cannot use, before any
        viewport changes."""
        self.annotation_templates = validate_templates(templates or {})
        for view in self.all_viewports:
            view.set_annotation_templates(self.annotation_templates)

    def set_active(self, viewport: Viewport) -> None:
        if viewport is self._active:
            return
        self._active = viewport
        for frame in self._frames:
            frame.set_active(frame.viewport is viewport)
        self.active_changed.emit(viewport)

    def set_tool(self, tool: str) -> None:
        """The left-button tool, for every viewport (as in Horos and RadiAnt)."""
        self.tool = tool
        for view in self.all_viewports:
            view.set_tool(tool)

    # --- content ------------------------------------------------------------------------------
    def show_series_in(self, viewport: Viewport, volume: Volume, window: Window | VoiLut | None = None,
                       inverted: bool | None = None) -> None:
        """Show ``volume`` in ``viewport`` at ``window`` (default: the file's first VOI, a
        window or a VOI LUT table (C.11.2), else an automatic window)."""
        header = volume.headers[0]
        if window is None:
            window = default_voi(header, volume.voxels)
        if inverted is None:
            inverted = presentation_inverted(header)  # MONOCHROME1 / Presentation LUT Shape (C.11.6)
        viewport.show_volume(volume, window, inverted=inverted)
        self.series_shown.emit(viewport, volume)

    def clear_except(self, keep: list[Viewport]) -> None:
        """Empty every viewport not in ``keep``, hidden ones included (a newly opened study
        must not leave the previous one's images behind, here or in a bigger layout later)."""
        for view in self.all_viewports:
            if view not in keep and view.volume is not None:
                view.clear()

    def first_empty(self) -> Viewport:
        """Where a newly opened series goes: the first empty viewport, else the active one."""
        return next((v for v in self.viewports if v.volume is None), self.active_viewport)

    # --- drops --------------------------------------------------------------------------------
    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        kind = event.type()
        if kind in (QEvent.Type.DragEnter, QEvent.Type.DragMove):
            if event.mimeData().hasFormat(SERIES_MIME):
                event.setDropAction(Qt.DropAction.CopyAction)
                event.accept()
                return True
        elif kind == QEvent.Type.Drop:
            drop = SeriesDrop.from_mime(event.mimeData())
            view = next((v for v in self.all_viewports if v.vtk_widget is watched), None)
            if drop is not None and view is not None:
                event.setDropAction(Qt.DropAction.CopyAction)
                event.accept()
                self.set_active(view)
                self.series_dropped.emit(view, drop)
                if self.workers is not None and drop.paths:
                    self._load_into(view, drop)
                return True
        return super().eventFilter(watched, event)

    def _load_into(self, view: Viewport, drop: SeriesDrop) -> None:
        self.workers.submit(
            load_volume, drop.paths,
            on_done=lambda volume: self.show_series_in(view, volume),
            on_error=lambda exc: self.load_failed.emit(view, str(exc)),
        )

    # --- lifetime -----------------------------------------------------------------------------
    def shutdown(self) -> None:
        """Finalize every viewport's GL context (call from the top-level closeEvent)."""
        for view in self.all_viewports:
            view.shutdown()
