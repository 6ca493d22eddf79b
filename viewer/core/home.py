"""Where Lightbox keeps the user's data (cache, settings, logs).

One folder holds everything, so tests and benchmarks run on throwaway homes and nothing is
ever written into the source tree: ``--home DIR`` wins over ``$LIGHTBOX_HOME``, which wins
over the platform's user data directory.
"""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

HOME_ENV = "LIGHTBOX_HOME"


def lightbox_home(override: str | os.PathLike[str] | None = None) -> Path:
    """Return (and create) the Lightbox home folder."""
    if override:
        home = Path(override)
    elif os.environ.get(HOME_ENV):
        home = Path(os.environ[HOME_ENV])
    else:
        home = Path(platformdirs.user_data_dir("lightbox", appauthor=False))
    home = home.expanduser().resolve()
    home.mkdir(parents=True, exist_ok=True)
    return home
