"""The 2D reading scene: one slice of a volume, windowed on the VTK side, with its overlays.

Window/level lives on the image property (vtkImageProperty ColorWindow/ColorLevel), so a
W/L drag only changes two numbers and never re-decodes or re-maps pixels in Python. The
numbers are set so VTK's ramp is exactly DICOM's LINEAR VOI function (PS3.3 C.11.2.1.2.1):
VTK maps ``(x - (L - W/2)) / W``, DICOM ``(x - (c - 0.5)) / (w - 1) + 0.5``; with
``W = w - 1`` and ``L = c - 0.5`` they are the same line.

The camera looks along the slice normal. Unrotated, the row direction points right and the
column direction down, so the image appears as acquired (C.7.6.2.1.1). Rotation and flips
are a :class:`~viewer.core.orientation.ViewTransform` applied to the camera only (a flip
looks at the slice from behind), so patient coordinates of what is under the mouse, the
measurements and the edge labels never need a separate transform.
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass

import numpy as np
import vtkmodules.vtkRenderingFreeType
import vtkmodules.vtkRenderingOpenGL2  # noqa: F401  (OpenGL render-window factory)
from vtkmodules.util.numpy_support import numpy_to_vtk
from vtkmodules.vtkCommonCore import VTK_UNSIGNED_CHAR, vtkLookupTable
from vtkmodules.vtkCommonDataModel import vtkImageData
from vtkmodules.vtkRenderingCore import vtkCoordinate, vtkImageSlice, vtkRenderer, vtkTextActor
from vtkmodules.vtkRenderingImage import vtkImageResliceMapper, vtkImageStack

from viewer.core.measurements import SliceGeometry, calibration
from viewer.core.orientation import EdgeLabels, ViewTransform, edge_labels, edge_labels_from_patient_orientation
from viewer.core.pixels.color import apply_palette
from viewer.core.pixels.display import default_voi, presentation_inverted
from viewer.core.pixels.voi import LINEAR, LINEAR_EXACT, VoiLut, Window, apply_window
from viewer.core.planes import PlaneGrid
from viewer.core.volume import Volume
from viewer.render.measure_props import DrawnShape, MeasurementLayer
from viewer.render.overlays import ReferenceLines, ViewOverlays, lossy_note, slice_graphics_layer, text_size
from viewer.render.vtk_image import VtkVolume, to_vtk_image

CORNERS = ("lower_left", "lower_right", "upper_left", "upper_right")
CAMERA_DISTANCE = 1000.0  # mm; parallel projection, so only the clipping range cares


class SliceScene:
    """A renderer showing one slice of one volume, with annotations and measurements."""

    def __init__(self, renderer: vtkRenderer | None = None) -> None:
        self.renderer = renderer or vtkRenderer()
        self.renderer.SetBackground(0.0, 0.0, 0.0)
        self.renderer.GetActiveCamera().ParallelProjectionOn()
        self.mapper = vtkImageResliceMapper()
        self.mapper.SliceFacesCameraOn()
        self.mapper.SliceAtFocalPointOn()
        self.mapper.BorderOn()  # draw the outer pixels whole, not cut at their centres
        self.image_slice = vtkImageSlice()
        self.image_slice.SetMapper(self.mapper)
        self.image_slice.GetProperty().SetInterpolationTypeToLinear()
        # Overlay planes and shutters: an RGBA image on the shown slice, stacked above the
        # image (vtkImageStack draws coplanar slices in layer order, without z-fighting).
        self.layer_mapper = vtkImageResliceMapper()
        self.layer_mapper.SliceFacesCameraOn()
        self.layer_mapper.SliceAtFocalPointOn()
        self.layer_mapper.BorderOn()
        self.layer_slice = vtkImageSlice()
        self.layer_slice.SetMapper(self.layer_mapper)
        layer_prop = self.layer_slice.GetProperty()
        layer_prop.SetInterpolationTypeToNearest()
        layer_prop.SetColorWindow(255.0)
        layer_prop.SetColorLevel(127.5)
        layer_prop.SetLayerNumber(1)
        self.layer_slice.VisibilityOff()
        self.stack = vtkImageStack()
        self.stack.AddImage(self.image_slice)
        self.stack.AddImage(self.layer_slice)
        self.stack.SetActiveLayer(0)
        self._layer: tuple[vtkImageData, np.ndarray] | None = None
        # One text actor per corner, not a vtkCornerAnnotation: that one re-fits its font size
        # and re-renders all four texts whenever any changes (~17 ms per W/L step on llvmpipe);
        # a vtkTextActor re-renders only its own texture, and only when its text changed.
        self.corner_actors: dict[str, vtkTextActor] = {}
        for corner in CORNERS:
            actor = vtkTextActor()
            prop = actor.GetTextProperty()
            prop.SetFontSize(15)
            prop.SetColor(0.95, 0.95, 0.8)
            prop.SetShadow(True)
            prop.SetFontFamilyToArial()
            prop.SetJustification(2 if corner.endswith("right") else 0)
            prop.SetVerticalJustification(2 if corner.startswith("upper") else 0)
            self.renderer.AddViewProp(actor)
            self.corner_actors[corner] = actor
        self.hint = vtkTextActor()  # shown while the viewport is empty
        hint = self.hint.GetTextProperty()
        hint.SetFontSize(14)
        hint.SetColor(0.55, 0.55, 0.55)
        hint.SetJustification(1)
        hint.SetVerticalJustification(1)
        self.renderer.AddViewProp(self.hint)
        self.overlays = ViewOverlays(self.renderer)
        self.reference_lines = ReferenceLines(self.renderer)
        self.measurements = MeasurementLayer(self.renderer)
        self.renderer.AddObserver("StartEvent", lambda *_: self._layout_overlays())
        self.volume: VtkVolume | None = None
        self.slice_index = 0
        self.inverted = False
        self.voi: Window | VoiLut = Window(40.0, 400.0)
        self.is_color = False
        self.oriented = True
        self.patient_orientation: list[str] = []
        self.view = ViewTransform()
        self._fit_scale = 1.0
        self._scale_factor = 1.0
        self._laid_out_size = (0, 0)
        self._coordinate = vtkCoordinate()
        self._coordinate.SetCoordinateSystemToWorld()
        # None: reslice small images at their own size and let the GPU scale them (faster
        # scrolling), large ones straight to screen pixels. True: always to screen pixels, which
        # samples every screen pixel exactly (an oblique slice's GPU path can pick a neighbour
        # at a few edge pixels): what a one-off render wants.
        self.resample_to_screen: bool | None = None

    # --- content -------------------------------------------------------------------------
    def set_volume(self, voxels: np.ndarray, affine: np.ndarray, *, oriented: bool = True,
                   patient_orientation: list[str] | None = None) -> None:
        """Show ``voxels`` (slices, rows, columns[, 3]) placed by ``affine``; starts at slice 0.

        Colour voxels (last axis 3, RGB after the decoder's YBR/palette conversion) are shown
        as they are: the window is fixed at the identity. ``oriented`` is False when the file
        has no Image Orientation (Patient): the edge labels then come from Patient Orientation
        (0020,0020) when given (projection images), else none are drawn.
        """
        self.volume = to_vtk_image(voxels, affine)
        self.hint.SetInput("")
        self.is_color = voxels.ndim == 4
        self.oriented = oriented
        self.patient_orientation = list(patient_orientation or [])
        self.mapper.SetInputData(self.volume.image)
        if not self.renderer.HasViewProp(self.stack):
            self.renderer.AddViewProp(self.stack)
        self.set_layer(None)
        self.slice_index = 0
        self.view = ViewTransform()
        if self.is_color:
            self.inverted = False
            self.image_slice.GetProperty().SetLookupTable(None)
            self._set_vtk_window(127.5, 255.0)  # identity on 0..255
            self.voi = Window(128.0, 256.0, "colour")
        self.reset_camera()

    def show_volume(self, volume: Volume, voi: Window | VoiLut, *, inverted: bool = False) -> None:
        """Everything a viewport sets up when it opens a series, and ``lightbox render`` draws:
        the voxels placed in the patient, the presentation inversion (C.11.6), the VOI (C.11.2),
        the scale bar's calibration and the lossy-compression warning. Starts at slice 0."""
        header = volume.headers[0]
        self.set_volume(shown_voxels(volume), volume.affine, oriented=bool(header.get("ImageOrientationPatient")),
                        patient_orientation=list(header.get("PatientOrientation") or []))
        self.set_inverted(inverted)
        self.set_voi(voi)
        cal = calibration(header)
        affine_spacing = float(np.linalg.norm(volume.affine[:3, 2]))
        self.set_scale_unit("" if cal.kind == "pixels" else cal.unit, cal.column_spacing / affine_spacing)
        # any lossy slice marks the series: a radiologist must know before reading fine detail
        self.set_warning(next((note for h in volume.headers if (note := lossy_note(h))), ""))

    @property
    def slice_count(self) -> int:
        return 0 if self.volume is None else int(self.volume.buffer.shape[0])

    def slice_point(self, k: int) -> np.ndarray:
        """The LPS centre of slice ``k``."""
        assert self.volume is not None
        rows, cols = self.volume.buffer.shape[1:3]
        origin = self.volume.origin
        sx, sy, _ = self.volume.image.GetSpacing()
        in_plane = self.volume.row_dir * sx * (cols - 1) / 2 + self.volume.col_dir * sy * (rows - 1) / 2
        return origin + in_plane + self.volume.slice_step * k

    def slice_geometry(self, k: int | None = None) -> SliceGeometry:
        """Pixel grid of slice ``k`` (default: the one shown) in patient coordinates."""
        assert self.volume is not None
        k = self.slice_index if k is None else k
        sx, sy, _ = self.volume.image.GetSpacing()
        origin = self.volume.origin + self.volume.slice_step * k
        return SliceGeometry(origin, self.volume.row_dir, self.volume.col_dir, sx, sy)

    def set_slice(self, k: int) -> int:
        """Move to slice ``k`` (clamped); keeps zoom, pan, rotation. Returns the slice shown."""
        if self.volume is None:
            return 0
        k = int(np.clip(k, 0, self.slice_count - 1))
        camera = self.renderer.GetActiveCamera()
        delta = (self.slice_point(k) - np.array(camera.GetFocalPoint())) @ self.volume.normal
        self._shift_camera(self.volume.normal * delta)
        self.volume.place_slice(k)
        self.slice_index = k
        return k

    # --- camera: fit, zoom, pan, rotate, flip ------------------------------------------
    def screen_axes(self) -> tuple[np.ndarray, np.ndarray]:
        """LPS unit vectors to the screen's right and top."""
        assert self.volume is not None
        return self.view.screen_axes(self.volume.row_dir, self.volume.col_dir)

    def _apply_view(self, centre: np.ndarray) -> None:
        right, up = self.screen_axes()
        direction = np.cross(up, right)  # VTK: direction x up = right
        camera = self.renderer.GetActiveCamera()
        camera.SetFocalPoint(*centre)
        camera.SetPosition(*(centre - direction * CAMERA_DISTANCE))
        camera.SetViewUp(*up)
        self.renderer.ResetCameraClippingRange()
        self._update_edge_labels()

    def reset_camera(self) -> None:
        """Fit the slice to the view, keeping the current rotation/flip."""
        if self.volume is None:
            return
        self._apply_view(self.slice_point(self.slice_index))
        right, up = self.screen_axes()
        rows, cols = self.volume.buffer.shape[1:3]
        sx, sy, _ = self.volume.image.GetSpacing()
        extent_i, extent_j = self.volume.row_dir * cols * sx, self.volume.col_dir * rows * sy
        width = abs(extent_i @ right) + abs(extent_j @ right)
        height = abs(extent_i @ up) + abs(extent_j @ up)
        self.fit(width, height)

    def fit(self, width_mm: float, height_mm: float) -> None:
        """Zoom so an image of this size fills the viewport (aspect kept)."""
        camera = self.renderer.GetActiveCamera()
        vw, vh = self.renderer.GetSize()
        aspect = vw / vh if vw and vh else 1.0
        self._fit_scale = max(height_mm, width_mm / aspect) / 2
        camera.SetParallelScale(self._fit_scale)
        self.renderer.ResetCameraClippingRange()

    def set_view(self, view: ViewTransform) -> None:
        """Rotate/flip about the centre of the screen, keeping zoom and the slice."""
        if self.volume is None:
            self.view = view
            return
        centre = np.array(self.renderer.GetActiveCamera().GetFocalPoint())
        self.view = view
        self._apply_view(centre)

    def rotate(self, clockwise: bool = True) -> None:
        self.set_view(self.view.rotated_clockwise() if clockwise else self.view.rotated_counterclockwise())

    def flip(self, horizontal: bool = True) -> None:
        self.set_view(self.view.flipped_horizontally() if horizontal else self.view.flipped_vertically())

    @property
    def zoom(self) -> float:
        """Magnification relative to 'fit' (1.0 = the image fills the viewport)."""
        return self._fit_scale / self.renderer.GetActiveCamera().GetParallelScale()

    def set_zoom(self, zoom: float) -> None:
        self.renderer.GetActiveCamera().SetParallelScale(self._fit_scale / float(np.clip(zoom, 0.02, 64.0)))

    def zoom_at(self, factor: float, x: float, y: float) -> None:
        """Magnify by ``factor`` keeping the patient point under display (x, y) in place."""
        before = self.display_to_patient(x, y)
        self.set_zoom(self.zoom * factor)
        after = self.display_to_patient(x, y)
        self._shift_camera(before - after)

    @property
    def pan(self) -> tuple[float, float]:
        """Offset of the view centre from the slice centre, mm along screen right and up."""
        if self.volume is None:
            return (0.0, 0.0)
        d = np.array(self.renderer.GetActiveCamera().GetFocalPoint()) - self.slice_point(self.slice_index)
        right, up = self.screen_axes()
        return float(d @ right), float(d @ up)

    def set_pan(self, right_mm: float, up_mm: float) -> None:
        if self.volume is None:
            return
        right, up = self.screen_axes()
        target = self.slice_point(self.slice_index) + right * right_mm + up * up_mm
        self._shift_camera(target - np.array(self.renderer.GetActiveCamera().GetFocalPoint()))

    def pan_by_pixels(self, dx: float, dy: float) -> None:
        """Move the image with the mouse: (dx, dy) display pixels, y up."""
        right, up = self.screen_axes()
        self._shift_camera(-(right * dx + up * dy) * self.mm_per_pixel)

    def _shift_camera(self, shift: np.ndarray) -> None:
        camera = self.renderer.GetActiveCamera()
        camera.SetFocalPoint(*(np.array(camera.GetFocalPoint()) + shift))
        camera.SetPosition(*(np.array(camera.GetPosition()) + shift))
        self.renderer.ResetCameraClippingRange()

    @property
    def mm_per_pixel(self) -> float:
        _, height = self.renderer.GetSize()
        return 2.0 * self.renderer.GetActiveCamera().GetParallelScale() / max(height, 1)

    # --- picking -------------------------------------------------------------------------
    def display_to_patient(self, x: float, y: float) -> np.ndarray:
        """The LPS point on the shown slice under display pixel (x, y) (origin bottom left)."""
        renderer = self.renderer
        renderer.SetDisplayPoint(float(x), float(y), 0.0)
        renderer.DisplayToWorld()
        wx, wy, wz, w = renderer.GetWorldPoint()
        point = np.array([wx, wy, wz]) / (w or 1.0)
        if self.volume is None:
            return point
        plane = self.slice_point(self.slice_index)
        normal = self.volume.normal
        return point - normal * float((point - plane) @ normal)

    def patient_to_display(self, point: np.ndarray) -> tuple[float, float]:
        self._coordinate.SetValue(*(float(c) for c in point))
        x, y = self._coordinate.GetComputedDoubleDisplayValue(self.renderer)
        return float(x), float(y)

    # --- display -------------------------------------------------------------------------
    def set_window(self, center: float, width: float) -> None:
        """Window in DICOM terms (C.11.2.1.2), keeping the current VOI LUT Function (a W/L drag
        on a SIGMOID window stays SIGMOID; on a VOI LUT table it becomes LINEAR). Ignored for
        colour images."""
        if self.is_color:
            return
        function = self.voi.function if isinstance(self.voi, Window) else LINEAR
        if function == LINEAR:
            width = max(float(width), 1.0)
        self.set_voi(Window(float(center), max(float(width), 1e-3), "", function))

    def set_voi(self, voi: Window | VoiLut) -> None:
        """Apply a VOI (C.11.2): a window with its function, or a VOI LUT Sequence table.

        LINEAR and LINEAR_EXACT are VTK's own window/level (two numbers per drag step);
        SIGMOID and tables become a lookup table over the modality values.
        """
        if self.is_color:
            return
        self.voi = voi
        self._apply_voi()

    def _apply_voi(self) -> None:
        prop = self.image_slice.GetProperty()
        voi = self.voi
        if isinstance(voi, Window) and voi.function in (LINEAR, LINEAR_EXACT):
            if voi.function == LINEAR:  # C.11.2.1.2.1: VTK W = w - 1, L = c - 0.5
                self._set_vtk_window(voi.center - 0.5, max(voi.width - 1.0, 1e-3))
            else:  # C.11.2.1.3.2 LINEAR_EXACT is VTK's formula itself
                self._set_vtk_window(voi.center, voi.width)
            prop.SetLookupTable(self._grey_table(np.linspace(0.0, 1.0, 256)) if self.inverted else None)
            prop.UseLookupTableScalarRangeOff()  # the window sets the range
            return
        if isinstance(voi, Window):  # SIGMOID (C.11.2.1.3.1): sampled at 4096 bin centres
            low, high = voi.center - 2 * voi.width, voi.center + 2 * voi.width
            x = low + (np.arange(4096) + 0.5) * (high - low) / 4096
            values = apply_window(x, voi)
        else:  # a VOI LUT table (C.11.2.1.1): entry n is modality value first_mapped + n
            low, high = float(voi.first_mapped), float(voi.first_mapped + len(voi.data))
            values = np.asarray(voi.data, dtype=np.float64) / voi.output_max
        table = self._grey_table(values)
        table.SetRange(low, high)
        prop.SetLookupTable(table)
        prop.UseLookupTableScalarRangeOn()

    def _grey_table(self, values: np.ndarray) -> vtkLookupTable:
        """A grey lookup table from output values in 0..1 (inverted when asked)."""
        grey = np.clip(np.round((1.0 - values if self.inverted else values) * 255), 0, 255).astype(np.uint8)
        rgba = np.empty((grey.size, 4), np.uint8)
        rgba[:, :3] = grey[:, None]
        rgba[:, 3] = 255
        table = vtkLookupTable()
        table.SetNumberOfTableValues(grey.size)
        table.SetTable(numpy_to_vtk(rgba, deep=True, array_type=VTK_UNSIGNED_CHAR))
        table.SetRange(0.0, 255.0)
        self._table_keep = table
        return table

    def _set_vtk_window(self, level: float, window: float) -> None:
        prop = self.image_slice.GetProperty()
        prop.SetColorLevel(float(level))
        prop.SetColorWindow(float(window))

    @property
    def window(self) -> tuple[float, float]:
        """Current (center, width) in DICOM terms; for a VOI LUT table, its input range's."""
        voi = self.voi
        if isinstance(voi, Window):
            return voi.center, voi.width
        return voi.first_mapped + len(voi.data) / 2, float(len(voi.data))

    def set_inverted(self, inverted: bool) -> None:
        """Show high values dark (MONOCHROME1, PS3.3 C.7.6.3.1.2, or the user's `I` key)."""
        self.inverted = bool(inverted) and not self.is_color
        if not self.is_color:
            self._apply_voi()

    @property
    def interpolated(self) -> bool:
        return self.image_slice.GetProperty().GetInterpolationType() != 0

    def set_interpolation(self, smooth: bool) -> None:
        """Linear (smooth) or nearest neighbour (every pixel a square, for pixel peeping)."""
        prop = self.image_slice.GetProperty()
        if smooth:
            prop.SetInterpolationTypeToLinear()
        else:
            prop.SetInterpolationTypeToNearest()

    def set_corner_text(self, texts: dict[str, str]) -> None:
        """Corner annotations keyed by :data:`CORNERS` names (unchanged texts cost nothing)."""
        for corner, actor in self.corner_actors.items():
            text = texts.get(corner, "")
            if actor.GetInput() != text:
                actor.SetInput(text)

    def set_notice(self, text: str) -> None:
        """A message in the middle of the image (e.g. why a slice is blank); "" hides it."""
        text = textwrap.fill(text, 64)  # a text actor does not wrap; a file name and reason can be long
        if self.hint.GetInput() != text:
            self.hint.SetInput(text)

    def corner_text(self, corner: str) -> str:
        return self.corner_actors[corner].GetInput() or ""

    def show_annotations(self, visible: bool) -> None:
        """Corner text, edge labels, scale bar and warnings on or off (for clean screenshots)."""
        for actor in self.corner_actors.values():
            actor.SetVisibility(visible)
        self.overlays.set_visible(visible)

    def set_scale_unit(self, unit: str, factor: float = 1.0) -> None:
        """'mm', 'mm (detector)' or '' (no calibrated spacing: no scale bar). ``factor``
        converts the affine's mm to the calibration's (Imager Pixel Spacing is not in the affine)."""
        self.overlays.scale_unit = unit
        self._scale_factor = factor

    def set_warning(self, text: str) -> None:
        self.overlays.set_warning(text)

    def set_layer(self, rgba: np.ndarray | None, k: int | None = None) -> None:
        """Draw ``rgba`` (rows, columns, 4) uint8 over slice ``k`` (default: the shown one);
        None hides the layer. Used for overlay planes and display shutters."""
        if rgba is None or self.volume is None:
            self.layer_slice.VisibilityOff()
            self._layer = None
            return
        g = self.slice_geometry(k)
        buffer = np.ascontiguousarray(rgba[np.newaxis])
        image = vtkImageData()
        image.SetDimensions(buffer.shape[2], buffer.shape[1], 1)
        image.SetSpacing(g.step_i, g.step_j, 1.0)
        image.SetOrigin(*g.origin)
        image.SetDirectionMatrix(np.column_stack([g.row_dir, g.col_dir, self.volume.normal]).ravel().tolist())
        image.GetPointData().SetScalars(numpy_to_vtk(buffer.reshape(-1, 4), deep=False))
        self._layer = (image, buffer)  # the vtkImageData views the numpy buffer: keep both
        self.layer_mapper.SetInputData(image)
        self.layer_slice.VisibilityOn()

    def image_rectangle(self, k: int | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray, float, float]:
        """Slice ``k`` as (origin, row direction, column direction, width mm, height mm),
        origin at the first pixel's centre: what a reference line is clipped to."""
        g = self.slice_geometry(k)
        assert self.volume is not None
        rows, cols = self.volume.buffer.shape[1:3]
        return g.origin, g.row_dir, g.col_dir, (cols - 1) * g.step_i, (rows - 1) * g.step_j

    def set_reference_lines(self, segments: list[tuple[np.ndarray, np.ndarray]]) -> None:
        self.reference_lines.set_segments(segments)

    def set_shapes(self, shapes: list[DrawnShape]) -> None:
        self.measurements.set_shapes(shapes)

    @property
    def edge_labels(self) -> EdgeLabels:
        if self.volume is not None and self.oriented:
            return edge_labels(self.volume.row_dir, self.volume.col_dir, self.view)
        projection = edge_labels_from_patient_orientation(self.patient_orientation, self.view)
        return projection or EdgeLabels("", "", "", "")

    def _update_edge_labels(self) -> None:
        self.overlays.set_edge_labels(self.edge_labels)

    def _layout_overlays(self) -> None:
        width, height = self.renderer.GetSize()
        self.hint.SetPosition(width / 2, height / 2)
        if self.volume is not None:
            # An image with fewer pixels than the view is resliced once at its own size and
            # scaled by the GPU (~15% faster scrolling at 512²); a larger one (mammography) is
            # resliced straight to screen pixels, so only what is visible is mapped and uploaded.
            rows, cols = self.volume.buffer.shape[1:3]
            screen = self.resample_to_screen
            self.mapper.SetResampleToScreenPixels(rows * cols > width * height if screen is None else screen)
        if (width, height) != self._laid_out_size:  # text shrinks in small viewports (3x3)
            self._laid_out_size = (width, height)
            size = text_size(width, height)
            for actor in self.corner_actors.values():
                actor.GetTextProperty().SetFontSize(size)
            self.overlays.set_font_size(size)
        margin = 6
        self.corner_actors["lower_left"].SetPosition(margin, margin)
        self.corner_actors["lower_right"].SetPosition(width - margin, margin)
        self.corner_actors["upper_left"].SetPosition(margin, height - margin)
        self.corner_actors["upper_right"].SetPosition(width - margin, height - margin)
        self.overlays.layout(self.mm_per_pixel * self._scale_factor if self.volume is not None else 0.0)
        self.measurements.layout()


def shown_voxels(volume: Volume) -> np.ndarray:
    """What the scene draws of ``volume``: its voxels, except that PALETTE COLOR indices become
    the palette's RGB (C.7.6.3.1.5; the volume keeps the stored indices, like any stored value)."""
    header = volume.headers[0] if volume.headers else None
    if header is None or volume.voxels.ndim != 3 or \
            str(header.get("PhotometricInterpretation", "")).strip() != "PALETTE COLOR":
        return volume.voxels
    rgb = np.empty((*volume.voxels.shape, 3), np.uint8)
    for k in range(volume.voxels.shape[0]):
        indices = volume.voxels[k]
        if indices.dtype == np.int16:  # 16-bit indices are unsigned (C.7.6.3.1.5): undo the int16 view
            indices = indices.view(np.uint16)
        rgb[k] = apply_palette(indices, volume.headers[k])
    return rgb


# --- headless ----------------------------------------------------------------------------------


@dataclass
class RenderedSlice:
    """What :func:`render_slice` drew: the frame, the patient grid of its pixels, the VOI."""

    frame: np.ndarray  # (rows, columns, 3) uint8, row 0 at the top
    grid: PlaneGrid  # where every output pixel's centre is in the patient
    voi: Window | VoiLut | None  # None for colour images (shown as stored)
    inverted: bool


def frame_number(volume: Volume, k: int) -> int:
    """0-based frame of slice ``k`` within its SOP instance (multi-frame images share a UID)."""
    uid = str(volume.headers[k].get("SOPInstanceUID") or f"slice-{k}")
    return sum(1 for n in range(k) if str(volume.headers[n].get("SOPInstanceUID") or f"slice-{n}") == uid)


def render_slice(
    volume: Volume,
    k: int,
    voi: Window | VoiLut | None = None,
    *,
    inverted: bool | None = None,
    size: tuple[int, int] | None = None,
    corner_texts: dict[str, str] | None = None,
    interpolation: str | None = None,
) -> RenderedSlice:
    """Draw acquired slice ``k`` offscreen through the viewport's own :class:`SliceScene`.

    So the PNG of ``lightbox render`` shows what the viewer shows: colour (RGB, palette, YBR
    after decoding) as stored, the file's VOI (a window with its function or a VOI LUT table)
    unless ``voi`` is given, MONOCHROME1 / Presentation LUT Shape inversion, overlay planes and
    display shutters. ``inverted`` None: from the header, as :meth:`LayoutGrid.show_series_in`.

    Without ``size`` the output has one pixel per stored pixel (square pixels of the smaller
    spacing when the stored ones are not square) and nearest-neighbour display, so every output
    pixel is a stored pixel's display value; with ``size`` = (width, height) the slice is fitted
    in it, aspect kept, as in a viewport. ``corner_texts`` turns on the annotations (corner
    texts, edge letters, scale bar, lossy warning). ``interpolation``: "nearest", "linear" or
    "cubic" (default nearest without ``size``, linear with it).
    """
    from viewer.render.offscreen import OffscreenWindow

    header = volume.headers[0]
    if voi is None:
        voi = default_voi(header, volume.voxels)
    if inverted is None:
        inverted = presentation_inverted(header)
    rows, cols = volume.voxels.shape[1:3]
    step_j, step_i = float(np.linalg.norm(volume.affine[:3, 1])), float(np.linalg.norm(volume.affine[:3, 2]))
    if size is None:
        s = min(step_i, step_j)
        width, height = max(1, round(cols * step_i / s)), max(1, round(rows * step_j / s))
    else:
        width, height = size
    scene = SliceScene()
    scene.resample_to_screen = True
    scene.show_volume(volume, voi, inverted=inverted)
    mode = interpolation or ("nearest" if size is None else "linear")
    prop = scene.image_slice.GetProperty()
    {"nearest": prop.SetInterpolationTypeToNearest, "linear": prop.SetInterpolationTypeToLinear,
     "cubic": prop.SetInterpolationTypeToCubic}[mode]()
    scene.show_annotations(corner_texts is not None)
    scene.set_corner_text(corner_texts or {})
    window = OffscreenWindow(width, height)
    try:
        window.add(scene.renderer)
        scene.set_slice(k)
        scene.reset_camera()  # fit: needs the renderer's size, known once it is in the window
        scene.set_layer(slice_graphics_layer(volume.headers[k], frame_number(volume, k), (rows, cols)), k)
        frame = window.frame()
        assert scene.volume is not None
        mm = scene.mm_per_pixel
        right, down = scene.volume.row_dir, scene.volume.col_dir  # unrotated: as acquired
        centre = np.array(scene.renderer.GetActiveCamera().GetFocalPoint())
        origin = centre - right * (width - 1) / 2 * mm - down * (height - 1) / 2 * mm
        grid = PlaneGrid(origin, right, down, (mm, mm), (height, width))
    finally:
        window.close()
    return RenderedSlice(frame, grid, None if scene.is_color else scene.voi, scene.inverted)
