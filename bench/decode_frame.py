#!/usr/bin/env python3
"""Time every installed pydicom decoding plugin on one frame of each transfer syntax.

The numbers choose ``viewer.core.codecs.PREFERRED_PLUGINS``: per syntax, the fastest plugin that
decodes the frames to the same values as the others. Frames come from a synthetic 512x512 CT
series of ``../shared/bench/make_series.py`` (``--slices`` slices, generated into a temporary
folder; every slice is decoded, so content varies like a real series) plus the real images of
``../shared/data/transfer-syntaxes-orthanc`` for the syntaxes the generator does not write.

    .venv/bin/python bench/decode_frame.py [--slices 20] [--repeat 5]

Prints one line per (syntax, plugin): the median over ``--repeat`` runs of the mean milliseconds
per frame, and whether the result equals the first plugin's. Single-threaded, so that it can
share the machine; the ``viewer.core.decode`` line is the whole Lightbox path (plugin order,
shape checks), to show its overhead over the fastest plugin.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pydicom
from pydicom.pixels.decoders.base import get_decoder

from viewer.core.codecs import install_extra_plugins, plugin_order
from viewer.core.decode import decode_frame

SHARED = Path(__file__).resolve().parent.parent.parent / "shared"
ORTHANC = SHARED / "data" / "transfer-syntaxes-orthanc"


def sample_series(workdir: Path, slices: int) -> list[list[Path]]:
    """One synthetic CT series per syntax, then one real file for each other syntax."""
    subprocess.run(
        [sys.executable, str(SHARED / "bench" / "make_series.py"), "--out", str(workdir), "--slices", str(slices),
         "--syntax", "all"],
        check=True, capture_output=True,
    )
    series = [sorted((workdir / name).iterdir()) for name in ("evle", "rle", "jpll", "jls", "j2k")]
    for uid in ("1.2.840.10008.1.2.4.50", "1.2.840.10008.1.2.4.57", "1.2.840.10008.1.2.4.81",
                "1.2.840.10008.1.2.4.91", "1.2.840.10008.1.2.4.51"):
        series.append([ORTHANC / f"{uid}.dcm"])
    return series


def time_decoding(datasets: list[pydicom.Dataset], decode: Callable[[pydicom.Dataset], np.ndarray],
                  repeat: int) -> tuple[float, list[np.ndarray]]:
    """Median over ``repeat`` runs of the mean ms per frame; the arrays of the first run."""
    arrays = [decode(ds) for ds in datasets]
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        for ds in datasets:
            decode(ds)
        times.append((time.perf_counter() - t0) / len(datasets))
    return statistics.median(times) * 1000, arrays


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--slices", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    install_extra_plugins()
    with tempfile.TemporaryDirectory() as tmp:
        for paths in sample_series(Path(tmp), args.slices):
            datasets = [pydicom.dcmread(p) for p in paths]
            ds = datasets[0]
            uid = ds.file_meta.TransferSyntaxUID
            decoder = get_decoder(uid)
            size = f"{ds.Rows}x{ds.Columns}x{ds.get('SamplesPerPixel', 1)} {ds.BitsStored}-bit, {len(paths)} frame(s)"
            print(f"{uid.name} ({uid}), {size}; Lightbox order: {', '.join(plugin_order(uid)) or 'native'}")
            plugins = decoder.available_plugins if not decoder.is_native else ("",)
            reference = None
            for plugin in plugins:
                try:
                    def decode_with(d: pydicom.Dataset, p: str = plugin, dec=decoder) -> np.ndarray:
                        return dec.as_array(d, index=0, decoding_plugin=p)[0]

                    ms, arrays = time_decoding(datasets, decode_with, args.repeat)
                except Exception as exc:
                    print(f"    {plugin or 'native':<16} fails: {str(exc).splitlines()[-1].strip()}")
                    continue
                if reference is None:
                    same = "reference"
                    reference = arrays
                elif all(np.array_equal(a, b) for a, b in zip(arrays, reference, strict=True)):
                    same = "same values"
                else:
                    worst = max(np.abs(a.astype(float) - b).max() for a, b in zip(arrays, reference, strict=True))
                    same = f"DIFFERS (max |d| = {worst:g})"
                print(f"    {plugin or 'native':<16} {ms:8.2f} ms/frame  {same}")
            ms, _ = time_decoding(datasets, lambda d: decode_frame(d, 0), args.repeat)
            print(f"    {'viewer.core.decode':<16} {ms:8.2f} ms/frame")


if __name__ == "__main__":
    main()
