"""Our AE title and storage port take effect when Settings are saved, and the SCP's state stays visible (issue 7)."""

from __future__ import annotations

import socket

import pytest

from tests.conftest import free_port
from viewer.net.echo import echo
from viewer.net.errors import NetError
from viewer.net.nodes import LocalSettings, NetConfig, RemoteNode, save_config


def _save_in_dialog(qtbot, win, aet: str, port: int) -> None:
    dialog = win.show_settings()
    qtbot.addWidget(dialog)
    dialog.local_aet.setText(aet)
    dialog.local_port.setValue(port)
    dialog.accept_aets.setText("ECHOER")
    with qtbot.waitSignal(dialog.saved):
        dialog.save()


def _echo(aet: str, port: int) -> float:
    return echo(RemoteNode("us", aet, "127.0.0.1", port, connect_timeout=3, acse_timeout=5),
                LocalSettings(ae_title="ECHOER"))


def test_saved_ae_and_port_restart_the_storage_scp(qtbot, main_window, lightbox_home):
    panel = main_window.qr_panel
    first, second = free_port(), free_port()
    save_config(lightbox_home, NetConfig(local=LocalSettings("LIGHTBOX", first, bind_host="127.0.0.1")))
    panel.reload_nodes()
    assert "listening" in main_window.start_storage_scp()
    assert panel.scp_state.text().startswith(f"Storage SCP: LIGHTBOX listening on port {first}")
    assert _echo("LIGHTBOX", first) >= 0

    _save_in_dialog(qtbot, main_window, "READING2", second)
    assert (panel.scp.ae_title, panel.scp.port, panel.scp.local.accept_aets) == ("READING2", second, ["ECHOER"])
    assert panel.config.local.ae_title == "READING2"  # what C-MOVE names as its destination
    assert panel.scp_state.text().startswith(f"Storage SCP: READING2 listening on port {second}")
    assert _echo("READING2", second) >= 0  # a real C-ECHO to the new AE and port
    with pytest.raises(NetError):
        _echo("LIGHTBOX", first)  # the old port is closed


def test_a_taken_port_is_shown_in_the_panel_with_what_to_do(qtbot, main_window, lightbox_home):
    panel = main_window.qr_panel
    save_config(lightbox_home, NetConfig(local=LocalSettings("LIGHTBOX", free_port(), bind_host="127.0.0.1")))
    panel.reload_nodes()
    main_window.start_storage_scp()
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        _save_in_dialog(qtbot, main_window, "LIGHTBOX", port)
        assert panel.scp is None
        state = panel.scp_state.text()
        assert f"port {port}" in state and "Settings" in state and "lightbox config" not in state
        assert panel.scp_state.isVisibleTo(panel)
    # the port is free again: saving the settings again starts the SCP there
    _save_in_dialog(qtbot, main_window, "LIGHTBOX", port)
    assert panel.scp is not None and panel.scp.port == port
    assert _echo("LIGHTBOX", port) >= 0
