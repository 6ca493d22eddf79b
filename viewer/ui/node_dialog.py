"""The form that edits every field of a DIMSE node: address, retrieve method, TLS, max PDU, timeouts.

The settings table shows a node's main fields; TLS files, hostname checking, max PDU and the
four timeouts (connect, ACSE, DIMSE, network; ``RemoteNode``) are edited here. Values are
validated by :class:`viewer.net.nodes.RemoteNode` itself, plus the checks a form can make
before anything connects: PEM files that exist and a key with its certificate.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from viewer.core.errors import LightboxError
from viewer.net.nodes import RemoteNode

TIMEOUTS = (("connect_timeout", "Connect timeout"), ("acse_timeout", "Association (ACSE) timeout"),
            ("dimse_timeout", "DIMSE timeout"), ("network_timeout", "Network idle timeout"))
PEM_FILTER = "PEM files (*.pem *.crt *.cer *.key);;All files (*)"


class NodeFormError(LightboxError):
    """A value in the node form cannot be used; the message names the field and what to do."""


class PemField(QWidget):
    """A path to a PEM file with a Browse… button."""

    def __init__(self, value: str | None, title: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.title = title
        self.edit = QLineEdit(value or "", placeholderText="none")
        self.browse = QPushButton("Browse…")
        self.browse.clicked.connect(self._choose)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.edit, 1)
        layout.addWidget(self.browse)

    def _choose(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, self.title, self.edit.text() or str(Path.home()), PEM_FILTER)
        if path:
            self.edit.setText(path)

    def value(self) -> str | None:
        text = self.edit.text().strip()
        if not text:
            return None
        if not Path(text).is_file():
            raise NodeFormError(f"{self.title}: {text} is not a file; choose the PEM file with Browse…")
        return text


class NodeDialog(QDialog):
    """Edit one :class:`RemoteNode`; :attr:`node` holds the validated result after Save."""

    def __init__(self, node: RemoteNode, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(f"PACS node {node.name}")
        self.original = node
        self.node: RemoteNode | None = None
        self.name = QLineEdit(node.name)
        self.aet = QLineEdit(node.aet)
        self.host = QLineEdit(node.host)
        self.port = QSpinBox(minimum=1, maximum=65535, value=node.port)
        self.retrieve = QComboBox()
        self.retrieve.addItems(["move", "get"])
        self.retrieve.setCurrentText(node.retrieve)
        self.tls = QCheckBox("Use TLS (PS3.15 B.1)")
        self.tls.setChecked(node.tls)
        self.tls_ca = PemField(node.tls_ca, "CA bundle")
        self.tls_cert = PemField(node.tls_cert, "Client certificate")
        self.tls_key = PemField(node.tls_key, "Client key")
        self.check_hostname = QCheckBox("Check the server's host name")
        self.check_hostname.setChecked(node.tls_check_hostname)
        self.max_pdu = QSpinBox(minimum=0, maximum=2**31 - 1, value=node.max_pdu, suffix=" bytes")
        self.max_pdu.setSpecialValueText("unlimited")
        self.timeouts: dict[str, QDoubleSpinBox] = {}
        form = QFormLayout()
        for label, widget in (("Name", self.name), ("AE title", self.aet), ("Host", self.host), ("Port", self.port),
                              ("Retrieve with", self.retrieve), ("", self.tls),
                              ("CA bundle", self.tls_ca), ("Client certificate", self.tls_cert),
                              ("Client key", self.tls_key), ("", self.check_hostname),
                              ("Max PDU we receive", self.max_pdu)):
            form.addRow(label, widget)
        for field, label in TIMEOUTS:
            value = getattr(node, field)
            box = QDoubleSpinBox(minimum=0, maximum=86400, decimals=1, suffix=" s",
                                 value=0 if value is None else value)
            box.setSpecialValueText("wait forever")
            self.timeouts[field] = box
            form.addRow(label, box)
        self.tls.toggled.connect(self._tls_toggled)
        self._tls_toggled(node.tls)
        self.error = QLabel()
        self.error.setWordWrap(True)
        self.error.setStyleSheet("color: #d04040")
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.save)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.error)
        layout.addWidget(buttons)

    def _tls_toggled(self, on: bool) -> None:
        for widget in (self.tls_ca, self.tls_cert, self.tls_key, self.check_hostname):
            widget.setEnabled(on)

    def edited(self) -> RemoteNode:
        """The node as the form says it; raises :class:`LightboxError` with what to correct."""
        cert, key = self.tls_cert.value(), self.tls_key.value()
        timeouts = {field: (box.value() or None) for field, box in self.timeouts.items()}
        return replace(self.original, name=self.name.text().strip(), aet=self.aet.text().strip(),
                       host=self.host.text().strip(), port=self.port.value(), retrieve=self.retrieve.currentText(),
                       tls=self.tls.isChecked(), tls_ca=self.tls_ca.value(), tls_cert=cert, tls_key=key,
                       tls_check_hostname=self.check_hostname.isChecked(), max_pdu=self.max_pdu.value(),
                       **timeouts)

    def save(self) -> None:
        try:
            node = self.edited()
            if not node.host:
                raise NodeFormError("Host: enter the PACS's host name or IP address")
        except LightboxError as exc:
            self.error.setText(str(exc))
            return
        self.node = node
        self.accept()
