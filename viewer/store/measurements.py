"""Measurements kept per image in the cache, so they survive closing and reopening a study.

A measurement belongs to one image: (SOP Instance UID, 0-based frame). Its whole
:meth:`~viewer.core.measurements.Measurement.to_dict` is stored as JSON, so a later Lightbox
that adds fields reads old rows unchanged (``Measurement.from_dict`` carries a schema number).
The table (schema migration 2) hangs off the series, so deleting a study or a series removes
its measurements in the same SQL transaction, whoever deletes it.

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
from pathlib import Path

from viewer.core.errors import StoreError
from viewer.core.measurements import Measurement
from viewer.store.db import Database

log = logging.getLogger(__name__)


class UnknownImageError(StoreError):
    """The image a measurement is drawn on is not in the cache (e.g. a series opened from a
    folder without importing it), so there is nowhere to keep it."""

    def __init__(self, sop_uid: str) -> None:
        self.sop_uid = sop_uid
        super().__init__(f"image {sop_uid} is not in the local cache: import its series to keep measurements on it")


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
        """Every measurement on the images of a series, in the order they were drawn."""
        return self._select(
            "SELECT m.id, m.data FROM measurement m JOIN series se ON m.series = se.id "
            "WHERE se.series_uid = ? ORDER BY m.rowid", (series_uid,))

    def for_image(self, sop_uid: str, frame: int | None = None) -> list[Measurement]:
        """The measurements of one instance (all its frames, or one 0-based ``frame``)."""
        if frame is None:
            return self._select("SELECT id, data FROM measurement WHERE sop_uid = ? ORDER BY rowid", (sop_uid,))
        return self._select("SELECT id, data FROM measurement WHERE sop_uid = ? AND frame = ? ORDER BY rowid",
                            (sop_uid, int(frame)))

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
