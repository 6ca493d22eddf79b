"""The 2D viewport: a VTK slice scene in a Qt widget, driven the way radiologists expect.

A series opens at the image its acquisition starts with (:func:`reading_order`: the lowest
Instance Number; without numbers, the top slice of an axial stack), and "next image" (wheel
towards the user, PgDn, Down, the scroll tool dragged down, cine) follows the same order, as
does the "Im k/N" annotation; Home/End go to the first/last image in that order.

Mouse: wheel scrolls slices; the left button runs the chosen tool (:data:`TOOLS`: W/L by
default, where right widens the window and up raises the centre); right-drag zooms about the
press point; middle-drag (or Shift+left) pans. Keys: PgUp/PgDn/arrows scroll, Home/End jump,
0–9 apply W/L presets (:mod:`viewer.core.presets`), I inverts, R resets, F fits, A toggles
annotations (in every viewport of a grid; the corner texts follow the
:mod:`viewer.core.annotations` templates), [ and ] rotate 90°, H and V flip, + and - zoom, N
toggles interpolation (nearest for pixel peeping), space plays/stops cine, Delete removes the
measurement under the mouse (else the newest on the image), Esc cancels the one being drawn.
Dragging a measurement's end point (with any tool) moves it and re-measures; a double-click
(outside the measuring tools) asks the grid to maximize the viewport. VTK's own bindings (which
include 'q' = quit) are replaced: an observer on the style replaces the style's default handler.

Measurements are :class:`~viewer.core.measurements.Measurement` values in patient
coordinates; the viewport announces each one (``measurement_added``/``measurement_removed``)
so the application can keep them per image in the store, and :meth:`set_measurements`
shows stored ones again.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
from PySide6.QtCore import QTimer, Signal
from PySide6.QtGui import QCursor, QGuiApplication
from PySide6.QtWidgets import QWidget
from vtkmodules.vtkCommonDataModel import vtkImageData
from vtkmodules.vtkInteractionStyle import vtkInteractorStyleImage

from viewer.core.annotations import corner_texts, validate_templates
from viewer.core.cine import frame_intervals_ms
from viewer.core.measure_gesture import MeasureGesture
from viewer.core.measurements import Measurement, measure
from viewer.core.orientation import EdgeLabels, ViewTransform
from viewer.core.pixels.display import presentation_inverted
from viewer.core.pixels.overlays import OVERLAY_GROUPS
from viewer.core.pixels.voi import VoiLut, Window, auto_window, file_voi_luts
from viewer.core.presets import BUILTIN, Preset, preset_for_key, presets_for
from viewer.core.reading_order import reading_order
from viewer.core.volume import Volume
from viewer.render.measure_props import DrawnShape, outline
from viewer.render.offscreen import read_frame
from viewer.render.overlays import slice_graphics_layer
from viewer.render.slice_scene import SliceScene
from viewer.ui.vtk_widget import embed_vtk

TOOLS = ("window", "zoom", "pan", "scroll", "length", "angle", "rectangle", "ellipse", "freehand", "probe")
MEASURE_TOOLS = ("length", "angle", "rectangle", "ellipse", "freehand", "probe")
_BUTTON_TOOL = {"right": "zoom", "middle": "pan"}


@dataclass
class _Drag:
    button: str
    tool: str
    start: tuple[int, int]
    last: tuple[int, int]
    window: tuple[float, float]
    slice_index: int
    points: list[np.ndarray] = field(default_factory=list)
    handle: tuple[Measurement, int] | None = None  # dragging point n of a measurement


def _has_graphics(header) -> bool:
    return "ShutterShape" in header or any((g, 0x0010) in header for g in OVERLAY_GROUPS)


class Viewport(QWidget):
    """Shows one volume slice by slice, with tools, overlays and measurements."""

    slice_changed = Signal(int)
    window_changed = Signal(float, float)  # center, width
    view_changed = Signal()  # zoom, pan, rotation or flip changed by the user
    activated = Signal()  # the user pressed a mouse button in this viewport
    double_clicked = Signal()  # left double-click (the grid maximizes the viewport)
    measurement_added = Signal(object)  # Measurement
    measurement_removed = Signal(object)  # Measurement
    measurement_changed = Signal(object)  # Measurement whose points were dragged (persist again)
    probed = Signal(object)  # dict with the value under the cursor (probe tool, live)
    hovered = Signal(object)  # the same dict on every mouse move without a button: for a status bar
    cine_toggled = Signal(bool)
    volume_changed = Signal()  # show_volume or clear: another series (or none) is shown now
    annotations_changed = Signal(bool)  # annotations shown/hidden (the A key): the grid follows

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.vtk_widget = embed_vtk(self)
        self.scene = SliceScene()
        self.render_window = self.vtk_widget.GetRenderWindow()
        self.render_window.AddRenderer(self.scene.renderer)
        self.style = vtkInteractorStyleImage()
        self.style.SetInteractionModeToImage2D()
        for event, handler in (
            ("MouseWheelForwardEvent", lambda *_: self.scroll(-1)),
            ("MouseWheelBackwardEvent", lambda *_: self.scroll(+1)),
            ("LeftButtonPressEvent", lambda *_: self._press("left")),
            ("LeftButtonReleaseEvent", lambda *_: self._release()),
            ("MiddleButtonPressEvent", lambda *_: self._press("middle")),
            ("MiddleButtonReleaseEvent", lambda *_: self._release()),
            ("RightButtonPressEvent", lambda *_: self._press("right")),
            ("RightButtonReleaseEvent", lambda *_: self._release()),
            ("MouseMoveEvent", lambda *_: self._move()),
            ("CharEvent", lambda *_: None),
            ("KeyPressEvent", lambda *_: self._on_key()),
        ):
            self.style.AddObserver(event, handler)
        self.vtk_widget.SetInteractorStyle(self.style)
        if QGuiApplication.platformName() == "offscreen":
            # Qt offscreen + OSMesa (tests, --screenshot without X): with two initialized QVTK
            # interactors the second window's Render() segfaults. There is no native window to
            # set up there, so enabling the interactor (what Initialize does for events) suffices.
            self.render_window.GetInteractor().Enable()
        else:
            self.vtk_widget.Initialize()
        self.interactor = self.render_window.GetInteractor()
        self.volume: Volume | None = None
        self.initial_window: Window | VoiLut = Window(40, 400)
        self.voi_tables: list[VoiLut] = []
        self.presets: list[Preset] = []
        self.annotations_visible = True
        self.annotation_templates: dict[str, str] = {}  # corner -> template; missing corners: defaults
        self.tool = "window"
        self.preset_table = BUILTIN  # modality -> presets; viewer.core.presets.with_overrides for user edits
        self.measurements: list[Measurement] = []
        self._drag: _Drag | None = None
        self._gesture: MeasureGesture | None = None  # a measuring tool's drag or open angle
        self._units_per_pixel = 1.0
        self._shapes_shown: tuple | None = None
        self._image_keys: list[tuple[str, int]] = []
        self._layers: dict[int, np.ndarray | None] = {}
        self._has_layers = False
        self._layer_shown: int | None = None
        self.first_slice, self.reading_step = 0, 1  # see reading_order
        self.cine_fps: float | None = None  # None: the file's timing
        self._cine = QTimer(self)
        self._cine.setSingleShot(True)
        self._cine.timeout.connect(self._cine_step)
        self._cine_intervals: list[float] = []
        self.scene.hint.SetInput("Drop a series here")

    # --- content -----------------------------------------------------------------------------
    def show_volume(self, volume: Volume, window: Window | VoiLut, *, inverted: bool = False) -> None:
        """Display ``volume`` from the image its acquisition starts with (:func:`reading_order`)
        at ``window`` (a window with its VOI LUT Function, or a VOI LUT Sequence table; ignored
        for colour images)."""
        self.stop_cine()
        self._drag, self._gesture = None, None
        self.volume = volume
        self.initial_window = window
        header = volume.headers[0]
        self.scene.show_volume(volume, window, inverted=inverted)
        self.presets = [] if self.scene.is_color else presets_for(header, volume.voxels, self.preset_table)
        self.voi_tables = [] if self.scene.is_color else file_voi_luts(header)
        sample = volume.voxels[:: max(1, volume.voxels.shape[0] // 8)]
        lo, hi = float(sample.min()), float(sample.max())
        self._units_per_pixel = max((hi - lo) / 1024.0, 1e-3)
        self.measurements = []
        self._shapes_shown = None
        self._image_keys = []
        self._layers = {}
        self._has_layers = any(_has_graphics(h) for h in volume.headers)
        self._layer_shown = None
        self.first_slice, self.reading_step = reading_order(volume)
        self.scene.set_slice(self.first_slice)  # no slice_changed: opening is not scrolling
        self._refresh()
        self.volume_changed.emit()

    def clear(self) -> None:
        """Show nothing: no image, no annotations, no measurements (the "drop a series" hint).

        For viewports a newly opened study does not use, so they do not keep showing the
        previous patient's images.
        """
        self.stop_cine()
        self._drag, self._gesture = None, None
        self.volume = None
        self.measurements = []
        self._shapes_shown = None
        self._image_keys = []
        self._layers = {}
        self._has_layers = False
        self._layer_shown = None
        self.first_slice, self.reading_step = 0, 1
        scene = self.scene
        scene.set_layer(None)
        scene.renderer.RemoveViewProp(scene.stack)
        scene.mapper.SetInputData(vtkImageData())  # let the previous volume's voxels go
        scene.volume = None
        scene.slice_index = 0
        scene.set_shapes([])
        scene.set_reference_lines([])
        scene.set_corner_text({})
        scene.set_warning("")
        scene.overlays.set_edge_labels(EdgeLabels("", "", "", ""))
        scene.hint.SetInput("Drop a series here")
        self.render()
        self.volume_changed.emit()

    @property
    def slice_index(self) -> int:
        return self.scene.slice_index

    @property
    def slice_count(self) -> int:
        return self.scene.slice_count

    def set_slice(self, k: int) -> None:
        if self.volume is None:
            return
        before = self.scene.slice_index
        shown = self.scene.set_slice(k)
        if shown != before:
            self._gesture = None
        self._refresh()
        if shown != before:
            self.slice_changed.emit(shown)

    def scroll(self, step: int) -> None:
        """``step`` images forward (positive: next image in reading order) or back."""
        self.set_slice(self.scene.slice_index + step * self.reading_step)

    def image_number(self, k: int | None = None) -> int:
        """0-based position of slice ``k`` (default: the one shown) in reading order: what
        "Im k/N" shows, 0 for the image the acquisition starts with."""
        k = self.slice_index if k is None else k
        return k if self.reading_step > 0 else self.slice_count - 1 - k

    def slice_at(self, number: int) -> int:
        """The slice index of 0-based image ``number`` in reading order (inverse of image_number)."""
        return number if self.reading_step > 0 else self.slice_count - 1 - number

    def slice_position(self, k: int | None = None) -> np.ndarray:
        """LPS centre of slice ``k`` (default: the one shown); what synchronisation matches."""
        return self.scene.slice_point(self.slice_index if k is None else k)

    def set_window(self, center: float, width: float) -> None:
        self.scene.set_window(center, width)
        self._refresh()
        self.window_changed.emit(*self.scene.window)

    def apply_preset(self, preset: Preset) -> None:
        self.apply_voi(preset.window)

    def apply_voi(self, voi: Window | VoiLut) -> None:
        """A window with its function, or one of the file's VOI LUT tables (C.11.2)."""
        self.scene.set_voi(voi)
        self._refresh()
        self.window_changed.emit(*self.scene.window)

    def auto_window(self) -> None:
        """A window from the shown slice's own value range (the classic 'auto W/L')."""
        if self.volume is not None and not self.scene.is_color:
            w = auto_window(self.volume.voxels[self.slice_index])
            self.set_window(w.center, w.width)

    def reset(self) -> None:
        """Back to the file's window, unrotated, fitted, not inverted."""
        if self.volume is None:
            return
        self.scene.view = ViewTransform()
        self.scene.reset_camera()
        self.scene.set_inverted(presentation_inverted(self.volume.headers[0]))
        self.apply_voi(self.initial_window)
        self.view_changed.emit()

    def fit(self) -> None:
        self.scene.reset_camera()
        self._refresh()
        self.view_changed.emit()

    def toggle_invert(self) -> None:
        self.scene.set_inverted(not self.scene.inverted)
        self._refresh()

    def toggle_annotations(self) -> None:
        """The A key: annotations off or on again (a grid makes every viewport follow)."""
        self.set_annotations_visible(not self.annotations_visible)

    def set_annotations_visible(self, visible: bool) -> None:
        """Show or hide corner texts, edge labels, scale bar and warnings; announces a change."""
        visible = bool(visible)
        if visible == self.annotations_visible:
            return
        self.annotations_visible = visible
        self.scene.show_annotations(visible)
        self.render()
        self.annotations_changed.emit(visible)

    def set_annotation_templates(self, templates: Mapping[str, str] | None) -> None:
        """Corner templates (see viewer.core.annotations; None or {} = the defaults). Raises
        AnnotationTemplateError, naming the corner and field, for a template it cannot use."""
        self.annotation_templates = validate_templates(templates or {})
        self._refresh()

    def set_interpolation(self, smooth: bool) -> None:
        self.scene.set_interpolation(smooth)
        self.render()

    def rotate(self, clockwise: bool = True) -> None:
        self.scene.rotate(clockwise)
        self._refresh()
        self.view_changed.emit()

    def flip(self, horizontal: bool = True) -> None:
        self.scene.flip(horizontal)
        self._refresh()
        self.view_changed.emit()

    def set_zoom_pan(self, zoom: float, pan: tuple[float, float]) -> None:
        """Set magnification (1 = fit) and pan (mm along screen right/up) without signalling."""
        self.scene.set_zoom(zoom)
        self.scene.set_pan(*pan)
        self._refresh()

    def set_tool(self, tool: str) -> None:
        if tool not in TOOLS:
            raise ValueError(f"unknown tool {tool!r}; expected one of {TOOLS}")
        self.tool = tool
        self._gesture = None
        self._refresh()

    # --- cine --------------------------------------------------------------------------------
    @property
    def cine_playing(self) -> bool:
        return self._cine.isActive()

    def play_cine(self, fps: float | None = None) -> None:
        """Loop through the slices/frames; ``fps`` given: that rate from now on (see
        :meth:`set_cine_fps`), else the current one (None: the file's Frame Time (Vector))."""
        if fps is not None:
            self.cine_fps = fps
        if self.volume is None or self.slice_count < 2:
            return
        self._cine_intervals = frame_intervals_ms(self.volume.headers[0], self.slice_count, self.cine_fps)
        self._cine.start(round(self._cine_intervals[self.slice_index]))
        self.cine_toggled.emit(True)

    def set_cine_fps(self, fps: float | None) -> None:
        """The user's rate (None or 0: the file's timing); applies at once while playing."""
        self.cine_fps = fps or None
        if self.cine_playing and self.volume is not None:
            self._cine_intervals = frame_intervals_ms(self.volume.headers[0], self.slice_count, self.cine_fps)

    def stop_cine(self) -> None:
        if self._cine.isActive():
            self._cine.stop()
            self.cine_toggled.emit(False)

    def toggle_cine(self) -> None:
        if self.cine_playing:
            self.stop_cine()
        else:
            self.play_cine()

    def _cine_step(self) -> None:
        if self.volume is None or self.vtk_widget.finalized:
            return
        self.set_slice(self.slice_at((self.image_number() + 1) % self.slice_count))
        self._cine.start(round(self._cine_intervals[self.slice_index]))

    # --- measurements ------------------------------------------------------------------------
    def current_uid(self, k: int | None = None) -> str:
        """SOP Instance UID of slice ``k``: the key measurements are stored under."""
        assert self.volume is not None
        k = self.slice_index if k is None else k
        return str(self.volume.headers[k].get("SOPInstanceUID") or f"slice-{k}")

    def image_key(self, k: int | None = None) -> tuple[str, int]:
        """(SOP Instance UID, 0-based frame) of slice ``k``: the frames of a multi-frame
        instance share its UID and are told apart by their order in the volume."""
        assert self.volume is not None
        if len(self._image_keys) != self.slice_count:
            seen: dict[str, int] = {}
            self._image_keys = []
            for n in range(self.slice_count):
                uid = self.current_uid(n)
                self._image_keys.append((uid, seen.get(uid, 0)))
                seen[uid] = seen.get(uid, 0) + 1
        return self._image_keys[self.slice_index if k is None else k]

    def visible_measurements(self) -> list[Measurement]:
        if self.volume is None:
            return []
        uid, frame = self.image_key()
        return [m for m in self.measurements if m.sop_instance_uid == uid and m.frame == frame]

    def add_measurement(self, kind: str, points: list[np.ndarray], label: str = "") -> Measurement:
        """Measure on the shown image through LPS ``points`` and keep the result."""
        assert self.volume is not None
        k = self.slice_index
        result = measure(kind, points, self.scene.slice_geometry(k), self.volume.voxels[k], self.volume.headers[k])
        uid, frame = self.image_key(k)
        m = Measurement(kind, [tuple(p) for p in points], uid, result, frame=frame, label=label)
        self.measurements.append(m)
        self._refresh()
        self.measurement_added.emit(m)
        return m

    def remove_measurement(self, m: Measurement) -> None:
        if m in self.measurements:
            self.measurements.remove(m)
            self._refresh()
            self.measurement_removed.emit(m)

    def set_measurements(self, measurements: list[Measurement]) -> None:
        """Show stored measurements (any image of this series); results are recomputed from
        the pixels so a changed calibration rule cannot leave stale numbers on screen."""
        self.measurements = []
        self._shapes_shown = None
        if self.volume is not None:
            by_key = {self.image_key(k): k for k in range(self.slice_count)}
            for m in measurements:
                k = by_key.get((m.sop_instance_uid, m.frame))
                if k is not None:
                    m.result = measure(m.kind, m.points, self.scene.slice_geometry(k),
                                       self.volume.voxels[k], self.volume.headers[k])
                self.measurements.append(m)
        self._refresh()

    def _shapes(self) -> list[DrawnShape]:
        geometry = self.scene.slice_geometry()
        shapes = [DrawnShape(m.kind, m.points, m.summary(), geometry) for m in self.visible_measurements()]
        if self._draft is not None:
            kind, points = self._draft
            if len(points) >= 2 or kind == "probe":
                text = ""
                if self.volume is not None and (kind != "angle" or len(points) == 3):
                    k = self.slice_index
                    result = measure(kind, points, geometry, self.volume.voxels[k], self.volume.headers[k])
                    text = Measurement(kind, [tuple(p) for p in points], "", result).summary()
                shapes.append(DrawnShape(kind, points, text, geometry, draft=True))
        return shapes

    # --- rendering ---------------------------------------------------------------------------
    def render(self) -> None:
        """Draw now; a hidden viewport (a smaller layout) is drawn when shown again instead."""
        if self.isVisible():
            self.vtk_widget.render()

    def grab_frame(self) -> np.ndarray:
        """What the viewport shows, as (height, width, 3) uint8 (works offscreen and on X)."""
        return read_frame(self.render_window)

    def shutdown(self) -> None:
        """Release the GL context before Qt destroys the native window. Idempotent."""
        self._cine.stop()
        self.vtk_widget.Finalize()

    def _refresh(self) -> None:
        if self.volume is not None:
            k = self.scene.slice_index
            header = self.volume.headers[k]
            texts = corner_texts(header, self.image_number(k), self.scene.slice_count,
                                 None if self.scene.is_color else self.scene.voi, self.scene.zoom,
                                 templates=self.annotation_templates)
            self.scene.set_corner_text(texts)
            self.scene.set_notice(self.volume.blank_reason(k))
            shapes_key = self._shapes_key()
            if shapes_key != self._shapes_shown:  # a W/L drag does not rebuild the measurement props
                self.scene.set_shapes(self._shapes())
                self._shapes_shown = shapes_key
            if self._has_layers and self._layer_shown != k:
                self.scene.set_layer(self._graphics_layer(k))
                self._layer_shown = k
        self.render()

    def _shapes_key(self) -> tuple:
        draft = None
        if self._draft is not None:
            draft = (self._draft[0], tuple(tuple(float(c) for c in p) for p in self._draft[1]))
        return (id(self.volume), self.slice_index, tuple((m.id, len(m.points)) for m in self.visible_measurements()),
                draft)

    def _graphics_layer(self, k: int) -> np.ndarray | None:
        """Overlay planes (PS3.3 C.9.2) and display shutter (C.7.6.11) of slice ``k`` as RGBA."""
        if k not in self._layers:
            assert self.volume is not None
            self._layers[k] = slice_graphics_layer(self.volume.headers[k], self.image_key(k)[1],
                                                   self.volume.voxels.shape[1:3])
        return self._layers[k]

    # --- mouse -------------------------------------------------------------------------------
    def _event_xy(self) -> tuple[int, int]:
        x, y = self.interactor.GetEventPosition()
        return int(x), int(y)

    def _cursor_xy(self) -> tuple[float, float]:
        """The mouse cursor in VTK display coordinates (for keys acting on what is under it)."""
        pos = self.vtk_widget.mapFromGlobal(QCursor.pos())
        ratio = self.vtk_widget.devicePixelRatioF()
        return pos.x() * ratio, (self.vtk_widget.height() - pos.y() - 1) * ratio

    @property
    def _draft(self) -> tuple[str, list[np.ndarray]] | None:
        """The measurement being drawn (kind, LPS points), shown until the gesture ends."""
        return self._gesture.draft if self._gesture is not None else None

    def _press(self, button: str) -> None:
        self.activated.emit()
        if button == "left" and self.interactor.GetRepeatCount() and self.tool not in MEASURE_TOOLS:
            self._drag = None
            self.double_clicked.emit()
            return
        if self.volume is None:
            return
        xy = self._event_xy()
        tool = _BUTTON_TOOL.get(button, self.tool)
        if button == "left" and self.interactor.GetShiftKey():
            tool = "pan"
        if button == "left" and self.interactor.GetControlKey():
            tool = "zoom"
        point = self.scene.display_to_patient(*xy)
        if tool == "angle" and self._gesture is not None and self._gesture.waiting:
            done = self._gesture.press(point)  # the click that ends the second arm
            self._gesture = None
            if done is not None:
                self.add_measurement(*done)
            return
        handle = self.handle_near(*xy) if button == "left" and tool != "pan" else None
        if handle is not None:  # grab a measurement's end point, whatever the tool
            self._drag = _Drag(button, "handle", xy, xy, self.scene.window, self.slice_index, [point], handle)
            return
        self._drag = _Drag(button, tool, xy, xy, self.scene.window, self.slice_index, [point])
        if tool in MEASURE_TOOLS:
            self._gesture = MeasureGesture(tool)
            self._gesture.press(point)
            if tool == "probe":
                self._probe(point)
            self._refresh()

    def _move(self) -> None:
        xy = self._event_xy()
        drag = self._drag
        if drag is None:
            if self.volume is not None:
                point = self.scene.display_to_patient(*xy)
                self.hovered.emit(self._value_at(point))
                if self._gesture is not None and self._gesture.waiting:
                    self._gesture.move(point)  # the angle's second arm follows the mouse
                    self._refresh()
            return
        dx, dy = xy[0] - drag.last[0], xy[1] - drag.last[1]
        tool = drag.tool
        if tool == "handle" and drag.handle is not None:
            m, n = drag.handle
            m.points[n] = tuple(float(c) for c in self.scene.display_to_patient(*xy))
            self._remeasure(m)
            self._refresh()
        elif tool == "window":
            if not self.scene.is_color:
                c0, w0 = drag.window
                width = max(w0 + (xy[0] - drag.start[0]) * self._units_per_pixel, 1.0)
                center = c0 + (xy[1] - drag.start[1]) * self._units_per_pixel
                self.set_window(center, width)
        elif tool == "zoom":
            self.scene.zoom_at(float(np.exp(dy * 0.01)), *drag.start)
            self._refresh()
            self.view_changed.emit()
        elif tool == "pan":
            self.scene.pan_by_pixels(dx, dy)
            self._refresh()
            self.view_changed.emit()
        elif tool == "scroll":
            steps = int((drag.start[1] - xy[1]) / 6)  # 6 px per slice, drag down = next images
            self.set_slice(drag.slice_index + steps * self.reading_step)
        elif tool in MEASURE_TOOLS and self._gesture is not None:
            point = self.scene.display_to_patient(*xy)
            self._gesture.move(point)
            if tool == "probe":
                self._probe(point)
            self._refresh()
        drag.last = xy

    def _release(self) -> None:
        drag, self._drag = self._drag, None
        if drag is not None and drag.handle is not None:
            if drag.last != drag.start:
                self.measurement_changed.emit(drag.handle[0])
            return
        gesture = self._gesture
        if drag is None or self.volume is None or drag.tool not in MEASURE_TOOLS or gesture is None:
            return
        xy = self._event_xy()
        moved = abs(xy[0] - drag.start[0]) + abs(xy[1] - drag.start[1]) > 2  # a click is not a measurement
        done = gesture.release(self.scene.display_to_patient(*xy), moved)
        if not gesture.waiting:
            self._gesture = None
        if done is not None:
            self.add_measurement(*done)
        else:
            self._refresh()

    def _value_at(self, point: np.ndarray) -> dict:
        """Value under an LPS point of the shown slice: value, unit, row, column, slice, position."""
        assert self.volume is not None
        k = self.slice_index
        result = measure("probe", [point], self.scene.slice_geometry(k), self.volume.voxels[k],
                         self.volume.headers[k])
        return {**result, "slice": k, "position": [float(c) for c in point]}

    def _probe(self, point: np.ndarray) -> None:
        self.probed.emit(self._value_at(point))

    # --- keys --------------------------------------------------------------------------------
    def _on_key(self) -> None:
        if self.volume is None:  # an empty (or cleared) viewport: nothing to act on
            return
        key = self.interactor.GetKeySym() or ""
        count = self.scene.slice_count
        if key == "0" and isinstance(self.initial_window, VoiLut):
            self.apply_voi(self.initial_window)  # key 0: the file's own VOI, here a table
            return
        if key.isdigit() and len(key) == 1:
            preset = preset_for_key(self.presets, key)
            if preset is not None:
                self.apply_preset(preset)
            return
        actions = {
            "Prior": lambda: self.scroll(-1),
            "Next": lambda: self.scroll(+1),
            "Up": lambda: self.scroll(-1),
            "Down": lambda: self.scroll(+1),
            "Left": lambda: self.scroll(-1),
            "Right": lambda: self.scroll(+1),
            "Home": lambda: self.set_slice(self.slice_at(0)),
            "End": lambda: self.set_slice(self.slice_at(count - 1)),
            "i": self.toggle_invert,
            "r": self.reset,
            "f": self.fit,
            "a": self.toggle_annotations,
            "bracketright": lambda: self.rotate(True),
            "bracketleft": lambda: self.rotate(False),
            "h": lambda: self.flip(True),
            "v": lambda: self.flip(False),
            "n": lambda: self.set_interpolation(not self.scene.interpolated),
            "space": self.toggle_cine,
            "Delete": self._delete_last,
            "BackSpace": self._delete_last,
            "Escape": self._cancel_draft,
            "plus": lambda: self._zoom_key(1.25),
            "equal": lambda: self._zoom_key(1.25),
            "minus": lambda: self._zoom_key(0.8),
        }
        action = actions.get(key) or actions.get(key.lower())
        if action is not None:
            action()

    def _zoom_key(self, factor: float) -> None:
        width, height = self.scene.renderer.GetSize()
        self.scene.zoom_at(factor, width / 2, height / 2)
        self._refresh()
        self.view_changed.emit()

    def measurement_near(self, x: float, y: float, tolerance: float = 10.0) -> Measurement | None:
        """The measurement on this image drawn within ``tolerance`` display pixels of (x, y)."""
        if self.volume is None:
            return None
        best, best_distance = None, tolerance
        geometry = self.scene.slice_geometry()
        for m in self.visible_measurements():
            line, closed = outline(DrawnShape(m.kind, m.points, "", geometry))
            screen = np.array([self.scene.patient_to_display(p) for p in line])
            segments = list(zip(screen, np.roll(screen, -1, axis=0)[: len(screen) - (0 if closed else 1)],
                                strict=False)) or [(screen[0], screen[0])]
            for a, b in segments:
                ab = b - a
                t = float(np.clip(((np.array([x, y]) - a) @ ab) / (ab @ ab), 0, 1)) if ab @ ab else 0.0
                distance = float(np.linalg.norm(a + ab * t - np.array([x, y])))
                if distance <= best_distance:
                    best, best_distance = m, distance
        return best

    def handle_near(self, x: float, y: float, tolerance: float = 6.0) -> tuple[Measurement, int] | None:
        """A measurement point of this image within ``tolerance`` display pixels of (x, y)."""
        best, best_distance = None, tolerance
        for m in self.visible_measurements():
            for n, p in enumerate(m.points):
                px, py = self.scene.patient_to_display(np.asarray(p))
                distance = float(np.hypot(px - x, py - y))
                if distance <= best_distance:
                    best, best_distance = (m, n), distance
        return best

    def _remeasure(self, m: Measurement) -> None:
        assert self.volume is not None
        k = self.slice_index
        m.result = measure(m.kind, m.points, self.scene.slice_geometry(k), self.volume.voxels[k],
                           self.volume.headers[k])
        self._shapes_shown = None  # the points moved: redraw

    def _delete_last(self) -> None:
        """Delete: the measurement under the mouse, else the newest one on this image."""
        target = self.measurement_near(*self._cursor_xy())
        shown = self.visible_measurements()
        if target is None and shown:
            target = shown[-1]
        if target is not None:
            self.remove_measurement(target)

    def _cancel_draft(self) -> None:
        self._drag, self._gesture = None, None
        self._refresh()
