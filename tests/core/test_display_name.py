"""Patient names as the browser and the image corners show them, from the real charset files."""

from __future__ import annotations

from pathlib import Path

import pydicom
import pytest

from viewer.core.annotations import display_name


@pytest.mark.parametrize(
    ("folder", "expected"),
    [
        ("SCSH31", "Yamada, Tarou"),
        ("SCSH32", "ヤマダ, タロウ"),  # half-width katakana (ISO_IR 13) shown full-width
        ("SCSI2", "Hong, Gildong"),
        ("SCSGERM", "Äneas, Rüdiger"),
        ("SCSGREEK", "Διονυσιος"),
    ],
)
def test_names_from_the_alphabetic_group(data_dir: Path, folder: str, expected: str):
    ds = pydicom.dcmread(data_dir / "dicomdir-charsets" / folder, stop_before_pixels=True)
    assert display_name(ds.PatientName) == expected


def test_empty_and_unstructured_names():
    assert display_name(None) == ""
    assert display_name("") == ""
    assert display_name("Anonymous") == "Anonymous"
