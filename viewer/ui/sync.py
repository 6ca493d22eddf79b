"""Synchronised viewports: scrolling by patient position, and optionally linked W/L and zoom/pan.

Scrolling one viewport moves every linked one to its slice nearest the same patient position
(along its own normal, :func:`viewer.core.orientation.nearest_slice`). Two series are linked
when their slice planes are parallel and

* they share a Frame of Reference UID (C.7.4.1): positions are directly comparable; or
* they belong to the same patient but not the same frame of reference (a prior exam): the
  positions differ by an offset the user chooses by aligning both viewports on the same
  anatomy and pressing "link" (:meth:`ViewportSync.capture_offsets`). Until then the offset
  captured when the pair first synchronises is used, so turning sync on never jumps.

An offset belongs to the two series it was taken on, not to the viewports: it is forgotten as
soon as either viewport shows another series (or none), and pairs sharing a frame of
reference never have one (their positions already match, C.7.4.1.1.1).

Reference lines: every other viewport that shows the same frame of reference in another
orientation draws where the active viewport's slice cuts its image (the scout line), updated as
the active viewport scrolls.

Linked W/L copies the window between viewports of the same modality; linked zoom/pan copies
the magnification and the pan (in mm along the screen axes) between parallel views.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QObject

from viewer.core.orientation import nearest_slice, plane_cuts_image, planes_parallel
from viewer.ui.viewport import Viewport


def _normal(view: Viewport) -> np.ndarray:
    assert view.scene.volume is not None
    return view.scene.volume.normal


def _patient_id(view: Viewport) -> str:
    assert view.volume is not None
    return str(view.volume.headers[0].get("PatientID") or "")


class ViewportSync(QObject):
    """Keeps the viewports of a grid (or any list) in step."""

    def __init__(self, viewports: list[Viewport] | None = None, grid=None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.scroll_enabled = True
        self.window_enabled = False
        self.zoom_pan_enabled = False
        self.reference_lines_enabled = True
        self._current: Viewport | None = None  # the reference-line source without a grid
        self.offsets: dict[tuple[int, int], float] = {}  # (id(a), id(b)) -> mm added along b's normal
        self.same_patients: set[frozenset[str]] = set()  # Patient IDs the reader accepted as one patient
        self._views: list[Viewport] = []
        self._busy = False
        self._grid = grid
        for view in viewports or (grid.all_viewports if grid is not None else []):
            self.attach(view)
        if grid is not None:
            grid.viewport_added.connect(self.attach)
            grid.active_changed.connect(lambda _v: self.update_reference_lines())
            grid.series_shown.connect(lambda *_: self.update_reference_lines())
            grid.layout_changed.connect(lambda *_: self.update_reference_lines())

    def attach(self, view: Viewport) -> None:
        if view in self._views:
            return
        self._views.append(view)
        view.slice_changed.connect(lambda _k, v=view: self._scrolled(v))
        view.window_changed.connect(lambda c, w, v=view: self._windowed(v, c, w))
        view.view_changed.connect(lambda v=view: self._moved(v))
        view.volume_changed.connect(lambda v=view: self.forget(v))

    def forget(self, view: Viewport) -> None:
        """Drop every offset involving ``view``: it shows another series now, and an alignment
        taken on the previous one would put the new one on the wrong anatomy."""
        self.offsets = {key: mm for key, mm in self.offsets.items() if id(view) not in key}

    @staticmethod
    def same_frame(a: Viewport, b: Viewport) -> bool:
        """Both series share a Frame of Reference UID (C.7.4.1): positions compare directly."""
        fa = a.volume.frame_of_reference_uid if a.volume is not None else ""
        fb = b.volume.frame_of_reference_uid if b.volume is not None else ""
        return bool(fa) and fa == fb

    def _others(self, source: Viewport) -> list[Viewport]:
        shown = set(map(id, self._grid.viewports)) if self._grid is not None else None
        return [v for v in self._views if v is not source and v.volume is not None
                and (shown is None or id(v) in shown)]

    def linked(self, a: Viewport, b: Viewport) -> bool:
        """Whether scrolling ``a`` moves ``b`` (see the module docstring)."""
        if a.volume is None or b.volume is None:
            return False
        if not planes_parallel(_normal(a), _normal(b)):
            return False
        same_frame = a.volume.frame_of_reference_uid and \
            a.volume.frame_of_reference_uid == b.volume.frame_of_reference_uid
        pa, pb = _patient_id(a), _patient_id(b)  # a prior matched on name and birth date counts once accepted
        return bool(same_frame) or (bool(pa) and (pa == pb or frozenset((pa, pb)) in self.same_patients))

    def offset(self, a: Viewport, b: Viewport) -> float:
        """mm to add to ``a``'s position (along ``b``'s normal) to find ``b``'s matching slice."""
        assert a.volume is not None and b.volume is not None
        if self.same_frame(a, b):
            return 0.0
        key = (id(a), id(b))
        if key not in self.offsets:
            self.set_offset(a, b, float((b.slice_position() - a.slice_position()) @ _normal(b)))
        return self.offsets[key]

    def set_offset(self, a: Viewport, b: Viewport, mm: float) -> None:
        """Align a prior: ``b`` shows ``a``'s position plus ``mm`` along ``b``'s normal.

        Ignored for series sharing a frame of reference: there the positions are the truth."""
        if self.same_frame(a, b):
            return
        self.offsets[(id(a), id(b))] = mm
        self.offsets[(id(b), id(a))] = -mm * float(_normal(a) @ _normal(b))

    def capture_offsets(self) -> None:
        """Take the current slices as matching anatomy for every linked pair (the 'link' button)."""
        for a in self._views:
            for b in self._others(a):
                if self.linked(a, b) and not self.same_frame(a, b):
                    self.set_offset(a, b, float((b.slice_position() - a.slice_position()) @ _normal(b)))

    def update_reference_lines(self) -> None:
        """Redraw the scout lines of the active slice on every other viewport."""
        source = self._grid.active_viewport if self._grid is not None else self._current
        for view in self._views:
            segments = []
            if (self.reference_lines_enabled and source is not None and view is not source
                    and view.volume is not None and source.volume is not None
                    and source.volume.frame_of_reference_uid
                    and source.volume.frame_of_reference_uid == view.volume.frame_of_reference_uid):
                cut = plane_cuts_image(source.slice_position(), _normal(source), *view.scene.image_rectangle())
                if cut is not None:
                    segments.append(cut)
            before = view.scene.reference_lines.segments
            same = len(before) == len(segments) and all(
                np.allclose(a, c) and np.allclose(b, d) for (a, b), (c, d) in zip(before, segments, strict=True))
            if not same:
                view.scene.set_reference_lines(segments)
                view.render()

    def _scrolled(self, source: Viewport) -> None:
        if not self._busy:
            self._current = source
            self._sync_scroll(source)
            self.update_reference_lines()

    def _sync_scroll(self, source: Viewport) -> None:
        if not self.scroll_enabled or source.volume is None:
            return
        self._busy = True
        try:
            for view in self._others(source):
                if self.linked(source, view):
                    target = source.slice_position() + _normal(view) * self.offset(source, view)
                    k, _distance = nearest_slice(view.volume.affine, view.slice_count, target)
                    view.set_slice(k)
        finally:
            self._busy = False

    def _windowed(self, source: Viewport, center: float, width: float) -> None:
        if self._busy or not self.window_enabled or source.volume is None:
            return
        modality = source.volume.headers[0].get("Modality")
        self._busy = True
        try:
            for view in self._others(source):
                if view.volume.headers[0].get("Modality") == modality and not view.scene.is_color:
                    view.set_window(center, width)
        finally:
            self._busy = False

    def _moved(self, source: Viewport) -> None:
        if self._busy or not self.zoom_pan_enabled or source.volume is None:
            return
        self._busy = True
        try:
            for view in self._others(source):
                if planes_parallel(_normal(source), _normal(view)):
                    view.set_zoom_pan(source.scene.zoom, source.scene.pan)
        finally:
            self._busy = False
