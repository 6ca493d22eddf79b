"""The measuring tools' gesture rules, without a widget: what a press/move/release makes."""

from __future__ import annotations

import numpy as np
import pytest

from viewer.core.measure_gesture import MeasureGesture

A, B, C, D = (np.array(p, dtype=float) for p in ([0, 0, 0], [10, 0, 0], [10, 5, 0], [0, 5, 0]))


def points(result):
    return [list(p) for p in result[1]]


@pytest.mark.parametrize("tool", ["length", "rectangle", "ellipse"])
def test_drag_makes_two_point_measurements_and_a_click_makes_nothing(tool) -> None:
    g = MeasureGesture(tool)
    assert g.press(A) is None and g.draft[0] == tool and g.dragging
    g.move(C)
    assert points(g.draft) == [list(A), list(C)]
    done = g.release(B, moved=True)
    assert done[0] == tool and points(done) == [list(A), list(B)] and g.draft is None
    g.press(A)
    assert g.release(A, moved=False) is None and g.draft is None and not g.dragging


def test_angle_is_an_arm_then_a_click() -> None:
    g = MeasureGesture("angle")
    g.press(A)
    assert g.release(B, moved=True) is None and g.waiting
    g.move(C)  # the second arm follows the mouse, no button down
    assert points(g.draft) == [list(A), list(B), list(C)]
    done = g.press(D)
    assert done[0] == "angle" and points(done) == [list(A), list(B), list(D)]
    assert not g.waiting and g.draft is None


def test_freehand_needs_three_points_and_probe_follows_the_drag() -> None:
    g = MeasureGesture("freehand")
    g.press(A)
    g.move(B)
    done = g.release(C, moved=True)
    assert done[0] == "freehand" and len(done[1]) == 3
    g.press(A)
    assert g.release(B, moved=True) is None  # two points are no region
    p = MeasureGesture("probe")
    p.press(A)
    p.move(B)
    assert points(p.draft) == [list(B)]
    assert points(p.release(C, moved=True)) == [list(C)]


def test_cancel_and_unknown_tool() -> None:
    g = MeasureGesture("angle")
    g.press(A)
    g.release(B, moved=True)
    g.cancel()
    assert not g.waiting and g.draft is None and g.release(C, moved=True) is None
    with pytest.raises(ValueError, match="not a measuring tool"):
        MeasureGesture("zoom")
