"""A dataset as rows for a tag browser: every attribute, sequences nested, private tags named.

Private elements are shown with their Private Creator (PS3.5 7.8.1), because a tag number
alone means nothing across vendors. Long binary values are summarised, never dumped.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset
from pydicom.tag import BaseTag

MAX_VALUE_CHARS = 200
BINARY_VRS = {"OB", "OW", "OF", "OD", "OL", "OV", "UN"}


@dataclass
class TagRow:
    """One attribute; ``children`` holds a sequence's items, each an item row with its attributes."""

    tag: str  # "(0010,0010)"
    keyword: str  # "PatientName", or the private creator's name for private tags
    vr: str
    value: str
    children: list[TagRow] = field(default_factory=list)

    def matches(self, text: str) -> bool:
        """Search by keyword, tag (with or without punctuation) or value, case-insensitively."""
        needle = text.strip().lower()
        if not needle:
            return True
        tag_plain = self.tag.replace("(", "").replace(")", "").replace(",", "").lower()
        hay = (self.keyword.lower(), self.tag.lower(), tag_plain, self.value.lower())
        return any(needle in h for h in hay) or needle.replace(",", "") in tag_plain


def format_tag(tag: BaseTag) -> str:
    return f"({tag.group:04X},{tag.element:04X})"


def _value_text(elem: DataElement) -> str:
    if elem.VR in BINARY_VRS or elem.tag == 0x7FE00010:
        length = len(elem.value) if isinstance(elem.value, bytes | bytearray) else 0
        return f"<{length} bytes>" if length else "<binary>"
    value = elem.value
    if value is None:
        return ""
    text = "\\".join(str(v) for v in value) if elem.VM > 1 else str(value)
    return text if len(text) <= MAX_VALUE_CHARS else text[:MAX_VALUE_CHARS] + "…"


def _keyword(elem: DataElement, ds: Dataset) -> str:
    if elem.tag.is_private:
        if elem.tag.is_private_creator:
            return "Private Creator"
        creator_tag = BaseTag((elem.tag.group << 16) | (elem.tag.element >> 8))
        creator = ds.get(creator_tag)
        owner = str(creator.value) if creator is not None else "unknown creator"
        name = elem.name if elem.name and not elem.name.startswith("Private tag") else "private"
        return f"[{owner}] {name}"
    return elem.keyword or elem.name


def dataset_rows(ds: Dataset, *, include_meta: bool = True) -> list[TagRow]:
    """All attributes of ``ds`` (and its File Meta Information) as :class:`TagRow` trees."""
    rows: list[TagRow] = []
    meta = getattr(ds, "file_meta", None)
    if include_meta and meta is not None:
        rows += dataset_rows(meta, include_meta=False)
    for elem in ds:
        if elem.VR == "SQ":
            items = [
                TagRow(f"Item {n}", "Item", "", f"{len(item)} attributes",
                       dataset_rows(item, include_meta=False))
                for n, item in enumerate(elem.value, start=1)
            ]
            tag, keyword = format_tag(elem.tag), _keyword(elem, ds)
            rows.append(TagRow(tag, keyword, "SQ", f"{len(items)} item(s)", items))
        else:
            rows.append(TagRow(format_tag(elem.tag), _keyword(elem, ds), elem.VR, _value_text(elem)))
    return rows
