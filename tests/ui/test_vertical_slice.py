"""The first vertical slice, as a user does it: open a real series, see it, scroll, window.

Assertions are on the pixels VTK rendered, mapped back to voxels through the patient
geometry, so a flipped, shifted, wrongly windowed or wrong slice would fail.
"""

from __future__ import annotations

import numpy as np
import pydicom
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QWheelEvent
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

from tests.ui.conftest import expected_gray, screen_pixel


def open_and_wait(qtbot, win, path):
    with qtbot.waitSignal(win.volume_shown, timeout=60_000) as blocker:
        win.open_path(path)
    return blocker.args[0]


def sample_points(voxels: np.ndarray, k: int, n: int = 40, seed: int = 1) -> list[tuple[int, int]]:
    """Voxels inside flat regions (3x3 neighbourhood within 20 units) away from the edges."""
    rng = np.random.default_rng(seed)
    rows, cols = voxels.shape[1:]
    picked = []
    while len(picked) < n:
        j, i = int(rng.integers(40, rows - 40)), int(rng.integers(40, cols - 40))
        patch = voxels[k, j - 1 : j + 2, i - 1 : i + 2].astype(float)
        if np.ptp(patch) <= 20:
            picked.append((j, i))
    return picked


def assert_renders_slice(win, volume, k: int, center: float, width: float, tolerance: float = 3) -> None:
    view = win.viewport
    frame = view.grab_frame()
    errors = []
    varied = set()
    for j, i in sample_points(volume.voxels, k):
        row, col = screen_pixel(view.scene.renderer, volume.affine, k, j, i, frame.shape[0])
        want = expected_gray(float(volume.voxels[k, j, i]), center, width)
        got = float(frame[row, col, 0])
        varied.add(round(want))
        if abs(got - want) > tolerance:
            errors.append(f"voxel ({k},{j},{i})={volume.voxels[k, j, i]} drawn {got}, expected {want:.1f}")
    assert len(varied) > 3, "sample points are all the same grey: test would not catch a flip"
    assert not errors, "\n".join(errors[:10])


def lowest_instance_number_uid(folder) -> str:
    """Straight from the files: the SOP Instance UID of the lowest Instance Number."""
    files = [p for p in sorted(folder.iterdir()) if p.suffix.lower() in (".dcm", ".ima")]
    headers = [pydicom.dcmread(p, stop_before_pixels=True) for p in files]
    return str(min(headers, key=lambda h: int(h.InstanceNumber)).SOPInstanceUID)


def test_opens_real_ct_at_file_window_and_first_acquired_image(qtbot, main_window, ct_dir):
    volume = open_and_wait(qtbot, main_window, ct_dir)
    assert volume.voxels.shape == (134, 512, 512)
    view = main_window.viewport
    view.scene.set_interpolation(False)  # nearest: pixel-exact comparison
    center, width = view.scene.window
    assert (center, width) == (60.0, 400.0)  # Window Center/Width stored in the files
    # The acquisition starts at Instance Number 1, the top of the stack; the volume sorts
    # along +S, so that is its last slice, not slice 0 (the most inferior one).
    k = view.slice_index
    assert view.current_uid() == lowest_instance_number_uid(ct_dir)
    assert k == 133 and volume.affine[2, 0] > 0
    assert view.scene.corner_text("lower_left").startswith("Im 1/134")
    assert main_window.status.text().startswith("Image 1/134")
    assert_renders_slice(main_window, volume, k, center, width)
    wheel_towards_user(view.vtk_widget, 3)  # next images: down the body
    assert view.slice_index == 130
    assert int(volume.headers[130].InstanceNumber) == 4
    assert view.scene.corner_text("lower_left").startswith("Im 4/134")
    assert_renders_slice(main_window, volume, 130, center, width)


def wheel_towards_user(widget, clicks: int) -> None:
    centre = QPointF(widget.width() / 2, widget.height() / 2)
    for _ in range(clicks):
        event = QWheelEvent(centre, widget.mapToGlobal(centre), QPoint(0, 0), QPoint(0, -120),
                            Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier,
                            Qt.ScrollPhase.NoScrollPhase, False)
        QApplication.sendEvent(widget, event)


def test_wheel_scrolls_through_the_series_in_acquisition_order(qtbot, main_window, mr_dir):
    volume = open_and_wait(qtbot, main_window, mr_dir)
    view = main_window.viewport
    view.scene.set_interpolation(False)
    start = view.slice_index
    assert view.current_uid() == lowest_instance_number_uid(mr_dir)
    wheel_towards_user(view.vtk_widget, 5)  # wheel towards the user = next image
    numbers = [int(volume.headers[k].InstanceNumber) for k in (start, view.slice_index)]
    assert numbers == [1, 6]
    assert abs(view.slice_index - start) == 5
    assert view.scene.corner_text("lower_left").startswith("Im 6/100")
    # A wider window: the MR's dark background is noisy (±20 between neighbours, 3.5 grey levels
    # at the file's 1475 width), and the check is that this slice is drawn, not that noise is.
    view.set_window(700, 2000)
    assert_renders_slice(main_window, volume, view.slice_index, 700, 2000)


def test_left_drag_changes_window_and_the_pixels(qtbot, main_window, ct_dir):
    volume = open_and_wait(qtbot, main_window, ct_dir)
    view = main_window.viewport
    view.scene.set_interpolation(False)
    widget = view.vtk_widget
    c = widget.rect().center()
    QTest.mousePress(widget, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, c)
    for d in range(5, 80, 5):
        QTest.mouseMove(widget, c + QPoint(d, d // 2))
    QTest.mouseRelease(widget, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, c + QPoint(75, 37))
    center, width = view.scene.window
    assert (center, width) != (60.0, 400.0)
    assert_renders_slice(main_window, volume, view.slice_index, center, width)


def test_keyboard_end_and_invert(qtbot, main_window, ct_dir):
    volume = open_and_wait(qtbot, main_window, ct_dir)
    view = main_window.viewport
    view.scene.set_interpolation(False)
    QTest.keyClick(view.vtk_widget, Qt.Key.Key_End)  # the last image acquired: Instance Number 134, the bottom
    assert view.slice_index == 0 and int(volume.headers[0].InstanceNumber) == 134
    assert view.scene.corner_text("lower_left").startswith("Im 134/134")
    center, width = view.scene.window
    assert_renders_slice(main_window, volume, 0, center, width)
    QTest.keyClick(view.vtk_widget, Qt.Key.Key_Home)
    assert view.slice_index == 133
    QTest.keyClick(view.vtk_widget, Qt.Key.Key_I)
    frame = view.grab_frame()
    j, i = sample_points(volume.voxels, 133, n=1)[0]
    row, col = screen_pixel(view.scene.renderer, volume.affine, 133, j, i, frame.shape[0])
    want = 255 - expected_gray(float(volume.voxels[133, j, i]), center, width)
    assert abs(float(frame[row, col, 0]) - want) <= 3
