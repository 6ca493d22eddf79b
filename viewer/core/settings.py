"""User preferences kept in ``<home>/settings.json``: theme, annotations, window presets.

``annotation_templates`` maps a corner (``upper_left``, ``upper_right``, ``lower_left``,
``lower_right``) to its template text (see viewer.core.annotations); corners not in it use the
built-in defaults, so an empty dict means "all defaults" and a later Lightbox can improve them.

Versioned (``version``) so a later Lightbox can migrate the file instead of dropping it;
unknown keys from a newer version are kept untouched on save. Network nodes live beside it
in ``nodes.json`` (viewer.net.nodes), the index in ``index.sqlite``.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from viewer.core.annotations import AnnotationTemplateError, validate_templates
from viewer.core.errors import LightboxError

SETTINGS_NAME = "settings.json"
SCHEMA_VERSION = 1
THEMES = ("dark", "light")


class SettingsError(LightboxError):
    """settings.json cannot be read or holds invalid values."""


@dataclass
class Settings:
    theme: str = "dark"
    annotations: bool = True
    # each: {"modality": "CT", "name": "Lung", "center": -600, "width": 1500, "key": "4"}
    user_presets: list[dict[str, Any]] = field(default_factory=list)
    # corner -> template, e.g. {"lower_left": "Im {image}/{images}\n{acquisition}"}; missing corners: defaults
    annotation_templates: dict[str, str] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict, repr=False)  # keys of newer versions

    def __post_init__(self) -> None:
        if self.theme not in THEMES:
            raise SettingsError(f"theme must be one of {THEMES}, not {self.theme!r}")
        for entry in self.user_presets:
            missing = {"modality", "name", "center", "width"} - set(entry)
            if missing:
                raise SettingsError(f"window preset {entry} lacks {sorted(missing)}")
            if float(entry["width"]) < 1:
                raise SettingsError(f"window preset {entry['name']!r}: width must be at least 1")
        if not isinstance(self.annotation_templates, dict):
            raise SettingsError("annotation_templates must map corners to template texts, "
                                f"not {type(self.annotation_templates).__name__}")
        try:
            validate_templates(self.annotation_templates)
        except AnnotationTemplateError as exc:
            raise SettingsError(f"annotation template: {exc}") from None


def settings_path(home: str | os.PathLike[str]) -> Path:
    return Path(home) / SETTINGS_NAME


def load_settings(home: str | os.PathLike[str]) -> Settings:
    path = settings_path(home)
    if not path.exists():
        return Settings()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise SettingsError(f"{path}: cannot read settings: {exc}") from exc
    data.pop("version", None)
    known = {"theme", "annotations", "user_presets", "annotation_templates"}
    return Settings(**{k: v for k, v in data.items() if k in known},
                    extra={k: v for k, v in data.items() if k not in known})


def save_settings(home: str | os.PathLike[str], settings: Settings) -> Path:
    """Write atomically (temp file + rename) so a crash never leaves half a settings file."""
    path = settings_path(home)
    path.parent.mkdir(parents=True, exist_ok=True)
    data = {"version": SCHEMA_VERSION, **settings.extra, **asdict(settings)}
    data.pop("extra")
    fd, tmp = tempfile.mkstemp(prefix=".settings-", suffix=".json", dir=path.parent)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump(data, f, indent=2)
        f.write("\n")
    os.replace(tmp, path)
    return path
