"""settings.json as the GUI reads it: a damaged file must not stop the viewer from starting.

:func:`viewer.core.settings.load_settings` refuses a file it cannot read or whose values are
invalid (the CLI should fail loudly). The GUI instead falls back to the defaults and sets the
user's file aside as ``settings.json.bad`` (or ``.bad.1``, ``.bad.2`` … so an older one is never
overwritten), then tells the user where it is: nothing the user wrote is lost.
"""

from __future__ import annotations

import os
from pathlib import Path

from viewer.core.settings import Settings, SettingsError, load_settings, settings_path


def _free_name(path: Path) -> Path:
    if not path.exists():
        return path
    n = 1
    while path.with_name(f"{path.name}.{n}").exists():
        n += 1
    return path.with_name(f"{path.name}.{n}")


def load_or_recover(home: str | os.PathLike[str]) -> tuple[Settings, str]:
    """The settings and "" when settings.json is sound; else the defaults and a warning saying
    what was wrong and where the damaged file was kept."""
    try:
        return load_settings(home), ""
    except SettingsError as exc:
        path = settings_path(home)
        kept = _free_name(path.with_name(path.name + ".bad"))
        try:
            os.replace(path, kept)
        except OSError as move_exc:
            return Settings(), (f"Settings not used ({exc}); the defaults apply. The file could not be set "
                                f"aside ({move_exc}): correct or delete {path}.")
        return Settings(), f"Settings not used ({exc}); the defaults apply. Your file was kept as {kept}."
