"""A series as volumes in patient coordinates: voxels plus the affine that places them.

Public entry points (the UI, the CLI and the benchmarks call these):

* :func:`load_volume` - one series (a folder or its files) → the main :class:`Volume`;
* :func:`load_stacks` - every stack when a series splits (orientation, size, temporal
  position, echo, acquisition): one :class:`Volume` each;
* :class:`SeriesLoader` - the same in steps, for a viewer: headers and geometry first
  (``loader.stacks``, ``loader.affine()``), then any single slice on demand
  (``loader.read_slice(k)``, a few ms), then the whole volume (``loader.load()``).

Geometry (sorting along the normal, spacing from positions, tilt, gaps, irregular spacing,
enhanced multi-frame functional groups) lives in :mod:`viewer.core.geometry`; the affine
maps a voxel index (k, j, i) = (slice, row, column) to patient LPS millimetres.

How loading is made fast (targets and measurements: ``bench/load_series.py``):

* two passes: headers are read without pydicom for the common single-frame file
  (:func:`viewer.core.rawframes.quick_header`, pydicom's ``stop_before_pixels`` otherwise)
  and the byte offset of each frame's pixels noted; then every frame is read with one
  ``preadv`` and decoded straight into its slot of a preallocated volume - no dataset per
  slice kept, no stacking copy, no permutation copy, so peak memory stays near the volume's
  own size (1.02-1.06x measured by ``bench/load_series.py``);
* voxels stay int16 when the data is integral and Rescale Slope 1 / integral intercept keep
  it exact (PS3.3 C.11.1.1.2), float32 otherwise;
* the pixel pass runs on all cores. Uncompressed frames and the codecs that release the GIL
  (imagecodecs: libjpeg-turbo, CharLS, OpenJPEG, PackBits for RLE; 1.8-2.1x on 2 threads)
  run on threads in this process, writing into a numpy volume backed by huge pages. What
  holds the GIL (pydicom's parsing of unusual files, the pylibjpeg codecs when imagecodecs
  is missing: 2 threads ran 0.9-1.0x of one) runs in worker processes from a persistent
  ``forkserver`` pool (safe in a process that already runs Qt threads), which ``pwrite``
  their slots into a shared-memory file that becomes the volume's own buffer. Small series,
  and platforms without ``/dev/shm``, load in-process.
"""

from __future__ import annotations

import contextlib
import io
import mmap
import os
import sys
import tempfile
import threading
import uuid
from collections.abc import Iterable, Sequence
from concurrent.futures import FIRST_COMPLETED, Executor, Future, ProcessPoolExecutor, ThreadPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pydicom
from pydicom.dataset import Dataset
from pydicom.errors import InvalidDicomError

from viewer.core.decode import decode_frame, number_of_frames
from viewer.core.errors import Cancelled, DecodeError, DicomReadError, GeometryError, LightboxError
from viewer.core.geometry import (
    Frame,
    Stack,
    build_stacks,
    enhanced_frame_headers,
    is_enhanced,
    plane_of,
    tilt_degrees,
)
from viewer.core.pixels.modality import apply_modality_lut, rescale
from viewer.core.rawframes import (
    EXPLICIT_BE,
    NATIVE_LE,
    PixelSource,
    decodes_without_gil,
    frame_codestreams,
    pixel_element_at,
    quick_header,
    read_native_into,
    read_stored,
)
from viewer.core.reading import is_part10, read_dataset, read_header
from viewer.core.series import DICOMDIR_CLASS, iter_files
from viewer.core.tasks import CancelToken, Progress, ProgressCallback, no_progress

Source = str | os.PathLike[str] | Iterable[str | os.PathLike[str]]

#: Below this many frames the process pool's round trips cost more than they save.
PARALLEL_MIN_FRAMES = 32
#: Environment override for the number of worker processes (0: load in-process).
WORKERS_ENV = "LIGHTBOX_LOAD_WORKERS"


# Image Comments (PS3.3 C.7.6.1) of the headers synthesized for slices without their own image
MISSING_NOTE = "missing slice"
INTERPOLATED_NOTE = "interpolated slice"
NOT_DECODED_NOTE = "not decoded, shown as a gap"
# the first words of the warning that names the series' other stacks (a viewer may list them instead)
OTHER_STACKS_WARNING = "the series holds "


@dataclass
class Volume:
    """Voxels (slices, rows, columns) in modality units and their placement in the patient."""

    voxels: np.ndarray
    affine: np.ndarray  # voxel index (k, j, i, 1) -> patient LPS mm
    headers: Sequence[Dataset]  # one per slice, in slice order, without pixel data (a HeaderList)
    frame_of_reference_uid: str = ""
    warnings: list[str] = field(default_factory=list)
    acquired: np.ndarray | None = None  # per slice: False for a missing (gap) or interpolated slice
    label: str = ""  # what sets this stack apart, e.g. "axial 512x512, echo 2"

    @property
    def spacing(self) -> tuple[float, float, float]:
        """Distance in mm between neighbouring voxels along k, j, i."""
        return tuple(float(np.linalg.norm(self.affine[:3, a])) for a in range(3))  # type: ignore[return-value]

    @property
    def tilt_degrees(self) -> float:
        """Gantry/detector tilt: angle between the slice step and the plane normal."""
        return tilt_degrees(self.affine)

    def blank_reason(self, k: int) -> str:
        """Why slice ``k`` shows no image (a missing or undecodable slice), else "".

        The viewer says so on the image: a blank slice must never pass for air. Interpolated
        slices show an image and return "".
        """
        if self.acquired is None or bool(self.acquired[k]):
            return ""
        comment = str(self.headers[k].get("ImageComments", ""))
        return comment if comment.startswith((MISSING_NOTE, NOT_DECODED_NOTE)) else ""

    def index_to_patient(self, kji: Sequence[float]) -> np.ndarray:
        """Patient LPS mm of a (possibly fractional) voxel index (k, j, i)."""
        return (self.affine @ np.append(np.asarray(kji, dtype=float), 1.0))[:3]

    def patient_to_index(self, lps: Sequence[float]) -> np.ndarray:
        """Fractional voxel index (k, j, i) of a patient LPS point (inverse affine)."""
        return (np.linalg.inv(self.affine) @ np.append(np.asarray(lps, dtype=float), 1.0))[:3]


def orientation(ds: Dataset) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Row direction, column direction and their normal (PS3.3 C.7.6.2.1.1)."""
    iop = np.asarray(ds.get("ImageOrientationPatient") or [1, 0, 0, 0, 1, 0], dtype=float)
    row, col = iop[:3], iop[3:]
    return row, col, np.cross(row, col)


# --------------------------------------------------------------------------------------
# header pass


@dataclass
class _Scanned:
    path: str
    frames: list[Frame]
    series_uid: str = ""
    skipped: str = ""  # why the file is not an image of the series
    error: tuple[str, str] | None = None  # (exception class name, message) to re-raise


def _pixel_sources(fp, ds: Dataset, path: str, offset: int) -> list[PixelSource]:
    ts = str(ds.file_meta.get("TransferSyntaxUID", "1.2.840.10008.1.2"))
    n = number_of_frames(ds)
    common = dict(
        path=path, frames=n, transfer_syntax=ts, rows=int(ds.Rows), columns=int(ds.Columns),
        samples=int(ds.get("SamplesPerPixel", 1) or 1), bits_allocated=int(ds.get("BitsAllocated", 16) or 16),
        bits_stored=int(ds.get("BitsStored", ds.get("BitsAllocated", 16)) or 16),
        signed=int(ds.get("PixelRepresentation", 0) or 0) == 1,
        photometric=str(ds.get("PhotometricInterpretation", "MONOCHROME2")),
    )
    located = None
    with contextlib.suppress(OSError, ValueError):
        located = pixel_element_at(fp, offset, ts) if offset >= 0 else None
    if located is None:
        return [PixelSource(frame=f, **common) for f in range(n)]  # type: ignore[arg-type]
    start, length = located
    streams: list[tuple[tuple[int, int], ...]] | None = None
    if length < 0:
        try:
            streams = frame_codestreams(fp, start, n)
        except (OSError, ValueError, EOFError):
            streams = None
    return [
        PixelSource(frame=f, value_offset=start, value_length=length,
                    codestream=streams[f] if streams else (), **common)  # type: ignore[arg-type]
        for f in range(n)
    ]


class LazyHeader:
    """A file's header kept as bytes and parsed by pydicom on first use (then cached).

    The quick scan needs a handful of attributes; parsing every header with pydicom up
    front would cost more than decoding an uncompressed series, so the full dataset is built
    only when someone asks (the UI, for the slice on screen). Kept as bytes, not as a path,
    so it works after the files are gone.
    """

    __slots__ = ("_bytes", "_dataset", "path")

    def __init__(self, header_bytes: bytes, path: str) -> None:
        self._bytes = header_bytes  # kept: two threads may parse at once, both must succeed
        self._dataset: Dataset | None = None
        self.path = path

    def get(self) -> Dataset:
        ds = self._dataset
        if ds is None:
            ds = pydicom.dcmread(io.BytesIO(self._bytes), stop_before_pixels=True, force=True)
            ds.filename = self.path
            self._dataset = ds
        return ds


class HeaderList(Sequence[Dataset]):
    """Per-slice headers in slice order; each is parsed on first access (see :class:`LazyHeader`)."""

    def __init__(self, items: list[Dataset | LazyHeader]) -> None:
        self._items = items

    def __len__(self) -> int:
        return len(self._items)

    def __getitem__(self, index):  # type: ignore[override]
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        item = self._items[index]
        if isinstance(item, LazyHeader):
            item = self._items[index] = item.get()
        return item

    def __repr__(self) -> str:
        return f"<HeaderList of {len(self)} headers>"


def _full_header(frame: Frame) -> Dataset:
    return frame.full.get() if isinstance(frame.full, LazyHeader) else frame.header


def _scan_quick(path: str) -> _Scanned | None:
    quick = quick_header(path)
    if quick is None:
        return None
    if quick.sop_class_in_meta == DICOMDIR_CLASS:
        return _Scanned(path, [], skipped="DICOMDIR (media directory, not an image)")
    a = quick.attrs
    if "Columns" not in a:
        return None
    bits = int(a.get("BitsAllocated", 16) or 16)
    src = PixelSource(
        path=path, frame=0, frames=1, transfer_syntax=quick.transfer_syntax, rows=int(a.Rows),
        columns=int(a.Columns), samples=int(a.get("SamplesPerPixel", 1) or 1), bits_allocated=bits,
        bits_stored=int(a.get("BitsStored", bits) or bits), signed=a.get("PixelRepresentation", 0) == 1,
        photometric=str(a.get("PhotometricInterpretation", "MONOCHROME2")),
        value_offset=quick.value_offset, value_length=quick.value_length, codestream=quick.codestream,
    )
    frame = Frame(a, plane_of(a, path), src, full=LazyHeader(quick.header_bytes, path))  # type: ignore[arg-type]
    return _Scanned(path, [frame], series_uid=str(a.get("SeriesInstanceUID", "")))


def _scan_file(path: str, quick: bool = True) -> _Scanned:
    """Read one file's header(s) and locate its frames; never raises for a bad file."""
    offset = -1
    try:
        scanned = _scan_quick(path) if quick else None
        if scanned is not None:
            return scanned
        with open(path, "rb") as fp:
            try:
                ds = pydicom.dcmread(fp, stop_before_pixels=True)
                offset = fp.tell()
            except (InvalidDicomError, Exception):  # corrupt or raw: the named reader explains below
                ds = None
            if ds is None:
                ds = read_header(path)  # preamble-less datasets, or a DicomReadError with the reason
                offset = -1
                if not is_part10(ds):  # a raw dataset (PS3.10 7.1 missing): locate its pixels too
                    fp.seek(0)
                    with contextlib.suppress(Exception):
                        raw = pydicom.dcmread(fp, stop_before_pixels=True, force=True)
                        raw.file_meta = ds.file_meta
                        ds, offset = raw, fp.tell()
            ds.filename = path
            if ds.file_meta.get("MediaStorageSOPClassUID") == DICOMDIR_CLASS:
                return _Scanned(path, [], skipped="DICOMDIR (media directory, not an image)")
            if "Rows" not in ds or "Columns" not in ds:
                return _Scanned(path, [], skipped="no image (no Rows/Columns)")
            if ds.file_meta.get("TransferSyntaxUID") == "1.2.840.10008.1.2.1.99":
                offset = -1  # deflated: byte offsets refer to the inflated stream
            sources = _pixel_sources(fp, ds, path, offset)
        if is_enhanced(ds):
            headers = enhanced_frame_headers(ds)
        elif len(sources) > 1:
            headers = []
            for f in range(len(sources)):
                h = Dataset()
                h.update({e.tag: e for e in ds if e.keyword not in ("NumberOfFrames",)})  # type: ignore[arg-type]
                h.add_new(0x00200013, "IS", f + 1)  # a new element: the others share ds's
                h.file_meta = ds.file_meta
                h.filename = path
                headers.append(h)
        else:
            headers = [ds]
        frames = [
            Frame(h, plane_of(h, f"{path} frame {i + 1}" if len(headers) > 1 else path), src)
            for i, (h, src) in enumerate(zip(headers, sources, strict=True))
        ]
        return _Scanned(path, frames, series_uid=str(ds.get("SeriesInstanceUID", "")))
    except DicomReadError as exc:
        return _Scanned(path, [], skipped=exc.reason)
    except LightboxError as exc:
        return _Scanned(path, [], error=(type(exc).__name__, str(exc)))
    except OSError as exc:
        return _Scanned(path, [], skipped=f"{type(exc).__name__}: {exc}")
    except Exception as exc:  # a header pydicom parsed but cannot interpret: skip it, say why
        return _Scanned(path, [], skipped=f"unusable header ({type(exc).__name__}: {exc})")


def _scan_chunk(paths: list[str]) -> list[_Scanned]:
    return [_scan_file(p, quick=False) for p in paths]


# --------------------------------------------------------------------------------------
# pixel pass


@dataclass(frozen=True)
class _Task:
    slot: int  # index along axis 0 of the output array
    source: PixelSource
    slope: float
    intercept: float
    header: Dataset | None = None  # only when a Modality LUT Sequence must be applied


def _error_tuple(exc: BaseException, src: PixelSource) -> tuple[str, str, str, str]:
    if isinstance(exc, DecodeError):
        return ("DecodeError", exc.path, exc.transfer_syntax, exc.reason)
    if isinstance(exc, DicomReadError):
        return ("DicomReadError", exc.path, src.transfer_syntax, exc.reason)
    return ("DecodeError", src.path, src.transfer_syntax, f"{type(exc).__name__}: {exc}")


def _raise_error(err: tuple[str, str, str, str]) -> None:
    kind, path, ts, reason = err
    if kind == "DicomReadError":
        raise DicomReadError(path, reason)
    if kind == "GeometryError":
        raise GeometryError(reason)
    raise DecodeError(path, ts, reason)


def _stored_generic(src: PixelSource, cache: dict[str, np.ndarray]) -> np.ndarray:
    """Stored values through the shared decoder (colour, deflate, odd encapsulation, ...)."""
    if src.frames > 1:
        if src.path not in cache:
            cache.clear()
            ds = read_dataset(src.path)
            from viewer.core.decode import decode_all_frames

            cache[src.path] = decode_all_frames(ds)
        return cache[src.path][src.frame]
    return decode_frame(read_dataset(src.path), src.frame)


def _int16_safe(src: PixelSource, intercept: int) -> bool:
    """True when every storable value plus the intercept fits int16 (no per-slice check needed)."""
    bits = src.bits_stored
    lo = -(1 << (bits - 1)) if src.signed else 0
    hi = (1 << (bits - 1)) - 1 if src.signed else (1 << bits) - 1
    return lo + intercept >= -32768 and hi + intercept <= 32767


def _put(out: np.ndarray, stored: np.ndarray, task: _Task) -> bool:
    """Write the modality values of ``stored`` into ``out``; False if int16 would overflow."""
    if stored.ndim == 3 or out.ndim == 3:  # colour: no modality LUT (PS3.3 C.11.1 is grayscale)
        out[...] = stored
        return True
    if task.header is not None:
        values = apply_modality_lut(stored, task.header)
        if out.dtype == np.int16 and (values.min(initial=0) < -32768 or values.max(initial=0) > 32767):
            return False
        np.copyto(out, values, casting="unsafe")
        return True
    if out.dtype == np.int16:
        icpt = int(task.intercept)
        narrow = stored.dtype == np.int16 or (stored.dtype == np.uint16 and task.source.bits_stored <= 15)
        if narrow and _int16_safe(task.source, icpt):
            np.add(stored.view(np.int16), np.int16(icpt), out=out)
            return True
        if not _int16_safe(task.source, icpt):
            lo, hi = int(stored.min()), int(stored.max())
            if lo + icpt < -32768 or hi + icpt > 32767:
                return False
            # Every value and its sum fit int16: add in int16 (no int32 temporaries; 0.015 against
            # 0.075 ms per 512x512 slice once its pages are touched)
            if stored.dtype == np.int16 or (stored.dtype == np.uint16 and hi <= 32767):
                np.add(stored.view(np.int16), np.int16(icpt), out=out)
                return True
        np.add(stored, np.int32(icpt), out=out, casting="unsafe")
        return True
    np.multiply(stored, np.float32(task.slope), out=out, casting="unsafe")
    if task.intercept:
        out += np.float32(task.intercept)
    return True


class _SlotWriter:
    """Writes decoded slots into the volume's shared-memory file with ``pwrite``.

    Each slot is decoded into a reusable scratch slot (it stays in the CPU cache) and then
    written to the file: the kernel allocates the file's pages as it copies, where writing
    through a fresh mapping costs one page fault per 4 KB. Measured on 400 uncompressed CT
    slices, one core: 0.09 s of CPU against 0.13-0.19 s through the mapping.
    """

    def __init__(self, path: str, shape: tuple[int, ...], dtype: np.dtype) -> None:
        self.scratch = np.empty(shape[1:], dtype)
        self.view = memoryview(self.scratch.reshape(-1).view(np.uint8))
        self.fd = os.open(path, os.O_RDWR | getattr(os, "O_BINARY", 0))

    def write(self, slot: int) -> None:
        offset, done, view = slot * self.view.nbytes, 0, self.view
        while done < view.nbytes:
            done += os.pwrite(self.fd, view[done:], offset + done)

    def close(self) -> None:
        os.close(self.fd)


_Failure = tuple[int, tuple[str, str, str, str]]  # (slot, error tuple)


def _decode_into(out: np.ndarray | _SlotWriter,
                 tasks: Sequence[_Task]) -> tuple[list[int], list[_Failure]]:
    """Decode tasks into ``out`` (an array, or a writer to the shared volume file).

    Returns (slots that overflowed int16, slots that failed with their errors). A failed
    frame does not stop the others: one damaged file must not make a series unviewable
    (the caller shows the slot as a gap and names the file).
    """
    overflow: list[int] = []
    failed: list[_Failure] = []
    cache: dict[str, np.ndarray] = {}
    writer = out if isinstance(out, _SlotWriter) else None
    for task in tasks:
        src = task.source
        try:
            slot = writer.scratch if writer is not None else out[task.slot]  # type: ignore[index]
            if (slot.dtype == np.int16 and task.header is None and src.bits_allocated == 16
                    and (src.signed or src.bits_stored <= 15) and read_native_into(src, slot)):
                icpt = int(task.intercept)  # integral: the volume is int16 (see SeriesLoader.dtype)
                if icpt and not _int16_safe(src, icpt) and (  # e.g. signed 16-bit CT: check this slice
                        int(slot.min()) + icpt < -32768 or int(slot.max()) + icpt > 32767):
                    overflow.append(task.slot)
                    continue
                if icpt:  # the stored values are in slot already: add in place, exactly
                    np.add(slot, np.int16(icpt), out=slot)
            else:
                stored = read_stored(src) if src.fast else None
                if stored is None:
                    stored = _stored_generic(src, cache)
                if not _put(slot, stored, task):
                    overflow.append(task.slot)
                    continue
            if writer is not None:
                writer.write(task.slot)
        except Exception as exc:  # every decode failure becomes a named error in the caller
            failed.append((task.slot, _error_tuple(exc, src)))
    return overflow, failed


def _decode_chunk_shared(shm_path: str, shape: tuple[int, ...], dtype: str, tasks: list[_Task]):
    """Worker side (a process or a thread): decode a chunk of slots into the shared volume file."""
    writer = _SlotWriter(shm_path, shape, np.dtype(dtype))
    try:
        return _decode_into(writer, tasks)
    finally:
        writer.close()


def _threadable(src: PixelSource) -> bool:
    """Frames whose loading is system calls, numpy and a codec that release the GIL: threads
    scale (1.8-2.1x on 2 cores), and need no worker processes, no copy between processes and
    no shared memory."""
    ts = src.transfer_syntax
    return src.fast and (ts in NATIVE_LE or ts == EXPLICIT_BE or decodes_without_gil(ts))


class _SharedOutput:
    """A volume buffer in a shared-memory file: workers write into it, then it is the volume.

    The file is unlinked as soon as the workers are done; the parent's mapping (owned by the
    returned array) keeps the memory alive until the array is garbage collected.
    """

    def __init__(self, shape: tuple[int, ...], dtype: np.dtype) -> None:
        self.shape, self.dtype = shape, np.dtype(dtype)
        nbytes = max(1, int(np.prod(shape)) * self.dtype.itemsize)
        self.path = os.path.join(_shm_dir() or tempfile.gettempdir(), f"lightbox-vol-{uuid.uuid4().hex}")
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.ftruncate(fd, nbytes)
            # no MAP_POPULATE: the workers touch (and so allocate) the pages in parallel
            self.mm = mmap.mmap(fd, nbytes, flags=mmap.MAP_SHARED)
        except BaseException:
            os.close(fd)
            os.unlink(self.path)
            raise
        os.close(fd)
        self.array = np.frombuffer(self.mm, dtype=self.dtype, count=int(np.prod(shape))).reshape(shape)

    def release(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path)


def _shm_dir() -> str | None:
    return "/dev/shm" if sys.platform.startswith("linux") and os.path.isdir("/dev/shm") else None


def _shm_room(nbytes: int) -> bool:
    """True when the shared-memory file system can hold the volume (a container's /dev/shm
    may be 64 MB; writing past its end would kill the workers with SIGBUS)."""
    folder = _shm_dir()
    if folder is None:
        return False
    st = os.statvfs(folder)
    return st.f_bavail * st.f_frsize > nbytes * 1.05


_POOL: ProcessPoolExecutor | None = None
_POOL_WORKERS = 0
_POOL_LOCK = threading.Lock()


def default_workers() -> int:
    """Worker processes for loading: ``$LIGHTBOX_LOAD_WORKERS`` or the number of cores."""
    env = os.environ.get(WORKERS_ENV)
    if env is not None and env.strip().isdigit():
        return int(env)
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def _pool(workers: int) -> ProcessPoolExecutor | None:
    global _POOL, _POOL_WORKERS
    if workers < 2 or _shm_dir() is None:
        return None
    with _POOL_LOCK:
        if _POOL is None or workers != _POOL_WORKERS:
            if _POOL is not None:
                _POOL.shutdown(wait=False, cancel_futures=True)
            import multiprocessing

            ctx = multiprocessing.get_context("forkserver")
            # workers fork from a server that already imported numpy, pydicom and this module,
            # so they share those pages (about 30 MB less per worker than importing each)
            ctx.set_forkserver_preload(["viewer.core.volume"])
            _POOL, _POOL_WORKERS = ProcessPoolExecutor(workers, mp_context=ctx), workers
        return _POOL


_THREADS: ThreadPoolExecutor | None = None
_THREADS_WORKERS = 0


def _threads(workers: int) -> ThreadPoolExecutor:
    """Persistent threads for loads whose work releases the GIL (uncompressed frames)."""
    global _THREADS, _THREADS_WORKERS
    with _POOL_LOCK:
        if _THREADS is None or workers != _THREADS_WORKERS:
            if _THREADS is not None:
                _THREADS.shutdown(wait=False)
            _THREADS = ThreadPoolExecutor(workers, thread_name_prefix="lightbox-load")
            _THREADS_WORKERS = workers
        return _THREADS


def _drop_pool() -> None:
    global _POOL
    with _POOL_LOCK:
        if _POOL is not None:
            _POOL.shutdown(wait=False, cancel_futures=True)
        _POOL = None


def warm_up(workers: int | None = None) -> None:
    """Start the loader's worker processes now, not on first load.

    Only series the threads cannot take need them: files pydicom must parse (enhanced
    multi-frame, raw datasets, ...) in numbers, or codecs that hold the GIL (an installation
    without imagecodecs). Uncompressed and imagecodecs-decoded series never start them.
    """
    pool = _pool(default_workers() if workers is None else workers)
    if pool is not None:
        list(pool.map(_scan_chunk, [[]] * _POOL_WORKERS))


def _chunks(items: Sequence, count: int) -> list[list]:
    size = max(1, -(-len(items) // count))
    return [list(items[i:i + size]) for i in range(0, len(items), size)]


def _run(pool: Executor, fn, jobs: list[tuple], weights: list[int], total: int, message: str,
         progress: ProgressCallback, cancel: CancelToken | None) -> list:
    """Submit jobs, report progress as they finish, honour the cancel token; results in job order."""
    futures: dict[Future, int] = {pool.submit(fn, *job): i for i, job in enumerate(jobs)}
    results: list = [None] * len(jobs)
    done = 0
    pending = set(futures)
    try:
        while pending:
            finished, pending = wait(pending, timeout=0.05, return_when=FIRST_COMPLETED)
            for fut in finished:
                i = futures[fut]
                results[i] = fut.result()
                done += weights[i]
                progress(Progress(done, total, message))
            if cancel is not None and cancel.cancelled:
                raise Cancelled("cancelled by the user")
    except BaseException:
        for fut in pending:
            fut.cancel()
        wait(pending)
        raise
    return results


# --------------------------------------------------------------------------------------
# the loader


class SeriesLoader:
    """A series opened for viewing: geometry at once, any slice on demand, the volume in parallel.

    Construction reads every header (in parallel) and builds the stacks; nothing is decoded
    yet. A viewer then typically shows ``read_slice(k)`` for the slice it wants first (one
    frame, in the calling thread, a few milliseconds) while ``load()`` runs in a worker
    thread. ``stacks[0]`` is the biggest stack; :func:`load_volume` loads it.
    """

    def __init__(self, source: Source, *, progress: ProgressCallback | None = None,
                 cancel: CancelToken | None = None, workers: int | None = None) -> None:
        self.workers = default_workers() if workers is None else workers
        paths = [str(p) for p in iter_files(source)
                 if not p.name.startswith(".") and p.name.upper() != "DICOMDIR"]
        if not paths:
            raise GeometryError(f"no files in {_describe(source)}")
        report = progress or no_progress
        # quick scan in this process (about 0.1 ms a file); files it declines go to pydicom,
        # in the worker processes when there are many (enhanced objects, raw datasets, ...)
        found: dict[str, _Scanned] = {}
        slow: list[str] = []
        for i, path in enumerate(paths):
            if cancel is not None and i % 64 == 0:
                cancel.raise_if_cancelled()
            try:
                quick = _scan_quick(path)
            except (OSError, ValueError, GeometryError):
                quick = None
            if quick is None:
                slow.append(path)
            else:
                found[path] = quick
            if i % 64 == 63:
                report(Progress(len(found), len(paths), "reading headers"))
        pool = _pool(self.workers) if len(slow) >= PARALLEL_MIN_FRAMES else None
        if pool is not None:
            chunks = _chunks(slow, self.workers * 4)
            try:
                parts = _run(pool, _scan_chunk, [(c,) for c in chunks], [len(c) for c in chunks], len(slow),
                             "reading headers", report, cancel)
                found.update((s.path, s) for part in parts for s in part)
            except BrokenProcessPool:
                _drop_pool()
                pool = None
        if pool is None:
            for path in slow:
                if cancel is not None:
                    cancel.raise_if_cancelled()
                found[path] = _scan_file(path, quick=False)
        report(Progress(len(paths), len(paths), "reading headers"))
        scanned = [found[p] for p in paths]
        self.skipped = [(s.path, s.skipped) for s in scanned if s.skipped]
        for s in scanned:
            if s.error:
                raise GeometryError(s.error[1])
        images = [s for s in scanned if s.frames]
        if not images:
            why = "; ".join(f"{Path(p).name}: {r}" for p, r in self.skipped[:3])
            raise GeometryError(f"no DICOM image files in {_describe(source)} ({why})")
        uids = sorted({s.series_uid for s in images})
        if len(uids) > 1:
            counts = {u: sum(1 for s in images if s.series_uid == u) for u in uids}
            listing = ", ".join(f"{u or '(no UID)'}: {n} files" for u, n in counts.items())
            raise GeometryError(
                f"{_describe(source)} holds {len(uids)} series ({listing}); load one series at a time "
                "(viewer.core.series.find_series groups files by series)"
            )
        frames = [f for s in images for f in s.frames]
        for i, f in enumerate(frames):
            f.order = i
        self.stacks: list[Stack] = build_stacks(frames)

    # -- geometry, available before any pixel is decoded

    def affine(self, stack: int = 0) -> np.ndarray:
        return self.stacks[stack].affine.copy()

    def shape(self, stack: int = 0) -> tuple[int, ...]:
        st = self.stacks[stack]
        samples = st.frames[0].source.samples
        return st.shape + ((samples,) if samples > 1 else ())

    def warnings(self, stack: int = 0) -> list[str]:
        out = list(self.stacks[stack].warnings)
        if len(self.stacks) > 1:
            others = "; ".join(f"{s.label} ({len(s.frames)} images)" for i, s in enumerate(self.stacks)
                               if i != stack)
            out.insert(0, f"{OTHER_STACKS_WARNING}{len(self.stacks)} stacks that cannot share one grid; this is "
                          f"{self.stacks[stack].label} ({len(self.stacks[stack].frames)} images), the "
                          f"others: {others}")
        return out

    def dtype(self, stack: int = 0) -> np.dtype:
        """int16 when every frame is integral and its rescale keeps integers exact, else float32."""
        st = self.stacks[stack]
        first = st.frames[0].source
        if first.samples > 1:
            return first.dtype
        if st.resample is not None:
            return np.dtype(np.float32)
        for f in st.frames:
            src = f.source
            if src.bits_allocated > 16 or "FloatPixelData" in f.header or "DoubleFloatPixelData" in f.header:
                return np.dtype(np.float32)
            if "ModalityLUTSequence" in f.header:
                return np.dtype(np.float32)
            slope, intercept = rescale(f.header)
            if slope != 1 or intercept != int(intercept):
                return np.dtype(np.float32)
        return np.dtype(np.int16)

    def headers(self, stack: int = 0) -> HeaderList:
        """One header per grid slice; gaps and interpolated slices get a synthesized one."""
        st = self.stacks[stack]
        out: list[Dataset | LazyHeader] = []
        for k, slot in enumerate(st.slots):
            if slot is not None:
                f = st.frames[slot]
                out.append(f.full if isinstance(f.full, LazyHeader) else f.header)
                continue
            near = _full_header(st.frames[min(len(st.frames) - 1, _nearest_frame(st, k))])
            h = Dataset()
            h.update(near)  # type: ignore[arg-type]
            # new elements (add_new), never assignments: h shares its elements with ``near``
            h.add_new(0x00200032, "DS", [round(float(v), 6) for v in (st.affine @ [k, 0, 0, 1])[:3]])
            note = INTERPOLATED_NOTE if st.resample is not None else MISSING_NOTE
            h.add_new(0x00204000, "LT", f"{note}: no image was acquired at this position")
            out.append(h)
        return HeaderList(out)  # type: ignore[return-value]

    # -- pixels

    def _tasks(self, stack: int) -> list[_Task]:
        st = self.stacks[stack]
        pairs = list(enumerate(st.frames)) if st.resample is not None else [
            (k, st.frames[s]) for k, s in enumerate(st.slots) if s is not None]
        return [_task(slot, f) for slot, f in pairs]

    def _slot_task(self, stack: int, k: int) -> _Task:
        """The decode task of grid slice ``k`` (an acquired slot), written to slot 0."""
        st = self.stacks[stack]
        return _task(0, st.frames[st.slots[k]])  # type: ignore[index]

    def fill_value(self, stack: int = 0) -> float:
        """What a missing slice shows: the padding value, else the lowest storable modality value."""
        st = self.stacks[stack]
        f = st.frames[0]
        src = f.source
        slope, intercept = rescale(f.header)
        if "PixelPaddingValue" in f.header:
            stored = float(f.header.PixelPaddingValue)
        else:
            stored = float(-(1 << (src.bits_stored - 1)) if src.signed else 0)
        value = stored * slope + intercept
        if self.dtype(stack) == np.int16:
            value = float(min(32767, max(-32768, round(value))))
        return value

    def read_slice(self, k: int, stack: int = 0) -> np.ndarray:
        """Modality values of grid slice ``k`` (what ``load().voxels[k]`` will hold), decoded now."""
        st = self.stacks[stack]
        shape = self.shape(stack)[1:]
        if not 0 <= k < len(st.slots):
            raise IndexError(f"slice {k} is outside 0..{len(st.slots) - 1}")
        if st.resample is not None:
            r = st.resample
            pair = np.empty((2, *shape), np.float32)
            tasks = self._tasks(stack)
            picked = [_Task(0, tasks[r.lo[k]].source, tasks[r.lo[k]].slope, tasks[r.lo[k]].intercept,
                            tasks[r.lo[k]].header),
                      _Task(1, tasks[r.hi[k]].source, tasks[r.hi[k]].slope, tasks[r.hi[k]].intercept,
                            tasks[r.hi[k]].header)]
            _, errors = _decode_into(pair, picked)
            if errors:
                _raise_error(errors[0][1])
            w = np.float32(r.weight[k])
            return (np.float32(1) - w) * pair[0] + w * pair[1]
        dtype = self.dtype(stack)
        out = np.empty((1, *shape), dtype)
        if st.slots[k] is None:
            out[...] = self.fill_value(stack)
            return out[0]
        overflow, errors = _decode_into(out, [self._slot_task(stack, k)])
        if errors:
            _raise_error(errors[0][1])
        if overflow:
            return out[0] if dtype != np.int16 else self._read_as_float(k, stack)
        return out[0]

    def _read_as_float(self, k: int, stack: int) -> np.ndarray:
        out = np.empty((1, *self.shape(stack)[1:]), np.float32)
        _, errors = _decode_into(out, [self._slot_task(stack, k)])
        if errors:
            _raise_error(errors[0][1])
        return out[0]

    def load(self, stack: int = 0, *, progress: ProgressCallback | None = None,
             cancel: CancelToken | None = None) -> Volume:
        """Decode every slice of a stack into a :class:`Volume` (in parallel for big series).

        A frame that cannot be decoded (a truncated or corrupt file) becomes a gap slice like
        a missing one: filled with :meth:`fill_value`, ``acquired[k]`` False, its header's
        Image Comments and a warning naming the file, transfer syntax and reason. Never a
        silently wrong image, and never a whole series lost to one bad file: only when no
        frame decodes does the load raise that first :class:`DecodeError`.
        """
        st = self.stacks[stack]
        dtype = self.dtype(stack)
        voxels, failed = self._decode(stack, dtype, progress or no_progress, cancel)
        if voxels is None:  # a slice did not fit int16 after all (e.g. 16-bit unsigned MR): redo as float32
            dtype = np.dtype(np.float32)
            voxels, failed = self._decode(stack, dtype, progress or no_progress, cancel)
            assert voxels is not None
        failed.sort()
        if failed and len(failed) == len(self._tasks(stack)):
            _raise_error(failed[0][1])
        fill = self.fill_value(stack)
        for slot, _ in failed:
            voxels[slot] = fill  # before interpolation: slot is then an acquired frame's index
        acquired = st.acquired.copy()
        bad = {slot for slot, _ in failed}
        if st.resample is not None:
            r = st.resample
            voxels = _interpolate(voxels, st)
            gaps = [k for k in range(len(acquired)) if int(r.lo[k]) in bad or int(r.hi[k]) in bad]
        else:
            for k, s in enumerate(st.slots):
                if s is None:
                    voxels[k] = fill
            gaps = sorted(bad)
        acquired[gaps] = False
        headers = self.headers(stack)
        warnings = self.warnings(stack)
        if failed:
            items = list(headers._items)
            for slot, (_, path, ts, reason) in failed:
                note = f"{NOT_DECODED_NOTE}: {Path(path).name} ({_syntax_name(ts)}): {reason}"
                warnings.append(f"slice {slot}: {path} cannot be decoded ({_syntax_name(ts)}): {reason}; "
                                "shown as a gap")
                if st.resample is None:
                    h = Dataset()
                    h.update(headers[slot])  # type: ignore[arg-type]
                    h.add_new(0x00204000, "LT", note)  # Image Comments (PS3.3 C.7.6.1)
                    items[slot] = h
            headers = HeaderList(items)
        first = st.frames[0].header
        return Volume(
            voxels=voxels, affine=st.affine.copy(), headers=headers,
            frame_of_reference_uid=str(first.get("FrameOfReferenceUID", "")),
            warnings=warnings, acquired=acquired, label=st.label,
        )

    def _decode(self, stack: int, dtype: np.dtype, progress: ProgressCallback,
                cancel: CancelToken | None) -> tuple[np.ndarray | None, list[_Failure]]:
        """The decoded slots (None when one overflowed int16) and the slots that failed."""
        st = self.stacks[stack]
        tasks = self._tasks(stack)
        rows_cols = self.shape(stack)[1:]
        shape = (len(st.frames) if st.resample is not None else len(st.slots), *rows_cols)
        nbytes = int(np.prod(shape)) * dtype.itemsize
        parallel = len(tasks) >= PARALLEL_MIN_FRAMES and self.workers >= 2
        threaded = parallel and all(_threadable(t.source) for t in tasks)
        if threaded:
            # threads decode straight into the volume; numpy backs big arrays with transparent
            # huge pages (one page fault per 2 MB): reading 400 uncompressed CT slices took
            # 0.075 s of CPU so, against 0.09 s through a shared-memory file and 0.13 s
            # through 4 KB pages
            voxels = np.empty(shape, dtype)
            # compressed frames in smaller chunks, so that both threads finish together (a chunk
            # of J2K CT slices is 0.2 s); uncompressed ones in few (each chunk costs ~0.2 ms)
            native = all(t.source.transfer_syntax in NATIVE_LE or t.source.transfer_syntax == EXPLICIT_BE
                         for t in tasks)
            chunks = _chunks(tasks, self.workers * (6 if native else 24))
            results = _run(_threads(self.workers), _decode_into, [(voxels, c) for c in chunks],
                           [len(c) for c in chunks], len(tasks), "decoding slices", progress, cancel)
            overflow, failed = _check(results)
            return (None if overflow else voxels), failed
        pool = _pool(self.workers) if parallel and _shm_room(nbytes) else None
        if pool is not None:
            out = _SharedOutput(shape, dtype)
            try:
                chunks = _chunks(tasks, self.workers * 6)
                results = _run(pool, _decode_chunk_shared,
                               [(out.path, shape, dtype.str, c) for c in chunks], [len(c) for c in chunks],
                               len(tasks), "decoding slices", progress, cancel)
            except BrokenProcessPool:
                _drop_pool()
                pool = None
            finally:
                out.release()
            if pool is not None:
                overflow, failed = _check(results)
                return (None if overflow else out.array), failed
        voxels = np.empty(shape, dtype)
        failed = []
        for i in range(0, len(tasks), 8):
            if cancel is not None:
                cancel.raise_if_cancelled()
            overflow, errors = _decode_into(voxels, tasks[i:i + 8])
            failed += errors
            if overflow:
                return None, failed
            progress(Progress(min(i + 8, len(tasks)), len(tasks), "decoding slices"))
        return voxels, failed


def _check(results: list[tuple[list[int], list[_Failure]]]) -> tuple[bool, list[_Failure]]:
    """Whether a slot overflowed int16 (redo as float32), and every chunk's failed slots."""
    return any(overflow for overflow, _ in results), [f for _, errors in results for f in errors]


def _syntax_name(ts: str) -> str:
    """A transfer syntax UID with its PS3.6 name, for messages ("1.2.840.10008.1.2.4.90 JPEG 2000 ...")."""
    from pydicom.uid import UID

    name = UID(ts).name if ts else ""
    return f"{ts} {name}" if name and name != ts else ts or "unknown transfer syntax"


def _task(slot: int, frame: Frame) -> _Task:
    """Decode ``frame`` into ``slot`` with its own rescale (per frame in enhanced objects)."""
    slope, intercept = rescale(frame.header)
    lut = frame.header if "ModalityLUTSequence" in frame.header else None
    return _Task(slot, frame.source, slope, intercept, lut)


def _nearest_frame(st: Stack, k: int) -> int:
    for dk in range(len(st.slots)):
        for kk in (k - dk, k + dk):
            if 0 <= kk < len(st.slots) and st.slots[kk] is not None:
                return int(st.slots[kk])  # type: ignore[arg-type]
    if st.resample is not None:
        return int(st.resample.lo[k])
    return 0


def _interpolate(acquired: np.ndarray, st: Stack) -> np.ndarray:
    """Resample acquired slices (ascending along the normal) onto the stack's regular grid."""
    r = st.resample
    assert r is not None
    out = np.empty((len(r.weight), *acquired.shape[1:]), np.float32)
    for k, (lo, hi, w) in enumerate(zip(r.lo, r.hi, r.weight, strict=True)):
        np.multiply(acquired[lo], np.float32(1 - w), out=out[k], casting="unsafe")
        out[k] += np.float32(w) * acquired[hi]
    return out


def _describe(source: Source) -> str:
    if isinstance(source, str | os.PathLike):
        return str(source)
    items = list(source) if not isinstance(source, list) else source
    return f"{len(items)} files" if len(items) != 1 else str(items[0])


def load_volume(source: Source, *, progress: ProgressCallback | None = None,
                cancel: CancelToken | None = None) -> Volume:
    """Load one series (a folder or a list of its files) as a :class:`Volume`.

    When the series holds several stacks (see :func:`load_stacks`) the biggest is loaded
    and the first warning says what else is there. Raises :class:`GeometryError` when the
    files hold no image or more than one series, :class:`DecodeError` naming the file and
    transfer syntax when pixels cannot be decoded, :class:`Cancelled` when ``cancel`` is set.
    """
    if isinstance(source, Iterable) and not isinstance(source, str | os.PathLike):
        source = list(source)
    loader = SeriesLoader(source, progress=progress, cancel=cancel)
    return loader.load(0, progress=progress, cancel=cancel)


def load_stacks(source: Source, *, progress: ProgressCallback | None = None,
                cancel: CancelToken | None = None) -> list[Volume]:
    """Every stack of a series as its own :class:`Volume`, biggest first.

    A series splits when its frames cannot share one grid: different orientation, size or
    pixel spacing (a localizer in the series), or several frames at one position told apart
    by temporal position, echo, acquisition, trigger time or b-value.
    """
    if isinstance(source, Iterable) and not isinstance(source, str | os.PathLike):
        source = list(source)
    loader = SeriesLoader(source, progress=progress, cancel=cancel)
    return [loader.load(i, progress=progress, cancel=cancel) for i in range(len(loader.stacks))]


@dataclass(frozen=True)
class StackSummary:
    """One stack of a series as a browser lists it, before any pixel is decoded.

    ``paths`` are the files holding its frames (a multi-frame file may hold several stacks);
    ``sop_instance_uids`` tell which stack a loaded :class:`Volume` is (its headers carry them).
    """

    index: int  # position in SeriesLoader.stacks: 0 is the biggest
    count: int  # stacks in the series
    label: str
    images: int  # acquired frames
    shape: tuple[int, int, int]
    paths: tuple[str, ...]
    sop_instance_uids: frozenset[str]

    def __contains__(self, volume: object) -> bool:
        headers = getattr(volume, "headers", None)
        return bool(headers) and str(headers[0].get("SOPInstanceUID", "")) in self.sop_instance_uids


def summarize_stacks(loader: SeriesLoader) -> list[StackSummary]:
    """What each stack of an opened series is, so that every stack can be offered to the reader."""
    out = []
    for i, st in enumerate(loader.stacks):
        paths = tuple(dict.fromkeys(str(f.source.path) for f in st.frames))
        sops = frozenset(str(f.header.get("SOPInstanceUID", "")) for f in st.frames)
        out.append(StackSummary(i, len(loader.stacks), st.label, len(st.frames), st.shape, paths, sops))
    return out


def load_stack(source: Source, stack: int = 0, *, progress: ProgressCallback | None = None,
               cancel: CancelToken | None = None) -> tuple[Volume, list[StackSummary]]:
    """Stack ``stack`` of a series (clamped to the last one) and what every stack of it is.

    A series may hold several stacks (a localizer, echoes, phases, PA and lateral views); the
    viewer opens one and offers the others, so it needs their list with the volume, from one
    pass over the headers.
    """
    if isinstance(source, Iterable) and not isinstance(source, str | os.PathLike):
        source = list(source)
    loader = SeriesLoader(source, progress=progress, cancel=cancel)
    stack = max(0, min(stack, len(loader.stacks) - 1))
    return loader.load(stack, progress=progress, cancel=cancel), summarize_stacks(loader)
