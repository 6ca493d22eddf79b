#!/usr/bin/env python3
"""Benchmark: retrieve a 400-image CT series from a real Orthanc, Lightbox beside DCMTK.

    .venv/bin/python bench/retrieve.py                      # 400 slices, 3 timed runs each
    .venv/bin/python bench/retrieve.py --slices 100 --runs 1

Same server, same series, same run, one tool at a time:

* DCMTK ``getscu -od DIR`` and ``movescu`` to a DCMTK ``storescp`` (both write files), each
  with its defaults and with ``TCP_NODELAY=1`` in the environment. DCMTK 3.6.7 leaves Nagle's
  algorithm on unless told otherwise, which costs ~45 ms per instance on loopback here; the
  ratios are taken against the faster, ``TCP_NODELAY=1`` configuration;
* Lightbox C-GET and C-MOVE into a folder (``FolderSink``: the network path alone) and into
  a fresh cache (``retrieve_to_cache``: the received bytes written by a ``CacheSink`` and
  indexed in batches by the store's ``Receiver``, what the app does; timed until indexed).

The series comes from ``../shared/bench/make_series.py`` (Explicit VR Little Endian,
512x512 int16, ~0.5 MB a slice); Orthanc and storescp come from ``../shared/pacs``. Each
tool gets one warm-up run (page cache, Orthanc's index) and ``--runs`` timed runs; the table
shows the median and the throughput ratio to the matching DCMTK tool (>1 = faster).
Every run is checked: all slices arrived (and, for the cache, are indexed).

Measured 2026-11-22 on the shared 2-core box (other jobs running: load average 1.1-1.7),
400 images / 211 MB, three invocations of this script (each the median of 3 timed runs):

    invocation                               1       2       3     median ratio
    DCMTK getscu, TCP_NODELAY=1            3.25 s  3.30 s  2.34 s
    DCMTK movescu+storescp, TCP_NODELAY=1  3.04 s  2.34 s  2.20 s
    Lightbox C-GET  -> folder              2.17 s  2.00 s  1.96 s   1.50x
    Lightbox C-MOVE -> folder              2.55 s  2.31 s  2.41 s   1.01x
    Lightbox C-GET  -> cache (indexed)     2.32 s  2.31 s  2.34 s   1.40x  (1.40 1.43 1.00)
    Lightbox C-MOVE -> cache (indexed)     3.40 s  2.62 s  2.72 s   0.89x  (0.89 0.90 0.81)
    (DCMTK with its defaults, Nagle on: ~20 s for both tools, ~50 ms per instance)

Before the cache path took the received bytes as they are it measured 0.40x (C-GET) and
0.60x (C-MOVE): ``Store.add_dataset`` re-encoded every data set in Python (~3 ms) and
committed, journalled and fdatasync'ed each instance on its own. Now ``CacheSink`` hands the
peer's bytes behind a directly encoded File Meta header to ``Store.receiver``, which writes
the file before the C-STORE answer and indexes in batches with one syncfs per batch. What
is left between folder and cache (~0.3 s per 400 images) is mostly that durability: the
folder sinks, getscu and storescp leave 211 MB in the page cache, the cache writes it to the
disk before it indexes it. DCMTK's spread is wide on this box (movescu runs 0.69-3.52 s),
and our client uses ~4x DCMTK's CPU (pynetdicom's Python PDU/DIMSE handling, ~2 ms an
instance), so on an idle machine DCMTK's best runs are faster.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import pydicom

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
sys.path.insert(0, str(ROOT))

from viewer.net import LocalSettings, RemoteNode, StorageSCP, retrieve  # noqa: E402
from viewer.net.sink import FolderSink  # noqa: E402
from viewer.services.network import retrieve_to_cache  # noqa: E402
from viewer.store import Store  # noqa: E402


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def sh(*args: object, env: dict[str, str] | None = None) -> str:
    run = subprocess.run([str(a) for a in args], capture_output=True, text=True, env=env)
    if run.returncode != 0:
        raise SystemExit(f"failed: {' '.join(map(str, args))}\n{run.stdout}\n{run.stderr}")
    return run.stdout


def _cpu(*daemons: Path) -> float:
    """CPU seconds of this process, its finished children (the DCMTK tools) and running storescps."""
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    total = me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime
    for pid_file in daemons:
        fields = Path(f"/proc/{pid_file.read_text().strip()}/stat").read_text().rpartition(")")[2].split()
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime, stime
    return total


def read_env(path: Path) -> dict[str, str]:
    return dict(line.split("=", 1) for line in path.read_text().split() if "=" in line)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--slices", type=int, default=400)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--series", type=Path, help="use this folder instead of generating one")
    ap.add_argument("--work", type=Path, help="working folder (default: a temporary one, removed)")
    args = ap.parse_args()

    work = args.work or Path(tempfile.mkdtemp(prefix="lb-bench-retrieve-"))
    work.mkdir(parents=True, exist_ok=True)
    pacs = SHARED / "pacs"
    series_dir = args.series
    if series_dir is None:
        sh(
            sys.executable,
            SHARED / "bench" / "make_series.py",
            "--out",
            work / "ct",
            "--slices",
            args.slices,
            "--syntax",
            "evle",
        )
        series_dir = work / "ct" / "evle"
    files = sorted(p for p in series_dir.iterdir() if p.suffix == ".dcm" or p.name[0].isdigit())
    first = pydicom.dcmread(files[0], stop_before_pixels=True)
    study, series = str(first.StudyInstanceUID), str(first.SeriesInstanceUID)
    count = len(files)
    mbytes = sum(p.stat().st_size for p in files) / 1e6

    viewer_port, dcmtk_port, fast_port = free_port(), free_port(), free_port()
    env = dict(
        os.environ,
        VIEWER_AET="LIGHTBOX",
        VIEWER_PORT=str(viewer_port),
        PACS_EXTRA_MODALITIES=f"DCMTKRECV@{dcmtk_port} DCMTKFAST@{fast_port}",
    )
    env.pop("TCP_NODELAY", None)
    nodelay = dict(env, TCP_NODELAY="1")
    orthanc_dir, recv_dir, fast_dir = work / "orthanc", work / "storescp", work / "storescp-nodelay"
    try:
        sh(pacs / "orthanc-up", orthanc_dir, "auto", "auto", "ORTHANC", env=env)
        sh(pacs / "orthanc-load", orthanc_dir, series_dir, env=env)
        sh(pacs / "storescp-up", recv_dir, dcmtk_port, "DCMTKRECV", env=env)
        sh(pacs / "storescp-up", fast_dir, fast_port, "DCMTKFAST", env=nodelay)
        cfg = read_env(orthanc_dir / "pacs.env")
        port = int(cfg["PACS_DICOM_PORT"])
        node = RemoteNode("orthanc", "ORTHANC", "127.0.0.1", port, dimse_timeout=120)
        local = LocalSettings(ae_title="LIGHTBOX", port=viewer_port, bind_host="127.0.0.1")
        keys = [
            "-k",
            "QueryRetrieveLevel=SERIES",
            "-k",
            f"StudyInstanceUID={study}",
            "-k",
            f"SeriesInstanceUID={series}",
        ]

        def fresh(name: str) -> Path:
            d = work / "out" / name
            shutil.rmtree(d, ignore_errors=True)
            d.mkdir(parents=True)
            return d

        def getscu(tool_env: dict[str, str]) -> Callable[[], None]:
            def run() -> None:
                out = fresh("getscu")
                sh(
                    "getscu",
                    "-S",
                    "-aet",
                    "LIGHTBOX",
                    "-aec",
                    "ORTHANC",
                    "127.0.0.1",
                    port,
                    "-od",
                    out,
                    *keys,
                    env=tool_env,
                )
                assert len(list(out.iterdir())) == count, "getscu: missing files"

            return run

        def movescu(dest: str, folder: Path, tool_env: dict[str, str]) -> Callable[[], None]:
            incoming = folder / "incoming"

            def run() -> None:
                for p in incoming.iterdir():
                    p.unlink()
                sh(
                    "movescu",
                    "-S",
                    "-aet",
                    "LIGHTBOX",
                    "-aec",
                    "ORTHANC",
                    "-aem",
                    dest,
                    "127.0.0.1",
                    port,
                    *keys,
                    env=tool_env,
                )
                assert len(list(incoming.iterdir())) == count, "movescu: missing files"

            return run

        scp_holder: dict[str, StorageSCP] = {}

        def ours(method: str, cache: bool) -> Callable[[], None]:
            def run() -> None:
                out = fresh(f"lb-{method}-{'cache' if cache else 'folder'}")
                store = Store.open(out / "home") if cache else None
                try:
                    scp = scp_holder.get("scp") if method == "move" else None
                    if store is not None:  # what the app does: retrieve_to_cache with a CacheSink
                        report = retrieve_to_cache(store, node, study, series, method=method, local=local, scp=scp)
                        assert len(store.instances(series)) == count, "not all indexed"
                    else:
                        report = retrieve(node, study, series, method=method, sink=FolderSink(out), local=local,
                                          scp=scp)
                    assert report.ok and report.received == count, report.summary()
                finally:
                    if store is not None:
                        store.close()

            return run

        # Like storescp, our SCP listens for the whole run instead of starting per retrieve.
        scp = StorageSCP(local, FolderSink(work / "out" / "unrouted"))
        scp.start()
        scp_holder["scp"] = scp
        get_peer, move_peer = "DCMTK getscu, TCP_NODELAY=1", "DCMTK movescu+storescp, TCP_NODELAY=1"
        tools: list[tuple[str, Callable[[], None], str]] = [
            ("DCMTK getscu, defaults", getscu(env), ""),
            ("DCMTK movescu+storescp, defaults", movescu("DCMTKRECV", recv_dir, env), ""),
            (get_peer, getscu(nodelay), ""),
            (move_peer, movescu("DCMTKFAST", fast_dir, nodelay), ""),
            ("Lightbox C-GET -> folder", ours("get", False), get_peer),
            ("Lightbox C-MOVE -> folder", ours("move", False), move_peer),
            ("Lightbox C-GET -> cache (indexed)", ours("get", True), get_peer),
            ("Lightbox C-MOVE -> cache (indexed)", ours("move", True), move_peer),
        ]
        times: dict[str, list[float]] = {name: [] for name, _, _ in tools}
        for _name, fn, _ in tools:
            fn()  # warm-up
        cpu: dict[str, list[float]] = {name: [] for name, _, _ in tools}
        for _ in range(args.runs):  # interleaved, so drifting machine load hits every tool alike
            for name, fn, _ in tools:
                daemons = [recv_dir / "storescp.pid", fast_dir / "storescp.pid"]
                start, c0 = time.perf_counter(), _cpu(*daemons)
                fn()
                times[name].append(time.perf_counter() - start)
                cpu[name].append(_cpu(*daemons) - c0)
        scp.stop()

        print(
            f"series: {count} images, {mbytes:.0f} MB, Explicit VR LE; Orthanc 1.10 on loopback; "
            f"{args.runs} timed runs (median); load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores"
        )
        print(f"{'tool':40s} {'median s':>9s} {'img/s':>7s} {'MB/s':>7s} {'vs DCMTK':>9s} {'CPU s':>6s}   runs")
        medians = {name: statistics.median(t) for name, t in times.items()}
        for name, _, peer in tools:
            m = medians[name]
            ratio = f"{medians[peer] / m:8.2f}x" if peer else f"{'-':>9s}"
            runs = " ".join(f"{t:.2f}" for t in times[name])
            c = statistics.median(cpu[name])
            print(f"{name:40s} {m:9.2f} {count / m:7.0f} {mbytes / m:7.1f} {ratio} {c:6.2f}   {runs}")
        print("CPU s = client-side CPU (this process, or the DCMTK tool and its storescp), not Orthanc's")
    finally:
        subprocess.run([str(pacs / "storescp-down"), str(recv_dir)], capture_output=True)
        subprocess.run([str(pacs / "storescp-down"), str(fast_dir)], capture_output=True)
        subprocess.run([str(pacs / "orthanc-down"), str(orthanc_dir)], capture_output=True)
        if args.work is None:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
