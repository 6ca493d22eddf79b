"""Regenerate the README screenshots from real data, on a throwaway home.

    xvfb-run -a -s "-screen 0 1600x1000x24" .venv/bin/python scripts/screenshots.py [OUT_DIR]

Imports ../shared/data (DICOMDIR media, the CT and the MR), starts a real Orthanc from
../shared/pacs for the Q/R panel, and saves: browser.png, qr-panel.png, reading-2x2.png
(CT soft tissue with a length and an ROI, lung window, coronal MR with a length, bone window
with a probe), mpr.png (with a length in the coronal plane) and 3d.png (bone preset).
Writes only into OUT_DIR (default resources/screenshots).
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


def lps(volume, k: int, j: float, i: float):
    """The LPS point of voxel (k, j, i): measurements are placed where the anatomy is."""
    import numpy as np

    return (volume.affine @ np.array([k, j, i, 1.0]))[:3]


def reading_2x2(app, win, store, path: Path) -> None:
    """What a reader's screen looks like: four viewports, three windows, measurements."""
    import numpy as np

    from viewer.ui.screenshot import grab_window

    ct = next(s for s in store.studies() if "PANCREAS" in s.description)
    mr = next(s for s in store.studies() if "MR" in s.modalities)
    ct_series = store.series(ct.study_uid)[0].series_uid
    mr_series = store.series(mr.study_uid)[0].series_uid
    win.grid.set_layout(2, 2)
    shown: list[object] = []
    win.volume_shown.connect(shown.append)
    views = win.grid.viewports
    for view, series in zip(views, (ct_series, ct_series, mr_series, ct_series), strict=True):
        win.load_series_into(view, series)
    wait_until(app, lambda: len(shown) >= 4, 120)
    soft, lung, head, bone = views
    for view in (soft, lung, bone):
        view.set_slice(view.first_slice + 62 * view.reading_step)
    lung.set_window(-600, 1500)
    bone.set_window(400, 1800)
    head.set_slice(55)
    v, k = soft.volume, soft.slice_index
    soft.add_measurement("length", [lps(v, k, 250, 190), lps(v, k, 250, 232)])
    soft.add_measurement("ellipse", [lps(v, k, 335, 200), lps(v, k, 355, 225)])
    m, km = head.volume, head.slice_index
    head.add_measurement("length", [lps(m, km, 128, 20), lps(m, km, 128, 236)])
    b, kb = bone.volume, bone.slice_index
    region = b.voxels[kb, 270:340, 236:276].astype(float)  # the vertebral body lies here on this CT
    j, i = np.unravel_index(int(np.argmax(region)), region.shape)
    bone.add_measurement("probe", [lps(b, kb, 270 + j, 236 + i)])
    app.processEvents()
    grab_window(win).save(str(path))


def reconstructions(app, win, out: Path) -> None:
    """MPR of the CT with a length in the coronal plane, and its 3D bone rendering."""
    import numpy as np

    from viewer.ui.screenshot import grab_window

    win.grid.set_layout(1, 1)
    win.grid.set_active(win.grid.viewports[0])
    mpr = win.open_reconstruction("mpr")
    mpr.resize(1500, 600)
    scene = mpr.view.scene
    center = np.asarray(scene.crosshair.center, dtype=float)
    below = center + np.array([0.0, 0.0, -40.0])  # 4 cm below the crosshair, clear of its line
    mpr.view.add_measurement("coronal", "length", [below + np.array([-80.0, 0, 0]), below + np.array([80.0, 0, 0])])
    app.processEvents()
    grab_window(mpr).save(str(out / "mpr.png"))
    mpr.close()
    volume = win.open_reconstruction("3d")
    volume.resize(900, 700)
    volume.view.render()
    app.processEvents()
    grab_window(volume).save(str(out / "3d.png"))
    volume.close()


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
        import socket

        with socket.socket() as probe:  # a free port for our storage SCP, so the panel shows it running
            probe.bind(("127.0.0.1", 0))
            scp_port = probe.getsockname()[1]
        cfg = NetConfig(local=LocalSettings(ae_title="LIGHTBOX", port=scp_port))
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
        win.import_paths([SHARED / "data" / "mr-head-ctk"])
        wait_until(app, lambda: len(done) == 3, 120)
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
        win.start_storage_scp()
        results: list[int] = []
        panel.results_ready.connect(results.append)
        panel.search()
        wait_until(app, lambda: results, 30)
        items = [panel.results.topLevelItem(n) for n in range(panel.results.topLevelItemCount())]
        ct_item = next(item for item in items if item.text(0).startswith("Pancreas"))
        panel.results.setCurrentItem(ct_item)
        ct_item.setExpanded(True)
        wait_until(app, lambda: ct_item.childCount() > 0, 30)
        app.processEvents()
        grab_window(win).save(str(out / "qr-panel.png"))
        win.qr_dock.hide()
        reading_2x2(app, win, store, out / "reading-2x2.png")
        reconstructions(app, win, out)
        win.close()
        store.close()
    finally:
        subprocess.run([pacs / "orthanc-down", orthanc_dir], capture_output=True)
    print(f"screenshots in {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
