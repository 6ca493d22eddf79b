"""QVTKRenderWindowInteractor that never renders after Finalize().

Rendering after Finalize() segfaults, and child widgets get no closeEvent, so the owning
top-level window calls :meth:`Finalize` in its closeEvent (../shared/gui-testing.md §e).
"""

from __future__ import annotations

import vtkmodules.qt

vtkmodules.qt.PyQtImpl = "PySide6"  # pin the binding before the import below

from vtkmodules.qt.QVTKRenderWindowInteractor import QVTKRenderWindowInteractor  # noqa: E402


class SafeVTKWidget(QVTKRenderWindowInteractor):
    _finalized = False

    @property
    def finalized(self) -> bool:
        return self._finalized

    def Finalize(self) -> None:
        if not self._finalized:
            self._finalized = True
            super().Finalize()

    def paintEvent(self, ev) -> None:
        if not self._finalized:
            super().paintEvent(ev)

    def resizeEvent(self, ev) -> None:
        if not self._finalized:
            super().resizeEvent(ev)

    def render(self) -> None:
        if not self._finalized:
            self.GetRenderWindow().Render()
