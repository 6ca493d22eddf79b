"""Window/level presets: the classic CT windows, and each file's own windows.

Keys are stable so hands can learn them: for CT, 1–8 are brain, subdural, stroke, lung,
mediastinum, abdomen, liver and bone whatever the file says; 0 is always the file's own
first window (Window Center/Width, PS3.3 C.11.2.1.2) or an automatic one. The file's other
windows follow, with their Window Center & Width Explanation, in the preset menu. For other
modalities the file's windows take keys 1, 2, ... since there is no universal scale.

Values (center/width, HU) are the usual teaching values, e.g. Radiopaedia "Windowing (CT)";
users override them with :func:`with_overrides` from their settings.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace

import numpy as np
from pydicom.dataset import Dataset

from viewer.core.pixels.voi import Window, auto_window, file_windows


@dataclass(frozen=True)
class Preset:
    """A named window; ``key`` is the number key that applies it ('' = menu only)."""

    name: str
    center: float
    width: float
    key: str = ""
    source: str = "builtin"  # "builtin", "file", "auto" or "user"
    function: str = "LINEAR"  # VOI LUT Function (C.11.2.1.3) of a file window

    @property
    def window(self) -> Window:
        return Window(self.center, self.width, self.name, self.function)


CT_PRESETS: tuple[Preset, ...] = (
    Preset("Brain", 40, 80, "1"),
    Preset("Subdural", 75, 215, "2"),
    Preset("Stroke", 40, 40, "3"),
    Preset("Lung", -600, 1500, "4"),
    Preset("Mediastinum", 50, 350, "5"),
    Preset("Abdomen", 50, 400, "6"),
    Preset("Liver", 30, 150, "7"),
    Preset("Bone", 400, 1800, "8"),
)

BUILTIN: Mapping[str, tuple[Preset, ...]] = {"CT": CT_PRESETS}


def presets_for(header: Dataset, voxels: np.ndarray | None = None,
                builtin: Mapping[str, tuple[Preset, ...]] = BUILTIN) -> list[Preset]:
    """Every preset offered for this image: key 0 first (the file's window, else automatic),
    then the modality's built-ins, then the file's remaining windows."""
    modality = str(header.get("Modality") or "")
    own = [
        Preset(w.explanation or f"File window {n + 1}", w.center, w.width, source="file", function=w.function)
        for n, w in enumerate(file_windows(header))
    ]
    if own:
        first = replace(own[0], key="0")
    elif voxels is not None:
        auto = auto_window(voxels)
        first = Preset("Automatic", auto.center, auto.width, "0", source="auto")
    else:
        first = None
    fixed = list(builtin.get(modality, ()))
    rest = own[1:]
    if not fixed:  # no universal scale: the file's windows get the number keys
        rest = [replace(p, key=str(n)) if n <= 9 else p for n, p in enumerate(rest, start=1)]
    return ([first] if first else []) + fixed + rest


def preset_for_key(presets: Iterable[Preset], key: str) -> Preset | None:
    return next((p for p in presets if p.key == key), None)


def with_overrides(user: Iterable[Mapping[str, object]],
                   builtin: Mapping[str, tuple[Preset, ...]] = BUILTIN) -> dict[str, tuple[Preset, ...]]:
    """Built-ins with the user's edits applied: each entry has modality, name, center, width
    and optionally key; an entry with a known name replaces that preset, a new name is added."""
    table = {m: list(ps) for m, ps in builtin.items()}
    for entry in user:
        modality = str(entry["modality"])
        preset = Preset(str(entry["name"]), float(entry["center"]), float(entry["width"]),  # type: ignore[arg-type]
                        str(entry.get("key", "")), "user")
        bucket = table.setdefault(modality, [])
        names = [p.name.lower() for p in bucket]
        if preset.name.lower() in names:
            at = names.index(preset.name.lower())
            bucket[at] = replace(preset, key=preset.key or bucket[at].key)
        else:
            bucket.append(preset)
    return {m: tuple(ps) for m, ps in table.items()}
