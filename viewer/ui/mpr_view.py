"""Three-plane MPR widget: a thin Qt host for viewer.render.mpr.

MprView: one VTK widget with the axial, coronal and sagittal planes side by side, linked by
one crosshair. Left click/drag moves the crosshair (the other planes follow), the wheel moves
along the plane's normal, right drag is window/level (shared by default), Ctrl+left drag
rotates the crosshair (oblique; in two planes, double oblique), R resets. All geometry is in
the Qt-free :class:`~viewer.render.mpr.MprScene`; this class only maps events to it.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtWidgets import QVBoxLayout, QWidget
from vtkmodules.vtkInteractionStyle import vtkInteractorStyleUser

from viewer.core.volume import Volume
from viewer.render.mpr import MprScene
from viewer.render.offscreen import read_frame
from viewer.ui.vtk_widget import SafeVTKWidget


class MprView(QWidget):
    """Axial | coronal | sagittal of one volume with a linked crosshair."""

    def __init__(self, volume: Volume, window: tuple[float, float] = (40.0, 400.0),
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.vtk_widget = SafeVTKWidget(self)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.vtk_widget)
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
        if self._plane is None:
            return
        self._mode = "rotate" if ctrl else "move"
        self._start = (x, y, 0.0, 0.0)
        if self._mode == "move":
            self.scene.pick(self._plane, x, y)
            self.render()

    def _left_up(self, *_: object) -> None:
        self._mode = None

    def _right_down(self, *_: object) -> None:
        x, y, _ = self._event()
        self._plane = self.plane_at(x, y)
        if self._plane is not None:
            self._mode = "window"
            self._start = (x, y, *self.scene.planes[self._plane].window)

    def _right_up(self, *_: object) -> None:
        self._mode = None

    def _move(self, *_: object) -> None:
        if self._mode is None or self._plane is None:
            return
        x, y, _ = self._event()
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

    # --- lifecycle -----------------------------------------------------------------------
    def grab_frame(self) -> np.ndarray:
        return read_frame(self.render_window)

    def shutdown(self) -> None:
        self.vtk_widget.Finalize()

    def closeEvent(self, event) -> None:  # only when MprView itself is a top-level window
        self.shutdown()
        super().closeEvent(event)
