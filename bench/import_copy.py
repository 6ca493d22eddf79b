#!/usr/bin/env python3
"""Copy-mode import of a 400-slice series against ``cp -r`` of the same files, same run.

    .venv/bin/python bench/import_copy.py [FOLDER] [--runs 3]

FOLDER defaults to a 400-slice synthetic CT (Explicit VR LE, 512x512, ~210 MB) written once by
../shared/bench/make_series.py into /tmp/lightbox-bench/ct400/evle. Source files are warm in
the page cache (untimed warm-up); destinations are on the same file system and removed
between runs (untimed). Target of issue 4: lightbox-import within 1.5x of cp -r.

Rows:
  cp -r              coreutils copy of the folder (no fsync)
  cp -r + sync       the same, then ``sync`` of that file system (what durability costs)
  lightbox-import    Store.open(new home).import_paths([FOLDER]): headers read once per file on
                     the import thread; each batch (25, 50, then 100 files) copied by 8 writer
                     threads (temp file, sendfile, rename; no per-file fsync), made durable by
                     one syncfs(2) of the cache's file system plus an fsync of each folder,
                     then indexed in one transaction while the next batch is written
  lightbox-cli       ``python -m viewer --home NEW import FOLDER`` in a fresh process
  lightbox-no-fsync  lightbox-import with syncfs, fdatasync and folder fsyncs switched off in
                     this process: NOT a mode Lightbox offers (a power cut could then leave
                     indexed files empty); shown to separate the cost of durability from the
                     cost of the importer

The "vs cp -r + sync" column compares like with like: ``cp -r`` leaves its data in the page
cache, Lightbox does not index a file before it is on disk. Profile (cProfile, 400 files):
syncfs is ~40% of lightbox-import's wall time, header reading ~35%, the index ~8%; the
writer thread count (2, 4 or 8) changes nothing measurable; a separate committer thread
overlapping syncfs with header reading gained nothing either (2 cores, disk-bound).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from index import ForeignLoad, ensure_series, wait_quiet


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("folder", nargs="?", type=Path)
    ap.add_argument("--slices", type=int, default=400, help="size of the generated series (no FOLDER)")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--wait-quiet", type=float, default=0.0, metavar="S",
                    help="before each timed run, wait up to S seconds for other processes to go quiet")
    args = ap.parse_args(argv)

    from viewer.store import Store

    folder = ensure_series(args.folder, args.slices).resolve()
    n = sum(1 for _ in folder.iterdir())
    size = sum(p.stat().st_size for p in folder.iterdir())
    work = Path(tempfile.mkdtemp(prefix="lightbox-bench-copy-", dir=folder.parent))

    def cp() -> None:
        subprocess.run(["cp", "-r", str(folder), str(work / "cp")], check=True)

    def cp_sync() -> None:
        subprocess.run(["cp", "-r", str(folder), str(work / "cp")], check=True)
        subprocess.run(["sync", "-f", str(work / "cp")], check=True)

    def lightbox() -> None:
        with Store.open(work / "home") as store:
            report = store.import_paths([folder])
        assert report.imported == n, report

    def cli() -> None:
        subprocess.run([sys.executable, "-m", "viewer", "--home", str(work / "home"), "import", str(folder),
                        "--json"], check=True, stdout=subprocess.DEVNULL)

    def lightbox_no_fsync() -> None:
        from viewer.store import layout, store

        saved = layout._datasync, store._datasync, store.fsync_dir, store._syncfs
        layout._datasync = store._datasync = lambda fd: None
        store.fsync_dir = lambda folder: None
        store._syncfs = lambda folder: True  # the batch's one sync: without this the row still synced
        try:
            lightbox()
        finally:
            layout._datasync, store._datasync, store.fsync_dir, store._syncfs = saved

    methods = {"cp -r": cp, "cp -r + sync": cp_sync, "lightbox-import": lightbox, "lightbox-cli": cli,
               "lightbox-no-fsync": lightbox_no_fsync}
    times: dict[str, list[float]] = {name: [] for name in methods}
    foreign: dict[str, float] = dict.fromkeys(methods, 0.0)
    try:
        for run in range(args.runs + 1):  # run 0 is the warm-up
            for name, fn in methods.items():
                subprocess.run(["sync", "-f", str(work)], check=True)  # no write-back left from before
                if run:
                    wait_quiet(args.wait_quiet)
                with ForeignLoad() as load:
                    t0 = time.perf_counter()
                    fn()
                    dt = time.perf_counter() - t0
                if run:
                    times[name].append(dt)
                    # cp and the CLI are child processes: their CPU counts as ours once reaped
                    foreign[name] = max(foreign[name], load.cores)
                for leftover in ("cp", "home"):
                    shutil.rmtree(work / leftover, ignore_errors=True)
            print(f"run {run} done", file=sys.stderr, flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    median = {k: statistics.median(v) for k, v in times.items()}
    base, synced = median["cp -r"], median["cp -r + sync"]
    print(f"\n#### Copy-mode import, {n} files ({size / 1e6:.0f} MB) from {folder} "
          f"(warm source, median of {args.runs}, {os.cpu_count()} cores)\n")
    print("| method | s | MB/s | files/s | vs cp -r | vs cp -r + sync | foreign cores (max) |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for name, seconds in median.items():
        print(f"| {name} | {seconds:.2f} | {size / 1e6 / seconds:,.0f} | {n / seconds:,.0f} | "
              f"{seconds / base:.2f}x | {seconds / synced:.2f}x | {foreign[name]:.2f} |")


if __name__ == "__main__":
    main()
