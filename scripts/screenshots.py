"""Regenerate the README screenshots from real data, on a throwaway home.

    xvfb-run -a -s "-screen 0 1600x1000x24" .venv/bin/python scripts/screenshots.py [OUT_DIR]

Imports ../shared/data (DICOMDIR media, the CT and the MR), starts a real Orthanc from
../shared/pacs for the Q/R panel, and saves: browser.png, qr-panel.png, reading-2x2.png,
mpr.png (where those views exist). Writes only into OUT_DIR (default resources/screenshots).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"


def wait_until(app, condition, timeout=60.0):
    import time

    end = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > end:
            raise TimeoutError("condition not reached")
        app.processEvents()
        time.sleep(0.02)


def main() -> int:
    out = Path(sys.argv[1] if len(sys.argv) > 1 else ROOT / "resources" / "screenshots").resolve()
    out.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix="lightbox-shots-"))
    home = tmp / "home"
    os.environ["LIGHTBOX_HOME"] = str(home)
    sys.path.insert(0, str(ROOT))
    from PySide6.QtWidgets import QApplication

    from viewer.core.home import lightbox_home
    from viewer.net.nodes import LocalSettings, NetConfig, RemoteNode, save_config
    from viewer.store import Store
    from viewer.ui.main_window import MainWindow
    from viewer.ui.screenshot import grab_window
    from viewer.ui.theme import apply_theme

    pacs = SHARED / "pacs"
    orthanc_dir = tmp / "orthanc"
    subprocess.run([pacs / "orthanc-up", orthanc_dir, "auto", "auto", "ORTHANC"], check=True, capture_output=True)
    try:
        subprocess.run([pacs / "orthanc-load", orthanc_dir, SHARED / "data" / "ct-pancreas-tcia",
                        SHARED / "data" / "mr-head-ctk", SHARED / "data" / "transfer-syntaxes-orthanc"],
                       check=True, capture_output=True)
        env = dict(line.split("=", 1) for line in (orthanc_dir / "pacs.env").read_text().split())
        cfg = NetConfig(local=LocalSettings(ae_title="LIGHTBOX", port=11113))
        cfg.add(RemoteNode(name="Hospital PACS", aet=env["PACS_AET"].strip("'\""), host="127.0.0.1",
                           port=int(env["PACS_DICOM_PORT"].strip("'\"")), retrieve="get"))
        home = lightbox_home(home)
        save_config(home, cfg)

        app = QApplication.instance() or QApplication([])
        apply_theme(app)
        store = Store.open(home)
        win = MainWindow(store, home)
        win.resize(1600, 1000)
        win.show()
        done: list[object] = []
        win.import_finished.connect(done.append)
        win.import_paths([SHARED / "data" / "dicomdir-charsets"], link=False)
        win.import_paths([SHARED / "data" / "ct-pancreas-tcia"])
        wait_until(app, lambda: len(done) == 2, 120)
        shown: list[object] = []
        win.volume_shown.connect(shown.append)
        ct = next(s for s in store.studies() if "PANCREAS" in s.description)
        win.open_study(ct.study_uid)
        wait_until(app, lambda: shown, 60)
        win.viewport.set_slice(60)
        wait_until(app, lambda: win.thumbnails.pending == 0, 30)
        app.processEvents()
        grab_window(win).save(str(out / "browser.png"))

        win.qr_dock.show()
        panel = win.qr_panel
        panel.reload_nodes()
        results: list[int] = []
        panel.results_ready.connect(results.append)
        panel.search()
        wait_until(app, lambda: results, 30)
        panel.results.topLevelItem(0).setExpanded(True)
        wait_until(app, lambda: panel.results.topLevelItem(0).childCount() > 0, 30)
        app.processEvents()
        grab_window(win).save(str(out / "qr-panel.png"))
        win.qr_dock.hide()
        for name in ("reading_2x2", "mpr"):
            shoot = getattr(win, f"screenshot_{name}", None)
            if shoot is not None:
                shoot(out / f"{name.replace('_', '-')}.png")
        win.close()
        store.close()
    finally:
        subprocess.run([pacs / "orthanc-down", orthanc_dir], capture_output=True)
    print(f"screenshots in {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
