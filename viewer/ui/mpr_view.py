"""Three-plane MPR widget: a thin Qt host for viewer.render.mpr.

MprView: one VTK widget with the axial, coronal and sagittal planes side by side, linked by
one crosshair. With the crosshair tool, left click/drag moves the crosshair (the other planes
follow); with a measuring tool (:meth:`MprView.set_tool`: the 2D pane's length, angle,
rectangle, ellipse, freehand and probe) the left button measures in the plane pressed in, with
the 2D pane's gestures (:class:`~viewer.core.measure_gesture.MeasureGesture`). Whatever the
tool: the wheel moves along the plane's normal, right drag is window/level (shared by
default), Ctrl+left drag rotates the crosshair (oblique; in two planes, double oblique), R
resets, Delete removes the newest measurement of the plane under the mouse, Esc cancels the
one being drawn. All geometry is in the Qt-free :class:`~viewer.render.mpr.MprScene`; this
class only maps events to it.

Each measurement remembers the plane it was drawn in (:meth:`MprView.plane_of`, an
:class:`~viewer.store.measurements.MprPlane` in patient LPS mm) so the window can keep it in
the cache; :meth:`MprView.show_kept` puts kept ones back. A measurement is drawn whenever its
plane is the one shown (scrolling or rotating back to it shows it again), and
:meth:`MprView.go_to` brings its plane back on screen, as a measurement list does on
Horos/Weasis-style workstations.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Signal
from PySide6.QtGui import QCursor
from PySide6.QtWidgets import QWidget
from vtkmodules.vtkInteractionStyle import vtkInteractorStyleUser

from viewer.core.measure_gesture import MeasureGesture
from viewer.core.measurements import KINDS, Measurement
from viewer.core.planes import STANDARD_AXES, rotation_matrix
from viewer.core.volume import Volume
from viewer.render.mpr import MprScene
from viewer.render.offscreen import read_frame
from viewer.store.measurements import MprPlane
from viewer.ui.vtk_widget import embed_vtk

#: What the left button does: move the crosshair, or one of the 2D pane's measuring tools.
MPR_TOOLS: tuple[str, ...] = ("crosshair", *KINDS)


class MprView(QWidget):
    """Axial | coronal | sagittal of one volume with a linked crosshair."""

    measurement_added = Signal(object)  # Measurement
    measurement_removed = Signal(object)  # Measurement
    probed = Signal(object)  # dict: value, unit, row, column, plane, position (LPS mm)
    hovered = Signal(object)  # the same dict under the mouse, no button down (for a status bar)

    def __init__(self, volume: Volume, window: tuple[float, float] = (40.0, 400.0),
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.vtk_widget = embed_vtk(self)
        self.render_window = self.vtk_widget.GetRenderWindow()
        self.scene = MprScene(volume, window=window)
        for renderer in self.scene.renderers:
            self.render_window.AddRenderer(renderer)
        style = vtkInteractorStyleUser()  # no default camera behaviour: every event is ours
        for event, handler in (
            ("LeftButtonPressEvent", self._left_down), ("LeftButtonReleaseEvent", self._left_up),
            ("RightButtonPressEvent", self._right_down), ("RightButtonReleaseEvent", self._right_up),
            ("MouseMoveEvent", self._move), ("MouseWheelForwardEvent", lambda *_: self._wheel(-1)),
            ("MouseWheelBackwardEvent", lambda *_: self._wheel(+1)), ("KeyPressEvent", self._key),
            ("CharEvent", lambda *_: None),
        ):
            style.AddObserver(event, handler)
        self.vtk_widget.SetInteractorStyle(style)
        self.vtk_widget.Initialize()
        self._mode: str | None = None
        self._plane: str | None = None
        self._start: tuple[int, int, float, float] = (0, 0, 0.0, 0.0)
        self._fitted = False
        self.tool = "crosshair"
        self._gesture: MeasureGesture | None = None
        self._gesture_plane: str | None = None  # where the measurement being drawn lies
        self._planes: dict[str, MprPlane] = {}  # measurement id -> the plane it was drawn in

    def set_tool(self, tool: str) -> None:
        """Choose what the left button does (:data:`MPR_TOOLS`); drops a half-drawn measurement."""
        if tool not in MPR_TOOLS:
            raise ValueError(f"unknown MPR tool {tool!r}; expected one of {', '.join(MPR_TOOLS)}")
        self._cancel_draft()
        self.tool = tool
        self._gesture = MeasureGesture(tool) if tool in KINDS else None

    # --- helpers -------------------------------------------------------------------------
    def _event(self) -> tuple[int, int, bool]:
        interactor = self.vtk_widget.GetRenderWindow().GetInteractor()
        x, y = interactor.GetEventPosition()
        return x, y, bool(interactor.GetControlKey())

    def plane_at(self, x: int, y: int) -> str | None:
        for name, plane in self.scene.planes.items():
            if plane.renderer.IsInViewport(x, y):
                return name
        return None

    def render(self) -> None:
        if not self._fitted and all(r.GetSize()[0] > 1 for r in self.scene.renderers):
            for plane in self.scene.planes.values():
                plane.fit()
            self._fitted = True
        self.vtk_widget.render()

    # --- events --------------------------------------------------------------------------
    def _left_down(self, *_: object) -> None:
        x, y, ctrl = self._event()
        self._plane = self.plane_at(x, y)
        if self._gesture is not None and not ctrl and (self._plane or self._gesture.waiting):
            self._measure_down(x, y)
            return
        if self._plane is None:
            return
        self._mode = "rotate" if ctrl else "move"
        self._start = (x, y, 0.0, 0.0)
        if self._mode == "move":
            self.scene.pick(self._plane, x, y)
            self.render()

    def _left_up(self, *_: object) -> None:
        if self._mode == "measure":
            self._measure_up()
        self._mode = None

    # --- measuring -------------------------------------------------------------------------
    def _gesture_point(self, x: float, y: float) -> np.ndarray:
        assert self._gesture_plane is not None
        return self.scene.planes[self._gesture_plane].display_to_lps(x, y)

    def _measure_down(self, x: int, y: int) -> None:
        assert self._gesture is not None
        if not self._gesture.waiting:  # an angle's last click belongs to the plane of its first arm
            self._gesture_plane = self._plane
        done = self._gesture.press(self._gesture_point(x, y))
        self._mode = "measure"
        self._start = (x, y, 0.0, 0.0)
        if done is not None:
            self._finish(*done)
            self._mode = None
            return
        if self._gesture.tool == "probe":
            self.probed.emit(self.scene.probe(self._gesture_plane, self._gesture_point(x, y)))
        self._show_draft()

    def _measure_up(self) -> None:
        assert self._gesture is not None and self._gesture_plane is not None
        x, y, _ = self._event()
        moved = abs(x - self._start[0]) + abs(y - self._start[1]) > 2
        done = self._gesture.release(self._gesture_point(x, y), moved)
        if done is not None:
            self._finish(*done)
        else:
            self._show_draft()

    def _finish(self, kind: str, points: list[np.ndarray]) -> None:
        assert self._gesture_plane is not None
        self.scene.set_draft(self._gesture_plane, None)
        self.add_measurement(self._gesture_plane, kind, points)

    def add_measurement(self, plane: str, kind: str, points: list[np.ndarray]) -> Measurement:
        """Measure on ``plane`` as drawn with the mouse: kept with its plane, listed, announced."""
        m = self.scene.add_measurement(plane, kind, points)
        grid = self.scene.planes[plane].grid
        assert grid is not None
        self._planes[m.id] = MprPlane(plane, tuple(grid.origin), tuple(grid.row_direction),
                                      tuple(grid.column_direction))
        if kind == "probe":
            self.probed.emit(self.scene.probe(plane, points[0]))
        self.render()
        self.measurement_added.emit(m)
        return m

    def _show_draft(self) -> None:
        if self._gesture is not None and self._gesture_plane is not None:
            self.scene.set_draft(self._gesture_plane, self._gesture.draft)
            self.render()

    def _cancel_draft(self) -> None:
        if self._gesture is not None:
            self._gesture.cancel()
            self._show_draft()
        self._mode = None

    def _delete_last(self) -> None:
        """Delete: the newest measurement of the plane under the mouse."""
        pos = self.vtk_widget.mapFromGlobal(QCursor.pos())
        ratio = self.vtk_widget.devicePixelRatioF()
        plane = self.plane_at(round(pos.x() * ratio), round((self.vtk_widget.height() - pos.y() - 1) * ratio))
        shown = self.scene.visible_measurements(plane) if plane else []
        if shown:
            self.remove(shown[-1])

    # --- kept measurements ---------------------------------------------------------------------
    def plane_of(self, m: Measurement) -> MprPlane | None:
        """The plane ``m`` was drawn in (LPS origin, row and column directions), or None."""
        return self._planes.get(m.id)

    @property
    def measurements(self) -> list[tuple[Measurement, MprPlane]]:
        """Every measurement of this MPR with its plane, in drawing order."""
        return [(m, self._planes[m.id]) for m in self.scene.measurements if m.id in self._planes]

    def show_kept(self, kept: list[tuple[Measurement, MprPlane]]) -> int:
        """Put measurements kept from an earlier MPR of this series back; each is drawn when
        its plane is shown. Returns how many were new here (ids already shown are skipped)."""
        known = {m.id for m in self.scene.measurements}
        added = 0
        for m, plane in kept:
            if m.id in known:
                continue
            # A kept one keeps its id and is measured again once its plane is on screen.
            self._planes[m.id] = plane
            self.scene.restore_measurement(plane.view, m, np.cross(plane.row, plane.column))
            known.add(m.id)
            added += 1
        if added:
            self.scene.refresh_shapes()
            self.render()
        return added

    def remove(self, m: Measurement) -> None:
        """Delete one measurement (from the scene; ``measurement_removed`` tells the keeper)."""
        if m not in self.scene.measurements:
            return
        self.scene.remove_measurement(m)
        self._planes.pop(m.id, None)
        self.render()
        self.measurement_removed.emit(m)

    def is_shown(self, m: Measurement) -> bool:
        """Whether ``m`` is drawn now (its plane is the one on screen)."""
        plane = self._planes.get(m.id)
        return plane is not None and m in self.scene.visible_measurements(plane.view)

    def go_to(self, m: Measurement) -> None:
        """Show the plane ``m`` was drawn in, with the crosshair on it: the view it was drawn
        in turns to the plane's orientation (the other two follow, perpendicular to it) and
        the crosshair centre moves to the measurement's centre on that plane."""
        plane = self._planes.get(m.id)
        if plane is None:
            return
        self._cancel_draft()
        row0, col0 = STANDARD_AXES[plane.view]
        crosshair = self.scene.crosshair
        crosshair.rotation = _rotation_onto(np.cross(row0, col0), plane.normal)
        centre = np.mean(np.asarray(m.points, dtype=float), axis=0)
        crosshair.move_to(centre - plane.distance(centre) * plane.normal)
        self.scene.update()
        self.render()

    def _right_down(self, *_: object) -> None:
        x, y, _ = self._event()
        self._plane = self.plane_at(x, y)
        if self._plane is not None:
            self._mode = "window"
            self._start = (x, y, *self.scene.planes[self._plane].window)

    def _right_up(self, *_: object) -> None:
        self._mode = None

    def _move(self, *_: object) -> None:
        x, y, _ = self._event()
        if self._gesture is not None and (self._mode == "measure" or self._gesture.waiting):
            self._gesture.move(self._gesture_point(x, y))
            if self._gesture.tool == "probe" and self._mode == "measure":
                self.probed.emit(self.scene.probe(self._gesture_plane, self._gesture_point(x, y)))
            self._show_draft()
            return
        if self._mode is None:
            hover = self.plane_at(x, y)
            if hover is not None:
                self.hovered.emit(self.scene.probe(hover, self.scene.planes[hover].display_to_lps(x, y)))
            return
        if self._plane is None:
            return
        if self._mode == "move":
            self.scene.pick(self._plane, x, y)
        elif self._mode == "rotate":
            cx, cy = self.scene.planes[self._plane].lps_to_display(self.scene.crosshair.center)
            before = np.arctan2(self._start[1] - cy, self._start[0] - cx)
            after = np.arctan2(y - cy, x - cx)
            self.scene.rotate(self._plane, float(after - before))  # display y is up: CCW positive
            self._start = (x, y, 0.0, 0.0)
        else:
            x0, y0, center, width = self._start
            self.scene.set_window(center + (y - y0) * 2.0, max(width + (x - x0) * 4.0, 1.0), self._plane)
        self.render()

    def _wheel(self, steps: int) -> None:
        x, y, _ = self._event()
        plane = self.plane_at(x, y)
        if plane is not None:
            self.scene.scroll(plane, steps)
            self.render()

    def _key(self, *_: object) -> None:
        key = self.vtk_widget.GetRenderWindow().GetInteractor().GetKeySym() or ""
        if key in ("r", "R"):
            self.scene.reset()
            self.render()
        elif key == "Escape":
            self._cancel_draft()
        elif key in ("Delete", "BackSpace"):
            self._delete_last()

    # --- lifecycle -----------------------------------------------------------------------
    def grab_frame(self) -> np.ndarray:
        return read_frame(self.render_window)

    def shutdown(self) -> None:
        self.vtk_widget.Finalize()

    def closeEvent(self, event) -> None:  # only when MprView itself is a top-level window
        self.shutdown()
        super().closeEvent(event)


def _rotation_onto(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """A rotation taking unit vector ``a`` onto unit vector ``b``. A plane's in-plane axes
    follow from its normal (:func:`viewer.core.planes.plane_axes`), so any such rotation
    brings the plane back exactly."""
    a = np.asarray(a, dtype=float) / np.linalg.norm(a)
    b = np.asarray(b, dtype=float) / np.linalg.norm(b)
    axis = np.cross(a, b)
    sine, cosine = float(np.linalg.norm(axis)), float(np.clip(a @ b, -1.0, 1.0))
    if sine < 1e-12:
        if cosine > 0:
            return np.eye(3)
        # half a turn about any axis perpendicular to a
        helper = np.eye(3)[int(np.argmin(np.abs(a)))]
        return rotation_matrix(np.cross(a, helper), np.pi)
    return rotation_matrix(axis, float(np.arctan2(sine, cosine)))
