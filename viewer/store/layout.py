"""Where managed files live, and how they are written so a crash never leaves half a file.

Layout: ``<home>/store/<study UID>/<series UID>/<SOP Instance UID>.dcm``. UIDs are at most 64
characters of digits and dots (PS3.5 9.1), so they are safe file names on every file system;
a malformed UID from the wild is replaced by a digest so it can never escape the folder.

Writes go to a temporary sibling, are fsync'ed, then ``os.replace``d onto the final name
(atomic on POSIX and Windows), and the folder is fsync'ed so the rename itself is durable.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

STORE_DIR = "store"
_UID = re.compile(r"^[0-9][0-9.]{0,63}$")


def safe_uid(uid: str) -> str:
    """``uid`` if it is a well-formed UID, else a stable digest that is a safe file name."""
    if _UID.match(uid) and ".." not in uid:
        return uid
    return "x" + hashlib.sha1(uid.encode("utf-8", "replace")).hexdigest()


def managed_relpath(study_uid: str, series_uid: str, sop_uid: str) -> str:
    """The managed file's path relative to the home, with ``/`` separators (stored in the index)."""
    return f"{STORE_DIR}/{safe_uid(study_uid)}/{safe_uid(series_uid)}/{safe_uid(sop_uid)}.dcm"


def temp_path(final: Path) -> Path:
    """The temporary sibling a writer in this process uses for ``final``."""
    return final.with_name(f"{final.name}.{os.getpid()}.part")


# fdatasync flushes the data and the metadata needed to read it back (size), not timestamps:
# all that a temp file needs before its rename (POSIX fdatasync(2)).
_datasync = getattr(os, "fdatasync", os.fsync)


def fsync_dir(folder: Path) -> None:
    """Make the renames in ``folder`` durable (a no-op where directories cannot be synced)."""
    if os.name == "nt":  # directories cannot be opened for fsync on Windows
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_atomic(final: Path, write: Callable[[BinaryIO], None], *, sync_dir: bool = True,
                 sync: bool = True) -> int:
    """Create ``final`` from ``write(file)``: temp file, fsync, rename. Returns its size.

    ``sync_dir=False`` leaves the folder's fsync to the caller, who writes many files into it;
    ``sync=False`` leaves the file's too (the store syncs a whole batch before indexing it).
    """
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_path(final)
    try:
        with open(tmp, "wb") as f:
            write(f)
            f.flush()
            if sync:
                _datasync(f.fileno())
            size = f.tell()
        os.replace(tmp, final)
    except BaseException:
        with contextlib.suppress(OSError):  # e.g. the folder could not be made at all
            tmp.unlink(missing_ok=True)
        raise
    if sync_dir:
        fsync_dir(final.parent)
    return size


def copy_atomic(source: Path, final: Path, *, sync_dir: bool = True, sync: bool = True) -> int:
    """Copy ``source`` to ``final`` atomically (the kernel copies: sendfile/copy_file_range)."""
    with open(source, "rb") as src:
        return write_atomic(final, lambda dst: shutil.copyfileobj(src, dst, 1 << 20)
                            if os.name == "nt" else _kernel_copy(src, dst), sync_dir=sync_dir, sync=sync)


def _kernel_copy(src: BinaryIO, dst: BinaryIO) -> None:
    size = os.fstat(src.fileno()).st_size
    offset = 0
    try:
        while offset < size:
            sent = os.sendfile(dst.fileno(), src.fileno(), offset, size - offset)
            if sent == 0:
                break
            offset += sent
    except OSError:
        if offset:
            raise
        shutil.copyfileobj(src, dst, 1 << 20)


def remove_empty_parents(path: Path, stop: Path) -> None:
    """Remove the now-empty folders between ``path`` and ``stop`` (exclusive)."""
    for parent in path.parents:
        if parent == stop or stop not in parent.parents:
            return
        try:
            parent.rmdir()
        except OSError:
            return
