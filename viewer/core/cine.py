"""Cine timing: how long each frame stays on screen when a series or multi-frame image plays.

Sources, most specific first (PS3.3 C.7.6.5 Cine Module):

* Frame Time Vector (0018,1065): the increment in ms from the previous frame to each frame;
  the first value is 0 (C.7.6.5.1.2), so frame n is shown ``vector[n + 1]`` ms after frame n.
* Frame Time (0018,1063): the same interval for every frame.
* Recommended Display Frame Rate (0008,2144), then Cine Rate (0018,0040), in frames/s.

Without any of them the user's rate applies.
"""

from __future__ import annotations

from pydicom.dataset import Dataset

DEFAULT_FPS = 15.0


def _float(value: object) -> float | None:
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return number if number > 0 else None


def frame_intervals_ms(header: Dataset, count: int, fps: float | None = None) -> list[float]:
    """Milliseconds to show each of ``count`` frames before the next one.

    ``fps`` is the user's rate; when given it overrides the file (the fps control). Without it
    the file's timing is used, else :data:`DEFAULT_FPS`.
    """
    if count <= 0:
        return []
    if fps:
        return [1000.0 / fps] * count
    vector = header.get("FrameTimeVector")
    if vector is not None and len(vector) == count and count > 1:
        steps = [max(float(v), 1.0) for v in list(vector)[1:]]
        return [*steps, steps[-1]]  # after the last frame, loop back at the last pace
    frame_time = _float(header.get("FrameTime"))
    if frame_time:
        return [frame_time] * count
    rate = _float(header.get("RecommendedDisplayFrameRate")) or _float(header.get("CineRate"))
    return [1000.0 / (rate or DEFAULT_FPS)] * count


def file_fps(header: Dataset) -> float | None:
    """The frame rate the file asks for, if any (for the fps control's initial value)."""
    frame_time = _float(header.get("FrameTime"))
    if frame_time:
        return 1000.0 / frame_time
    return _float(header.get("RecommendedDisplayFrameRate")) or _float(header.get("CineRate"))
