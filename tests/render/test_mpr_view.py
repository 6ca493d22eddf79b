"""MprView under pytest-qt: a real click in the axial plane moves the crosshair there, so the
coronal and sagittal planes now pass through the clicked LPS point; the wheel steps along
the normal; R resets."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QPoint, Qt
from PySide6.QtTest import QTest

from tests.render.phantoms import SPHERE_CENTER, acquisitions, phantom_volume


def test_click_wheel_and_reset_drive_the_crosshair(qtbot) -> None:
    from viewer.ui.mpr_view import MprView

    view = MprView(phantom_volume(acquisitions()["axial"]), window=(500, 3000))
    qtbot.addWidget(view)
    view.resize(600, 220)
    view.show()
    qtbot.waitExposed(view)
    view.render()
    scene = view.scene
    axial = scene.planes["axial"]
    x, y = axial.lps_to_display(SPHERE_CENTER)  # VTK display coords, y up
    height = view.vtk_widget.height()
    ratio = view.vtk_widget.devicePixelRatioF()
    target = QPoint(round(x / ratio), round(height - 1 - y / ratio))
    QTest.mouseClick(view.vtk_widget, Qt.LeftButton, Qt.NoModifier, target)
    clicked = scene.crosshair.center.copy()
    assert np.linalg.norm(clicked[:2] - SPHERE_CENTER[:2]) < 2.0  # within a screen pixel or two
    for other in ("coronal", "sagittal"):
        assert abs(scene.planes[other].grid.lps_to_pixel(clicked)[2]) < 1e-6  # they pass through it
    frame = view.grab_frame()
    assert frame.max() > 100
    before_z = clicked[2]
    view.scene.scroll("axial", 3)
    assert scene.crosshair.center[2] - before_z == np.float64(3 * scene.reslicer.smallest_spacing)
    QTest.keyClick(view.vtk_widget, Qt.Key_R)
    np.testing.assert_allclose(scene.crosshair.center, scene.crosshair._home[0])


def test_volume_view_renders_and_switches_presets(qtbot) -> None:
    from viewer.ui.volume_view import VolumeView

    view = VolumeView(phantom_volume(acquisitions()["tilted"]))
    qtbot.addWidget(view)
    view.resize(200, 200)
    view.show()
    qtbot.waitExposed(view)
    bone = view.grab_frame()
    view.set_preset("mip")
    mip = view.grab_frame()
    assert bone.max() > 100 and np.abs(bone.astype(int) - mip.astype(int)).mean() > 1
