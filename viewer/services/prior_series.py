"""Which series of a prior study to show beside the series being read.

A reader comparing with a prior wants the same kind of images: the same modality, cut in the
same plane, of the same body part and protocol, and a stack rather than a localizer. Series
numbers and descriptions differ between exams (another scanner, another protocol name), so an
exact description match finds nothing as often as it finds the right series; this module ranks
the prior's series on all of these instead.
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Sequence

import numpy as np

from viewer.core.errors import DicomReadError
from viewer.core.orientation import planes_parallel
from viewer.core.reading import read_header
from viewer.store import Store
from viewer.store.records import SeriesRow


def plane_normal(orientation: Sequence[float] | None) -> np.ndarray | None:
    """Unit normal of Image Orientation (Patient) (PS3.3 C.7.6.2.1.1): row x column direction."""
    if orientation is None or len(orientation) != 6:
        return None
    try:
        row, col = np.asarray([float(v) for v in orientation[:3]]), np.asarray([float(v) for v in orientation[3:]])
    except (TypeError, ValueError):
        return None
    n = np.cross(row, col)
    length = float(np.linalg.norm(n))
    return n / length if length > 1e-6 else None


def series_normal(store: Store, series_uid: str) -> np.ndarray | None:
    """The plane normal of a cached series' first image (None: no or unreadable orientation)."""
    rows = store.instances(series_uid)
    if not rows:
        return None
    try:
        header = read_header(rows[0].path)
    except (DicomReadError, OSError):
        return None
    return plane_normal(header.get("ImageOrientationPatient"))


def _words(text: str) -> str:
    return " ".join(re.findall(r"[a-z0-9]+", text.lower()))


def similarity(a: str, b: str) -> float:
    """0..1 likeness of two series descriptions, ignoring case and punctuation."""
    a, b = _words(a), _words(b)
    if not a or not b:
        return 0.0
    return difflib.SequenceMatcher(None, a, b).ratio()


def rank_key(reading: SeriesRow, normal: np.ndarray | None, candidate: SeriesRow,
             candidate_normal: np.ndarray | None) -> tuple:
    """Sort key (higher is better) of ``candidate`` as the prior of ``reading``: modality, then
    the same plane, then body part, then description, then a stack of a similar size."""
    same_plane = normal is not None and candidate_normal is not None and planes_parallel(normal, candidate_normal)
    body = bool(reading.body_part) and reading.body_part.strip().lower() == candidate.body_part.strip().lower()
    closeness = -abs(math.log(max(candidate.instance_count, 1) / max(reading.instance_count, 1)))
    return (candidate.modality == reading.modality, same_plane, body,
            round(similarity(reading.description, candidate.description), 1),
            candidate.instance_count > 1, closeness)


def matching_series(store: Store, reading: SeriesRow, candidates: Sequence[SeriesRow]) -> SeriesRow:
    """The series of ``candidates`` (one prior study's image series) to show beside ``reading``."""
    if not candidates:
        raise ValueError("the prior study has no image series to compare")
    normal = series_normal(store, reading.series_uid)
    same_modality = [c for c in candidates if c.modality == reading.modality] or list(candidates)
    return max(same_modality,
               key=lambda c: rank_key(reading, normal, c, series_normal(store, c.series_uid)))
