#!/usr/bin/env python3
"""Header indexing speed: Lightbox beside the peers of ../shared/bench/index_anchors.py, same run.

    .venv/bin/python bench/index.py [FOLDER] [--runs 3] [--peers-python /tmp/venv-perf/bin/python]

FOLDER defaults to a 5,000-slice synthetic CT series (Explicit VR LE, 512x512) written once by
../shared/bench/make_series.py into /tmp/lightbox-bench/ct5000/evle. All files are read warm
(one untimed warm-up of every method first); methods are interleaved run by run so that load
from other processes hits all of them alike; the table shows the median.

Rows:
  peer:<method>          index_anchors.py methods (walk, read-4k, pydicom-tags, pydicom-4k,
                         gdcm-scanner, dcmdump-batch), run by --peers-python, which needs
                         pydicom and python-gdcm (the bench README's /tmp/venv-perf)
  lightbox-headers       viewer.store header reading alone, in the store's worker processes
                         (one per core), results back in the parent
  lightbox-index         Store.import_paths(link=True): headers + the SQLite index committed,
                         workers already running (as in the GUI, where the store stays open)
  lightbox-index-fresh   the same on a store opened for this import (new home): the worker
                         processes start during the import (the first import of a session)
  lightbox-cli           `python -m viewer --home NEW import --link FOLDER`: a fresh process,
                         Python and worker start-up included
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHARED_BENCH = ROOT.parent / "shared" / "bench"
PEER_METHODS = ["walk", "read-4k", "pydicom-tags", "pydicom-4k", "gdcm-scanner", "dcmdump-batch"]

# Runs inside --peers-python: times the requested index_anchors methods, one run each.
PEER_SNIPPET = """
import json, sys, time
sys.path.insert(0, sys.argv[1])
import index_anchors as ia
from peers import list_files
folder, methods = sys.argv[2], sys.argv[3].split(",")
files = list_files(folder)
out = {}
for m in methods:
    t0 = time.perf_counter()
    ia.METHODS[m](folder, files)
    out[m] = time.perf_counter() - t0
print(json.dumps({"files": len(files), "seconds": out}))
"""


def _busy_all() -> float:
    """Machine-wide busy CPU seconds (all cores), from /proc/stat (Linux)."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    idle = v[3] + (v[4] if len(v) > 4 else 0)
    return (sum(v[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def _own_cpu() -> float:
    """CPU seconds of this process, its reaped children, and its live children (the store's
    header workers live as long as the store)."""
    t = os.times()
    total = t.user + t.system + t.children_user + t.children_system
    hz = os.sysconf("SC_CLK_TCK")
    pending = _children(os.getpid())
    while pending:
        pid = pending.pop()
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / hz  # utime, stime
        except OSError:
            continue
        pending += _children(pid)
    return total


def _children(pid: int) -> list[int]:
    out: list[int] = []
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children") as f:
                out += [int(c) for c in f.read().split()]
    except OSError:
        pass
    return out


class ForeignLoad:
    """Cores used by other processes during a timed block (>0.3 makes a timing suspect)."""

    def __enter__(self) -> ForeignLoad:
        self.t0, self.b0, self.c0 = time.perf_counter(), _busy_all(), _own_cpu()
        return self

    def __exit__(self, *exc: object) -> None:
        dt = time.perf_counter() - self.t0
        self.cores = max(0.0, (_busy_all() - self.b0) - (_own_cpu() - self.c0)) / dt


def wait_quiet(limit_s: float, threshold: float = 0.15) -> None:
    """Wait (at most ``limit_s``) until other processes use less than ``threshold`` cores."""
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        with ForeignLoad() as load:
            time.sleep(0.5)
        if load.cores < threshold:
            return


def ensure_series(folder: Path | None, slices: int) -> Path:
    if folder is not None:
        return folder
    out = Path(tempfile.gettempdir()) / "lightbox-bench" / f"ct{slices}"
    evle = out / "evle"
    if not evle.is_dir() or len(os.listdir(evle)) != slices:
        print(f"generating {slices} slices into {evle} ...", file=sys.stderr, flush=True)
        subprocess.run([sys.executable, str(SHARED_BENCH / "make_series.py"), "--out", str(out), "--slices",
                        str(slices), "--syntax", "evle", "--jobs", "2", "--force"], check=True)
    return evle


def peers_once(python: str, folder: Path, methods: list[str]) -> dict[str, float]:
    proc = subprocess.run([python, "-c", PEER_SNIPPET, str(SHARED_BENCH), str(folder), ",".join(methods)],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"peer run failed:\n{proc.stderr}")
    return json.loads(proc.stdout.splitlines()[-1])["seconds"]


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("folder", nargs="?", type=Path)
    ap.add_argument("--slices", type=int, default=5000, help="size of the generated series (no FOLDER)")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--peers-python", default="/tmp/venv-perf/bin/python")
    ap.add_argument("--peers", default=",".join(PEER_METHODS), help="index_anchors methods to run")
    ap.add_argument("--json", type=Path, help="write the raw timings here")
    ap.add_argument("--wait-quiet", type=float, default=0.0, metavar="S",
                    help="before each timed run, wait up to S seconds for other processes to go quiet")
    args = ap.parse_args(argv)

    from viewer.store import Store
    from viewer.store.importer import CHUNK, worker_count
    from viewer.store.sources import walk

    folder = ensure_series(args.folder, args.slices).resolve()
    files = [str(p) for p in walk(folder)]
    n = len(files)
    peers = [m for m in args.peers.split(",") if m]
    if peers and not Path(args.peers_python).exists():
        print(f"no {args.peers_python}: peers skipped (see ../shared/bench/README.md)", file=sys.stderr)
        peers = []
    work = Path(tempfile.mkdtemp(prefix="lightbox-bench-index-"))
    store = Store.open(work / "home")
    chunks = [files[i:i + CHUNK] for i in range(0, n, CHUNK)]

    def headers_only() -> None:
        with store._header_workers(worker_count()) as pool:
            assert pool is not None
            assert sum(len(r) for r in pool.map(chunks)) == n

    def index_committed() -> None:
        report = store.import_paths([folder], link=True)
        assert report.imported == n, report

    def index_fresh() -> None:
        home = work / f"fresh-{time.monotonic_ns()}"
        with Store.open(home) as fresh:
            report = fresh.import_paths([folder], link=True)
        assert report.imported == n, report
        shutil.rmtree(home)

    def cli() -> None:
        home = work / f"cli-{time.monotonic_ns()}"
        subprocess.run([sys.executable, "-m", "viewer", "--home", str(home), "import", "--link", str(folder),
                        "--json"], check=True, stdout=subprocess.DEVNULL)
        shutil.rmtree(home)

    def reset() -> None:  # untimed: empty the index for the next lightbox-index run
        for study in store.studies():
            store.delete_study(study.study_uid)

    ours = {"lightbox-headers": headers_only, "lightbox-index": index_committed,
            "lightbox-index-fresh": index_fresh, "lightbox-cli": cli}
    times: dict[str, list[float]] = {name: [] for name in [*(f"peer:{m}" for m in peers), *ours]}
    foreign: dict[str, float] = dict.fromkeys(times, 0.0)
    try:
        for run in range(args.runs + 1):  # run 0 is the warm-up
            if peers:
                for m in peers:  # one process per method, so each gets its own foreign-load reading
                    if run:
                        wait_quiet(args.wait_quiet)
                    with ForeignLoad() as load:  # the peer process is reaped: its CPU counts as ours
                        seconds = peers_once(args.peers_python, folder, [m])[m]
                    if run:
                        times[f"peer:{m}"].append(seconds)
                        foreign[f"peer:{m}"] = max(foreign[f"peer:{m}"], load.cores)
            for name, fn in ours.items():
                if run:
                    wait_quiet(args.wait_quiet)
                with ForeignLoad() as load:
                    t0 = time.perf_counter()
                    fn()
                    dt = time.perf_counter() - t0
                if run:
                    times[name].append(dt)
                    foreign[name] = max(foreign[name], load.cores)
                if name == "lightbox-index":
                    reset()
            print(f"run {run} done", file=sys.stderr, flush=True)
    finally:
        store.close()
        shutil.rmtree(work, ignore_errors=True)

    median = {k: statistics.median(v) for k, v in times.items()}
    gdcm = median.get("peer:gdcm-scanner")
    print(f"\n#### Header indexing, {n} files in {folder} (warm, median of {args.runs}, "
          f"{worker_count()} cores)\n")
    print("| method | files/s | µs/file | vs gdcm-scanner | foreign cores (max) |")
    print("|---|---:|---:|---:|---:|")
    for name, seconds in median.items():
        ratio = f"{gdcm / seconds:.2f}x" if gdcm else "-"
        print(f"| {name} | {n / seconds:,.0f} | {1e6 * seconds / n:.1f} | {ratio} | {max(0.0, foreign[name]):.2f} |")
    if args.json:
        args.json.write_text(json.dumps({"files": n, "folder": str(folder), "times": times}, indent=1))


if __name__ == "__main__":
    main()
