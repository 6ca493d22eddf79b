"""The composition root: settings and home, then the QApplication and the main window."""

from __future__ import annotations

import os

from viewer.core.home import lightbox_home


def _headless_if_no_display(screenshot: str | None) -> None:
    """Without an X server a screenshot still works: offscreen Qt with OSMesa VTK."""
    if screenshot and not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY"):
        os.environ["QT_QPA_PLATFORM"] = "offscreen"
        os.environ["VTK_DEFAULT_OPENGL_WINDOW"] = "vtkOSOpenGLRenderWindow"


def run_gui(path: str | None = None, home: str | None = None, screenshot: str | None = None,
            wait: float = 1.0) -> int:
    _headless_if_no_display(screenshot)
    home_dir = lightbox_home(home)
    os.environ["LIGHTBOX_HOME"] = str(home_dir)

    from viewer.ui.application import run_application

    return run_application(home_dir, path, screenshot, wait)
