"""Export and send dialogs: choose where and how, then the work runs as a job."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QRadioButton,
    QVBoxLayout,
    QWidget,
)

from viewer.net.nodes import load_config
from viewer.store.deidentify import DeidOptions

FORMATS = ("Folder of DICOM files", "DICOM media with DICOMDIR (CD/DVD/USB)", "ZIP archive")


class ExportDialog(QDialog):
    """Where to, in which form, and whether to de-identify (PS3.15 Annex E Basic Profile)."""

    def __init__(self, study_label: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Export study")
        self.destination = QLineEdit()
        browse = QPushButton("Choose…")
        browse.clicked.connect(self._browse)
        row = QHBoxLayout()
        row.addWidget(self.destination, 1)
        row.addWidget(browse)
        self.formats = [QRadioButton(text) for text in FORMATS]
        self.formats[1].setChecked(True)
        self.anonymize = QCheckBox("De-identify (Basic Application Level Confidentiality Profile)")
        self.keep_dates = QCheckBox("Retain longitudinal dates, shifted")
        self.keep_device = QCheckBox("Retain device identity")
        self.keep_private = QCheckBox("Keep private tags")
        for box in (self.keep_dates, self.keep_device, self.keep_private):
            box.setEnabled(False)
            self.anonymize.toggled.connect(box.setEnabled)
        form = QFormLayout()
        form.addRow("Study", QLabel(study_label))
        form.addRow("Destination", row)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        for button in self.formats:
            layout.addWidget(button)
        for box in (self.anonymize, self.keep_dates, self.keep_device, self.keep_private):
            layout.addWidget(box)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)

    def _browse(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Export to folder")
        if folder:
            self.destination.setText(folder)

    def options(self) -> dict:
        """Keyword arguments for :func:`viewer.store.export.export_study`."""
        deid = None
        if self.anonymize.isChecked():
            deid = DeidOptions(retain_dates_shifted=self.keep_dates.isChecked(),
                               retain_device_identity=self.keep_device.isChecked(),
                               keep_private=self.keep_private.isChecked())
        return {"dest": Path(self.destination.text()), "dicomdir": self.formats[1].isChecked(),
                "as_zip": self.formats[2].isChecked(), "deidentify": deid}


class SendDialog(QDialog):
    """Which configured node to send to (C-STORE, or STOW-RS for a DICOMweb node)."""

    def __init__(self, home: Path, what: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(f"Send {what}")
        self.config = load_config(home)
        self.nodes = QComboBox()
        names = sorted([*self.config.nodes, *self.config.dicomweb])
        self.nodes.addItems(names)
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel(f"Send the {what} to:" if names else
                                "No PACS nodes configured: add one in Settings."))
        layout.addWidget(self.nodes)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        buttons.button(QDialogButtonBox.StandardButton.Ok).setEnabled(bool(names))
        layout.addWidget(buttons)
