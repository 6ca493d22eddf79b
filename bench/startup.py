"""Start-up time of the app to a usable main window: empty cache and 10,000 instances indexed.

    .venv/bin/python bench/startup.py [--instances 10000] [--runs 3]

Each run is a fresh interpreter (imports included, as a user's double-click pays them) that
builds the main window on the home, shows it and waits until it is exposed and the study
browser has its rows; printed beside the issue's targets (2 s empty, 3 s with 10,000).
Runs offscreen (no display needed). Not a test: shared machines are noisy.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PROBE = r"""
import os, sys, time
t0 = time.perf_counter()
from PySide6.QtWidgets import QApplication
from viewer.store import Store
from viewer.ui.main_window import MainWindow
from viewer.ui.theme import apply_theme
app = QApplication([])
apply_theme(app)
home = sys.argv[1]
store = Store.open(home)
win = MainWindow(store, home)
win.show()
while win.windowHandle() is None or not win.windowHandle().isExposed():
    app.processEvents()
app.processEvents()
rows = win.browser.model.rowCount()
print(f"{time.perf_counter() - t0:.3f} {rows}")
win.close(); store.close()
"""


def fill(home: Path, count: int) -> None:
    """Index ``count`` tiny synthetic instances: 100 patients x studies of 50 instances."""
    import numpy as np
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, generate_uid

    from viewer.store import Store

    store = Store.open(home)
    per_study = 50
    for s in range(count // per_study):
        study, series = generate_uid(), generate_uid()
        for i in range(per_study):
            ds = Dataset()
            ds.file_meta = FileMetaDataset()
            ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
            ds.file_meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.2"
            ds.SOPClassUID = "1.2.840.10008.5.1.4.1.1.2"
            ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
            ds.PatientName, ds.PatientID = f"BENCH^{s % 100:03d}", f"B{s % 100:03d}"
            ds.StudyInstanceUID, ds.SeriesInstanceUID = study, series
            ds.StudyDate, ds.Modality, ds.InstanceNumber = f"2020{1 + s % 12:02d}15", "CT", i + 1
            ds.Rows = ds.Columns = 8
            ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 1
            ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
            ds.PixelData = np.zeros((8, 8), np.int16).tobytes()
            store.add_dataset(ds, source="bench")
    store.close()


def time_startup(home: Path, runs: int) -> tuple[float, int]:
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", VTK_DEFAULT_OPENGL_WINDOW="vtkOSOpenGLRenderWindow")
    env.pop("DISPLAY", None)
    times, rows = [], 0
    for _ in range(runs):
        start = time.perf_counter()
        out = subprocess.run([sys.executable, "-c", PROBE, str(home)], env=env, capture_output=True, text=True,
                             check=True)
        wall = time.perf_counter() - start
        _inner, rows = out.stdout.split()[-2:]
        times.append(wall)
    return statistics.median(times), int(rows)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--instances", type=int, default=10_000)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        empty, full = Path(tmp) / "empty", Path(tmp) / "full"
        t_empty, _ = time_startup(empty, args.runs)
        t0 = time.perf_counter()
        fill(full, args.instances)
        print(f"indexed {args.instances} synthetic instances in {time.perf_counter() - t0:.1f} s")
        t_full, rows = time_startup(full, args.runs)
    print(f"{'case':<28}{'start-up s':>12}{'target s':>10}{'ratio':>8}")
    print(f"{'empty cache':<28}{t_empty:>12.2f}{2.0:>10.1f}{t_empty / 2.0:>8.2f}")
    print(f"{f'{args.instances} instances ({rows} patients)':<28}{t_full:>12.2f}{3.0:>10.1f}{t_full / 3.0:>8.2f}")


if __name__ == "__main__":
    main()
