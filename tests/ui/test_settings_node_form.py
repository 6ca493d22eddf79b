"""The node form edits every DIMSE node field (TLS files, max PDU, timeouts); a rename keeps them (issue 7)."""

from __future__ import annotations

from PySide6.QtWidgets import QTableWidgetItem

from viewer.net.nodes import NetConfig, RemoteNode, load_config, save_config


def _pems(tmp_path):
    files = {}
    for name in ("ca.pem", "me.pem", "me.key"):
        files[name] = tmp_path / name
        files[name].write_text("-----BEGIN CERTIFICATE-----\nplaceholder\n-----END CERTIFICATE-----\n")
    return files


def test_every_node_field_is_edited_saved_and_kept_on_rename(qtbot, main_window, lightbox_home, tmp_path):
    files = _pems(tmp_path)
    save_config(lightbox_home, NetConfig())
    dialog = main_window.show_settings()
    qtbot.addWidget(dialog)
    dialog._add_node_row(None)
    form = dialog.edit_node(0)
    qtbot.addWidget(form)
    form.name.setText("Secure")
    form.aet.setText("SECUREPACS")
    form.host.setText("pacs.example")
    form.port.setValue(2762)
    form.retrieve.setCurrentText("get")
    form.tls.setChecked(True)
    form.tls_ca.edit.setText(str(files["ca.pem"]))
    form.tls_cert.edit.setText(str(files["me.pem"]))
    form.tls_key.edit.setText(str(files["me.key"]))
    form.check_hostname.setChecked(False)
    form.max_pdu.setValue(32768)
    for field, seconds in (("connect_timeout", 3), ("acse_timeout", 4), ("dimse_timeout", 0),
                           ("network_timeout", 90)):
        form.timeouts[field].setValue(seconds)
    form.save()
    assert form.result() == form.DialogCode.Accepted
    assert dialog.nodes_table.item(0, 0).text() == "Secure" and dialog.nodes_table.cellWidget(0, 5).isChecked()
    with qtbot.waitSignal(dialog.saved):
        dialog.save()
    expected = RemoteNode("Secure", "SECUREPACS", "pacs.example", 2762, retrieve="get", tls=True,
                          tls_ca=str(files["ca.pem"]), tls_cert=str(files["me.pem"]), tls_key=str(files["me.key"]),
                          tls_check_hostname=False, max_pdu=32768, connect_timeout=3.0, acse_timeout=4.0,
                          dimse_timeout=None, network_timeout=90.0)
    assert load_config(lightbox_home).nodes == {"Secure": expected}

    # reopened, the form shows what was saved; renaming in the table keeps the hidden fields
    dialog = main_window.show_settings()
    qtbot.addWidget(dialog)
    form = dialog.edit_node(0)
    qtbot.addWidget(form)
    assert form.tls_key.edit.text() == str(files["me.key"]) and form.max_pdu.value() == 32768
    assert form.timeouts["dimse_timeout"].text() == "wait forever"
    form.reject()
    dialog.nodes_table.setItem(0, 0, QTableWidgetItem("Secure2"))
    with qtbot.waitSignal(dialog.saved):
        dialog.save()
    assert load_config(lightbox_home).nodes == {"Secure2": RemoteNode(**{**expected.__dict__, "name": "Secure2"})}


def test_node_form_refuses_missing_files_and_a_certificate_without_key(qtbot, main_window, lightbox_home, tmp_path):
    files = _pems(tmp_path)
    save_config(lightbox_home, NetConfig())
    dialog = main_window.show_settings()
    qtbot.addWidget(dialog)
    dialog._add_node_row(None)
    form = dialog.edit_node(0)
    qtbot.addWidget(form)
    form.tls.setChecked(True)
    form.tls_ca.edit.setText(str(tmp_path / "missing.pem"))
    form.save()
    assert form.node is None and "CA bundle" in form.error.text() and "Browse" in form.error.text()
    form.tls_ca.edit.setText(str(files["ca.pem"]))
    form.tls_cert.edit.setText(str(files["me.pem"]))
    form.save()
    assert form.node is None and "key" in form.error.text()
    form.tls_key.edit.setText(str(files["me.key"]))
    form.save()
    assert form.node is not None and form.node.tls_key == str(files["me.key"])
