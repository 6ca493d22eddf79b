#!/usr/bin/env python3
"""Time every installed pydicom decoding plugin on one frame of each transfer syntax.

The numbers choose ``viewer.core.codecs.PREFERRED_PLUGINS``: per syntax, the fastest plugin that
decodes the frame to the same values as the others. Frames come from the synthetic 512x512 CT
of ``../shared/bench/make_series.py`` (generated into a temporary folder) plus the real images of
``../shared/data/transfer-syntaxes-orthanc`` for the syntaxes the generator does not write.

    .venv/bin/python bench/decode_frame.py [--repeat 15]

Prints one line per (syntax, plugin): median milliseconds per frame and whether the result equals
the first plugin's. Runs single-threaded so that it can share the machine.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pydicom
from pydicom.pixels.decoders.base import get_decoder

from viewer.core.codecs import PREFERRED_PLUGINS, install_extra_plugins

SHARED = Path(__file__).resolve().parent.parent.parent / "shared"
ORTHANC = SHARED / "data" / "transfer-syntaxes-orthanc"


def sample_files(workdir: Path) -> list[Path]:
    """One 512x512 CT slice per syntax from the generator, then the real files of other syntaxes."""
    subprocess.run(
        [sys.executable, str(SHARED / "bench" / "make_series.py"), "--out", str(workdir), "--slices", "2",
         "--syntax", "all"],
        check=True, capture_output=True,
    )
    files = [sorted((workdir / name).iterdir())[0] for name in ("evle", "rle", "jpll", "jls", "j2k")]
    for uid in ("1.2.840.10008.1.2.4.50", "1.2.840.10008.1.2.4.57", "1.2.840.10008.1.2.4.81",
                "1.2.840.10008.1.2.4.91", "1.2.840.10008.1.2.4.51"):
        files.append(ORTHANC / f"{uid}.dcm")
    return files


def time_plugin(ds: pydicom.Dataset, plugin: str, repeat: int) -> tuple[float, np.ndarray]:
    decoder = get_decoder(ds.file_meta.TransferSyntaxUID)
    arr, _ = decoder.as_array(ds, index=0, decoding_plugin=plugin)
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        decoder.as_array(ds, index=0, decoding_plugin=plugin)
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1000, arr


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=15)
    args = parser.parse_args()
    install_extra_plugins()
    with tempfile.TemporaryDirectory() as tmp:
        for path in sample_files(Path(tmp)):
            ds = pydicom.dcmread(path)
            uid = ds.file_meta.TransferSyntaxUID
            decoder = get_decoder(uid)
            size = f"{ds.Rows}x{ds.Columns}x{ds.get('SamplesPerPixel', 1)} {ds.BitsStored}-bit"
            print(f"{uid.name} ({uid}), {size}, preferred: {PREFERRED_PLUGINS.get(uid, ('native',))[0]}")
            plugins = decoder.available_plugins if not decoder.is_native else ("",)
            reference = None
            for plugin in plugins:
                try:
                    ms, arr = time_plugin(ds, plugin, args.repeat)
                except Exception as exc:
                    print(f"    {plugin or 'native':<10} fails: {str(exc).splitlines()[-1].strip()}")
                    continue
                same = "reference" if reference is None else (
                    "same values" if np.array_equal(arr, reference) else
                    f"DIFFERS (max |d| = {np.abs(arr.astype(float) - reference).max():g})")
                reference = arr if reference is None else reference
                print(f"    {plugin or 'native':<10} {ms:8.2f} ms/frame  {same}")


if __name__ == "__main__":
    main()
