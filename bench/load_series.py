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


def summary(results: dict[str, dict], firsts: dict[str, dict]) -> str:
    lines = [
        "| syntax | ours s | ours CPU s | result | best peer (s) | ratio vs best peer | ratio vs each peer "
        "| × floor/2 | peak ΔMB (× volume) | first slice s |",
        "|---|---:|---:|---|---|---:|---|---:|---:|---:|",
    ]
    for syntax, data in results.items():
        rows = {r["loader"]: r for r in data["rows"]}
        ours = rows.get(OURS, {})
        if "wall_s" not in ours:
            lines.append(f"| {syntax} | {ours.get('status', 'missing')} | | | | | | | | |")
            continue
        peers = {n: r for n, r in rows.items() if not n.startswith(("raw-", "extra:")) and "wall_s" in r}
        best = min(peers.items(), key=lambda kv: kv[1]["wall_s"]) if peers else ("-", {"wall_s": float("nan")})
        each = ", ".join(f"{n} {r['wall_s'] / ours['wall_s']:.1f}x" for n, r in
                         sorted(peers.items(), key=lambda kv: kv[1]["wall_s"]))
        floor2 = data["info"].get("floor_2core_s")
        volume_mb = data["info"]["pixel_bytes"] / 2**20
        first = firsts.get(syntax, {})
        lines.append(
            f"| {syntax} | {ours['wall_s']:.3f} | {ours['cpu_s']:.2f} | {ours['status']} "
            f"| {best[0]} ({best[1]['wall_s']:.3f}) | {best[1]['wall_s'] / ours['wall_s']:.2f}x | {each} "
            f"| {ours['wall_s'] / floor2 if floor2 else float('nan'):.2f} "
            f"| {ours.get('peak_dmb', float('nan')):.0f} ({ours.get('peak_dmb', 0) / volume_mb:.2f}) "
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
    a = ap.parse_args(argv)
    syntaxes = SYNTAXES if a.syntax == "all" else a.syntax.split(",")
    out = Path(a.out)
    series_root = out / f"ct{a.slices}"
    out.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))

    missing = [s for s in syntaxes if not (series_root / s).is_dir()]
    if missing:
        run([a.python, str(SHARED_BENCH / "make_series.py"), "--out", str(series_root), "--slices",
             str(a.slices), "--syntax", ",".join(missing)], env)

    results: dict[str, dict] = {}
    firsts: dict[str, dict] = {}
    report = out / "report.md"
    report.write_text(f"# load_series: {a.slices} slices, {time.strftime('%Y-%m-%d %H:%M:%S %Z')}\n")
    for syntax in syntaxes:
        folder = series_root / syntax
        js = out / f"{syntax}.json"
        cmd = [a.python, str(SHARED_BENCH / "peers.py"), str(folder), "--extra", EXTRA, "--json", str(js),
               "--md", str(report), "--runs", str(a.runs), "--loaders", a.loaders]
        if a.wait_quiet:
            cmd += ["--wait-quiet", str(a.wait_quiet)]
        print(run(cmd, env).stdout, flush=True)
        results[syntax] = json.loads(js.read_text())
        firsts[syntax] = first_slice(a.python, folder, env)
        print(f"first slice {syntax}: {firsts[syntax]}", flush=True)
    table = summary(results, firsts)
    with report.open("a") as f:
        f.write("\n## Summary (ratio = peer wall time / ours)\n\n" + table + "\n")
    print("\n## Summary (ratio = peer wall time / ours)\n")
    print(table)


if __name__ == "__main__":
    main()
