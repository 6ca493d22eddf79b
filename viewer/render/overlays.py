"""Text and graphics drawn over the image: edge orientation labels, the scale bar and the
lossy-compression warning.

All of them are 2D props laid out in display pixels by :meth:`ViewOverlays.layout`, which the
scene calls at the start of every render, so they stay at the edges whatever the zoom, pan,
rotation or window size.
"""

from __future__ import annotations

import math

import numpy as np
from pydicom.dataset import Dataset
from pydicom.multival import MultiValue
from vtkmodules.vtkCommonCore import vtkPoints
from vtkmodules.vtkCommonDataModel import vtkCellArray, vtkPolyData
from vtkmodules.vtkRenderingCore import vtkActor2D, vtkCoordinate, vtkPolyDataMapper2D, vtkRenderer, vtkTextActor

from viewer.core.orientation import EdgeLabels
from viewer.core.pixels.overlays import overlay_layer
from viewer.core.pixels.shutters import shutter

LABEL_COLOR = (1.0, 0.85, 0.35)
SCALE_COLOR = (0.9, 0.9, 0.9)
WARNING_COLOR = (1.0, 0.3, 0.25)


def lossy_note(header: Dataset) -> str:
    """'LOSSY' plus ratio and method when Lossy Image Compression is 01 (PS3.3 C.7.6.1.1.5)."""
    if str(header.get("LossyImageCompression") or "").strip() != "01":
        return ""
    parts = ["LOSSY COMPRESSED"]
    ratio = header.get("LossyImageCompressionRatio")
    method = header.get("LossyImageCompressionMethod")
    if ratio not in (None, ""):
        values = list(ratio) if isinstance(ratio, MultiValue | list | tuple) else [ratio]
        parts.append(" ".join(f"{float(v):.4g}:1" for v in values))
    if method not in (None, ""):
        parts.append(" ".join(str(m) for m in method) if isinstance(method, MultiValue | list) else str(method))
    return " ".join(parts)


OVERLAY_RGBA = (255, 255, 255, 255)  # overlay planes in white, as most viewers draw G overlays


def graphics_layer(overlay: np.ndarray | None, shown: np.ndarray | None, shutter_value: float = 0.0,
                   shape: tuple[int, int] | None = None) -> np.ndarray | None:
    """RGBA (rows, columns, 4) uint8 drawn over the image: overlay bits (C.9.2) opaque white,
    pixels outside the display shutter (C.7.6.11) in the Shutter Presentation Value grey,
    transparent elsewhere. ``shown`` is the shutter mask (True = shown). None if neither.
    """
    if overlay is None and shown is None:
        return None
    rows, cols = shape or (overlay if overlay is not None else shown).shape[:2]  # type: ignore[union-attr]
    rgba = np.zeros((rows, cols, 4), np.uint8)
    if shown is not None:
        grey = round(float(np.clip(shutter_value, 0.0, 1.0)) * 255)
        rgba[~shown] = (grey, grey, grey, 255)
    if overlay is not None:
        rgba[overlay] = OVERLAY_RGBA
    return rgba


def slice_graphics_layer(header: Dataset, frame: int, shape: tuple[int, int]) -> np.ndarray | None:
    """Overlay planes (PS3.3 C.9.2) and display shutter (C.7.6.11) of one image frame as the
    RGBA layer :func:`graphics_layer` draws; None when the image has neither. The viewport
    and ``lightbox render`` both draw this."""
    cut = shutter(header)
    return graphics_layer(overlay_layer(header, frame), cut.mask if cut else None,
                          cut.presentation_value if cut else 0.0, shape)


def text_size(width: int, height: int) -> int:
    """Corner text size in points for a viewport: 15 on a large one, down to 10 in a 3x3 cell,
    so the corners leave room for the edge labels between them."""
    return int(np.clip(round(min(width, height * 1.3) / 36), 10, 15))


def nice_length(max_mm: float) -> float:
    """The largest 1, 2 or 5 × 10^n not above ``max_mm`` (a scale bar reads in round numbers)."""
    if max_mm <= 0:
        return 0.0
    power = 10 ** math.floor(math.log10(max_mm))
    for factor in (5, 2, 1):
        if factor * power <= max_mm:
            return factor * power
    return power


def _text(size: int, color: tuple[float, float, float], bold: bool = True) -> vtkTextActor:
    actor = vtkTextActor()
    prop = actor.GetTextProperty()
    prop.SetFontSize(size)
    prop.SetColor(*color)
    prop.SetBold(bold)
    prop.SetShadow(True)
    prop.SetFontFamilyToArial()
    return actor


class ViewOverlays:
    """Edge labels, scale bar and warning text for one renderer."""

    def __init__(self, renderer: vtkRenderer) -> None:
        self.renderer = renderer
        self.labels = {edge: _text(16, LABEL_COLOR) for edge in ("left", "right", "top", "bottom")}
        for edge, actor in self.labels.items():
            prop = actor.GetTextProperty()
            prop.SetJustification({"left": 0, "right": 2}.get(edge, 1))
            prop.SetVerticalJustification({"top": 2, "bottom": 0}.get(edge, 1))
            renderer.AddViewProp(actor)
        self.warning = _text(15, WARNING_COLOR)
        self.warning.GetTextProperty().SetJustification(1)
        self.warning.GetTextProperty().SetVerticalJustification(2)
        renderer.AddViewProp(self.warning)
        self._bar_points = vtkPoints()
        self._bar_lines = vtkCellArray()
        self._bar_poly = vtkPolyData()
        self._bar_poly.SetPoints(self._bar_points)
        self._bar_poly.SetLines(self._bar_lines)
        self._bar_mapper = vtkPolyDataMapper2D()
        self._bar_mapper.SetInputData(self._bar_poly)
        self.bar = vtkActor2D()
        self.bar.SetMapper(self._bar_mapper)
        self.bar.GetProperty().SetColor(*SCALE_COLOR)
        self.bar.GetProperty().SetLineWidth(2)
        renderer.AddViewProp(self.bar)
        self.bar_text = _text(13, SCALE_COLOR, bold=False)
        self.bar_text.GetTextProperty().SetJustification(1)
        self.bar_text.GetTextProperty().SetVerticalJustification(0)
        renderer.AddViewProp(self.bar_text)
        self.scale_unit = "mm"  # "mm", "mm (detector)" or "" (uncalibrated: no bar)
        self.bar_mm = 0.0
        self.visible = True
        self.set_edge_labels(EdgeLabels("", "", "", ""))

    def set_edge_labels(self, labels: EdgeLabels) -> None:
        for edge, actor in self.labels.items():
            actor.SetInput(getattr(labels, edge))

    def set_font_size(self, size: int) -> None:
        """Edge labels one point larger than the corner text, the rest as large."""
        for actor in self.labels.values():
            actor.GetTextProperty().SetFontSize(size + 1)
        self.warning.GetTextProperty().SetFontSize(size)
        self.bar_text.GetTextProperty().SetFontSize(max(size - 2, 9))

    def set_warning(self, text: str) -> None:
        self.warning.SetInput(text)

    def set_visible(self, visible: bool) -> None:
        self.visible = visible
        for actor in (*self.labels.values(), self.warning, self.bar, self.bar_text):
            actor.SetVisibility(visible)

    def layout(self, mm_per_pixel: float) -> None:
        """Place everything for the renderer's current size and zoom (display pixels)."""
        width, height = self.renderer.GetSize()
        if width <= 0 or height <= 0:
            return
        margin = 6
        self.labels["left"].SetPosition(margin, height / 2)
        self.labels["right"].SetPosition(width - margin, height / 2)
        self.labels["top"].SetPosition(width / 2, height - margin)
        self.labels["bottom"].SetPosition(width / 2, margin)
        self.warning.SetPosition(width / 2, height - margin - 22)
        self._layout_bar(width, mm_per_pixel)

    def _layout_bar(self, width: int, mm_per_pixel: float) -> None:
        """A horizontal bar of a round length about a quarter of the width, above the bottom label,
        with a tick every fifth of it (as on film: the bar is the ruler)."""
        self._bar_points.Reset()
        self._bar_lines.Reset()
        show = self.visible and bool(self.scale_unit) and mm_per_pixel > 0
        self.bar.SetVisibility(show)
        self.bar_text.SetVisibility(show)
        if not show:
            self.bar_mm = 0.0
            self._bar_poly.Modified()
            return
        length_mm = nice_length(width * 0.25 * mm_per_pixel)
        pixels = length_mm / mm_per_pixel
        x0, y = width / 2 - pixels / 2, 30.0
        self._bar_points.InsertNextPoint(x0, y, 0)
        self._bar_points.InsertNextPoint(x0 + pixels, y, 0)
        self._bar_lines.InsertNextCell(2, [0, 1])
        for n in range(6):
            x = x0 + pixels * n / 5
            tick = 7 if n in (0, 5) else 4
            a = self._bar_points.InsertNextPoint(x, y, 0)
            b = self._bar_points.InsertNextPoint(x, y + tick, 0)
            self._bar_lines.InsertNextCell(2, [a, b])
        self._bar_points.Modified()
        self._bar_lines.Modified()
        self._bar_poly.Modified()
        self.bar_mm = length_mm
        shown = f"{length_mm:g} {self.scale_unit}"
        self.bar_text.SetInput(shown)
        self.bar_text.SetPosition(width / 2, y + 9)


REFERENCE_COLOR = (0.3, 0.8, 1.0)


class ReferenceLines:
    """Scout lines: where other viewports' slices cut this image, as LPS segments drawn on top."""

    def __init__(self, renderer: vtkRenderer) -> None:
        self._points = vtkPoints()
        self._lines = vtkCellArray()
        self._poly = vtkPolyData()
        self._poly.SetPoints(self._points)
        self._poly.SetLines(self._lines)
        self._coordinate = vtkCoordinate()
        self._coordinate.SetCoordinateSystemToWorld()
        mapper = vtkPolyDataMapper2D()
        mapper.SetInputData(self._poly)
        mapper.SetTransformCoordinate(self._coordinate)
        self.actor = vtkActor2D()
        self.actor.SetMapper(mapper)
        self.actor.GetProperty().SetColor(*REFERENCE_COLOR)
        self.actor.GetProperty().SetLineWidth(1.5)
        self._mapper = mapper
        renderer.AddViewProp(self.actor)
        self.segments: list[tuple[np.ndarray, np.ndarray]] = []

    def set_segments(self, segments: list[tuple[np.ndarray, np.ndarray]]) -> None:
        self._points.Reset()
        self._lines.Reset()
        for a, b in segments:
            i = self._points.InsertNextPoint(*(float(v) for v in a))
            j = self._points.InsertNextPoint(*(float(v) for v in b))
            self._lines.InsertNextCell(2, [i, j])
        self._points.Modified()
        self._lines.Modified()
        self._poly.Modified()
        self.segments = list(segments)
