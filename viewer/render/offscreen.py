"""Rendering to numpy without a window: the CLI, thumbnails and tests read frames back."""

from __future__ import annotations

import numpy as np
import vtkmodules.vtkRenderingOpenGL2  # noqa: F401
from vtkmodules.util.numpy_support import vtk_to_numpy
from vtkmodules.vtkRenderingCore import vtkRenderWindow, vtkWindowToImageFilter


def read_frame(render_window: vtkRenderWindow) -> np.ndarray:
    """The window's framebuffer as (height, width, 3) uint8, row 0 at the top."""
    render_window.Render()
    grab = vtkWindowToImageFilter()
    grab.SetInput(render_window)
    grab.ReadFrontBufferOff()
    grab.Update()
    out = grab.GetOutput()
    width, height, _ = out.GetDimensions()
    pixels = vtk_to_numpy(out.GetPointData().GetScalars()).reshape(height, width, -1)
    return pixels[::-1, :, :3].copy()


class OffscreenWindow:
    """An offscreen render window of a fixed size; call :meth:`close` when done."""

    def __init__(self, width: int, height: int) -> None:
        self.render_window = vtkRenderWindow()
        self.render_window.SetOffScreenRendering(1)
        # VTK asks for 8x multisampling by default; on Mesa that makes read-back pixels depend
        # on the rasteriser's sample pattern (not deterministic across drivers) and costs time.
        self.render_window.SetMultiSamples(0)
        self.render_window.SetSize(width, height)

    def add(self, renderer) -> None:
        self.render_window.AddRenderer(renderer)

    def frame(self) -> np.ndarray:
        return read_frame(self.render_window)

    def close(self) -> None:
        self.render_window.Finalize()
