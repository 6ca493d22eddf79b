"""QVTKRenderWindowInteractor that never renders after Finalize().

Rendering after Finalize() segfaults, and child widgets get no closeEvent, so the owning
top-level window calls :meth:`Finalize` in its closeEvent (../shared/gui-testing.md §e).
"""

from __future__ import annotations

import vtkmodules.qt

vtkmodules.qt.PyQtImpl = "PySide6"  # pin the binding before the import below

from PySide6.QtWidgets import QVBoxLayout, QWidget  # noqa: E402
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


def embed_vtk(host: QWidget) -> SafeVTKWidget:
    """Fill ``host`` with a VTK widget whose render window draws without multisampling.

    VTK asks for 8x MSAA by default; images (slices, planes, ray-cast volumes) gain nothing
    from it, and on Mesa llvmpipe it costs about 20 ms a frame at 512x512 (bench/viewport.py)
    and makes read-back pixels non-deterministic.
    """
    widget = SafeVTKWidget(host)
    layout = QVBoxLayout(host)
    layout.setContentsMargins(0, 0, 0, 0)
    layout.addWidget(widget)
    widget.GetRenderWindow().SetMultiSamples(0)
    return widget
