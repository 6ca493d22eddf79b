"""Multiplanar reconstruction: any plane of a volume, resampled through its true affine.

The volume goes to VTK in *voxel index space* (origin 0, spacing 1, no direction), and each
plane is sampled by vtkImageReslice with a ResliceAxes matrix built from the full DICOM
affine (:func:`viewer.core.planes.grid_to_index_matrix`). That matrix may shear, so a
gantry-tilted stack, whose slice step is not along its slice normal (PS3.3 C.7.6.2.1.1),
is reconstructed in true patient geometry rather than in the sheared box a direction matrix
would imply.

Thick slabs (MIP, MinIP, average) take the fast path when the slab normal runs along a voxel
axis that is perpendicular to the other two (axial on an axial CT, coronal on a coronal MR):
a numpy reduction over whole voxel slices, then a 2D reslice of the result. Anything
oblique uses vtkImageReslice's own slab mode, sampling every ``smallest spacing`` mm.

:class:`PlaneScene` shows one plane in a renderer: the resliced image in millimetre plane
coordinates (x right, y down), W/L on the image property, the crosshair lines, the four
edge orientation letters and the measurements. :class:`MprScene` keeps three of them in step
with a :class:`~viewer.core.planes.Crosshair`. Neither imports Qt.

Measurements on a plane (length, angle, ROIs, probe) are the 2D reading tools' own
(:func:`viewer.core.measurements.measure` on the plane's resliced pixels, in modality units,
and the slab image for a thick slab; drawn by :class:`~viewer.render.measure_props.MeasurementLayer`).
Their points are LPS, so a measurement shows again whenever its plane comes back.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import numpy as np
import vtkmodules.vtkRenderingFreeType  # text actors need the FreeType factory
import vtkmodules.vtkRenderingOpenGL2  # noqa: F401  (OpenGL render-window factory)
from vtkmodules.util.numpy_support import numpy_to_vtk, vtk_to_numpy
from vtkmodules.vtkCommonCore import VTK_UNSIGNED_CHAR, vtkLookupTable, vtkPoints
from vtkmodules.vtkCommonDataModel import vtkCellArray, vtkImageData, vtkPolyData
from vtkmodules.vtkCommonMath import vtkMatrix4x4
from vtkmodules.vtkImagingCore import vtkImageReslice
from vtkmodules.vtkRenderingCore import (
    vtkActor2D,
    vtkCoordinate,
    vtkImageSlice,
    vtkImageSliceMapper,
    vtkPolyDataMapper2D,
    vtkRenderer,
    vtkTextActor,
)

from viewer.core.measurements import Measurement
from viewer.core.measurements import measure as measure_on_image
from viewer.core.planes import (
    PLANES,
    Crosshair,
    PlaneGrid,
    covering_grid,
    grid_to_index_matrix,
    plane_header,
    plane_slice_geometry,
    volume_center,
)
from viewer.core.volume import Volume
from viewer.render.measure_props import DrawnShape, MeasurementLayer

Interpolation = Literal["nearest", "linear", "cubic"]
SlabMode = Literal["mip", "minip", "avg"]
SLAB_MODES: tuple[str, ...] = ("mip", "minip", "avg")

#: Crosshair line colours per plane, as on most workstations: axial red, coronal green,
#: sagittal blue (each plane's line is drawn in its colour on the other two).
PLANE_COLORS: dict[str, tuple[float, float, float]] = {
    "axial": (0.95, 0.3, 0.3),
    "coronal": (0.3, 0.9, 0.3),
    "sagittal": (0.35, 0.55, 1.0),
}


def index_space_image(voxels: np.ndarray) -> vtkImageData:
    """(slices, rows, columns) voxels as vtkImageData with point (i, j, k) at (i, j, k).

    The numpy array is shared, not copied; keep it alive as long as the image.
    """
    data = np.ascontiguousarray(voxels)
    image = vtkImageData()
    image.SetDimensions(data.shape[2], data.shape[1], data.shape[0])
    image.GetPointData().SetScalars(numpy_to_vtk(data.ravel(), deep=False))
    image._numpy_buffer = data  # type: ignore[attr-defined]
    return image


def _matrix(m: np.ndarray) -> vtkMatrix4x4:
    out = vtkMatrix4x4()
    out.DeepCopy(np.asarray(m, dtype=float).ravel().tolist())
    return out


@dataclass(frozen=True)
class Slab:
    """A thick slab: ``thickness`` mm centred on the plane, reduced with ``mode``."""

    thickness: float
    mode: SlabMode = "mip"

    def __post_init__(self) -> None:
        if self.mode not in SLAB_MODES:
            raise ValueError(f"unknown slab mode {self.mode!r}; expected one of {', '.join(SLAB_MODES)}")
        if not self.thickness >= 0:
            raise ValueError(f"slab thickness must be >= 0 mm, got {self.thickness}")


class Reslicer:
    """Samples planes of one volume. Owns the index-space vtkImageData and one vtkImageReslice.

    Output arrays are (rows, columns) in modality units: int16 for int16 input with nearest,
    linear or cubic interpolation (cubic overshoot is clamped to the type), float32 for an
    average slab.
    """

    def __init__(self, voxels: np.ndarray, affine: np.ndarray) -> None:
        self.voxels = np.ascontiguousarray(voxels)
        self.affine = np.asarray(affine, dtype=float)
        self.image = index_space_image(self.voxels)
        self.background = float(self.voxels.min()) if self.voxels.size else 0.0
        self.reslice = vtkImageReslice()
        self.reslice.SetInputData(self.image)
        self.reslice.SetOutputDimensionality(2)
        self.reslice.SetOutputSpacing(1.0, 1.0, 1.0)
        self.reslice.SetOutputOrigin(0.0, 0.0, 0.0)
        self.reslice.SetBackgroundLevel(self.background)
        self.interpolation: Interpolation = "linear"
        self.set_interpolation("linear")
        self._kji_from_lps = np.linalg.inv(self.affine)

    @classmethod
    def from_volume(cls, volume: Volume) -> Reslicer:
        return cls(volume.voxels, volume.affine)

    @property
    def shape(self) -> tuple[int, int, int]:
        return self.voxels.shape[:3]  # type: ignore[return-value]

    @property
    def smallest_spacing(self) -> float:
        return min(float(np.linalg.norm(self.affine[:3, a])) for a in range(3))

    def set_interpolation(self, mode: Interpolation) -> None:
        setters = {
            "nearest": self.reslice.SetInterpolationModeToNearestNeighbor,
            "linear": self.reslice.SetInterpolationModeToLinear,
            "cubic": self.reslice.SetInterpolationModeToCubic,
        }
        if mode not in setters:
            raise ValueError(f"unknown interpolation {mode!r}; expected nearest, linear or cubic")
        setters[mode]()
        self.interpolation = mode

    def grid(self, center: np.ndarray, row: np.ndarray, col: np.ndarray,
             size: tuple[int, int] | None = None) -> PlaneGrid:
        return covering_grid(self.affine, self.shape, center, row, col, size=size)

    # --- sampling ------------------------------------------------------------------------------
    def sample(self, grid: PlaneGrid, slab: Slab | None = None, *, fast_slab: bool = True) -> np.ndarray:
        """The plane ``grid`` as a (rows, columns) array, optionally as a thick ``slab``."""
        if slab is not None and slab.thickness > 0:
            if fast_slab:
                aligned = self._aligned_slab(grid, slab)
                if aligned is not None:
                    return aligned
            return self._vtk_slab(grid, slab)
        return self._run(self.image, self._axes(grid), grid.shape, slab_samples=1)

    def vtk_output(self) -> vtkImageData:
        """The last sampled plane as VTK data (shared with :meth:`sample`'s array)."""
        return self.reslice.GetOutput()

    def _axes(self, grid: PlaneGrid, slab_step: float = 1.0) -> np.ndarray:
        return grid_to_index_matrix(self.affine, grid, slab_step)

    def _run(self, image: vtkImageData, axes: np.ndarray, shape: tuple[int, int], slab_samples: int,
             slab_mode: str = "mip") -> np.ndarray:
        r = self.reslice
        if r.GetInput() is not image:
            r.SetInputData(image)
        r.SetResliceAxes(_matrix(axes))
        r.SetOutputExtent(0, shape[1] - 1, 0, shape[0] - 1, 0, 0)
        r.SetSlabNumberOfSlices(slab_samples)
        if slab_samples > 1:
            {"mip": r.SetSlabModeToMax, "minip": r.SetSlabModeToMin, "avg": r.SetSlabModeToMean}[slab_mode]()
            r.SetSlabSliceSpacingFraction(1.0)
            # a mean of int16 samples is not an int16 value
            r.SetOutputScalarType(10 if slab_mode == "avg" else -1)  # 10 = VTK_FLOAT
        else:
            r.SetOutputScalarType(-1)  # same as the input
        r.Update()
        out = vtk_to_numpy(r.GetOutput().GetPointData().GetScalars())
        return out.reshape(shape)

    def _vtk_slab(self, grid: PlaneGrid, slab: Slab) -> np.ndarray:
        step = self.smallest_spacing
        samples = max(1, round(slab.thickness / step) + 1)
        step = slab.thickness / (samples - 1) if samples > 1 else step
        return self._run(self.image, self._axes(grid, step), grid.shape, samples, slab.mode)

    def _aligned_slab(self, grid: PlaneGrid, slab: Slab) -> np.ndarray | None:
        """Reduce whole voxel slices with numpy when the slab normal runs along a voxel axis
        perpendicular to the other two; None when it does not (oblique or tilted)."""
        n = grid.normal
        axes = [self.affine[:3, a] for a in range(3)]
        for a in range(3):
            step = axes[a]
            length = float(np.linalg.norm(step))
            cosine = float(step @ n) / length
            others = [b for b in range(3) if b != a]
            if abs(abs(cosine) - 1) > 1e-6:
                continue
            if any(abs(float(axes[b] @ n)) > 1e-6 * float(np.linalg.norm(axes[b])) for b in others):
                return None
            # index along axis a of the plane, and the voxel slices whose centres are in the slab
            index_of_plane = float((self._kji_from_lps @ np.append(grid.origin, 1.0))[a])
            half = slab.thickness / 2 / length
            lo = max(int(np.ceil(index_of_plane - half - 1e-6)), 0)
            hi = min(int(np.floor(index_of_plane + half + 1e-6)), self.shape[a] - 1)
            if hi < lo:
                return np.full(grid.shape, self.background, dtype=self.voxels.dtype)
            block = np.take(self.voxels, np.arange(lo, hi + 1), axis=a)
            if slab.mode == "mip":
                reduced = block.max(axis=a)
            elif slab.mode == "minip":
                reduced = block.min(axis=a)
            else:
                reduced = block.mean(axis=a, dtype=np.float64).astype(np.float32)
            # reslice the reduced 2D image (as a one-voxel-thick volume at index lo along a)
            thick = np.expand_dims(reduced, axis=a)
            image = index_space_image(thick)
            shift = np.eye(4)
            shift[a, 3] = -index_of_plane  # the reduced slice sits at index 0 along a
            axes_matrix = np.eye(4)[[2, 1, 0, 3]] @ shift @ np.eye(4)[[2, 1, 0, 3]] @ self._axes(grid)
            try:
                return self._run(image, axes_matrix, grid.shape, 1).copy()
            finally:
                self.reslice.SetInputData(self.image)
        return None

    def lps_to_index(self, point: np.ndarray) -> np.ndarray:
        """(k, j, i) of an LPS point."""
        return (self._kji_from_lps @ np.append(np.asarray(point, float), 1.0))[:3]


# --- display ---------------------------------------------------------------------------------


class PlaneScene:
    """One MPR plane in a renderer: image, crosshair lines, edge letters, corner text.

    World coordinates of the renderer are millimetres in the plane's own frame: x along the
    row direction from pixel (0, 0), y along the column direction. The camera looks down +z
    with y pointing down the screen, so pixel rows read top to bottom as in DICOM.
    """

    def __init__(self, name: str, reslicer: Reslicer, renderer: vtkRenderer | None = None) -> None:
        self.name = name
        self.reslicer = reslicer
        self.renderer = renderer or vtkRenderer()
        self.renderer.SetBackground(0, 0, 0)
        self.renderer.GetActiveCamera().ParallelProjectionOn()
        self.reslice = vtkImageReslice()  # own reslice so the three planes keep their outputs
        self.reslice.SetInputData(reslicer.image)
        self.reslice.SetOutputDimensionality(2)
        self.reslice.SetBackgroundLevel(reslicer.background)
        self.reslice.SetInterpolationModeToLinear()
        self.mapper = vtkImageSliceMapper()
        self.image_data = vtkImageData()
        self.mapper.SetInputData(self.image_data)
        self.image = vtkImageSlice()
        self.image.SetMapper(self.mapper)
        self.image.GetProperty().SetInterpolationTypeToLinear()
        self.renderer.AddViewProp(self.image)
        self.grid: PlaneGrid | None = None
        self.slab: Slab | None = None
        self._array: np.ndarray | None = None
        self._lines = {other: self._line_actor(PLANE_COLORS[other]) for other in PLANES if other != name}
        self.labels = {edge: self._label_actor(edge) for edge in ("left", "right", "top", "bottom")}
        self.corner = vtkTextActor()
        self.corner.GetTextProperty().SetFontSize(14)
        self.corner.GetTextProperty().SetColor(*PLANE_COLORS.get(name, (0.9, 0.9, 0.8)))
        self.corner.GetPositionCoordinate().SetCoordinateSystemToNormalizedViewport()
        self.corner.GetPositionCoordinate().SetValue(0.01, 0.01)
        self.renderer.AddViewProp(self.corner)
        self.shapes = MeasurementLayer(self.renderer, to_world=self.lps_to_world)
        self.renderer.AddObserver("StartEvent", lambda *_: self.shapes.layout())

    # --- props -----------------------------------------------------------------------------
    def _line_actor(self, color: tuple[float, float, float]) -> tuple[vtkPoints, vtkActor2D]:
        points = vtkPoints()
        points.SetNumberOfPoints(2)
        cells = vtkCellArray()
        cells.InsertNextCell(2)
        cells.InsertCellPoint(0)
        cells.InsertCellPoint(1)
        poly = vtkPolyData()
        poly.SetPoints(points)
        poly.SetLines(cells)
        coordinate = vtkCoordinate()
        coordinate.SetCoordinateSystemToWorld()
        mapper = vtkPolyDataMapper2D()
        mapper.SetInputData(poly)
        mapper.SetTransformCoordinate(coordinate)
        actor = vtkActor2D()
        actor.SetMapper(mapper)
        actor.GetProperty().SetColor(*color)
        actor.GetProperty().SetLineWidth(1.5)
        actor._keep = (poly, coordinate)  # type: ignore[attr-defined]
        self.renderer.AddViewProp(actor)
        return points, actor

    def _label_actor(self, edge: str) -> vtkTextActor:
        actor = vtkTextActor()
        prop = actor.GetTextProperty()
        prop.SetFontSize(18)
        prop.BoldOn()
        prop.SetColor(1.0, 0.85, 0.3)
        x, y, hj, vj = {
            "left": (0.01, 0.5, 0, 1),
            "right": (0.99, 0.5, 2, 1),
            "top": (0.5, 0.99, 1, 2),
            "bottom": (0.5, 0.06, 1, 0),
        }[edge]
        prop.SetJustification(hj)
        prop.SetVerticalJustification(vj)
        actor.GetPositionCoordinate().SetCoordinateSystemToNormalizedViewport()
        actor.GetPositionCoordinate().SetValue(x, y)
        self.renderer.AddViewProp(actor)
        return actor

    # --- content ---------------------------------------------------------------------------
    def set_interpolation(self, mode: Interpolation) -> None:
        {"nearest": self.reslice.SetInterpolationModeToNearestNeighbor,
         "linear": self.reslice.SetInterpolationModeToLinear,
         "cubic": self.reslice.SetInterpolationModeToCubic}[mode]()

    def update(self, grid: PlaneGrid, slab: Slab | None = None) -> bool:
        """Resample if the plane or slab changed; returns whether anything was resampled."""
        same = (
            self.grid is not None
            and self.grid.shape == grid.shape
            and np.allclose(self.grid.origin, grid.origin, atol=1e-6)
            and np.allclose(self.grid.row_direction, grid.row_direction, atol=1e-9)
            and np.allclose(self.grid.column_direction, grid.column_direction, atol=1e-9)
            and self.slab == slab
        )
        if same:
            return False
        refit = self.grid is None or self.grid.shape != grid.shape or not np.allclose(
            self.grid.spacing, grid.spacing)
        self.grid, self.slab = grid, slab
        if slab is not None and slab.thickness > 0:
            array = self.reslicer.sample(grid, slab)
            self._array = np.ascontiguousarray(array)
            image = vtkImageData()
            image.SetDimensions(grid.shape[1], grid.shape[0], 1)
            image.GetPointData().SetScalars(numpy_to_vtk(self._array.ravel(), deep=False))
        else:
            self.reslice.SetResliceAxes(_matrix(self.reslicer._axes(grid)))
            self.reslice.SetOutputExtent(0, grid.shape[1] - 1, 0, grid.shape[0] - 1, 0, 0)
            self.reslice.Update()
            image = self.reslice.GetOutput()
            self._array = None
        self.image_data.ShallowCopy(image)
        self.image_data.SetSpacing(grid.spacing[1], grid.spacing[0], 1.0)
        self.image_data.SetOrigin(0.0, 0.0, 0.0)
        self.image_data.Modified()
        for edge, actor in self.labels.items():
            actor.SetInput(grid.labels[edge])
        if refit:
            self.fit()
        return True

    def pixels(self) -> np.ndarray:
        """The displayed plane as (rows, columns) modality values."""
        assert self.grid is not None
        return vtk_to_numpy(self.image_data.GetPointData().GetScalars()).reshape(self.grid.shape)

    def fit(self) -> None:
        """Whole plane in view: camera on the plane centre, looking down +z, y down the screen."""
        if self.grid is None:
            return
        width, height = self.grid.size_mm
        cx = (self.grid.shape[1] - 1) * self.grid.spacing[1] / 2
        cy = (self.grid.shape[0] - 1) * self.grid.spacing[0] / 2
        camera = self.renderer.GetActiveCamera()
        camera.SetFocalPoint(cx, cy, 0.0)
        camera.SetPosition(cx, cy, -1000.0)
        camera.SetViewUp(0.0, -1.0, 0.0)
        vw, vh = self.renderer.GetSize()
        aspect = vw / vh if vw and vh else 1.0
        camera.SetParallelScale(max(height, width / aspect) / 2)
        self.renderer.ResetCameraClippingRange()

    def set_window(self, center: float, width: float) -> None:
        prop = self.image.GetProperty()
        prop.SetColorLevel(float(center))
        prop.SetColorWindow(max(float(width), 1.0))

    @property
    def window(self) -> tuple[float, float]:
        prop = self.image.GetProperty()
        return prop.GetColorLevel(), prop.GetColorWindow()

    def set_crosshair(self, crosshair: Crosshair, visible: bool = True) -> None:
        """Draw the other planes' lines through the crosshair centre, across the whole plane."""
        assert self.grid is not None
        x0, y0, _ = self.lps_to_world(crosshair.center)
        reach = float(np.hypot(*self.grid.size_mm)) * 2
        for other, (points, actor) in self._lines.items():
            d = crosshair.line_direction(self.name, other)
            dx, dy = float(d @ self.grid.row_direction), float(d @ self.grid.column_direction)
            points.SetPoint(0, x0 - dx * reach, y0 - dy * reach, 0.0)
            points.SetPoint(1, x0 + dx * reach, y0 + dy * reach, 0.0)
            points.Modified()
            actor.SetVisibility(visible)

    def lps_to_world(self, point: np.ndarray) -> tuple[float, float, float]:
        """Renderer world coordinates (plane mm) of an LPS point projected on the plane."""
        assert self.grid is not None
        d = np.asarray(point, dtype=float) - self.grid.origin
        return float(d @ self.grid.row_direction), float(d @ self.grid.column_direction), 0.0

    def world_to_lps(self, x_mm: float, y_mm: float) -> np.ndarray:
        assert self.grid is not None
        return self.grid.pixel_to_lps(y_mm / self.grid.spacing[0], x_mm / self.grid.spacing[1])

    def display_to_lps(self, x: float, y: float) -> np.ndarray:
        """LPS point under display position (x, y) (VTK display coordinates, y up)."""
        self.renderer.SetDisplayPoint(x, y, 0.0)
        self.renderer.DisplayToWorld()
        wx, wy, _, w = self.renderer.GetWorldPoint()
        if w:
            wx, wy = wx / w, wy / w
        return self.world_to_lps(wx, wy)

    def lps_to_display(self, point: np.ndarray) -> tuple[float, float]:
        """VTK display coordinates (x, y up) of an LPS point projected on the plane."""
        self.renderer.SetWorldPoint(*self.lps_to_world(point), 1.0)
        self.renderer.WorldToDisplay()
        x, y, _ = self.renderer.GetDisplayPoint()
        return x, y


_SAME_ORIENTATION = float(np.cos(np.radians(0.5)))  # planes within half a degree are one


class MprScene:
    """Three planes (axial, coronal, sagittal) of one volume, linked by one crosshair.

    ``viewports`` places the three renderers in one render window (x0, y0, x1, y1 each);
    the default is side by side. Only planes whose geometry changed are resampled, so a
    crosshair drag in one plane reslices the other two and only redraws lines in the first.
    """

    def __init__(self, volume: Volume, viewports: dict[str, tuple[float, float, float, float]] | None = None,
                 window: tuple[float, float] | None = None) -> None:
        self.volume = volume
        self.reslicer = Reslicer.from_volume(volume)
        self.crosshair = Crosshair(volume_center(volume.affine, volume.voxels.shape))
        self.planes = {name: PlaneScene(name, self.reslicer) for name in PLANES}
        viewports = viewports or {n: (i / 3, 0.0, (i + 1) / 3, 1.0) for i, n in enumerate(PLANES)}
        for name, scene in self.planes.items():
            scene.renderer.SetViewport(*viewports[name])
        self.slab: Slab | None = None
        self.shared_window = True
        self.crosshair_visible = True
        self.listeners: list[Callable[[], None]] = []
        self.measurements: list[Measurement] = []
        self._drawn_in: dict[str, str] = {}  # measurement id -> the plane it was drawn in
        self._normals: dict[str, np.ndarray] = {}  # measurement id -> that plane's normal (LPS)
        self.drafts: dict[str, tuple[str, list[np.ndarray]] | None] = dict.fromkeys(PLANES)
        self._source_header = volume.headers[0] if len(volume.headers) else None
        self.update()
        for name, scene in self.planes.items():
            if window is not None:
                scene.set_window(*window)
            scene.corner.SetInput(self._corner_text(name))

    @property
    def renderers(self) -> list[vtkRenderer]:
        return [scene.renderer for scene in self.planes.values()]

    def grid(self, name: str) -> PlaneGrid:
        row, col = self.crosshair.axes(name)
        return self.reslicer.grid(self.crosshair.center, row, col)

    def update(self) -> list[str]:
        """Bring every plane in line with the crosshair; returns the planes resampled."""
        changed = [name for name, scene in self.planes.items() if scene.update(self.grid(name), self.slab)]
        for name, scene in self.planes.items():
            scene.set_crosshair(self.crosshair, self.crosshair_visible)
            scene.corner.SetInput(self._corner_text(name))
        self.refresh_shapes(changed)
        for listener in self.listeners:
            listener()
        return changed

    def _corner_text(self, name: str) -> str:
        center, width = self.planes[name].window
        slab = "" if self.slab is None or self.slab.thickness <= 0 else (
            f"  {self.slab.mode.upper()} {self.slab.thickness:g} mm")
        return f"{name.capitalize()}{slab}\nW {width:.0f} L {center:.0f}"

    # --- interaction (called by the widget; all geometry goes through the crosshair) ---------
    def pick(self, name: str, x: float, y: float) -> None:
        """Move the crosshair centre to display point (x, y) of plane ``name``."""
        self.crosshair.move_to(self.planes[name].display_to_lps(x, y))
        self._clamp_center()
        self.update()

    def scroll(self, name: str, steps: float) -> None:
        """Move along plane ``name``'s normal by ``steps`` of the smallest voxel spacing."""
        self.crosshair.step(name, steps * self.reslicer.smallest_spacing)
        self._clamp_center()
        self.update()

    def rotate(self, name: str, angle_rad: float) -> None:
        self.crosshair.rotate(name, angle_rad)
        self.update()

    def reset(self) -> None:
        self.crosshair.reset()
        self.update()
        for scene in self.planes.values():
            scene.fit()

    def set_slab(self, slab: Slab | None) -> None:
        self.slab = slab
        self.update()

    def set_interpolation(self, mode: Interpolation) -> None:
        self.reslicer.set_interpolation(mode)
        for scene in self.planes.values():
            scene.set_interpolation(mode)
            scene.grid = None  # force a resample
        self.update()

    def set_window(self, center: float, width: float, plane: str | None = None) -> None:
        """W/L on every plane when shared (or ``plane`` is None), else on ``plane`` only."""
        names = list(PLANES) if self.shared_window or plane is None else [plane]
        for name in names:
            self.planes[name].set_window(center, width)
            self.planes[name].corner.SetInput(self._corner_text(name))

    # --- measurements (the 2D reading tools, on the resliced planes) ---------------------------
    def measure(self, name: str, kind: str, points: list[np.ndarray]) -> dict:
        """A ``kind`` measurement through LPS ``points`` on plane ``name`` as shown now: its
        resliced (or slab) pixels in modality units, calibrated by the plane's spacing."""
        plane = self.planes[name]
        assert plane.grid is not None
        return measure_on_image(kind, points, plane_slice_geometry(plane.grid), plane.pixels(),
                                plane_header(plane.grid, self._source_header))

    def on_plane(self, name: str, points: list) -> bool:
        """Whether every point lies within half a scroll step of plane ``name``."""
        grid = self.planes[name].grid
        assert grid is not None
        tolerance = self.reslicer.smallest_spacing / 2
        return all(abs(grid.lps_to_pixel(p)[2]) <= tolerance for p in points)

    def visible_measurements(self, name: str) -> list[Measurement]:
        """Measurements drawn in plane ``name`` that lie in it where it is now: same position
        and same orientation. A plane rotated about the line through a length's two points
        still contains them, but an ROI or angle would be rebuilt in the wrong axes."""
        grid = self.planes[name].grid
        assert grid is not None
        normal = np.asarray(grid.normal, dtype=float)
        return [m for m in self.measurements
                if self._drawn_in.get(m.id) == name and self.on_plane(name, m.points)
                and abs(float(np.dot(self._normals.get(m.id, normal), normal))) >= _SAME_ORIENTATION]

    def add_measurement(self, name: str, kind: str, points: list[np.ndarray], label: str = "") -> Measurement:
        """Measure on plane ``name`` and keep it. An MPR plane is no stored image, so the
        measurement has no SOP Instance UID and lives as long as this scene."""
        m = Measurement(kind, [tuple(p) for p in points], "", self.measure(name, kind, points), label=label)
        self.restore_measurement(name, m, self.planes[name].grid.normal)
        self.refresh_shapes([name])
        return m

    def restore_measurement(self, name: str, m: Measurement, normal) -> None:
        """Keep ``m`` (its id, points and label) as drawn in plane ``name`` with unit ``normal``
        (LPS); it is measured again on the pixels shown once that plane passes through it
        (call :meth:`refresh_shapes` after restoring)."""
        self.measurements.append(m)
        self._drawn_in[m.id] = name
        self._normals[m.id] = np.asarray(normal, dtype=float)

    def remove_measurement(self, m: Measurement) -> None:
        if m in self.measurements:
            self.measurements.remove(m)
            self._normals.pop(m.id, None)
            self.refresh_shapes([self._drawn_in.pop(m.id)])

    def set_draft(self, name: str, draft: tuple[str, list[np.ndarray]] | None) -> None:
        """The measurement being drawn in plane ``name`` (kind, LPS points), or None."""
        self.drafts[name] = draft
        self.refresh_shapes([name])

    def probe(self, name: str, point: np.ndarray) -> dict:
        """The value of plane ``name`` under an LPS point, with the point itself (``position``)."""
        return {**self.measure(name, "probe", [point]), "plane": name, "position": [float(c) for c in point]}

    def refresh_shapes(self, names: list[str] | None = None) -> None:
        """Rebuild the drawn measurements of ``names`` (default all planes). Results are
        measured again on the pixels shown, so a slab or interpolation change updates them."""
        for name in PLANES if names is None else names:
            plane = self.planes[name]
            assert plane.grid is not None
            geometry = plane_slice_geometry(plane.grid)
            shapes = []
            for m in self.visible_measurements(name):
                m.result = self.measure(name, m.kind, m.points)
                shapes.append(DrawnShape(m.kind, m.points, m.summary(), geometry))
            draft = self.drafts[name]
            if draft is not None and (len(draft[1]) >= 2 or draft[0] == "probe"):
                kind, points = draft
                text = "" if kind == "angle" and len(points) < 3 else Measurement(
                    kind, [tuple(p) for p in points], "", self.measure(name, kind, points)).summary()
                shapes.append(DrawnShape(kind, points, text, geometry, draft=True))
            plane.shapes.set_shapes(shapes)

    def _clamp_center(self) -> None:
        """Keep the crosshair inside the volume's voxel box (in index space)."""
        kji = self.reslicer.lps_to_index(self.crosshair.center)
        clamped = np.clip(kji, 0, np.array(self.reslicer.shape) - 1)
        if not np.allclose(clamped, kji):
            self.crosshair.move_to((self.reslicer.affine @ np.append(clamped, 1.0))[:3])


# --- headless ----------------------------------------------------------------------------------


def render_plane(
    pixels: np.ndarray,
    grid: PlaneGrid,
    window: tuple[float, float],
    corner_texts: dict[str, str] | None = None,
    *,
    inverted: bool = False,
) -> np.ndarray:
    """Draw a sampled plane offscreen through VTK, one output pixel per plane pixel.

    ``inverted``: high values dark, for MONOCHROME1 or Presentation LUT Shape INVERSE (PS3.3
    C.7.6.3.1.2, C.11.6.1.1), as the 2D viewport shows the same series.

    The image fills the frame exactly (camera parallel scale = half the image height), with
    nearest-neighbour display so every output pixel is the windowed value of the matching
    plane pixel and ``grid`` describes the PNG as well. ``corner_texts`` (keys ``lower_left``,
    ``lower_right``, ``upper_left``, ``upper_right``) turns on the annotations and the edge
    orientation letters. Returns (rows, columns, 3) uint8.
    """
    from vtkmodules.vtkRenderingAnnotation import vtkCornerAnnotation

    from viewer.render.offscreen import OffscreenWindow

    rows, cols = grid.shape
    data = np.ascontiguousarray(pixels)
    image = vtkImageData()
    image.SetDimensions(cols, rows, 1)
    image.SetSpacing(1.0, 1.0, 1.0)
    image.GetPointData().SetScalars(numpy_to_vtk(data.ravel(), deep=False))
    mapper = vtkImageSliceMapper()
    mapper.SetInputData(image)
    mapper.BorderOn()  # draw the outer pixels whole: without it the top row and right column were background
    actor = vtkImageSlice()
    actor.SetMapper(mapper)
    prop = actor.GetProperty()
    prop.SetInterpolationTypeToNearest()
    prop.SetColorLevel(float(window[0]))
    prop.SetColorWindow(max(float(window[1]), 1.0))
    if inverted:  # the window ramp through a descending grey table: 255 - y
        grey = np.arange(255, -1, -1, dtype=np.uint8)
        rgba = np.column_stack([grey, grey, grey, np.full(256, 255, np.uint8)])
        table = vtkLookupTable()
        table.SetNumberOfTableValues(256)
        table.SetTable(numpy_to_vtk(rgba, deep=True, array_type=VTK_UNSIGNED_CHAR))
        table.SetRange(0.0, 255.0)
        prop.SetLookupTable(table)
        prop.UseLookupTableScalarRangeOff()  # the window sets the range, as in SliceScene
    renderer = vtkRenderer()
    renderer.SetBackground(0, 0, 0)
    renderer.AddViewProp(actor)
    camera = renderer.GetActiveCamera()
    camera.ParallelProjectionOn()
    cx, cy = (cols - 1) / 2, (rows - 1) / 2
    camera.SetFocalPoint(cx, cy, 0.0)
    camera.SetPosition(cx, cy, -1000.0)
    camera.SetViewUp(0.0, -1.0, 0.0)  # pixel row 0 at the top
    camera.SetParallelScale(rows / 2)
    keep: list[object] = []
    if corner_texts is not None:
        corners = vtkCornerAnnotation()
        corners.SetMaximumFontSize(max(10, min(16, rows // 30)))
        corners.GetTextProperty().SetColor(0.95, 0.95, 0.8)
        for index, key in enumerate(("lower_left", "lower_right", "upper_left", "upper_right")):
            corners.SetText(index, corner_texts.get(key, ""))
        renderer.AddViewProp(corners)
        keep.append(corners)
        for edge, (x, y, hj, vj) in {
            "left": (0.01, 0.5, 0, 1), "right": (0.99, 0.5, 2, 1),
            "top": (0.5, 0.99, 1, 2), "bottom": (0.5, 0.01, 1, 0),
        }.items():
            text = vtkTextActor()
            text.SetInput(grid.labels[edge])
            tp = text.GetTextProperty()
            tp.SetFontSize(max(12, min(20, rows // 25)))
            tp.BoldOn()
            tp.SetColor(1.0, 0.85, 0.3)
            tp.SetJustification(hj)
            tp.SetVerticalJustification(vj)
            text.GetPositionCoordinate().SetCoordinateSystemToNormalizedViewport()
            text.GetPositionCoordinate().SetValue(x, y)
            renderer.AddViewProp(text)
            keep.append(text)
    window_ = OffscreenWindow(cols, rows)
    try:
        window_.add(renderer)
        renderer.ResetCameraClippingRange()
        return window_.frame()
    finally:
        window_.close()


def write_png(frame: np.ndarray, path: str) -> None:
    """Save an (rows, columns, 3) uint8 frame (row 0 at the top) as PNG."""
    from vtkmodules.vtkIOImage import vtkPNGWriter

    rows, cols = frame.shape[:2]
    flipped = np.ascontiguousarray(frame[::-1, :, :3])  # VTK images start at the bottom row
    image = vtkImageData()
    image.SetDimensions(cols, rows, 1)
    image.GetPointData().SetScalars(numpy_to_vtk(flipped.reshape(-1, 3), deep=True))
    writer = vtkPNGWriter()
    writer.SetFileName(str(path))
    writer.SetInputData(image)
    writer.Write()
    if writer.GetErrorCode():
        raise OSError(f"could not write {path}")
