"""Settings: storage and disk usage, our AE and the PACS nodes, display preferences.

Values are validated by the Qt-free settings objects (``viewer.core.settings``,
``viewer.net.nodes``) and written under the Lightbox home; the dialog only edits them.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPlainTextEdit,
    QPushButton,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from viewer.core.annotations import CORNERS, DEFAULT_TEMPLATES, TEMPLATE_FIELDS, effective_templates
from viewer.core.errors import LightboxError
from viewer.core.presets import BUILTIN
from viewer.core.settings import THEMES, Settings, load_settings, save_settings
from viewer.net.dicomweb import ping
from viewer.net.echo import echo
from viewer.net.nodes import DicomWebNode, NetConfig, RemoteNode, load_config, save_config
from viewer.store import Store
from viewer.ui.jobs import WorkerBridge
from viewer.ui.node_dialog import NodeDialog
from viewer.ui.study_browser import format_date

NODE_COLUMNS = ("Name", "AE title", "Host", "Port", "Retrieve", "TLS")
NODE_PROPERTY = "node"  # on a node row's Retrieve combo box (it outlives cell edits): the RemoteNode it was
WEB_COLUMNS = ("Name", "Base URL", "Auth", "User", "Password / token")
AUTH_KINDS = ("none", "basic", "bearer")  # what DicomWebNode supports (HTTP Basic, Bearer token)
PRESET_COLUMNS = ("Modality", "Name", "Center", "Width", "Key")


def human_bytes(n: int) -> str:
    size = float(n)
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} TB"


class SettingsDialog(QDialog):
    saved = Signal()

    def __init__(self, store: Store, home: Path, workers: WorkerBridge, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Settings")
        self.resize(760, 560)
        self.store, self.home, self.workers = store, Path(home), workers
        self.settings = load_settings(self.home)
        self.net = load_config(self.home)
        tabs = QTabWidget()
        tabs.addTab(self._storage_tab(), "Storage")
        tabs.addTab(self._network_tab(), "Network")
        tabs.addTab(self._display_tab(), "Display")
        tabs.addTab(self._annotations_tab(), "Annotations")
        self.tabs = tabs
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.save)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(tabs)
        layout.addWidget(buttons)

    # --- storage -------------------------------------------------------------------------------
    def _storage_tab(self) -> QWidget:
        page = QWidget()
        usage = self.store.disk_usage()
        studies = {s.study_uid: s for s in self.store.studies()}
        self.usage_label = QLabel(
            f"Lightbox home: {self.home}\n(change it with --home DIR or $LIGHTBOX_HOME)\n\n"
            f"Cache: {human_bytes(usage.total_bytes)} in {len(studies)} studies — "
            f"{human_bytes(usage.managed_bytes)} managed copies, {human_bytes(usage.linked_bytes)} linked in place")
        self.usage_table = QTableWidget(0, 3)
        self.usage_table.setHorizontalHeaderLabels(("Patient", "Study", "Size"))
        self.usage_table.horizontalHeader().setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        for uid, size in sorted(usage.per_study.items(), key=lambda kv: -kv[1]):
            study = studies.get(uid)
            row = self.usage_table.rowCount()
            self.usage_table.insertRow(row)
            self.usage_table.setItem(row, 0, QTableWidgetItem(study.patient_name if study else ""))
            label = f"{format_date(study.study_date)} {study.description}" if study else uid
            self.usage_table.setItem(row, 1, QTableWidgetItem(label))
            self.usage_table.setItem(row, 2, QTableWidgetItem(human_bytes(size)))
        layout = QVBoxLayout(page)
        layout.addWidget(self.usage_label)
        layout.addWidget(self.usage_table)
        return page

    # --- network -------------------------------------------------------------------------------
    def _network_tab(self) -> QWidget:
        page = QWidget()
        local = self.net.local
        self.local_aet = QLineEdit(local.ae_title)
        self.local_port = QSpinBox(minimum=1, maximum=65535, value=local.port)
        self.accept_aets = QLineEdit(" ".join(local.accept_aets), placeholderText="empty: accept any calling AE")
        form = QFormLayout()
        form.addRow("Our AE title", self.local_aet)
        form.addRow("Storage SCP port", self.local_port)
        form.addRow("Accept pushes from", self.accept_aets)
        self.nodes_table = QTableWidget(0, len(NODE_COLUMNS))
        self.nodes_table.setHorizontalHeaderLabels(NODE_COLUMNS)
        self.nodes_table.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        for node in self.net.nodes.values():
            self._add_node_row(node)
        add, remove, verify = QPushButton("Add node"), QPushButton("Remove"), QPushButton("Verify (C-ECHO)")
        edit = QPushButton("Edit… (TLS, PDU, timeouts)")
        add.clicked.connect(lambda: self._add_node_row(None))
        edit.clicked.connect(lambda: self.edit_node(self.nodes_table.currentRow()))
        remove.clicked.connect(lambda: self.nodes_table.removeRow(self.nodes_table.currentRow()))
        verify.clicked.connect(self.verify_current)
        self.nodes_table.verticalHeader().sectionDoubleClicked.connect(self.edit_node)
        self.verify_status = QLabel()
        buttons = QHBoxLayout()
        for b in (add, edit, remove, verify):
            buttons.addWidget(b)
        buttons.addWidget(self.verify_status, 1)
        self.web_table = QTableWidget(0, len(WEB_COLUMNS))
        self.web_table.setHorizontalHeaderLabels(WEB_COLUMNS)
        self.web_table.horizontalHeader().setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        for web in self.net.dicomweb.values():
            self._add_web_row(web)
        add_web, remove_web = QPushButton("Add DICOMweb node"), QPushButton("Remove")
        verify_web = QPushButton("Verify (QIDO-RS)")
        add_web.clicked.connect(lambda: self._add_web_row(None))
        remove_web.clicked.connect(lambda: self.web_table.removeRow(self.web_table.currentRow()))
        verify_web.clicked.connect(self.verify_current_web)
        self.web_status = QLabel()
        web_buttons = QHBoxLayout()
        for b in (add_web, remove_web, verify_web):
            web_buttons.addWidget(b)
        web_buttons.addWidget(self.web_status, 1)
        layout = QVBoxLayout(page)
        layout.addLayout(form)
        layout.addWidget(QLabel("PACS nodes (DIMSE)"))
        layout.addWidget(self.nodes_table)
        layout.addLayout(buttons)
        layout.addWidget(QLabel("DICOMweb nodes (QIDO-RS, WADO-RS, STOW-RS)"))
        layout.addWidget(self.web_table)
        layout.addLayout(web_buttons)
        return page

    def _add_node_row(self, node: RemoteNode | None) -> None:
        row = self.nodes_table.rowCount()
        self.nodes_table.insertRow(row)
        values = (node.name, node.aet, node.host, str(node.port)) if node else ("PACS", "PACS", "127.0.0.1", "104")
        for column, value in enumerate(values):
            self.nodes_table.setItem(row, column, QTableWidgetItem(value))
        method = QComboBox()
        # the node as loaded, kept with its row: fields the table does not show (TLS files, max PDU,
        # timeouts) survive an edit of the row, a rename included
        method.setProperty(NODE_PROPERTY, node)
        method.addItems(["move", "get"])
        method.setCurrentText(node.retrieve if node else "move")
        self.nodes_table.setCellWidget(row, 4, method)
        tls = QCheckBox()
        tls.setChecked(bool(node and node.tls))
        self.nodes_table.setCellWidget(row, 5, tls)

    def _node_from_row(self, row: int) -> RemoteNode:
        text = [self.nodes_table.item(row, c).text().strip() if self.nodes_table.item(row, c) else ""
                for c in range(4)]
        try:
            port = int(text[3])
        except ValueError:
            raise LightboxError(f"node {text[0]!r}: port {text[3]!r} is not a number") from None
        edited = dict(name=text[0], aet=text[1], host=text[2], port=port,
                      retrieve=self.nodes_table.cellWidget(row, 4).currentText(),
                      tls=self.nodes_table.cellWidget(row, 5).isChecked())
        old = self.nodes_table.cellWidget(row, 4).property(NODE_PROPERTY)
        # fields the table does not show (TLS files, timeouts, max PDU) are kept as they were, even
        # when the name changed: the row remembers the node it was loaded (or last edited) as
        return replace(old, **edited) if old else RemoteNode(**edited)  # type: ignore[arg-type]

    def edit_node(self, row: int) -> NodeDialog | None:
        """Open the form with every field of the node in ``row``; Save there updates the row."""
        if row < 0:
            self.verify_status.setText("Select a node first")
            return None
        try:
            node = self._node_from_row(row)
        except LightboxError as exc:
            self.verify_status.setText(str(exc))
            return None
        dialog = NodeDialog(node, self)
        dialog.accepted.connect(lambda: self._set_node_row(row, dialog.node))
        dialog.open()
        return dialog

    def _set_node_row(self, row: int, node: RemoteNode | None) -> None:
        if node is None:
            return
        for column, value in enumerate((node.name, node.aet, node.host, str(node.port))):
            self.nodes_table.setItem(row, column, QTableWidgetItem(value))
        self.nodes_table.cellWidget(row, 4).setProperty(NODE_PROPERTY, node)
        self.nodes_table.cellWidget(row, 4).setCurrentText(node.retrieve)
        self.nodes_table.cellWidget(row, 5).setChecked(node.tls)

    # --- DICOMweb nodes ------------------------------------------------------------------------
    def _add_web_row(self, node: DicomWebNode | None) -> None:
        row = self.web_table.rowCount()
        self.web_table.insertRow(row)
        auth = "bearer" if node and node.token else "basic" if node and node.username else "none"
        values = (node.name, node.url) if node else ("DICOMweb", "http://127.0.0.1:8042/dicom-web")
        for column, value in enumerate(values):
            self.web_table.setItem(row, column, QTableWidgetItem(value))
        kind = QComboBox()
        kind.setProperty(NODE_PROPERTY, node)  # as for DIMSE rows: a rename keeps CA file and timeout
        kind.addItems(AUTH_KINDS)
        kind.setCurrentText(auth)
        self.web_table.setCellWidget(row, 2, kind)
        self.web_table.setItem(row, 3, QTableWidgetItem((node.username or "") if node and auth == "basic" else ""))
        secret = QLineEdit((node.token if auth == "bearer" else node.password) or "" if node else "")
        secret.setEchoMode(QLineEdit.EchoMode.Password)  # never shown on screen
        self.web_table.setCellWidget(row, 4, secret)

    def _web_from_row(self, row: int) -> DicomWebNode:
        def cell(column: int) -> str:
            item = self.web_table.item(row, column)
            return item.text().strip() if item else ""

        auth = self.web_table.cellWidget(row, 2).currentText()
        secret = self.web_table.cellWidget(row, 4).text()
        name, url, user = cell(0), cell(1), cell(3)
        if auth == "basic" and not user:
            raise LightboxError(f"DICOMweb node {name!r}: basic authentication needs a user name")
        if auth == "bearer" and not secret:
            raise LightboxError(f"DICOMweb node {name!r}: bearer authentication needs a token")
        edited = dict(name=name, url=url, username=user if auth == "basic" else None,
                      password=secret if auth == "basic" else None, token=secret if auth == "bearer" else None)
        old = self.web_table.cellWidget(row, 2).property(NODE_PROPERTY)
        return replace(old, **edited) if old else DicomWebNode(**edited)  # type: ignore[arg-type]

    def verify_current_web(self) -> None:
        row = self.web_table.currentRow()
        if row < 0:
            self.web_status.setText("Select a DICOMweb node first")
            return
        try:
            node = self._web_from_row(row)
        except LightboxError as exc:
            self.web_status.setText(str(exc))
            return
        self.web_status.setText(f"verifying {node.name}…")
        self.workers.submit(ping, node,
                            on_done=lambda s: self.web_status.setText(f"{node.name}: OK, {s * 1000:.0f} ms"),
                            on_error=lambda exc: self.web_status.setText(f"{node.name}: {exc}"))

    def verify_current(self) -> None:
        row = self.nodes_table.currentRow()
        if row < 0:
            self.verify_status.setText("Select a node first")
            return
        try:
            node = self._node_from_row(row)
            local = replace(self.net.local, ae_title=self.local_aet.text().strip(), port=self.local_port.value())
        except LightboxError as exc:
            self.verify_status.setText(str(exc))
            return
        self.verify_status.setText(f"verifying {node.name}…")
        self.workers.submit(echo, node, local,
                            on_done=lambda s: self.verify_status.setText(f"{node.name}: OK, {s * 1000:.0f} ms"),
                            on_error=lambda exc: self.verify_status.setText(f"{node.name}: {exc}"))

    # --- display -------------------------------------------------------------------------------
    def _display_tab(self) -> QWidget:
        page = QWidget()
        self.theme = QComboBox()
        self.theme.addItems(THEMES)
        self.theme.setCurrentText(self.settings.theme)
        self.annotations = QCheckBox("Show corner annotations")
        self.annotations.setChecked(self.settings.annotations)
        self.presets_table = QTableWidget(0, len(PRESET_COLUMNS))
        self.presets_table.setHorizontalHeaderLabels(PRESET_COLUMNS)
        self.presets_table.horizontalHeader().setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        user = {(p["modality"], p["name"].lower()): p for p in self.settings.user_presets}
        rows = [{"modality": m, "name": p.name, "center": p.center, "width": p.width, "key": p.key}
                for m, presets in BUILTIN.items() for p in presets]
        rows = [user.pop((r["modality"], r["name"].lower()), r) for r in rows] + list(user.values())
        for entry in rows:
            self._add_preset_row(entry)
        add, remove = QPushButton("Add preset"), QPushButton("Remove")
        add.clicked.connect(lambda: self._add_preset_row({"modality": "CT", "name": "New", "center": 40,
                                                          "width": 400, "key": ""}))
        remove.clicked.connect(lambda: self.presets_table.removeRow(self.presets_table.currentRow()))
        form = QFormLayout()
        form.addRow("Theme", self.theme)
        form.addRow("", self.annotations)
        buttons = QHBoxLayout()
        buttons.addWidget(add)
        buttons.addWidget(remove)
        buttons.addStretch(1)
        layout = QVBoxLayout(page)
        layout.addLayout(form)
        layout.addWidget(QLabel("Window/level presets (number keys in the viewer)"))
        layout.addWidget(self.presets_table)
        layout.addLayout(buttons)
        return page

    def _add_preset_row(self, entry: dict) -> None:
        row = self.presets_table.rowCount()
        self.presets_table.insertRow(row)
        for column, key in enumerate(("modality", "name", "center", "width", "key")):
            value = entry.get(key, "")
            text = f"{value:g}" if isinstance(value, float | int) else str(value)
            self.presets_table.setItem(row, column, QTableWidgetItem(text))

    def _presets(self) -> list[dict]:
        """The preset table as user overrides (only rows that differ from the built-ins)."""
        builtin = {(m, p.name.lower()): p for m, presets in BUILTIN.items() for p in presets}
        out = []
        for row in range(self.presets_table.rowCount()):
            cell = [self.presets_table.item(row, c).text().strip() for c in range(5)]
            try:
                entry = {"modality": cell[0].upper(), "name": cell[1], "center": float(cell[2]),
                         "width": float(cell[3]), "key": cell[4]}
            except ValueError:
                raise LightboxError(f"preset {cell[1]!r}: center and width must be numbers") from None
            same = builtin.get((entry["modality"], entry["name"].lower()))
            if same is None or (same.center, same.width, same.key) != (entry["center"], entry["width"], entry["key"]):
                out.append(entry)
        return out

    # --- corner annotations ------------------------------------------------------------------------
    def _annotations_tab(self) -> QWidget:
        """One editor per corner, showing what the viewer draws now (the defaults where the
        user changed nothing); only corners that differ from the defaults are saved."""
        page = QWidget()
        grid = QGridLayout()
        self.template_edits: dict[str, QPlainTextEdit] = {}
        shown = effective_templates(self.settings.annotation_templates)
        for i, corner in enumerate(CORNERS):
            edit = QPlainTextEdit(shown[corner])
            edit.setObjectName(f"template-{corner}")
            box = QGroupBox(corner.replace("_", " ").capitalize())
            QVBoxLayout(box).addWidget(edit)
            grid.addWidget(box, i // 2, i % 2)
            self.template_edits[corner] = edit
        reset = QPushButton("Reset to defaults")
        reset.clicked.connect(lambda: [e.setPlainText(DEFAULT_TEMPLATES[c]) for c, e in self.template_edits.items()])
        fields = QLabel("One line per line on the image; {field} is replaced, a line whose fields are all empty "
                        "is left out. Fields: " + ", ".join(f"{{{name}}}" for name in TEMPLATE_FIELDS)
                        + ", or any DICOM keyword such as {StationName}.")
        fields.setWordWrap(True)
        layout = QVBoxLayout(page)
        layout.addLayout(grid, 1)
        layout.addWidget(fields)
        layout.addWidget(reset)
        return page

    def _templates(self) -> dict[str, str]:
        edited = {c: e.toPlainText().rstrip("\n") for c, e in self.template_edits.items()}
        return {c: t for c, t in edited.items() if t != DEFAULT_TEMPLATES[c]}

    # --- saving --------------------------------------------------------------------------------
    def save(self) -> None:
        try:
            settings = Settings(theme=self.theme.currentText(), annotations=self.annotations.isChecked(),
                                user_presets=self._presets(), annotation_templates=self._templates(),
                                extra=self.settings.extra)
            # replace(): what the dialog does not show (TLS files, bind address, max PDU) is kept
            net = NetConfig(local=replace(self.net.local, ae_title=self.local_aet.text().strip(),
                                          port=self.local_port.value(),
                                          accept_aets=self.accept_aets.text().split()))
            for row in range(self.nodes_table.rowCount()):
                net.add(self._node_from_row(row))
            for row in range(self.web_table.rowCount()):
                net.add(self._web_from_row(row))
        except LightboxError as exc:
            QMessageBox.warning(self, "Settings", str(exc))
            return
        save_settings(self.home, settings)
        save_config(self.home, net)
        self.saved.emit()
        self.accept()
