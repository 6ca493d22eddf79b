"""3D widget: a thin Qt host for viewer.render.volume_render.

VTK's trackball camera rotates, zooms and pans; the scene samples coarsely while a mouse
button is down and returns to full quality on release, so rotation stays interactive on a
CPU-only machine.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtWidgets import QVBoxLayout, QWidget
from vtkmodules.vtkInteractionStyle import vtkInteractorStyleTrackballCamera

from viewer.core.volume import Volume
from viewer.render.offscreen import read_frame
from viewer.render.volume_render import VolumeScene
from viewer.ui.vtk_widget import SafeVTKWidget


class VolumeView(QWidget):
    """3D volume rendering of one volume; trackball rotate/zoom/pan, R resets."""

    def __init__(self, volume: Volume, preset: str = "ct-bone", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.vtk_widget = SafeVTKWidget(self)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.vtk_widget)
        self.render_window = self.vtk_widget.GetRenderWindow()
        self.render_window.SetMultiSamples(0)  # the ray-cast image gains nothing from MSAA; Mesa pays for it
        self.scene = VolumeScene(volume)
        self.scene.set_preset(preset)
        self.render_window.AddRenderer(self.scene.renderer)
        style = vtkInteractorStyleTrackballCamera()
        style.AddObserver("StartInteractionEvent", lambda *_: self.scene.set_interactive(True))
        style.AddObserver("EndInteractionEvent", lambda *_: (self.scene.set_interactive(False), self.render()))
        self.vtk_widget.SetInteractorStyle(style)
        self.vtk_widget.Initialize()

    def set_preset(self, key: str) -> None:
        self.scene.set_preset(key)
        self.render()

    def render(self) -> None:
        self.vtk_widget.render()

    def grab_frame(self) -> np.ndarray:
        return read_frame(self.render_window)

    def shutdown(self) -> None:
        self.vtk_widget.Finalize()

    def closeEvent(self, event) -> None:
        self.shutdown()
        super().closeEvent(event)
