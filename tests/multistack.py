"""A real multi-stack series for tests: real MR and CT slices put into one series.

../shared/data has no series that splits into stacks (no localizer, no echoes), so this takes
real images (10 coronal MR head slices 256x256 and 4 axial CT slices 512x512) and gives them one
patient, study and series, the way a scanner files a localizer with its series. The files keep
their own pixels, geometry and SOP Instance UIDs.
"""

from __future__ import annotations

from pathlib import Path

import pydicom
from pydicom.uid import generate_uid

MR_SLICES = 10
CT_SLICES = 4


def build_multistack_series(mr_dir: Path, ct_dir: Path, out: Path) -> tuple[str, str, list[Path]]:
    """Write the series into ``out``; returns (study UID, series UID, files)."""
    out.mkdir(parents=True, exist_ok=True)
    study, series, frame = generate_uid(), generate_uid(), generate_uid()
    sources = sorted(mr_dir.glob("*.IMA"))[40:40 + MR_SLICES] + sorted(ct_dir.glob("*.dcm"))[60:60 + CT_SLICES]
    files = []
    for n, src in enumerate(sources, start=1):
        ds = pydicom.dcmread(src)
        ds.PatientName, ds.PatientID = "Stacks^Two", "STACKS-1"
        ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.FrameOfReferenceUID = study, series, frame
        ds.SeriesNumber, ds.InstanceNumber, ds.SeriesDescription = 3, n, "localizer and volume"
        path = out / f"im{n:03d}.dcm"
        ds.save_as(path)
        files.append(path)
    return study, series, files
