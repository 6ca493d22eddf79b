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
    with qtbot.waitSignal(window.export_finished, timeout=60_000):  # written on a worker thread
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


def test_3d_window_presets_transfer_drag_crop_and_reset_on_the_real_ct(qtbot, ct_dir):
    from PySide6.QtCore import QPoint, Qt
    from PySide6.QtTest import QTest

    from tests.ui.test_viewport import drag
    from viewer.core.volume import load_volume
    from viewer.render.volume_render import PRESETS
    from viewer.ui.reconstruction_window import ReconstructionWindow
    from viewer.ui.volume_view import LEVEL_PER_PIXEL

    window = ReconstructionWindow(load_volume(ct_dir), "3d", (40, 400))
    qtbot.addWidget(window)
    window.resize(700, 600)
    window.show()
    qtbot.waitExposed(window)
    view = window.view
    view.render()
    bone = view.grab_frame()

    combo = window.preset_combo
    assert [combo.itemData(i) for i in range(combo.count())] == list(PRESETS)
    combo.setCurrentIndex(combo.findData("ct-soft-tissue"))
    assert view.preset_key == "ct-soft-tissue" and view.scene.preset is PRESETS["ct-soft-tissue"]
    soft = view.grab_frame()
    assert np.abs(soft.astype(int) - bone).mean() > 2  # skin and muscle now show

    # right drag 50 px up: the transfer function moves by 50 px x LEVEL_PER_PIXEL, as a level would
    w = view.vtk_widget
    c = QPoint(w.width() // 2, w.height() // 2)
    drag(w, [c, c + QPoint(0, -25), c + QPoint(0, -50)], Qt.MouseButton.RightButton)
    ratio = w.devicePixelRatioF()
    assert view.scene.shift == np.float64(50 * ratio * LEVEL_PER_PIXEL)
    assert view.scene.scale == 1.0
    moved = view.grab_frame()
    assert np.abs(moved.astype(int) - soft).mean() > 1
    drag(w, [c, c + QPoint(40, 0)], Qt.MouseButton.RightButton)
    assert view.scene.scale > 1.0  # horizontal: wider

    # crop to the patient's left half (LPS x above the centre): the screen's left half empties
    combo.setCurrentIndex(combo.findData("ct-bone"))  # a preset starts unshifted
    assert (view.scene.shift, view.scene.scale) == (0.0, 1.0)
    window.crop_action.setChecked(True)
    x0, x1, y0, y1, z0, z1 = view.scene.actor.GetBounds()
    view.set_crop_bounds(((x0 + x1) / 2, x1, y0, y1, z0, z1))
    cropped = view.grab_frame().astype(int)
    background = cropped[5, 5]
    left = np.abs(cropped[:, : cropped.shape[1] // 2 - 20] - background).max(axis=2)
    right = np.abs(cropped[:, cropped.shape[1] // 2 + 20 :] - background).max(axis=2)
    assert (left > 10).mean() < 0.001 and (right > 10).mean() > 0.05
    window.crop_action.setChecked(False)
    assert np.abs(view.grab_frame().astype(int)[:, : cropped.shape[1] // 2 - 20] - background).max(axis=2).mean() > 1

    # rotate with a left drag, then R brings back the anterior view
    camera = view.scene.renderer.GetActiveCamera()
    front = np.array(camera.GetPosition())
    drag(w, [c, c + QPoint(60, 0), c + QPoint(120, 10)])
    assert np.linalg.norm(np.array(camera.GetPosition()) - front) > 10
    QTest.keyClick(w, Qt.Key.Key_R)
    assert np.allclose(camera.GetPosition(), front, atol=1e-3)
    window.close()
