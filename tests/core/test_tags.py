"""Tag rows from real files: names in their character sets, sequences nested, private creators."""

from __future__ import annotations

import pydicom
from pydicom.data import get_testdata_file

from viewer.core.tags import dataset_rows


def flatten(rows):
    for row in rows:
        yield row
        yield from flatten(row.children)


def test_patient_name_in_its_character_set(data_dir):
    ds = pydicom.dcmread(data_dir / "dicomdir-charsets" / "SCSGERM")
    rows = {r.keyword: r for r in dataset_rows(ds)}
    assert rows["PatientName"].tag == "(0010,0010)"
    assert rows["PatientName"].value == "Äneas^Rüdiger"
    assert rows["TransferSyntaxUID"].tag == "(0002,0010)"  # file meta comes first
    assert rows["PixelData"].value.startswith("<")


def test_sequences_nest_and_private_tags_name_their_creator(mr_dir):
    ds = pydicom.dcmread(next(iter(sorted(mr_dir.glob("*.IMA")))))
    rows = list(flatten(dataset_rows(ds)))
    private = [r for r in rows if r.tag.startswith("(0009") or r.tag.startswith("(0019")]
    assert private and any(r.keyword.startswith("[GEMS_") for r in private), [r.keyword for r in private[:5]]


def test_sequence_items_are_children():
    ds = pydicom.dcmread(get_testdata_file("rtplan.dcm"))
    seq = next(r for r in dataset_rows(ds) if r.vr == "SQ")
    assert seq.children and seq.children[0].keyword == "Item"
    assert seq.children[0].children


def test_search_by_keyword_tag_and_value():
    ds = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
    rows = dataset_rows(ds)
    name = next(r for r in rows if r.keyword == "PatientName")
    assert name.matches("patientname") and name.matches("0010,0010") and name.matches("00100010")
    assert name.matches(str(ds.PatientName)[:4])
    assert not name.matches("StudyDate")
