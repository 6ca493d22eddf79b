"""The composition root: settings and home, then the QApplication and the main window."""

from __future__ import annotations

import os
import sys
from pathlib import Path

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

    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from viewer.store import Store
    from viewer.ui.main_window import MainWindow
    from viewer.ui.screenshot import grab_window
    from viewer.ui.theme import apply_theme

    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("Lightbox")
    from viewer.core.settings import load_settings

    apply_theme(app, dark=load_settings(home_dir).theme == "dark")
    store = Store.open(home_dir)
    window = MainWindow(store, home_dir)
    app.aboutToQuit.connect(window.grid.shutdown)
    window.show()
    if not screenshot:
        window.start_storage_scp()
    exit_code = 0

    if screenshot:
        window.quiet_errors = True

        def shoot() -> None:
            nonlocal exit_code
            image = grab_window(window)
            out = Path(screenshot).resolve()
            if image.save(str(out)):
                print(f"screenshot saved: {out}")
            else:
                print(f"lightbox: could not save {out}", file=sys.stderr)
                exit_code = 2
            window.close()
            app.quit()

        def after_load(*_: object) -> None:
            QTimer.singleShot(int(wait * 1000), shoot)

        if path:
            window.volume_shown.connect(after_load)
            window.load_failed.connect(after_load)
        else:
            after_load()
    if path:
        window.open_path(path)
    app.exec()
    store.close()
    return exit_code
