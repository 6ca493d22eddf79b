"""Fixtures for widget tests: a main window that pytest-qt closes (closeEvent finalizes VTK)."""

from __future__ import annotations

import numpy as np
import pytest
from vtkmodules.vtkRenderingCore import vtkCoordinate


@pytest.fixture
def store(lightbox_home):
    from viewer.store import Store

    store = Store.open(lightbox_home)
    yield store
    store.close()


def open_main_window(qtbot, store, home):
    """A shown MainWindow on ``store`` that pytest-qt closes; errors go to signals, not dialogs."""
    from viewer.ui.main_window import MainWindow

    win = MainWindow(store, home)
    win.quiet_errors = True
    qtbot.addWidget(win)
    win.show()
    qtbot.waitExposed(win)
    return win


@pytest.fixture
def main_window(qtbot, store, lightbox_home):
    return open_main_window(qtbot, store, lightbox_home)


def expected_gray(value: float, center: float, width: float) -> float:
    """VTK's linear window: (v - (c - w/2)) / w * 255, clamped."""
    return float(np.clip((value - (center - width / 2)) / width * 255, 0, 255))


def screen_pixel(renderer, affine: np.ndarray, k: int, j: int, i: int, frame_height: int) -> tuple[int, int]:
    """(row, column) in a top-down frame where voxel (k, j, i)'s centre is drawn."""
    world = affine @ np.array([k, j, i, 1.0])
    coord = vtkCoordinate()
    coord.SetCoordinateSystemToWorld()
    coord.SetValue(*world[:3])
    x, y = coord.GetComputedDoubleDisplayValue(renderer)
    return frame_height - 1 - round(y - 0.5), round(x - 0.5)
