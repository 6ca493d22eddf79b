"""Which series hold images a viewport can show.

Modality (0008,0060) names what a series holds (PS3.3 C.7.3.1.1.1). Structured reports,
presentation states, key object selections, registrations, RT structure sets and plans and
encapsulated documents hold no pixels: the browser's thumbnails, a study's default layout and
"compare with prior" leave them out instead of failing to load them.
"""

from __future__ import annotations

NON_IMAGE_MODALITIES = frozenset({"SR", "PR", "KO", "REG", "RTSTRUCT", "RTPLAN", "DOC"})


def holds_images(modality: str | None) -> bool:
    """Whether a series of this Modality has images to show."""
    return (modality or "").upper() not in NON_IMAGE_MODALITIES
