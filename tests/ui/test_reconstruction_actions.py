"""MPR and 3D from the main window on the real CT: the actions open windows that render it."""

from __future__ import annotations

import numpy as np

from tests.ui.test_browser import import_and_wait


def test_mpr_and_3d_actions_render_the_open_series(qtbot, main_window, ct_dir):
    report = import_and_wait(qtbot, main_window, [ct_dir])
    with qtbot.waitSignal(main_window.volume_shown, timeout=60_000):
        main_window.open_study(report.study_uids[0])
    for action in (main_window.mpr_action, main_window.vr_action):
        action.trigger()
        window = main_window.reconstructions[-1]
        qtbot.waitExposed(window)
        frame = window.view.grab_frame()
        assert frame.std() > 10 and len(np.unique(frame[::8, ::8, 0])) > 20
        window.close()


def test_3d_window_exports_the_real_ct_bone_surface_as_stl(qtbot, ct_dir, tmp_path, monkeypatch):
    from PySide6.QtWidgets import QFileDialog, QInputDialog

    from tests.render.test_surface import read_stl
    from viewer.core.planes import volume_corners
    from viewer.core.volume import load_volume
    from viewer.ui.reconstruction_window import ReconstructionWindow

    volume = load_volume(ct_dir)
    window = ReconstructionWindow(volume, "3d", (40, 400))
    qtbot.addWidget(window)
    window.show()
    qtbot.waitExposed(window)
    asked = {}

    def get_double(parent, title, label, value, low, high, decimals):
        asked.update(label=label, value=value)
        return value, True

    monkeypatch.setattr(QInputDialog, "getDouble", staticmethod(get_double))
    monkeypatch.setattr(QFileDialog, "getSaveFileName", staticmethod(lambda *a, **k: (str(tmp_path / "bone"), "")))
    menu = window.menuBar().actions()[0].menu()
    action = next(a for a in menu.actions() if a.text() == "Export surface as STL…")
    action.trigger()
    assert asked["value"] == 300 and "HU" in asked["label"]  # the bone preset's threshold, in HU
    corners, _ = read_stl(tmp_path / "bone.stl")  # ".stl" added to the name chosen
    assert len(corners) > 10_000
    box = volume_corners(volume.affine, volume.voxels.shape)
    points = corners.reshape(-1, 3)
    assert np.all(points.min(axis=0) >= box.min(axis=0) - 1e-3)
    assert np.all(points.max(axis=0) <= box.max(axis=0) + 1e-3)
    assert f"{len(corners):,} triangles" in window.statusBar().currentMessage()
    window.close()


def test_mpr_window_tool_bar_selects_the_reading_tools(qtbot):
    from tests.render.phantoms import acquisitions, phantom_volume
    from viewer.ui.reconstruction_window import ReconstructionWindow
    from viewer.ui.toolbar import TOOL_LABELS

    window = ReconstructionWindow(phantom_volume(acquisitions()["axial"]), "mpr", (500, 3000))
    qtbot.addWidget(window)
    window.show()
    qtbot.waitExposed(window)
    assert window.view.tool == "crosshair" and window.tool_actions["crosshair"].isChecked()
    for tool in ("length", "angle", "rectangle", "ellipse", "freehand", "probe"):
        action = window.tool_actions[tool]
        assert (action.text(), action.toolTip()) == TOOL_LABELS[tool]  # the 2D pane's names and tips
        action.trigger()
        assert window.view.tool == tool and action.isChecked()
    window.close()
