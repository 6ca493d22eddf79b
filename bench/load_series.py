#!/usr/bin/env python3
"""Benchmark: load a 400-slice CT series in every transfer syntax, beside the peers.

    python bench/load_series.py                                  # 400 slices, all syntaxes
    python bench/load_series.py --slices 100 --syntax evle,rle   # quicker
    python bench/load_series.py --python /tmp/venv-perf/bin/python --out /tmp/lb-bench

For each transfer syntax this

1. writes the series with ``../shared/bench/make_series.py`` (deterministic, skipped when
   the folder already exists);
2. runs ``../shared/bench/peers.py FOLDER --extra viewer.core.volume:load_volume`` in the
   ``--python`` interpreter (a venv with the peers installed: SimpleITK, itk-io, vtk,
   python-gdcm, pyjpegls, psutil), so our loader is timed in the same run as pydicom,
   SimpleITK, ITK, VTK, GDCM and the raw physical limits, and checked against pydicom;
3. times the first slice a viewer shows: ``SeriesLoader(folder)`` (headers + geometry) and
   ``read_slice(middle)`` in a fresh process, three times;
4. measures the true peak memory of ``load_volume`` in a fresh process (see :func:`memory`);

then prints the peers' tables and one summary table with the ratios (peer wall time / ours,
ours / (raw floor / 2 cores), peak memory / volume bytes, first-slice time).

This is a benchmark, not a test: nothing here fails on a slow machine. Results go to
``--out`` (JSON per syntax and ``report.md``).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHARED_BENCH = ROOT.parent / "shared" / "bench"
SYNTAXES = ["evle", "jpll", "jls", "j2k", "rle"]
EXTRA = "viewer.core.volume:load_volume"
OURS = "extra:viewer.core.volume:load_volume"

FIRST_SLICE = r"""
import json, sys, time
t0 = time.perf_counter()
from viewer.core.volume import SeriesLoader
t1 = time.perf_counter()
loader = SeriesLoader(sys.argv[1])
t2 = time.perf_counter()
k = loader.shape()[0] // 2
pixels = loader.read_slice(k)
t3 = time.perf_counter()
print(json.dumps({"import_s": t1 - t0, "headers_s": t2 - t1, "slice_s": t3 - t2, "first_slice_s": t3 - t1}))
"""

MEMORY = r"""
import json, os, sys, threading, time


def private_kb(pid):
    # PSS without shared memory: a volume in a shared-memory file is counted once, below
    out = 0
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Pss:"):
                    out += int(line.split()[1])
                elif line.startswith("Pss_Shmem:"):
                    out -= int(line.split()[1])
    except OSError:
        pass
    return out


def family(pid):
    kids = []
    for t in os.listdir(f"/proc/{pid}/task"):
        with open(f"/proc/{pid}/task/{t}/children") as f:
            kids += [int(x) for x in f.read().split()]
    for k in list(kids):
        kids += family(k)
    return kids


def shm_kb():
    # pages of /dev/shm files, mapped or not (workers write the volume there with pwrite)
    try:
        st = os.statvfs("/dev/shm")
    except OSError:
        return 0
    return (st.f_blocks - st.f_bfree) * st.f_frsize // 1024


def total():
    me = os.getpid()
    return private_kb(me) + sum(private_kb(k) for k in family(me)) + shm_kb()


def measure(fn):
    peak, stop = [total()], threading.Event()
    base = peak[0]

    def sample():
        while not stop.is_set():
            peak[0] = max(peak[0], total())
            time.sleep(0.005)

    t = threading.Thread(target=sample, daemon=True)
    t.start()
    volume = fn()
    stop.set()
    t.join()
    return volume, (max(peak[0], total()) - base) / 1024


if __name__ == "__main__":
    from viewer.core.volume import load_volume
    cold, cold_mb = measure(lambda: load_volume(sys.argv[1]))
    mb = cold.voxels.nbytes / 2**20
    del cold
    warm, warm_mb = measure(lambda: load_volume(sys.argv[1]))
    print(json.dumps({"volume_mb": mb, "cold_growth_mb": cold_mb, "warm_growth_mb": warm_mb,
                      "cold_peak_x": cold_mb / mb, "warm_peak_x": warm_mb / mb}))
"""


def run(cmd: list[str], env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    print("$", " ".join(cmd), file=sys.stderr, flush=True)
    return subprocess.run(cmd, env=env, check=True, text=True, stdout=subprocess.PIPE)


def first_slice(python: str, folder: Path, env: dict[str, str], repeats: int = 3) -> dict[str, float]:
    """Median over fresh processes of headers + one decoded slice (imports excluded)."""
    samples = []
    for _ in range(repeats):
        out = run([python, "-c", FIRST_SLICE, str(folder)], env).stdout.strip().splitlines()[-1]
        samples.append(json.loads(out))
    samples.sort(key=lambda s: s["first_slice_s"])
    return samples[len(samples) // 2]


def memory(python: str, folder: Path, env: dict[str, str]) -> dict[str, float]:
    """Honest peak memory of load_volume in a fresh process, as a multiple of the volume's bytes.

    Sampled every 5 ms during the load: the private memory (PSS less shared memory) of the
    process and all its children (worker processes, the forkserver) plus the pages held by
    /dev/shm files, mapped or not (worker processes write the volume there with ``pwrite``;
    counting it by file, not by mapping, counts it once and before anyone maps it). The peak
    growth over the value before the load, divided by the volume's bytes, is the figure:
    1.0 means nothing but the volume. peers.py samples PSS only, which misses shared-memory
    pages nobody has mapped yet. Two loads: the first (pool start-up included) and a second,
    warm one (what a running viewer pays). Other processes writing to /dev/shm at the same
    time would be counted too.
    """
    out = run([python, "-c", MEMORY, str(folder)], env).stdout.strip().splitlines()[-1]
    return json.loads(out)


def summary(results: dict[str, dict], firsts: dict[str, dict], mems: dict[str, dict]) -> str:
    lines = [
        "| syntax | ours s | ours CPU s | result | best peer (s) | ratio vs best peer | ratio vs each peer "
        "| × floor/2 | peers.py peak ΔMB | peak × volume (cold / warm) | first slice s |",
        "|---|---:|---:|---|---|---:|---|---:|---:|---:|---:|",
    ]
    for syntax, data in results.items():
        rows = {r["loader"]: r for r in data["rows"]}
        ours = rows.get(OURS, {})
        if "wall_s" not in ours:
            lines.append(f"| {syntax} | {ours.get('status', 'missing')} | | | | | | | | | |")
            continue
        peers = {n: r for n, r in rows.items() if not n.startswith(("raw-", "extra:")) and "wall_s" in r}
        best = min(peers.items(), key=lambda kv: kv[1]["wall_s"]) if peers else ("-", {"wall_s": float("nan")})
        each = ", ".join(f"{n} {r['wall_s'] / ours['wall_s']:.1f}x" for n, r in
                         sorted(peers.items(), key=lambda kv: kv[1]["wall_s"]))
        floor2 = data["info"].get("floor_2core_s")
        first = firsts.get(syntax, {})
        mem = mems.get(syntax, {})
        lines.append(
            f"| {syntax} | {ours['wall_s']:.3f} | {ours['cpu_s']:.2f} | {ours['status']} "
            f"| {best[0]} ({best[1]['wall_s']:.3f}) | {best[1]['wall_s'] / ours['wall_s']:.2f}x | {each} "
            f"| {ours['wall_s'] / floor2 if floor2 else float('nan'):.2f} "
            f"| {ours.get('peak_dmb', float('nan')):.0f} "
            f"| {mem.get('cold_peak_x', float('nan')):.2f} / {mem.get('warm_peak_x', float('nan')):.2f} "
            f"| {first.get('first_slice_s', float('nan')):.3f} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default="/tmp/lightbox-bench", help="series and results go here")
    ap.add_argument("--slices", type=int, default=400)
    ap.add_argument("--syntax", default="all", help="comma list of " + ",".join(SYNTAXES) + " or 'all'")
    ap.add_argument("--python", default=sys.executable,
                    help="interpreter with the peers installed (default: this one)")
    ap.add_argument("--runs", type=int, default=3, help="timed runs per loader (peers.py --runs)")
    ap.add_argument("--loaders", default="all", help="peers.py --loaders (default all)")
    ap.add_argument("--wait-quiet", type=float, default=0.0, help="peers.py --wait-quiet seconds")
    ap.add_argument("--reuse-json", action="store_true",
                    help="take the peers' results from an earlier run's OUT/<syntax>.json; only re-measure "
                         "the first slice and memory")
    a = ap.parse_args(argv)
    syntaxes = SYNTAXES if a.syntax == "all" else a.syntax.split(",")
    out = Path(a.out)
    series_root = out / f"ct{a.slices}"
    out.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))

    if a.reuse_json:
        syntaxes = [s for s in syntaxes if (out / f"{s}.json").is_file()]
    missing = [s for s in syntaxes if not (series_root / s).is_dir()]
    if missing:
        run([a.python, str(SHARED_BENCH / "make_series.py"), "--out", str(series_root), "--slices",
             str(a.slices), "--syntax", ",".join(missing)], env)

    results: dict[str, dict] = {}
    firsts: dict[str, dict] = {}
    mems: dict[str, dict] = {}
    report = out / "report.md"
    if not a.reuse_json:
        report.write_text(f"# load_series: {a.slices} slices, {time.strftime('%Y-%m-%d %H:%M:%S %Z')}\n")
    for syntax in syntaxes:
        folder = series_root / syntax
        js = out / f"{syntax}.json"
        if a.reuse_json:
            results[syntax] = json.loads(js.read_text())
            firsts[syntax] = first_slice(a.python, folder, env)
            mems[syntax] = memory(a.python, folder, env)
            print(f"{syntax}: first slice {firsts[syntax]}, memory {mems[syntax]}", flush=True)
            continue
        cmd = [a.python, str(SHARED_BENCH / "peers.py"), str(folder), "--extra", EXTRA, "--json", str(js),
               "--md", str(report), "--runs", str(a.runs), "--loaders", a.loaders]
        if a.wait_quiet:
            cmd += ["--wait-quiet", str(a.wait_quiet)]
        print(run(cmd, env).stdout, flush=True)
        results[syntax] = json.loads(js.read_text())
        firsts[syntax] = first_slice(a.python, folder, env)
        print(f"first slice {syntax}: {firsts[syntax]}", flush=True)
        mems[syntax] = memory(a.python, folder, env)
        print(f"memory {syntax}: {mems[syntax]}", flush=True)
    table = summary(results, firsts, mems)
    with report.open("a") as f:
        f.write("\n## Summary (ratio = peer wall time / ours)\n\n" + table + "\n")
    print("\n## Summary (ratio = peer wall time / ours)\n")
    print(table)


if __name__ == "__main__":
    main()
