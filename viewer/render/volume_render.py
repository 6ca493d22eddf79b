"""3D volume rendering of a volume in patient space, with presets and a clipping box.

The image goes to VTK with its voxel spacing and origin 0; the vtkVolume's user matrix
carries the rest of the DICOM affine (direction cosines and, for a gantry-tilted stack,
the shear; PS3.3 C.7.6.2.1.1), so the rendered anatomy sits in LPS millimetres.

Mappers: ``gpu`` is vtkGPUVolumeRayCastMapper (also works on Mesa's llvmpipe, slowly),
``cpu`` is vtkFixedPointVolumeRayCastMapper, ``auto`` picks ``cpu`` when the OpenGL renderer
is a software one (llvmpipe/softpipe/OSMesa) where the CPU ray caster is about 2x faster,
else ``gpu``. While the user drags, :meth:`VolumeScene.set_interactive` renders at a coarser
image sample distance; at rest it returns to full resolution.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import vtkmodules.vtkRenderingVolumeOpenGL2  # noqa: F401  (GPU ray-cast mapper factory)
from vtkmodules.util.numpy_support import numpy_to_vtk
from vtkmodules.vtkCommonDataModel import vtkImageData, vtkPiecewiseFunction, vtkPlane
from vtkmodules.vtkCommonMath import vtkMatrix4x4
from vtkmodules.vtkRenderingCore import (
    vtkColorTransferFunction,
    vtkRenderer,
    vtkVolume,
    vtkVolumeProperty,
)
from vtkmodules.vtkRenderingVolume import vtkFixedPointVolumeRayCastMapper, vtkGPUVolumeRayCastMapper

from viewer.core.volume import Volume


@dataclass(frozen=True)
class Preset:
    """Transfer functions in modality units: (value, opacity) and (value, r, g, b) points."""

    name: str
    opacity: tuple[tuple[float, float], ...]
    colors: tuple[tuple[float, float, float, float], ...]
    shade: bool = True
    mip: bool = False
    iso: float | None = None  # where this preset's tissue begins: the default iso-surface value


PRESETS: dict[str, Preset] = {
    "ct-bone": Preset("CT bone", ((-1000, 0), (150, 0), (300, 0.4), (700, 0.8), (3000, 0.85)),
                      ((-1000, 0, 0, 0), (150, 0.73, 0.25, 0.3), (400, 0.9, 0.82, 0.56), (3000, 1, 1, 1)),
                      iso=300),
    "ct-soft-tissue": Preset("CT soft tissue", ((-1000, 0), (-200, 0), (-100, 0.05), (100, 0.4), (3000, 0.6)),
                             ((-1000, 0, 0, 0), (-100, 0.55, 0.25, 0.15), (100, 0.88, 0.6, 0.5),
                              (3000, 1, 1, 0.9)), iso=-100),
    "ct-lung": Preset("CT lung", ((-1000, 0), (-900, 0), (-800, 0.08), (-500, 0.12), (-400, 0), (3000, 0)),
                      ((-1000, 0, 0, 0), (-850, 0.55, 0.6, 0.75), (-500, 0.85, 0.85, 0.9), (3000, 1, 1, 1))),
    "ct-angio": Preset("CT angio", ((-1000, 0), (140, 0), (170, 0.6), (420, 0.8), (3000, 0.8)),
                       ((-1000, 0, 0, 0), (150, 0.65, 0.1, 0.1), (300, 0.95, 0.6, 0.45), (3000, 1, 1, 1)), iso=170),
    "mip": Preset("MIP", ((-1000, 0), (1500, 1)), ((-1000, 0, 0, 0), (1500, 1, 1, 1)), shade=False, mip=True),
    # MR has no absolute scale: x values are fractions of the 99.5th percentile (scaled on use)
    "mr-default": Preset("MR default", ((0, 0), (0.1, 0), (0.25, 0.15), (0.6, 0.35), (1.0, 0.5)),
                         ((0, 0, 0, 0), (0.2, 0.75, 0.45, 0.35), (0.6, 0.95, 0.85, 0.75), (1.0, 1, 1, 1)), iso=0.25),
}


def is_software_gl(render_window) -> bool:
    """True on Mesa's llvmpipe/softpipe or OSMesa, where the CPU ray caster is faster."""
    caps = (render_window.ReportCapabilities() or "").lower()
    return any(name in caps for name in ("llvmpipe", "softpipe", "osmesa", "swrast"))


class VolumeScene:
    """A renderer showing one volume with a preset; rotate/zoom/reset through the camera."""

    def __init__(self, volume: Volume, renderer: vtkRenderer | None = None, mapper: str = "cpu") -> None:
        self.volume = volume
        self.renderer = renderer or vtkRenderer()
        self.renderer.SetBackground(0.05, 0.05, 0.08)
        voxels = np.ascontiguousarray(volume.voxels)
        self._buffer = voxels
        spacing = [float(np.linalg.norm(volume.affine[:3, a])) for a in range(3)]  # k, j, i
        image = vtkImageData()
        image.SetDimensions(voxels.shape[2], voxels.shape[1], voxels.shape[0])
        image.SetSpacing(spacing[2], spacing[1], spacing[0])
        image.GetPointData().SetScalars(numpy_to_vtk(voxels.ravel(), deep=False))
        self.image = image
        # user matrix: (x, y, z) in mm along (i, j, k) -> LPS, i.e. the affine's unit columns
        user = np.eye(4)
        user[:3, 0] = volume.affine[:3, 2] / spacing[2]
        user[:3, 1] = volume.affine[:3, 1] / spacing[1]
        user[:3, 2] = volume.affine[:3, 0] / spacing[0]
        user[:3, 3] = volume.affine[:3, 3]
        matrix = vtkMatrix4x4()
        matrix.DeepCopy(user.ravel().tolist())
        self.actor = vtkVolume()
        self.actor.SetUserMatrix(matrix)
        self.property = vtkVolumeProperty()
        self.property.SetInterpolationTypeToLinear()
        self.actor.SetProperty(self.property)
        self.mapper_kind = mapper
        self.mapper = vtkGPUVolumeRayCastMapper() if mapper == "gpu" else vtkFixedPointVolumeRayCastMapper()
        self.mapper.SetInputData(image)
        self.mapper.AutoAdjustSampleDistancesOff()
        self.actor.SetMapper(self.mapper)
        self.renderer.AddVolume(self.actor)
        _, hi = np.percentile(voxels[:: max(1, voxels.shape[0] // 16), ::4, ::4], [0.5, 99.5])
        self._mr_scale = float(hi) if hi > 0 else 1.0
        self.shift, self.scale = 0.0, 1.0
        self.preset = PRESETS["ct-bone"]
        self.set_preset("ct-bone")
        self.reset_camera()

    def set_preset(self, key: str, shift: float = 0.0, scale: float = 1.0) -> None:
        """Apply a preset; ``shift``/``scale`` move and stretch it like a window's centre and width."""
        if key not in PRESETS:
            raise ValueError(f"unknown preset {key!r}; expected one of {', '.join(PRESETS)}")
        preset = PRESETS[key]
        self.preset, self.shift, self.scale = preset, shift, scale
        factor = self._mr_scale if key == "mr-default" else 1.0
        values = [p[0] * factor for p in preset.opacity]
        mid = (min(values) + max(values)) / 2

        def x(v: float) -> float:
            return (v * factor - mid) * scale + mid + shift

        opacity = vtkPiecewiseFunction()
        for v, a in preset.opacity:
            opacity.AddPoint(x(v), a)
        colors = vtkColorTransferFunction()
        for v, r, g, b in preset.colors:
            colors.AddRGBPoint(x(v), r, g, b)
        self.property.SetScalarOpacity(opacity)
        self.property.SetColor(colors)
        self.property.SetShade(preset.shade)
        self.property.SetAmbient(0.2)
        self.property.SetDiffuse(0.8)
        self.property.SetSpecular(0.2)
        self.property.SetSpecularPower(10)
        if preset.mip:
            self.mapper.SetBlendModeToMaximumIntensity()
        else:
            self.mapper.SetBlendModeToComposite()
        self._keep = (opacity, colors)

    def surface_threshold(self) -> float:
        """The iso-surface value that matches what the preset shows (the bone one's otherwise)."""
        if self.preset.iso is None:
            return float(PRESETS["ct-bone"].iso or 300.0)
        return self.preset.iso * (self._mr_scale if self.preset is PRESETS["mr-default"] else 1.0)

    def set_interactive(self, moving: bool) -> None:
        """Coarser image sampling while the camera moves, full resolution at rest."""
        if hasattr(self.mapper, "SetImageSampleDistance"):
            self.mapper.SetImageSampleDistance(3.0 if moving else 1.0)
        self.mapper.SetSampleDistance((2.0 if moving else 1.0) * min(self.image.GetSpacing()))

    def set_clipping_box(self, bounds_lps: tuple[float, float, float, float, float, float] | None) -> None:
        """Keep only what lies inside an LPS box (xmin, xmax, ymin, ymax, zmin, zmax); None clears.

        Volume mappers take clipping planes in world coordinates (here LPS, the actor's user
        matrix already places the image there) and keep what lies on each normal's side.
        """
        self.mapper.RemoveAllClippingPlanes()
        if bounds_lps is None:
            return
        x0, x1, y0, y1, z0, z1 = bounds_lps
        for origin, normal in (((x0, 0, 0), (1, 0, 0)), ((x1, 0, 0), (-1, 0, 0)),
                               ((0, y0, 0), (0, 1, 0)), ((0, y1, 0), (0, -1, 0)),
                               ((0, 0, z0), (0, 0, 1)), ((0, 0, z1), (0, 0, -1))):
            plane = vtkPlane()
            plane.SetOrigin(*origin)
            plane.SetNormal(*normal)
            self.mapper.AddClippingPlane(plane)

    def reset_camera(self) -> None:
        """Anterior view, head up (the patient faces the viewer)."""
        camera = self.renderer.GetActiveCamera()
        center = np.array(self.actor.GetCenter())
        camera.SetFocalPoint(*center)
        camera.SetPosition(*(center + np.array([0.0, -1000.0, 0.0])))  # in front (anterior = -y)
        camera.SetViewUp(0.0, 0.0, 1.0)
        self.renderer.ResetCamera()

    def rotate(self, azimuth_deg: float, elevation_deg: float = 0.0) -> None:
        camera = self.renderer.GetActiveCamera()
        camera.Azimuth(azimuth_deg)
        camera.Elevation(elevation_deg)
        camera.OrthogonalizeViewUp()
        self.renderer.ResetCameraClippingRange()
