"""The mouse gesture of a measuring tool, free of any widget: press, move, release → points.

Every view that measures (the MPR planes; the 2D viewport draws the same gestures) feeds it
patient LPS points and gets back the measurement to make, so the rules are written once:

* length, rectangle, ellipse: press at one end, drag, release at the other (a click that
  does not move makes nothing);
* angle: drag the first arm, release, then click the end of the second arm (the arm follows
  the mouse in between);
* freehand: press and draw the outline; at least three points make a region;
* probe: press (and drag) to read the value; the release makes a probe at that point.

:attr:`MeasureGesture.draft` is what to draw meanwhile: (kind, points), or None.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from viewer.core.measurements import KINDS

Points = list[np.ndarray]


class MeasureGesture:
    """One measuring tool's gesture in progress; see the module docstring for the rules."""

    def __init__(self, tool: str) -> None:
        if tool not in KINDS:
            raise ValueError(f"{tool!r} is not a measuring tool; expected one of {', '.join(KINDS)}")
        self.tool = tool
        self.draft: tuple[str, Points] | None = None
        self._drawn: Points = []  # points of the drag under way (empty: no button down)
        self._first_arm: Points | None = None  # angle: the arm waiting for its second one

    @property
    def dragging(self) -> bool:
        return bool(self._drawn)

    @property
    def waiting(self) -> bool:
        """True while an angle waits for the click that ends its second arm."""
        return self._first_arm is not None

    def press(self, point: Sequence[float]) -> tuple[str, Points] | None:
        """Button down at ``point``; returns a finished measurement (the angle's last click)."""
        p = np.asarray(point, dtype=float)
        if self._first_arm is not None:
            done = ("angle", [*self._first_arm, p])
            self.cancel()
            return done
        self._drawn = [p]
        self.draft = (self.tool, [p] if self.tool == "probe" else [p, p])
        return None

    def move(self, point: Sequence[float]) -> None:
        """Mouse moved to ``point`` (with or without the button)."""
        p = np.asarray(point, dtype=float)
        if self._first_arm is not None:
            self.draft = ("angle", [*self._first_arm, p])
        elif not self._drawn:
            return
        elif self.tool == "freehand":
            self._drawn.append(p)
            self.draft = (self.tool, list(self._drawn))
        elif self.tool == "probe":
            self.draft = (self.tool, [p])
        else:
            self.draft = (self.tool, [self._drawn[0], p])

    def release(self, point: Sequence[float], moved: bool) -> tuple[str, Points] | None:
        """Button up at ``point``; ``moved`` says whether the mouse travelled more than a click
        would. Returns (kind, LPS points) of the measurement to make, or None."""
        if not self._drawn:
            return None
        p = np.asarray(point, dtype=float)
        first, drawn = self._drawn[0], self._drawn
        self._drawn, self.draft = [], None
        if self.tool == "probe":
            return ("probe", [p])
        if not moved:
            return None
        if self.tool == "angle":
            self._first_arm = [first, p]
            self.draft = ("angle", [first, p])
            return None
        if self.tool == "freehand":
            points = [*drawn, p]
            return ("freehand", points) if len(points) >= 3 else None
        return (self.tool, [first, p])

    def cancel(self) -> None:
        self.draft, self._drawn, self._first_arm = None, [], None
