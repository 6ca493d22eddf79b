"""Person Name folding and matching for search and priors.

Users type "jerome" for "Buc^Jérôme" and "山田" for "Yamada^Tarou=山田^太郎=やまだ^たろう", so
names are compared after folding: Unicode compatibility decomposition with combining marks
dropped (accent-insensitive), case folding, and the PN component separator ``^`` read as a
space. A PN value has up to three component groups separated by ``=`` (alphabetic,
ideographic, phonetic; PS3.5 6.2.1.2); a pattern may match any group, or any single
component of a group. ``*`` and ``?`` are the DICOM wildcards (PS3.4 C.2.2.2.4).
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache


def fold(text: str) -> str:
    """Case-, accent- and width-insensitive form of a name or pattern (keeps ``=``, ``*``, ``?``)."""
    decomposed = unicodedata.normalize("NFKD", text)
    stripped = "".join(c for c in decomposed if not unicodedata.combining(c))
    folded = stripped.casefold().replace("^", " ")
    return " ".join(folded.split())


@lru_cache(maxsize=256)
def _compile(pattern: str) -> re.Pattern[str]:
    folded = fold(pattern)
    if "*" not in folded and "?" not in folded:
        folded += "*"  # a plain word finds every name that starts with it
    parts = (".*" if c == "*" else "." if c == "?" else re.escape(c) for c in folded)
    return re.compile("".join(parts), re.DOTALL)


def _candidates(folded_name: str) -> list[str]:
    out = []
    for group in folded_name.split("="):
        group = group.strip()
        if group:
            out.append(group)
            out.extend(group.split(" "))
    return out


def pn_match(pattern: str, folded_name: str) -> bool:
    """Whether ``pattern`` matches a name already passed through :func:`fold`."""
    rx = _compile(pattern)
    return any(rx.fullmatch(c) for c in _candidates(folded_name))
