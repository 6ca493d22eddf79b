"""SQLite connections for the index: one per thread, one writer at a time, WAL readers.

In WAL mode readers never wait for the writer (sqlite.org/wal.html), so the study browser
keeps answering while an import or a network receipt commits. Writers in this process take
one lock (SQLite allows a single writer anyway, and waiting on a Python lock is cheaper and
fairer than spinning on SQLITE_BUSY); writers in other processes (a CLI import beside the GUI)
are serialised by ``BEGIN IMMEDIATE`` and ``busy_timeout``.
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from viewer.core.errors import StoreError
from viewer.store.names import pn_match
from viewer.store.schema import MIGRATIONS, SCHEMA_VERSION

BUSY_TIMEOUT_MS = 30_000


class Database:
    """The index file and its per-thread connections."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._local = threading.local()
        self._all: dict[threading.Thread, sqlite3.Connection] = {}
        self._all_lock = threading.Lock()
        self.write_lock = threading.RLock()
        self._migrate(self.connection())

    def connection(self) -> sqlite3.Connection:
        """This thread's connection (created on first use).

        Network associations come and go on their own threads, so creating a connection also
        closes those of threads that have ended (hence ``check_same_thread=False``; a
        connection is still only ever used by the thread that made it).
        """
        conn = getattr(self._local, "conn", None)
        if conn is None:
            self._close_orphans()
            try:
                conn = sqlite3.connect(self.path, isolation_level=None, timeout=BUSY_TIMEOUT_MS / 1000,
                                       check_same_thread=False)
                conn.execute("PRAGMA journal_mode=WAL")
            except sqlite3.Error as exc:
                raise StoreError(f"{self.path}: cannot open the index: {exc}") from exc
            conn.execute("PRAGMA foreign_keys=ON")
            conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
            # NORMAL in WAL mode: a commit survives a killed process; only a power cut can
            # lose the last transactions (sqlite.org/pragma.html#pragma_synchronous).
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.create_function("pn_match", 2, lambda p, n: int(pn_match(p, n or "")), deterministic=True)
            self._local.conn = conn
            with self._all_lock:
                self._all[threading.current_thread()] = conn
        return conn

    def _close_orphans(self) -> None:
        with self._all_lock:
            ended = [t for t in self._all if not t.is_alive()]
            for thread in ended:
                self._all.pop(thread).close()

    @property
    def open_connections(self) -> int:
        with self._all_lock:
            return len(self._all)

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """A write transaction: committed on success, rolled back on any exception."""
        with self.write_lock:
            conn = self.connection()
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    @contextmanager
    def snapshot(self) -> Iterator[sqlite3.Connection]:
        """A read transaction: several queries see one consistent state of the index."""
        conn = self.connection()
        if conn.in_transaction:  # nested in a write or another snapshot
            yield conn
            return
        conn.execute("BEGIN")
        try:
            yield conn
        finally:
            conn.execute("COMMIT")

    def close(self) -> None:
        with self._all_lock:
            for conn in self._all.values():
                with contextlib.suppress(sqlite3.ProgrammingError):  # still in use by its thread
                    conn.close()
            self._all.clear()
        self._local = threading.local()

    def _migrate(self, conn: sqlite3.Connection) -> None:
        with self.write_lock:
            conn.execute("BEGIN IMMEDIATE")  # one process migrates; the others then see it done
            try:
                version = conn.execute("PRAGMA user_version").fetchone()[0]
                if version > SCHEMA_VERSION:
                    raise StoreError(
                        f"{self.path}: the index has schema version {version}, newer than this "
                        f"Lightbox understands ({SCHEMA_VERSION}); upgrade Lightbox to use this cache"
                    )
                for step in range(version, SCHEMA_VERSION):
                    for statement in _statements(MIGRATIONS[step]):
                        conn.execute(statement)
                    conn.execute(f"PRAGMA user_version = {step + 1}")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")


def _statements(script: str) -> Iterator[str]:
    """Split a migration into statements so it runs inside the caller's transaction."""
    buf = ""
    for line in script.splitlines(keepends=True):
        buf += line
        if sqlite3.complete_statement(buf):
            yield buf.strip()
            buf = ""
    if buf.strip():
        raise StoreError(f"incomplete SQL statement in a migration: {buf.strip()[:60]}")
