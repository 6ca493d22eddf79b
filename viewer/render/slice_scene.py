"""The 2D reading scene: one slice of a volume, windowed on the VTK side.

Window/level lives on the image property (vtkImageProperty ColorWindow/ColorLevel), so a
W/L drag only changes two numbers and never re-decodes or re-maps pixels in Python. The
camera looks along the slice normal with the row direction to the right and the column
direction down: the image appears as acquired (PS3.3 C.7.6.2.1.1), and scrolling moves the
focal point from slice to slice along the normal.
"""

from __future__ import annotations

import numpy as np
import vtkmodules.vtkRenderingFreeType
import vtkmodules.vtkRenderingOpenGL2  # noqa: F401  (OpenGL render-window factory)
from vtkmodules.vtkCommonCore import vtkLookupTable
from vtkmodules.vtkRenderingAnnotation import vtkCornerAnnotation
from vtkmodules.vtkRenderingCore import vtkImageSlice, vtkRenderer
from vtkmodules.vtkRenderingImage import vtkImageResliceMapper

from viewer.render.vtk_image import VtkVolume, to_vtk_image

CORNERS = ("lower_left", "lower_right", "upper_left", "upper_right")


class SliceScene:
    """A renderer showing one slice of one volume, with corner annotations."""

    def __init__(self, renderer: vtkRenderer | None = None) -> None:
        self.renderer = renderer or vtkRenderer()
        self.renderer.SetBackground(0.0, 0.0, 0.0)
        self.renderer.GetActiveCamera().ParallelProjectionOn()
        self.mapper = vtkImageResliceMapper()
        self.mapper.SliceFacesCameraOn()
        self.mapper.SliceAtFocalPointOn()
        self.image_slice = vtkImageSlice()
        self.image_slice.SetMapper(self.mapper)
        self.image_slice.GetProperty().SetInterpolationTypeToLinear()
        self.annotation = vtkCornerAnnotation()
        self.annotation.SetMinimumFontSize(13)
        self.annotation.SetMaximumFontSize(16)
        self.annotation.GetTextProperty().SetColor(0.95, 0.95, 0.8)
        self.renderer.AddViewProp(self.annotation)
        self.volume: VtkVolume | None = None
        self.slice_index = 0
        self.inverted = False

    # --- content -------------------------------------------------------------------------
    def set_volume(self, voxels: np.ndarray, affine: np.ndarray) -> None:
        """Show ``voxels`` (slices, rows, columns) placed by ``affine``; starts at slice 0."""
        self.volume = to_vtk_image(voxels, affine)
        self.mapper.SetInputData(self.volume.image)
        if not self.renderer.HasViewProp(self.image_slice):
            self.renderer.AddViewProp(self.image_slice)
        self.slice_index = 0
        self.reset_camera()

    @property
    def slice_count(self) -> int:
        return 0 if self.volume is None else int(self.volume.buffer.shape[0])

    def slice_point(self, k: int) -> np.ndarray:
        """The LPS centre of slice ``k``."""
        assert self.volume is not None
        rows, cols = self.volume.buffer.shape[1:3]
        origin = np.array(self.volume.image.GetOrigin())
        sx, sy, _ = self.volume.image.GetSpacing()
        in_plane = self.volume.row_dir * sx * (cols - 1) / 2 + self.volume.col_dir * sy * (rows - 1) / 2
        return origin + in_plane + self.volume.slice_step * k

    def set_slice(self, k: int) -> int:
        """Move to slice ``k`` (clamped); keeps zoom and pan. Returns the slice shown."""
        if self.volume is None:
            return 0
        k = int(np.clip(k, 0, self.slice_count - 1))
        camera = self.renderer.GetActiveCamera()
        delta = (self.slice_point(k) - np.array(camera.GetFocalPoint())) @ self.volume.normal
        shift = self.volume.normal * delta
        camera.SetFocalPoint(*(np.array(camera.GetFocalPoint()) + shift))
        camera.SetPosition(*(np.array(camera.GetPosition()) + shift))
        self.renderer.ResetCameraClippingRange()
        self.slice_index = k
        return k

    def reset_camera(self) -> None:
        """Fit the slice to the view, row direction right, column direction down."""
        if self.volume is None:
            return
        camera = self.renderer.GetActiveCamera()
        centre = self.slice_point(self.slice_index)
        camera.SetFocalPoint(*centre)
        camera.SetPosition(*(centre - self.volume.normal * 1000.0))
        camera.SetViewUp(*(-self.volume.col_dir))
        rows, cols = self.volume.buffer.shape[1:3]
        sx, sy, _ = self.volume.image.GetSpacing()
        self.fit(cols * sx, rows * sy)

    def fit(self, width_mm: float, height_mm: float) -> None:
        """Zoom so an image of this size fills the viewport (aspect kept)."""
        camera = self.renderer.GetActiveCamera()
        vw, vh = self.renderer.GetSize()
        aspect = vw / vh if vw and vh else 1.0
        camera.SetParallelScale(max(height_mm, width_mm / aspect) / 2)
        self.renderer.ResetCameraClippingRange()

    # --- display -------------------------------------------------------------------------
    def set_window(self, center: float, width: float) -> None:
        prop = self.image_slice.GetProperty()
        prop.SetColorLevel(float(center))
        prop.SetColorWindow(max(float(width), 1.0))

    @property
    def window(self) -> tuple[float, float]:
        """Current (center, width)."""
        prop = self.image_slice.GetProperty()
        return prop.GetColorLevel(), prop.GetColorWindow()

    def set_inverted(self, inverted: bool) -> None:
        """Show high values dark (MONOCHROME1, PS3.3 C.7.6.3.1.2, or the user's `I` key)."""
        prop = self.image_slice.GetProperty()
        if inverted:
            table = vtkLookupTable()
            table.SetNumberOfTableValues(256)
            table.SetHueRange(0, 0)
            table.SetSaturationRange(0, 0)
            table.SetValueRange(1, 0)
            table.SetRampToLinear()
            table.Build()
            prop.SetLookupTable(table)
            prop.UseLookupTableScalarRangeOff()  # the window still sets the range
        else:
            prop.SetLookupTable(None)
        self.inverted = inverted

    def set_interpolation(self, smooth: bool) -> None:
        prop = self.image_slice.GetProperty()
        if smooth:
            prop.SetInterpolationTypeToLinear()
        else:
            prop.SetInterpolationTypeToNearest()

    def set_corner_text(self, texts: dict[str, str]) -> None:
        """Corner annotations keyed by :data:`CORNERS` names."""
        for index, corner in enumerate(CORNERS):
            self.annotation.SetText(index, texts.get(corner, ""))

    def show_annotations(self, visible: bool) -> None:
        self.annotation.SetVisibility(visible)
