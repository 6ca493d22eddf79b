"""Settings as a user edits them: a PACS node, our AE, theme and a preset, saved under the home."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
from PySide6.QtWidgets import QApplication, QLineEdit, QTableWidgetItem

from viewer.core.settings import load_settings
from viewer.net.nodes import DicomWebNode, LocalSettings, NetConfig, RemoteNode, load_config, save_config


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


def test_fields_the_dialog_does_not_show_are_kept(qtbot, main_window, lightbox_home, tmp_path):
    """Saving rebuilt LocalSettings from the visible fields and dropped TLS, bind and PDU settings."""
    files = {name: tmp_path / name for name in ("scp.pem", "scp.key", "clients-ca.pem", "ca.pem", "me.pem",
                                                 "me.key", "web-ca.pem")}
    for path in files.values():
        path.write_text("PEM placeholder: nothing loads it while saving\n")
    cfg = NetConfig(local=LocalSettings(ae_title="OLD", port=11112, bind_host="127.0.0.1", max_pdu=65536,
                                        tls_cert=str(files["scp.pem"]), tls_key=str(files["scp.key"]),
                                        tls_client_ca=str(files["clients-ca.pem"])))
    cfg.add(RemoteNode("Secure", "SECURE", "pacs.example", 2762, tls=True, tls_ca=str(files["ca.pem"]),
                       tls_cert=str(files["me.pem"]), tls_key=str(files["me.key"]), tls_check_hostname=False,
                       max_pdu=32768, dimse_timeout=5.0, connect_timeout=3.0))
    cfg.add(DicomWebNode("Web", "https://web.example/dicom-web", username="u", password="p",
                         ca_file=str(files["web-ca.pem"]), timeout=7.0))
    save_config(lightbox_home, cfg)
    dialog = main_window.show_settings()
    qtbot.addWidget(dialog)
    dialog.local_aet.setText("NEWAET")
    with qtbot.waitSignal(dialog.saved):
        dialog.save()
    saved = load_config(lightbox_home)
    assert saved.local == replace(cfg.local, ae_title="NEWAET")
    assert saved.nodes["Secure"] == cfg.nodes["Secure"]
    assert saved.dicomweb["Web"] == cfg.dicomweb["Web"]


@pytest.mark.pacs
def test_dicomweb_nodes_add_verify_edit_remove(qtbot, main_window, lightbox_home, orthanc):
    dialog = main_window.show_settings()
    qtbot.addWidget(dialog)
    dialog._add_web_row(None)
    dialog.web_table.setItem(0, 0, QTableWidgetItem("OrthancWeb"))
    dialog.web_table.setItem(0, 1, QTableWidgetItem(orthanc["PACS_DICOMWEB_URL"]))
    dialog.web_table.setCurrentCell(0, 0)
    dialog.verify_current_web()
    qtbot.waitUntil(lambda: "OK" in dialog.web_status.text() or "failed" in dialog.web_status.text().lower(),
                    timeout=30_000)
    assert dialog.web_status.text().startswith("OrthancWeb: OK"), dialog.web_status.text()
    # a wrong base URL says why
    dialog._add_web_row(None)
    dialog.web_table.setItem(1, 0, QTableWidgetItem("Wrong"))
    dialog.web_table.setItem(1, 1, QTableWidgetItem(orthanc["PACS_URL"] + "/no-such-root"))
    dialog.web_table.setCurrentCell(1, 0)
    dialog.verify_current_web()
    qtbot.waitUntil(lambda: dialog.web_status.text().startswith("Wrong: ") and "verifying" not in
                    dialog.web_status.text(), timeout=30_000)
    assert "404" in dialog.web_status.text(), dialog.web_status.text()
    dialog.web_table.cellWidget(1, 2).setCurrentText("bearer")
    dialog.web_table.cellWidget(1, 4).setText("s3cret")
    with qtbot.waitSignal(dialog.saved):
        dialog.save()
    cfg = load_config(lightbox_home)
    assert cfg.dicomweb["OrthancWeb"].url == orthanc["PACS_DICOMWEB_URL"]
    assert cfg.dicomweb["OrthancWeb"].token is None and cfg.dicomweb["OrthancWeb"].username is None
    assert cfg.dicomweb["Wrong"].token == "s3cret"
    assert "OrthancWeb" in [main_window.qr_panel.node_combo.itemText(i)
                            for i in range(main_window.qr_panel.node_combo.count())]

    again = main_window.show_settings()  # edit: basic auth on one, remove the other
    qtbot.addWidget(again)
    rows = {again.web_table.item(r, 0).text(): r for r in range(again.web_table.rowCount())}
    assert again.web_table.cellWidget(rows["Wrong"], 2).currentText() == "bearer"
    assert again.web_table.cellWidget(rows["Wrong"], 4).echoMode() == QLineEdit.EchoMode.Password
    row = rows["OrthancWeb"]
    again.web_table.cellWidget(row, 2).setCurrentText("basic")
    again.web_table.setItem(row, 3, QTableWidgetItem("reader"))
    again.web_table.cellWidget(row, 4).setText("pw")
    again.web_table.removeRow(rows["Wrong"])
    with qtbot.waitSignal(again.saved):
        again.save()
    cfg = load_config(lightbox_home)
    assert set(cfg.dicomweb) == {"OrthancWeb"}
    web = cfg.dicomweb["OrthancWeb"]
    assert (web.username, web.password, web.token) == ("reader", "pw", None)


def teardown_module() -> None:
    from viewer.ui.theme import apply_theme

    app = QApplication.instance()
    if app is not None:
        apply_theme(app, dark=True)  # later tests expect the default theme


def test_corner_annotation_templates_are_edited_kept_and_drawn(qtbot, main_window, lightbox_home, ct_dir,
                                                               monkeypatch):
    """A template saved before (in settings.json) survives the dialog; a corner edited there is
    saved, drawn on the open image at once, and a bad field is refused with a message."""
    from PySide6.QtWidgets import QMessageBox

    from tests.ui.test_browser import import_and_wait
    from viewer.core.settings import Settings, save_settings

    save_settings(lightbox_home, Settings(annotation_templates={"upper_left": "{patient_name}\nStation {StationName}"}))
    import_and_wait(qtbot, main_window, [ct_dir])
    main_window.open_study(main_window.store.studies()[0].study_uid)
    qtbot.waitUntil(lambda: main_window.viewport.volume is not None, timeout=60_000)
    dialog = main_window.show_settings()
    qtbot.addWidget(dialog)
    assert dialog.template_edits["upper_left"].toPlainText() == "{patient_name}\nStation {StationName}"
    dialog.template_edits["lower_right"].setPlainText("Lightbox {Modality}")
    shown = []
    monkeypatch.setattr(QMessageBox, "warning", lambda *a: shown.append(a[2]))
    dialog.template_edits["lower_left"].setPlainText("{NoSuchKeyword}")
    dialog.save()
    assert shown and "NoSuchKeyword" in shown[0]
    dialog.template_edits["lower_left"].setPlainText(dialog.template_edits["lower_left"].toPlainText()
                                                     .replace("{NoSuchKeyword}", "{SliceThickness} mm"))
    with qtbot.waitSignal(dialog.saved):
        dialog.save()
    saved = load_settings(lightbox_home).annotation_templates
    assert saved == {"upper_left": "{patient_name}\nStation {StationName}", "lower_right": "Lightbox {Modality}",
                     "lower_left": "{SliceThickness} mm"}
    scene = main_window.viewport.scene
    assert scene.corner_text("lower_right") == "Lightbox CT"
    assert scene.corner_text("lower_left").endswith(" mm")
    assert scene.corner_text("upper_left") == "Pancreas-CT-CB_001"  # this CT has no Station Name: line left out


def test_renaming_a_dicomweb_node_keeps_what_the_table_does_not_show(qtbot, main_window, lightbox_home, tmp_path):
    """The CA file and timeout of a DICOMweb node are not in the table: a rename keeps them."""
    ca = tmp_path / "ca.pem"
    ca.write_text("-----BEGIN CERTIFICATE-----\n")
    cfg = NetConfig(local=LocalSettings())
    cfg.add(DicomWebNode(name="Web", url="https://pacs.example/dicom-web", ca_file=str(ca), timeout=7.5))
    save_config(lightbox_home, cfg)
    dialog = main_window.show_settings()
    qtbot.addWidget(dialog)
    dialog.web_table.setItem(0, 0, QTableWidgetItem("Renamed"))
    with qtbot.waitSignal(dialog.saved):
        dialog.save()
    node = load_config(lightbox_home).dicomweb["Renamed"]
    assert (node.url, node.ca_file, node.timeout) == ("https://pacs.example/dicom-web", str(ca), 7.5)
