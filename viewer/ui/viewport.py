"""The 2D viewport: a VTK slice scene in a Qt widget, driven the way radiologists expect.

Wheel scrolls slices, left-drag is window/level (horizontal = width, vertical = centre),
right-drag zooms, middle-drag pans; keys: PgUp/PgDn/arrows scroll, Home/End jump, I inverts,
R resets, F fits, A toggles annotations. VTK's own key bindings (which include 'q' = quit)
are replaced, not extended.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Signal
from PySide6.QtWidgets import QVBoxLayout, QWidget
from vtkmodules.vtkInteractionStyle import vtkInteractorStyleImage

from viewer.core.annotations import corner_texts
from viewer.core.pixels.voi import Window
from viewer.core.volume import Volume
from viewer.render.offscreen import read_frame
from viewer.render.slice_scene import SliceScene
from viewer.ui.vtk_widget import SafeVTKWidget


class Viewport(QWidget):
    """Shows one volume slice by slice."""

    slice_changed = Signal(int)
    window_changed = Signal(float, float)  # center, width

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.vtk_widget = SafeVTKWidget(self)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.vtk_widget)
        self.scene = SliceScene()
        self.render_window = self.vtk_widget.GetRenderWindow()
        self.render_window.AddRenderer(self.scene.renderer)
        self.style = vtkInteractorStyleImage()
        self.style.SetInteractionModeToImage2D()
        # An observer on the style replaces its default handler for that event.
        self.style.AddObserver("MouseWheelForwardEvent", lambda *_: self.scroll(-1))
        self.style.AddObserver("MouseWheelBackwardEvent", lambda *_: self.scroll(+1))
        self.style.AddObserver("CharEvent", lambda *_: None)
        self.style.AddObserver("KeyPressEvent", self._on_key)
        self.style.AddObserver("StartWindowLevelEvent", lambda *_: self._start_window_drag())
        self.style.AddObserver("WindowLevelEvent", lambda *_: self._window_dragged())
        self.style.AddObserver("ResetWindowLevelEvent", lambda *_: self.reset())
        self._drag_start: tuple[int, int, float, float] | None = None
        self._units_per_pixel = 1.0
        self.vtk_widget.SetInteractorStyle(self.style)
        self.vtk_widget.Initialize()
        self.volume: Volume | None = None
        self.initial_window = Window(40, 400)
        self.annotations_visible = True

    # --- content -----------------------------------------------------------------------------
    def show_volume(self, volume: Volume, window: Window, *, inverted: bool = False) -> None:
        """Display ``volume`` from its first slice at ``window``."""
        self.volume = volume
        self.initial_window = window
        self.scene.set_volume(volume.voxels, volume.affine)
        self.scene.set_inverted(inverted)
        self.scene.set_window(window.center, window.width)
        lo, hi = float(volume.voxels.min()), float(volume.voxels.max())
        self._units_per_pixel = max((hi - lo) / 1024.0, 1e-3)
        self._refresh()

    @property
    def slice_index(self) -> int:
        return self.scene.slice_index

    def set_slice(self, k: int) -> None:
        if self.volume is None:
            return
        before = self.scene.slice_index
        shown = self.scene.set_slice(k)
        self._refresh()
        if shown != before:
            self.slice_changed.emit(shown)

    def scroll(self, step: int) -> None:
        self.set_slice(self.scene.slice_index + step)

    def set_window(self, center: float, width: float) -> None:
        self.scene.set_window(center, width)
        self._refresh()
        self.window_changed.emit(*self.scene.window)

    def reset(self) -> None:
        """Back to the file's window, fitted, not inverted."""
        if self.volume is None:
            return
        self.scene.reset_camera()
        self.set_window(self.initial_window.center, self.initial_window.width)

    def toggle_invert(self) -> None:
        self.scene.set_inverted(not self.scene.inverted)
        self._refresh()

    def toggle_annotations(self) -> None:
        self.annotations_visible = not self.annotations_visible
        self.scene.show_annotations(self.annotations_visible)
        self.render()

    # --- rendering ---------------------------------------------------------------------------
    def render(self) -> None:
        self.vtk_widget.render()

    def grab_frame(self) -> np.ndarray:
        """What the viewport shows, as (height, width, 3) uint8 (works offscreen and on X)."""
        return read_frame(self.render_window)

    def shutdown(self) -> None:
        """Release the GL context before Qt destroys the native window. Idempotent."""
        self.vtk_widget.Finalize()

    def _refresh(self) -> None:
        if self.volume is not None:
            k = self.scene.slice_index
            header = self.volume.headers[k]
            self.scene.set_corner_text(corner_texts(header, k, self.scene.slice_count, self.scene.window))
        self.render()

    def _start_window_drag(self) -> None:
        x, y = self.vtk_widget.GetRenderWindow().GetInteractor().GetEventPosition()
        self._drag_start = (x, y, *self.scene.window)

    def _window_dragged(self) -> None:
        """Left-drag: right widens the window, up raises the centre, in units of the data range."""
        if self._drag_start is None:
            self._start_window_drag()
        x0, y0, center0, width0 = self._drag_start
        x, y = self.vtk_widget.GetRenderWindow().GetInteractor().GetEventPosition()
        width = max(width0 + (x - x0) * self._units_per_pixel, 1.0)
        center = center0 + (y - y0) * self._units_per_pixel
        self.set_window(center, width)

    def _on_key(self, *_: object) -> None:
        key = self.vtk_widget.GetRenderWindow().GetInteractor().GetKeySym() or ""
        count = self.scene.slice_count
        actions = {
            "Prior": lambda: self.scroll(-1),
            "Next": lambda: self.scroll(+1),
            "Up": lambda: self.scroll(-1),
            "Down": lambda: self.scroll(+1),
            "Left": lambda: self.scroll(-1),
            "Right": lambda: self.scroll(+1),
            "Home": lambda: self.set_slice(0),
            "End": lambda: self.set_slice(count - 1),
            "i": self.toggle_invert,
            "I": self.toggle_invert,
            "r": self.reset,
            "R": self.reset,
            "f": lambda: (self.scene.reset_camera(), self._refresh()),
            "F": lambda: (self.scene.reset_camera(), self._refresh()),
            "a": self.toggle_annotations,
            "A": self.toggle_annotations,
        }
        action = actions.get(key)
        if action is not None:
            action()
