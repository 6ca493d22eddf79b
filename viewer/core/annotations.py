"""The four-corner text a radiologist expects on every image, from per-corner templates.

Upper left: who (patient name, ID, sex/age); upper right: which study (date and time) and
series; lower left: where in the series (image k/N, slice location and thickness) and how it
was acquired (the modality's own parameters: kV and mAs for CT and projection radiography,
TR/TE/TI, flip angle, field strength and sequence for MR, the radiopharmaceutical for PET/NM);
lower right: how it is displayed (window/level or VOI LUT, zoom). Pure text from the headers,
so the same lines appear in the viewport, in screenshots and in ``lightbox render --annotate``.

Each corner is a template (``Settings.annotation_templates`` overrides any of
:data:`DEFAULT_TEMPLATES`): text with ``{field}`` placeholders, one line per template line.
A field is a name from :data:`TEMPLATE_FIELDS` (formatted values: dates as YYYY-MM-DD, ``mm``
and ``kV`` units, ...) or any DICOM attribute keyword (PS3.6), e.g. ``{StationName}``, shown as
stored. A line whose fields are all empty is left out (no "ID " without a Patient ID); a line
without fields is kept as written. :func:`validate_templates` says what is wrong with a
template before it is used.
"""

from __future__ import annotations

import string
import unicodedata
from collections.abc import Callable, Mapping
from functools import lru_cache

from pydicom.datadict import tag_for_keyword
from pydicom.dataset import Dataset
from pydicom.multival import MultiValue
from pydicom.sequence import Sequence
from pydicom.valuerep import PersonName

from viewer.core.errors import LightboxError
from viewer.core.pixels.voi import LINEAR, VoiLut, Window

CORNERS = ("upper_left", "upper_right", "lower_left", "lower_right")

DEFAULT_TEMPLATES: dict[str, str] = {
    "upper_left": "{patient_name}\nID {PatientID}\n{PatientSex} {PatientAge}",
    "upper_right": "{InstitutionName}\n{study_date} {study_time} {StudyDescription}\n"
                   "Se {SeriesNumber} {SeriesDescription}\n{Modality}",
    "lower_left": "Im {image}/{images}\nLoc {slice_location}\nThk {slice_thickness}\n{acquisition}",
    "lower_right": "{voi}\nZoom {zoom}",
}

TEMPLATE_FIELDS: dict[str, str] = {
    "patient_name": "Patient's Name as FAMILY, Given",
    "patient_birth_date": "Patient's Birth Date, YYYY-MM-DD",
    "study_date": "Study Date, YYYY-MM-DD",
    "study_time": "Study Time, HH:MM",
    "series_date": "Series Date, YYYY-MM-DD",
    "series_time": "Series Time, HH:MM",
    "image": "image number in reading order, from 1",
    "images": "number of images in the series",
    "slice_location": "Slice Location in mm",
    "slice_thickness": "Slice Thickness in mm",
    "acquisition": "the modality's acquisition parameters (CT/CR/DX/MG/XA/RF: kV, mAs; MR: TR, TE, TI, "
                   "flip angle, field strength, sequence; PT/NM: radiopharmaceutical), one or more lines",
    "kvp": "KVP in kV",
    "mas": "tube current-time product in mAs",
    "tr_te": "MR repetition, echo (and inversion) time in ms",
    "voi": "window (W width L level) or the VOI LUT in use; empty for colour images",
    "zoom": "magnification, 1.00 = image fitted to the view",
}


class AnnotationTemplateError(LightboxError, ValueError):
    """A corner annotation template cannot be used (unknown corner or field, bad braces)."""


def _date(value: object) -> str:
    text = str(value or "")
    return f"{text[:4]}-{text[4:6]}-{text[6:8]}" if len(text) == 8 and text.isdigit() else text


def _time(value: object) -> str:
    """A TM value (HHMMSS.FFFFFF, PS3.5 6.2; older files write HH:MM:SS) as HH:MM."""
    text = str(value or "").strip().replace(":", "")
    return f"{text[:2]}:{text[2:4]}" if len(text) >= 4 and text[:4].isdigit() else text


def _number(value: object) -> float | None:
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None


def _g(value: float) -> str:
    """A parameter without trailing zeros: 10.352 -> '10.35', 2000.0 -> '2000'."""
    return f"{value:.2f}".rstrip("0").rstrip(".")


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


# --- modality-specific acquisition lines ----------------------------------------------------------

PROJECTION_MODALITIES = ("CR", "DX", "MG", "XA", "RF", "IO", "PX")


def kvp(header: Dataset) -> str:
    """KVP (0018,0060): peak kilovoltage of the X-ray generator."""
    value = _number(header.get("KVP"))
    return f"{value:.0f} kV" if value else ""


def mas(header: Dataset) -> str:
    """Tube current-time product: Exposure in mAs (0018,1152) or, for DX/MG, Exposure in uAs
    (0018,1153, "ExposureInuAs"); else X-Ray Tube Current (0018,1151, mA) x Exposure Time
    (0018,1150, ms) / 1000 (PS3.3 C.8.7.2.1 / C.8.2.1)."""
    exposure = _number(header.get("Exposure"))
    if exposure is None and header.get("ExposureInuAs") not in (None, ""):
        micro = _number(header.get("ExposureInuAs"))
        exposure = micro / 1000 if micro is not None else None
    if exposure is None:
        current, time = _number(header.get("XRayTubeCurrent")), _number(header.get("ExposureTime"))
        if current is not None and time is not None:
            exposure = current * time / 1000
    return f"{_g(exposure)} mAs" if exposure is not None else ""


def tr_te(header: Dataset) -> str:
    """MR Repetition Time (0018,0080), Echo Time (0018,0081), Inversion Time (0018,0082), ms."""
    parts = []
    for label, keyword in (("TR", "RepetitionTime"), ("TE", "EchoTime"), ("TI", "InversionTime")):
        value = _number(header.get(keyword))
        if value is not None:
            parts.append(f"{label} {_g(value)}")
    return "  ".join(parts)


def acquisition_lines(header: Dataset) -> list[str]:
    """The parameters a reader checks for this modality, as lines (PS3.3 C.8.2.1 CT Image,
    C.8.3.1 MR Image, C.8.7.2 X-Ray Acquisition / C.8.11.7 DX, C.8.4.9 NM, C.8.9.2 PET Isotope)."""
    modality = str(header.get("Modality", "") or "")
    lines: list[str] = []
    if modality == "CT" or modality in PROJECTION_MODALITIES:
        lines.append("  ".join(p for p in (kvp(header), mas(header)) if p))
        if modality == "CT":
            ctdi = _number(header.get("CTDIvol"))
            if ctdi is not None:
                lines.append(f"CTDIvol {_g(ctdi)} mGy")
    elif modality == "MR":
        lines.append(tr_te(header))
        flip = _number(header.get("FlipAngle"))
        field = _number(header.get("MagneticFieldStrength"))
        lines.append("  ".join(p for p in (f"{_g(field)} T" if field else "",
                                            f"FA {_g(flip)}°" if flip is not None else "") if p))
        lines.append(str(header.get("SequenceName") or header.get("ScanningSequence") or "").strip())
    elif modality in ("PT", "NM"):
        info = header.get("RadiopharmaceuticalInformationSequence")
        if info:
            item = info[0]
            lines.append(str(item.get("Radiopharmaceutical") or "").strip())
    return [line for line in lines if line]


# --- templates --------------------------------------------------------------------------------


def _fields(template: str) -> list[list[str]]:
    """The field names of each line of ``template`` (raises ValueError on bad braces)."""
    out = []
    for line in template.split("\n"):
        names = []
        for _literal, name, spec, conversion in string.Formatter().parse(line):
            if name is None:
                continue
            if spec or conversion:
                raise AnnotationTemplateError(f"{{{name}}}: no format specs or conversions, write just {{{name}}}")
            names.append(name)
        out.append(names)
    return out


def validate_templates(templates: Mapping[str, str]) -> dict[str, str]:
    """Check corner templates; returns them as a plain dict or raises
    :class:`AnnotationTemplateError` naming the corner and what to change."""
    checked: dict[str, str] = {}
    for corner, template in templates.items():
        if corner not in CORNERS:
            raise AnnotationTemplateError(f"unknown annotation corner {corner!r}; expected one of {CORNERS}")
        if not isinstance(template, str):
            raise AnnotationTemplateError(f"{corner}: the template must be text, not {type(template).__name__}")
        try:
            lines = _fields(template)
        except AnnotationTemplateError as exc:
            raise AnnotationTemplateError(f"{corner}: {exc}") from None
        except ValueError as exc:
            raise AnnotationTemplateError(f"{corner}: {exc} (write {{{{ and }}}} for literal braces)") from None
        for name in (n for names in lines for n in names):
            if name in TEMPLATE_FIELDS:
                continue
            if not name.isidentifier() or tag_for_keyword(name) is None:
                raise AnnotationTemplateError(
                    f"{corner}: unknown field {{{name}}}; use one of {', '.join(TEMPLATE_FIELDS)} "
                    f"or a DICOM keyword such as {{PatientID}}")
        checked[corner] = template
    return checked


def effective_templates(overrides: Mapping[str, str] | None = None) -> dict[str, str]:
    """:data:`DEFAULT_TEMPLATES` with the user's corners (validated) in place of the defaults."""
    return {**DEFAULT_TEMPLATES, **validate_templates(overrides or {})}


def voi_text(voi: Window | VoiLut | tuple[float, float] | None) -> str:
    """'W 400  L 40' (with the VOI LUT Function when not LINEAR, C.11.2.1.3), or the VOI LUT
    table's explanation (C.11.2.1.1); empty for None (colour images have no VOI)."""
    if voi is None:
        return ""
    if isinstance(voi, VoiLut):
        return f"VOI LUT {voi.explanation}".strip()
    center, width = (voi.center, voi.width) if isinstance(voi, Window) else voi
    text = f"W {width:.0f}  L {center:.0f}"
    if isinstance(voi, Window) and voi.function != LINEAR:
        text += f" {voi.function}"
    return text


def _keyword_value(header: Dataset, keyword: str) -> str:
    """An attribute as stored, for a ``{Keyword}`` field (names as FAMILY, Given)."""
    value = header.get(keyword)
    if value is None or value == "" or isinstance(value, Sequence | bytes | Dataset):
        return ""  # absent, a sequence or binary data: nothing to print on an image
    if isinstance(value, PersonName):
        return display_name(value)
    if isinstance(value, MultiValue | list | tuple):
        return "\\".join(str(v) for v in value)
    return str(value).strip()


_Compiled = tuple[tuple[str, tuple[tuple[str, tuple[str, ...]], ...]], ...]


@lru_cache(maxsize=32)
def _compiled(templates: tuple[tuple[str, str], ...]) -> _Compiled:
    """Validated templates split into (line, its field names), per corner; cached because the
    viewport asks on every W/L step."""
    chosen = effective_templates(dict(templates))
    return tuple((corner, tuple((line, tuple(names)) for line, names in
                                zip(chosen[corner].split("\n"), _fields(chosen[corner]), strict=True)))
                 for corner in CORNERS)


def corner_texts(
    header: Dataset,
    index: int,
    count: int,
    window: Window | VoiLut | tuple[float, float] | None,
    zoom: float | None = None,
    *,
    templates: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """Corner annotations for image ``index`` (0-based, reading order) of ``count``, shown at
    ``window`` (a Window, a VOI LUT, (center, width), or None for colour), through
    ``templates`` (corner -> template; missing corners use :data:`DEFAULT_TEMPLATES`)."""
    compiled = _compiled(tuple(sorted((templates or {}).items())))
    location, thickness = _number(header.get("SliceLocation")), _number(header.get("SliceThickness"))
    computed: dict[str, Callable[[], str]] = {
        "patient_name": lambda: display_name(header.get("PatientName")),
        "patient_birth_date": lambda: _date(header.get("PatientBirthDate")),
        "study_date": lambda: _date(header.get("StudyDate")),
        "study_time": lambda: _time(header.get("StudyTime")),
        "series_date": lambda: _date(header.get("SeriesDate")),
        "series_time": lambda: _time(header.get("SeriesTime")),
        "image": lambda: str(index + 1),
        "images": lambda: str(count),
        "slice_location": lambda: f"{location:.1f} mm" if location is not None else "",
        "slice_thickness": lambda: f"{thickness:.1f} mm" if thickness is not None else "",
        "acquisition": lambda: "\n".join(acquisition_lines(header)),
        "kvp": lambda: kvp(header),
        "mas": lambda: mas(header),
        "tr_te": lambda: tr_te(header),
        "voi": lambda: voi_text(window),
        "zoom": lambda: f"{zoom:.2f}" if zoom else "",
    }
    cache: dict[str, str] = {}

    def value(name: str) -> str:
        if name not in cache:
            cache[name] = computed[name]() if name in computed else _keyword_value(header, name)
        return cache[name]

    out = {}
    for corner, lines in compiled:
        shown = []
        for line, names in lines:
            if names and not any(value(n) for n in names):
                continue  # every field of the line is empty: leave the line out
            shown.extend(line.format_map({n: value(n) for n in names}).split("\n"))
        out[corner] = "\n".join(text.strip() for text in shown if text.strip())
    return out
