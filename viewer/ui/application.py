"""The Qt application: QApplication, theme, main window, storage SCP, optional screenshot."""

from __future__ import annotations

import sys
from pathlib import Path


def application_icon() -> Path | None:
    """icons/lightbox.svg: beside the package in a source checkout, else where the wheel's
    data files put it (``share/icons/hicolor/scalable/apps`` under the environment)."""
    for candidate in (Path(__file__).resolve().parents[2] / "icons" / "lightbox.svg",
                      Path(sys.prefix) / "share" / "icons" / "hicolor" / "scalable" / "apps" / "lightbox.svg"):
        if candidate.is_file():
            return candidate
    return None


def run_application(home_dir: Path, path: str | None, screenshot: str | None, wait: float) -> int:
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from viewer.store import Store
    from viewer.ui.main_window import MainWindow
    from viewer.ui.screenshot import grab_window
    from viewer.ui.theme import apply_theme

    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("Lightbox")
    icon = application_icon()
    if icon is not None:
        from PySide6.QtGui import QIcon

        app.setWindowIcon(QIcon(str(icon)))
    store = Store.open(home_dir)
    window = MainWindow(store, home_dir)  # reads settings.json; a damaged file is set aside, never fatal
    apply_theme(app, dark=window.settings.theme == "dark")
    app.aboutToQuit.connect(window.grid.shutdown)
    window.quiet_errors = bool(screenshot)
    window.show()
    if window.settings_problem:  # the status bar says so already; a dialog once the window is on screen
        QTimer.singleShot(0, lambda: window.warn_settings(window.settings_problem))
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
