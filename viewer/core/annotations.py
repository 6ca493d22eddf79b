"""The four-corner text a radiologist expects on every image.

Upper left: who (patient name, ID, sex/age); upper right: which study and series; lower
left: where in the series (image k/N, slice location and thickness); lower right: how it is
displayed (window/level, zoom). Pure text from the headers, so the same lines appear in the
viewport, in screenshots and in ``lightbox render --annotate``.
"""

from __future__ import annotations

import unicodedata

from pydicom.dataset import Dataset
from pydicom.valuerep import PersonName


def _date(value: object) -> str:
    text = str(value or "")
    return f"{text[:4]}-{text[4:6]}-{text[6:8]}" if len(text) == 8 and text.isdigit() else text


def display_name(value: object) -> str:
    """A person name for display: 'FAMILY, Given' from the alphabetic group (PS3.5 6.2.1).

    Japanese files may write that group in half-width katakana (JIS X 0201, ISO_IR 13, as in
    PS3.5 Annex H); it is shown as the equivalent full-width katakana (Unicode NFKC), which
    every CJK font has, instead of boxes.
    """
    if not value:
        return ""
    name = value if isinstance(value, PersonName) else PersonName(str(value))
    family, given = name.family_name, name.given_name
    text = ", ".join(p for p in (family, given) if p) if family or given else str(name)
    return unicodedata.normalize("NFKC", text)


def corner_texts(
    header: Dataset, index: int, count: int, window: tuple[float, float], zoom: float | None = None
) -> dict[str, str]:
    """Corner annotations for slice ``index`` of ``count`` shown at ``window`` = (center, width)."""
    sex_age = " ".join(str(v) for v in (header.get("PatientSex", ""), header.get("PatientAge", "")) if v)
    upper_left = "\n".join(
        line
        for line in (
            display_name(header.get("PatientName")),
            f"ID {header.get('PatientID', '')}" if header.get("PatientID") else "",
            sex_age,
        )
        if line
    )
    series_line = " ".join(
        str(v) for v in (f"Se {header.get('SeriesNumber', '')}", header.get("SeriesDescription", "")) if v
    )
    study_line = " ".join(
        p for p in (_date(header.get("StudyDate")), str(header.get("StudyDescription") or "")) if p
    )
    upper_right = "\n".join(
        line
        for line in (
            str(header.get("InstitutionName", "") or ""),
            study_line,
            series_line,
            str(header.get("Modality", "") or ""),
        )
        if line
    )
    lower_left = [f"Im {index + 1}/{count}"]
    if header.get("SliceLocation") not in (None, ""):
        lower_left.append(f"Loc {float(header.SliceLocation):.1f} mm")
    if header.get("SliceThickness") not in (None, ""):
        lower_left.append(f"Thk {float(header.SliceThickness):.1f} mm")
    if header.get("Modality") == "CT" and header.get("KVP") not in (None, ""):
        lower_left.append(f"{float(header.KVP):.0f} kV")
    center, width = window
    lower_right = [f"W {width:.0f}  L {center:.0f}"]
    if zoom:
        lower_right.append(f"Zoom {zoom:.2f}")
    return {
        "upper_left": upper_left,
        "upper_right": upper_right,
        "lower_left": "\n".join(lower_left),
        "lower_right": "\n".join(lower_right),
    }
