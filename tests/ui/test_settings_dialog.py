"""Settings as a user edits them: a PACS node, our AE, theme and a preset, saved under the home."""

from __future__ import annotations

import json

from PySide6.QtWidgets import QApplication, QTableWidgetItem

from viewer.core.settings import load_settings
from viewer.net.nodes import load_config


def test_edit_and_save_settings(qtbot, main_window, lightbox_home, ct_dir):
    dialog = main_window.show_settings()
    qtbot.addWidget(dialog)
    assert str(lightbox_home) in dialog.usage_label.text()
    dialog.local_aet.setText("READING1")
    dialog.local_port.setValue(11999)
    dialog._add_node_row(None)
    for column, value in enumerate(("MainPACS", "MAINPACS", "10.0.0.5", "4242")):
        dialog.nodes_table.setItem(0, column, QTableWidgetItem(value))
    dialog.nodes_table.cellWidget(0, 4).setCurrentText("get")
    dialog.theme.setCurrentText("light")
    lung = next(r for r in range(dialog.presets_table.rowCount()) if dialog.presets_table.item(r, 1).text() == "Lung")
    dialog.presets_table.item(lung, 2).setText("-550")
    with qtbot.waitSignal(dialog.saved):
        dialog.save()
    cfg = load_config(lightbox_home)
    assert cfg.local.ae_title == "READING1" and cfg.local.port == 11999
    node = cfg.nodes["MainPACS"]
    assert (node.aet, node.host, node.port, node.retrieve) == ("MAINPACS", "10.0.0.5", 4242, "get")
    settings = load_settings(lightbox_home)
    assert settings.theme == "light"
    assert settings.user_presets == [{"modality": "CT", "name": "Lung", "center": -550.0, "width": 1500.0,
                                      "key": "4"}]
    assert main_window.qr_panel.node_combo.currentText() == "MainPACS"  # applied to the open window
    window_color = QApplication.instance().palette().window().color()
    assert window_color.lightness() > 128  # the light theme is on
    assert json.loads((lightbox_home / "settings.json").read_text())["version"] == 1


def test_invalid_node_is_refused_with_a_message(qtbot, main_window, lightbox_home, monkeypatch):
    from PySide6.QtWidgets import QMessageBox

    shown = []
    monkeypatch.setattr(QMessageBox, "warning", lambda *a: shown.append(a[2]))
    dialog = main_window.show_settings()
    qtbot.addWidget(dialog)
    dialog._add_node_row(None)
    dialog.nodes_table.setItem(0, 3, QTableWidgetItem("not-a-port"))
    dialog.save()
    assert shown and "not-a-port" in shown[0]
    assert not (lightbox_home / "nodes.json").exists()


def teardown_module() -> None:
    from viewer.ui.theme import apply_theme

    app = QApplication.instance()
    if app is not None:
        apply_theme(app, dark=True)  # later tests expect the default theme
