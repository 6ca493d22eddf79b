"""MPR and 3D of the active series in their own window (closing it releases the GL context)."""

from __future__ import annotations

from PySide6.QtWidgets import QMainWindow, QWidget

from viewer.core.volume import Volume


class ReconstructionWindow(QMainWindow):
    """Hosts an MprView or a VolumeView; its closeEvent finalizes VTK before Qt destroys it."""

    def __init__(self, volume: Volume, kind: str, window: tuple[float, float],
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        if kind == "mpr":
            from viewer.ui.mpr_view import MprView

            self.view = MprView(volume, window)
            self.setWindowTitle("Lightbox — MPR")
        else:
            from viewer.ui.volume_view import VolumeView

            modality = str(volume.headers[0].get("Modality", ""))
            self.view = VolumeView(volume, preset="ct-bone" if modality == "CT" else "mr-default")
            self.setWindowTitle("Lightbox — 3D")
        self.setCentralWidget(self.view)
        self.resize(1200, 500 if kind == "mpr" else 800)

    def closeEvent(self, event) -> None:
        self.view.shutdown()
        super().closeEvent(event)
