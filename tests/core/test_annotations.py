"""Corner annotations on the real CT and MR headers: modality lines (PS3.3 C.8.2.1 CT, C.8.3.1
MR), study date and time, and user templates (Settings.annotation_templates)."""

from __future__ import annotations

import copy

import pydicom
import pytest

from viewer.core.annotations import (
    CORNERS,
    DEFAULT_TEMPLATES,
    AnnotationTemplateError,
    corner_texts,
    effective_templates,
    validate_templates,
)
from viewer.core.pixels.voi import VoiLut, Window


@pytest.fixture(scope="module")
def ct_header(ct_dir):
    return pydicom.dcmread(ct_dir / "1-001.dcm", stop_before_pixels=True)


@pytest.fixture(scope="module")
def mr_header(mr_dir):
    return pydicom.dcmread(sorted(mr_dir.iterdir())[0], stop_before_pixels=True)


def test_ct_shows_kv_mas_and_study_date_and_time(ct_header):
    texts = corner_texts(ct_header, 0, 134, Window(60, 400), 1.0)
    assert set(texts) == set(CORNERS)
    assert texts["lower_left"].splitlines() == ["Im 1/134", "Loc 484.9 mm", "Thk 3.0 mm", "120 kV  430 mAs"]
    assert "2012-07-06 11:18 PANCREAS" in texts["upper_right"].splitlines()  # StudyDate + StudyTime 111823.36
    assert texts["upper_left"].splitlines() == ["Pancreas-CT-CB_001", "ID Pancreas-CT-CB_001", "M"]
    assert texts["lower_right"].splitlines() == ["W 400  L 60", "Zoom 1.00"]


def test_ct_mas_from_tube_current_and_exposure_time(ct_header):
    header = copy.deepcopy(ct_header)
    del header.Exposure  # then mA x ms / 1000 (C.8.7.2.1): 466 mA x 923 ms
    assert corner_texts(header, 0, 1, Window(60, 400))["lower_left"].splitlines()[-1] == "120 kV  430.12 mAs"


def test_mr_shows_tr_te_ti_field_flip_and_sequence(mr_header):
    texts = corner_texts(mr_header, 4, 100, Window(100, 200))
    lines = texts["lower_left"].splitlines()
    assert lines[0] == "Im 5/100"
    assert lines[-3:] == ["TR 10.35  TE 5  TI 300", "1.5 T  FA 20°", "GR"]  # SequenceName absent: ScanningSequence
    assert "2005-05-11 18:20" in texts["upper_right"]
    assert "kV" not in texts["lower_left"]


def test_voi_line_names_tables_functions_and_colour_has_none(ct_header):
    import numpy as np

    assert corner_texts(ct_header, 0, 1, Window(60, 400, "", "SIGMOID"))["lower_right"].startswith(
        "W 400  L 60 SIGMOID")
    table = VoiLut(0, 8, np.arange(256), "SQUARE")
    assert corner_texts(ct_header, 0, 1, table)["lower_right"].startswith("VOI LUT SQUARE")
    assert corner_texts(ct_header, 0, 1, None, 2.0)["lower_right"] == "Zoom 2.00"


def test_user_templates_with_keywords_fields_and_empty_lines_left_out(ct_header):
    templates = {
        "upper_left": "{PatientID}\nBorn {patient_birth_date}\n[{Manufacturer}]",
        "lower_left": "{image} of {images}\n{kvp} / {mas}\nCTDI {CTDIvol}\nfixed text",
    }
    texts = corner_texts(ct_header, 9, 134, Window(60, 400), templates=templates)
    # no birth date in the file: that line goes; a line without fields stays as written
    assert texts["upper_left"].splitlines()[0] == "Pancreas-CT-CB_001"
    assert not any(line.startswith("Born") for line in texts["upper_left"].splitlines())
    assert texts["lower_left"].splitlines()[:2] == ["10 of 134", "120 kV / 430 mAs"]
    assert texts["lower_left"].splitlines()[-1] == "fixed text"
    assert texts["upper_right"] == corner_texts(ct_header, 9, 134, Window(60, 400))["upper_right"]  # default
    assert effective_templates({"lower_right": "{voi}"})["upper_left"] == DEFAULT_TEMPLATES["upper_left"]


@pytest.mark.parametrize(("templates", "message"), [
    ({"middle": "{image}"}, "unknown annotation corner"),
    ({"upper_left": "{NotAKeyword}"}, "unknown field {NotAKeyword}"),
    ({"upper_left": "{image"}, "braces"),
    ({"upper_left": "{image:>5}"}, "no format specs"),
    ({"upper_left": "{PatientID.family}"}, "unknown field"),
    ({"upper_left": 3}, "must be text"),
])
def test_bad_templates_are_refused_with_the_reason(templates, message):
    with pytest.raises(AnnotationTemplateError, match=message):
        validate_templates(templates)


def test_default_templates_are_valid():
    assert validate_templates(DEFAULT_TEMPLATES) == DEFAULT_TEMPLATES
