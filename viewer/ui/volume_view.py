"""3D widget: a thin Qt host for viewer.render.volume_render.

Left drag rotates, middle drag pans, the wheel zooms (VTK's trackball camera); right drag moves
and stretches the preset's transfer function like a window (horizontal: width, vertical:
level), as right drag sets W/L in the 2D pane and the MPR; R resets the view. A crop box
(a box widget with six handles) clips the volume to a region. The scene samples coarsely while
a mouse button is down and returns to full quality on release, so rotation stays interactive
on a CPU-only machine.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtWidgets import QWidget
from vtkmodules.vtkInteractionStyle import vtkInteractorStyleTrackballCamera
from vtkmodules.vtkInteractionWidgets import vtkBoxRepresentation, vtkBoxWidget2

from viewer.core.volume import Volume
from viewer.render.offscreen import read_frame
from viewer.render.volume_render import VolumeScene
from viewer.ui.vtk_widget import embed_vtk

#: Transfer-function change per screen pixel of a right drag: level in modality units, width as a factor.
LEVEL_PER_PIXEL = 2.0
WIDTH_PER_PIXEL = 0.005


class VolumeView(QWidget):
    """3D volume rendering of one volume; see the module docstring for the mouse and keys."""

    def __init__(self, volume: Volume, preset: str = "ct-bone", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.vtk_widget = embed_vtk(self)
        self.render_window = self.vtk_widget.GetRenderWindow()
        self.scene = VolumeScene(volume)
        self.scene.set_preset(preset)
        self.render_window.AddRenderer(self.scene.renderer)
        self.preset_key = preset
        style = vtkInteractorStyleTrackballCamera()
        style.AddObserver("StartInteractionEvent", lambda *_: self.scene.set_interactive(True))
        style.AddObserver("EndInteractionEvent", lambda *_: (self.scene.set_interactive(False), self.render()))
        # an observer on the style replaces its own handler (vtkInteractorStyle::ProcessEvents)
        style.AddObserver("RightButtonPressEvent", self._right_down)
        style.AddObserver("RightButtonReleaseEvent", self._right_up)
        style.AddObserver("MouseMoveEvent", self._move)
        style.AddObserver("CharEvent", self._char)
        self.style = style
        self._drag: tuple[int, int, float, float] | None = None  # start x, y, shift, scale
        self.vtk_widget.SetInteractorStyle(style)
        self.vtk_widget.Initialize()
        self.crop = vtkBoxWidget2()
        self.crop.SetInteractor(self.vtk_widget)
        box = vtkBoxRepresentation()
        box.SetPlaceFactor(1.0)
        box.PlaceWidget(self.scene.actor.GetBounds())  # LPS bounds of the whole volume
        self.crop.SetRepresentation(box)
        self.crop.RotationEnabledOff()  # the clip is an LPS box: faces stay axis-aligned
        self.crop.AddObserver("InteractionEvent", lambda *_: self._apply_crop())
        self.crop.AddObserver("EndInteractionEvent", lambda *_: self.render())

    def set_preset(self, key: str) -> None:
        self.preset_key = key
        self.scene.set_preset(key)
        self.render()

    def adjust_transfer(self, shift: float, scale: float) -> None:
        """Move the preset by ``shift`` (modality units) and stretch it by ``scale``."""
        self.scene.set_preset(self.preset_key, shift=shift, scale=max(scale, 0.05))
        self.render()

    def set_crop(self, on: bool) -> None:
        """Show the crop box and clip to it, or hide it and show the whole volume."""
        if on:
            self.crop.On()
            self._apply_crop()
        else:
            self.crop.Off()
            self.scene.set_clipping_box(None)
        self.render()

    def set_crop_bounds(self, bounds_lps: tuple[float, float, float, float, float, float]) -> None:
        """Place the crop box (xmin, xmax, ymin, ymax, zmin, zmax in LPS mm) and clip to it."""
        self.crop.GetRepresentation().PlaceWidget(bounds_lps)
        self._apply_crop()
        self.render()

    def reset(self) -> None:
        self.scene.reset_camera()
        self.render()

    def _apply_crop(self) -> None:
        if self.crop.GetEnabled():
            self.scene.set_clipping_box(tuple(self.crop.GetRepresentation().GetBounds()))

    def _right_down(self, *_: object) -> None:
        x, y = self.vtk_widget.GetEventPosition()
        self._drag = (x, y, self.scene.shift, self.scene.scale)
        self.scene.set_interactive(True)

    def _right_up(self, *_: object) -> None:
        self._drag = None
        self.scene.set_interactive(False)
        self.render()

    def _move(self, *_: object) -> None:
        if self._drag is None:
            self.style.OnMouseMove()  # rotate/pan/zoom as VTK does
            return
        x, y = self.vtk_widget.GetEventPosition()
        x0, y0, shift, scale = self._drag
        self.adjust_transfer(shift + (y - y0) * LEVEL_PER_PIXEL, scale * float(np.exp((x - x0) * WIDTH_PER_PIXEL)))

    def _char(self, *_: object) -> None:
        if (self.vtk_widget.GetKeyCode() or "").lower() == "r":
            self.reset()
        # other keys are ignored: VTK's defaults (wireframe, stereo, exit) have no place here

    def render(self) -> None:
        self.vtk_widget.render()

    def grab_frame(self) -> np.ndarray:
        return read_frame(self.render_window)

    def shutdown(self) -> None:
        self.vtk_widget.Finalize()

    def closeEvent(self, event) -> None:
        self.shutdown()
        super().closeEvent(event)
