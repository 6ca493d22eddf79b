"""Measurements drawn over the image.

Shapes are polylines through patient (LPS) points, mapped to the screen by VTK at each render
(vtkPolyDataMapper2D with a world transform coordinate), so they follow zoom, pan, rotation
and flips exactly and are always on top of the image. Ellipses and rectangles are built in the
image's own row/column axes from two opposite corners, as the ROI statistics are
(:func:`viewer.core.measurements.roi_mask`).

A renderer whose world coordinates are not LPS (an MPR plane draws in millimetres of its own
plane frame) passes ``to_world`` to map the LPS points into them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from vtkmodules.vtkCommonCore import vtkPoints
from vtkmodules.vtkCommonDataModel import vtkCellArray, vtkPolyData
from vtkmodules.vtkRenderingCore import (
    vtkActor2D,
    vtkCoordinate,
    vtkPolyDataMapper2D,
    vtkRenderer,
    vtkTextActor,
)

from viewer.core.measurements import SliceGeometry

DONE_COLOR = (0.35, 1.0, 0.45)
DRAFT_COLOR = (1.0, 0.9, 0.2)


@dataclass
class DrawnShape:
    """What to draw for one measurement: its kind, LPS points, label text and image axes."""

    kind: str
    points: Sequence[Sequence[float]]
    text: str
    geometry: SliceGeometry
    draft: bool = False


def outline(shape: DrawnShape) -> tuple[list[np.ndarray], bool]:
    """The LPS polyline of a shape and whether it is closed."""
    pts = [np.asarray(p, dtype=float) for p in shape.points]
    g = shape.geometry
    if shape.kind in ("rectangle", "ellipse") and len(pts) >= 2:
        (j0, i0), (j1, i1) = g.to_pixel(pts[0]), g.to_pixel(pts[-1])
        if shape.kind == "rectangle":
            corners = [(j0, i0), (j0, i1), (j1, i1), (j1, i0)]
            return [g.to_patient(j, i) for j, i in corners], True
        cj, ci, aj, ai = (j0 + j1) / 2, (i0 + i1) / 2, abs(j1 - j0) / 2, abs(i1 - i0) / 2
        t = np.linspace(0, 2 * np.pi, 73)[:-1]
        return [g.to_patient(cj + aj * np.sin(a), ci + ai * np.cos(a)) for a in t], True
    if shape.kind == "probe" and pts:
        j, i = g.to_pixel(pts[0])
        r = 4.0  # a cross of ±4 image pixels: drawn as segments 0-1 and 3-4 (point 2 is the centre)
        return [g.to_patient(j, i - r), g.to_patient(j, i + r), g.to_patient(j, i),
                g.to_patient(j - r, i), g.to_patient(j + r, i)], False
    return pts, shape.kind == "freehand"


class MeasurementLayer:
    """Props for the measurements on the current image plus the one being drawn."""

    def __init__(self, renderer: vtkRenderer,
                 to_world: Callable[[np.ndarray], Sequence[float]] | None = None) -> None:
        self.renderer = renderer
        self.to_world = to_world or (lambda p: p)
        self._actors: list[tuple[vtkActor2D, vtkPolyDataMapper2D, vtkPolyData]] = []
        self._texts: list[tuple[vtkTextActor, np.ndarray]] = []  # label, LPS anchor candidates
        self._coordinate = vtkCoordinate()
        self._coordinate.SetCoordinateSystemToWorld()
        self._anchor = vtkCoordinate()
        self._anchor.SetCoordinateSystemToWorld()

    def clear(self) -> None:
        for actor, *_ in self._actors:
            self.renderer.RemoveViewProp(actor)
        for text, _ in self._texts:
            self.renderer.RemoveViewProp(text)
        self._actors, self._texts = [], []

    def set_shapes(self, shapes: Sequence[DrawnShape]) -> None:
        self.clear()
        for shape in shapes:
            line, closed = outline(shape)
            if len(line) < 1:
                continue
            points = vtkPoints()
            for p in line:
                points.InsertNextPoint(*self.to_world(p))
            cells = vtkCellArray()
            if shape.kind == "probe":
                cells.InsertNextCell(2, [0, 1])
                cells.InsertNextCell(2, [3, 4])
            else:
                ids = list(range(len(line))) + ([0] if closed and len(line) > 2 else [])
                cells.InsertNextCell(len(ids), ids)
            poly = vtkPolyData()
            poly.SetPoints(points)
            poly.SetLines(cells)
            mapper = vtkPolyDataMapper2D()
            mapper.SetInputData(poly)
            mapper.SetTransformCoordinate(self._coordinate)
            actor = vtkActor2D()
            actor.SetMapper(mapper)
            prop = actor.GetProperty()
            prop.SetColor(*(DRAFT_COLOR if shape.draft else DONE_COLOR))
            prop.SetLineWidth(2)
            self.renderer.AddViewProp(actor)
            self._actors.append((actor, mapper, poly))
            if shape.text:
                text = vtkTextActor()
                text.SetInput(shape.text)
                tp = text.GetTextProperty()
                tp.SetFontSize(14)
                tp.SetColor(*(DRAFT_COLOR if shape.draft else DONE_COLOR))
                tp.SetShadow(True)
                tp.SetVerticalJustification(1)
                # angles label their vertex; others sit right of their right-most point on screen
                anchors = np.asarray([shape.points[1]] if shape.kind == "angle" else line, dtype=float)
                self.renderer.AddViewProp(text)
                self._texts.append((text, anchors))

    def layout(self) -> None:
        """Keep each label beside its shape: right of the shape's right-most point on screen
        (which changes with rotation and flips), vertically centred on it."""
        for text, anchors in self._texts:
            best: tuple[float, float] | None = None
            for anchor in anchors:
                self._anchor.SetValue(*self.to_world(anchor))
                # viewport, not display, coordinates: several renderers may share one window (MPR)
                x, y = self._anchor.GetComputedDoubleViewportValue(self.renderer)
                if best is None or x > best[0]:
                    best = (x, y)
            if best is not None:
                text.SetPosition(best[0] + 10, best[1])

    @property
    def count(self) -> int:
        return len(self._actors)
