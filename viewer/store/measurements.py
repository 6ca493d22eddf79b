"""Measurements kept per image in the cache, so they survive closing and reopening a study.

A measurement belongs to one image: (SOP Instance UID, 0-based frame). Its whole
:meth:`~viewer.core.measurements.Measurement.to_dict` is stored as JSON, so a later Lightbox
that adds fields reads old rows unchanged (``Measurement.from_dict`` carries a schema number).
The table (schema migration 2) hangs off the series, so deleting a study or a series removes
its measurements in the same SQL transaction, whoever deletes it.

A measurement drawn in an MPR plane has no image of its own (the plane is resliced from the
volume): it is kept per *series* with the :class:`MprPlane` it was drawn in (migration 3),
its points in patient LPS mm like any other, so it comes back on the same plane with the same
value whatever the reslice's pixel size or extent::

    measurements.save_on_plane(m, series_uid, MprPlane("coronal", origin, row, column))
    measurements.on_planes(series_uid)    # [(Measurement, MprPlane)], in drawing order

Use it from any thread (each thread gets its own SQLite connection)::

    measurements = MeasurementStore.open(store.index_path)
    measurements.save(m)                  # insert, or update the points/result of a known id
    measurements.for_series(series_uid)   # every measurement on the series' images
    measurements.delete(m.id)
    measurements.close()

Each call is one small transaction (one row), which is what a user action costs; the viewer
still runs them on a worker thread because another process (a CLI import) may hold the
write lock for a while.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from viewer.core.errors import StoreError
from viewer.core.measurements import Measurement
from viewer.store.db import Database

log = logging.getLogger(__name__)


class NotInCacheError(StoreError):
    """What a measurement is drawn on is not in the cache, so there is nowhere to keep it."""


class UnknownImageError(NotInCacheError):
    """The image a measurement is drawn on is not in the cache (e.g. a series opened from a
    folder without importing it), so there is nowhere to keep it."""

    def __init__(self, sop_uid: str) -> None:
        self.sop_uid = sop_uid
        super().__init__(f"image {sop_uid} is not in the local cache: import its series to keep measurements on it")


class UnknownSeriesError(NotInCacheError):
    """The series an MPR measurement was drawn on is not in the cache."""

    def __init__(self, series_uid: str) -> None:
        self.series_uid = series_uid
        super().__init__(f"series {series_uid or '(no Series Instance UID)'} is not in the local cache: "
                         "import it to keep MPR measurements on it")


MPR_VIEWS: tuple[str, ...] = ("axial", "coronal", "sagittal")


def _unit3(values: Sequence[float], what: str) -> tuple[float, float, float]:
    v = np.asarray(values, dtype=float)
    norm = float(np.linalg.norm(v)) if v.shape == (3,) else 0.0
    if not np.isfinite(norm) or norm < 1e-9:
        raise ValueError(f"an MPR plane's {what} must be a non-zero LPS 3-vector, got {values!r}")
    return tuple(float(c) for c in v / norm)  # type: ignore[return-value]


@dataclass(frozen=True)
class MprPlane:
    """The MPR plane a measurement was drawn in, independent of how it was resampled.

    ``view`` is which of the MPR's three views it was (axial, coronal or sagittal, possibly
    rotated into an oblique plane); ``origin`` is a point of the plane and ``row``/``column``
    its unit directions towards screen right/down, all in patient LPS mm as Image Position
    and Image Orientation (Patient) describe an image (PS3.3 C.7.6.2.1.1). The pixel size and
    extent of the reslice are not part of it: they change with the volume's spacing, the
    window size or a later Lightbox, the plane does not.
    """

    view: str
    origin: tuple[float, float, float]
    row: tuple[float, float, float]
    column: tuple[float, float, float]

    def __post_init__(self) -> None:
        if self.view not in MPR_VIEWS:
            raise ValueError(f"unknown MPR view {self.view!r}; expected one of {', '.join(MPR_VIEWS)}")
        origin = np.asarray(self.origin, dtype=float)
        if origin.shape != (3,) or not np.all(np.isfinite(origin)):
            raise ValueError(f"an MPR plane's origin must be an LPS point, got {self.origin!r}")
        row, column = _unit3(self.row, "row direction"), _unit3(self.column, "column direction")
        if abs(float(np.dot(row, column))) > 1e-6:
            raise ValueError("an MPR plane's row and column directions must be orthogonal")
        object.__setattr__(self, "origin", tuple(float(c) for c in origin))
        object.__setattr__(self, "row", row)
        object.__setattr__(self, "column", column)

    @property
    def normal(self) -> np.ndarray:
        """row x column, as for an image (the direction a scroll step moves along)."""
        return np.cross(self.row, self.column)

    def distance(self, point: Sequence[float]) -> float:
        """Signed distance in mm of an LPS point from the plane."""
        return float((np.asarray(point, dtype=float) - np.asarray(self.origin)) @ self.normal)

    def same_plane(self, other: MprPlane, mm: float = 1e-3, degrees: float = 0.01) -> bool:
        """Whether ``other`` is this plane (same normal and position), whatever its origin."""
        cos = float(np.clip(self.normal @ other.normal, -1.0, 1.0))
        return np.degrees(np.arccos(cos)) <= degrees and abs(self.distance(other.origin)) <= mm

    def to_dict(self) -> dict[str, Any]:
        return {"view": self.view, "origin": list(self.origin), "row": list(self.row), "column": list(self.column)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> MprPlane:
        return cls(str(data["view"]), tuple(data["origin"]), tuple(data["row"]), tuple(data["column"]))


class MeasurementStore:
    """Saves, updates, lists and deletes measurements in the index of one Lightbox home."""

    def __init__(self, db: Database) -> None:
        self._db = db

    @classmethod
    def open(cls, index_path: Path) -> MeasurementStore:
        """Open the index (``Store.index_path``); an older index is upgraded on the way."""
        return cls(Database(Path(index_path)))

    def close(self) -> None:
        self._db.close()

    def save(self, m: Measurement) -> None:
        """Insert ``m``, or replace the stored copy with the same id (points moved, re-measured).

        Raises :class:`UnknownImageError` when its SOP Instance UID is not in the cache.
        """
        data = json.dumps(m.to_dict(), allow_nan=True)
        with self._db.write() as conn:
            row = conn.execute("SELECT series FROM instance WHERE sop_uid = ?", (m.sop_instance_uid,)).fetchone()
            if row is None:
                raise UnknownImageError(m.sop_instance_uid)
            conn.execute(
                "INSERT INTO measurement(id, series, sop_uid, frame, kind, data) VALUES (?, ?, ?, ?, ?, ?) "
                "ON CONFLICT(id) DO UPDATE SET series = excluded.series, sop_uid = excluded.sop_uid, "
                "frame = excluded.frame, kind = excluded.kind, data = excluded.data, "
                "updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')",
                (m.id, row[0], m.sop_instance_uid, int(m.frame), m.kind, data),
            )

    def save_on_plane(self, m: Measurement, series_uid: str, plane: MprPlane) -> None:
        """Insert or replace ``m``, drawn in MPR ``plane`` of ``series_uid``.

        Raises :class:`UnknownSeriesError` when the series is not in the cache.
        """
        data = json.dumps(m.to_dict(), allow_nan=True)
        where = json.dumps(plane.to_dict())
        with self._db.write() as conn:
            row = conn.execute("SELECT id FROM series WHERE series_uid = ?", (series_uid,)).fetchone()
            if row is None:
                raise UnknownSeriesError(series_uid)
            conn.execute(
                "INSERT INTO measurement(id, series, sop_uid, frame, kind, data, plane) VALUES (?, ?, '', 0, ?, ?, ?) "
                "ON CONFLICT(id) DO UPDATE SET series = excluded.series, sop_uid = '', frame = 0, "
                "kind = excluded.kind, data = excluded.data, plane = excluded.plane, "
                "updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')",
                (m.id, row[0], m.kind, data, where),
            )

    def update(self, m: Measurement) -> bool:
        """Store new points/results of a measurement already kept; False if it is not (deleted
        meanwhile), so a late edit cannot resurrect a deleted measurement."""
        data = json.dumps(m.to_dict(), allow_nan=True)
        with self._db.write() as conn:
            cursor = conn.execute(
                "UPDATE measurement SET data = ?, kind = ?, updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now') "
                "WHERE id = ?", (data, m.kind, m.id))
            return cursor.rowcount > 0

    def delete(self, measurement_id: str) -> bool:
        """Forget one measurement; False when it was not stored."""
        with self._db.write() as conn:
            return conn.execute("DELETE FROM measurement WHERE id = ?", (measurement_id,)).rowcount > 0

    def for_series(self, series_uid: str) -> list[Measurement]:
        """Every measurement on the images of a series, in the order they were drawn (not
        those drawn in MPR planes: :meth:`on_planes`)."""
        return self._select(
            "SELECT m.id, m.data FROM measurement m JOIN series se ON m.series = se.id "
            "WHERE se.series_uid = ? AND m.plane IS NULL ORDER BY m.rowid", (series_uid,))

    def for_image(self, sop_uid: str, frame: int | None = None) -> list[Measurement]:
        """The measurements of one instance (all its frames, or one 0-based ``frame``)."""
        if frame is None:
            return self._select("SELECT id, data FROM measurement WHERE sop_uid = ? AND plane IS NULL "
                                "ORDER BY rowid", (sop_uid,))
        return self._select("SELECT id, data FROM measurement WHERE sop_uid = ? AND frame = ? AND plane IS NULL "
                            "ORDER BY rowid", (sop_uid, int(frame)))

    def on_planes(self, series_uid: str) -> list[tuple[Measurement, MprPlane]]:
        """The measurements drawn in MPR planes of a series, with their planes, in drawing order."""
        found = []
        rows = self._db.connection().execute(
            "SELECT m.id, m.data, m.plane FROM measurement m JOIN series se ON m.series = se.id "
            "WHERE se.series_uid = ? AND m.plane IS NOT NULL ORDER BY m.rowid", (series_uid,)).fetchall()
        for mid, data, plane in rows:
            try:
                found.append((Measurement.from_dict(json.loads(data)), MprPlane.from_dict(json.loads(plane))))
            except (ValueError, KeyError, TypeError) as exc:  # a newer Lightbox's row, or damage
                log.warning("MPR measurement %s skipped: %s", mid, exc)
        return found

    def count(self) -> int:
        return int(self._db.connection().execute("SELECT count(*) FROM measurement").fetchone()[0])

    def _select(self, sql: str, args: tuple) -> list[Measurement]:
        found = []
        for mid, data in self._db.connection().execute(sql, args).fetchall():
            try:
                found.append(Measurement.from_dict(json.loads(data)))
            except (ValueError, KeyError, TypeError) as exc:  # a newer Lightbox's row, or damage
                log.warning("measurement %s skipped: %s", mid, exc)
        return found
