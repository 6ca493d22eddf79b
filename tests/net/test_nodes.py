"""Node configuration: validation, persistence in the Lightbox home, secrets kept out of sight."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from viewer.net.errors import ConfigError
from viewer.net.nodes import DicomWebNode, LocalSettings, NetConfig, RemoteNode, load_config, save_config


def test_round_trip_and_permissions(tmp_path: Path) -> None:
    cfg = NetConfig(local=LocalSettings("WS1", 11113, "127.0.0.1", ["CT1"]))
    cfg.add(
        RemoteNode(
            "pacs",
            "PACS",
            "pacs.example",
            104,
            retrieve="get",
            tls=True,
            tls_ca="/ca.pem",
            max_pdu=65536,
            dimse_timeout=None,
        )
    )
    cfg.add(DicomWebNode("web", "https://web.example/dicom-web/", username="u", password="s3cret"))
    path = save_config(tmp_path, cfg)
    assert path == tmp_path / "nodes.json"
    assert path.stat().st_mode & 0o777 == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["nodes.json"]  # no temp file left behind
    back = load_config(tmp_path)
    assert back == cfg
    assert back.dicomweb["web"].url == "https://web.example/dicom-web"  # trailing slash dropped
    assert json.loads(path.read_text())["version"] == 1


def test_missing_file_is_the_default(tmp_path: Path) -> None:
    cfg = load_config(tmp_path)
    assert cfg.local.ae_title == "LIGHTBOX" and cfg.nodes == {} and cfg.dicomweb == {}


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"aet": "A" * 17}, "invalid AE title"),
        ({"aet": "BACK\\SLASH"}, "invalid AE title"),
        ({"aet": "  "}, "invalid AE title"),
        ({"port": 0}, "invalid port"),
        ({"port": 70000}, "invalid port"),
        ({"retrieve": "ftp"}, "must be 'move' or 'get'"),
        ({"tls_cert": "/c.pem"}, "needs its key"),
        ({"name": " "}, "needs a name"),
    ],
)
def test_invalid_nodes_are_refused(kwargs: dict, message: str) -> None:
    args = {"name": "n", "aet": "AET", "host": "h", "port": 104, **kwargs}
    with pytest.raises(ConfigError, match=message):
        RemoteNode(**args)


def test_aet_is_stripped() -> None:
    assert RemoteNode("n", " PACS ", "h", 104).aet == "PACS"


def test_bad_files_name_the_problem(tmp_path: Path) -> None:
    (tmp_path / "nodes.json").write_text(
        '{"version": 1, "nodes": [{"name": "x", "aet": "X", "host": "h", "port": 1, "colour": "red"}]}'
    )
    with pytest.raises(ConfigError, match=r"unknown settings \['colour'\]"):
        load_config(tmp_path)
    (tmp_path / "nodes.json").write_text('{"version": 99}')
    with pytest.raises(ConfigError, match="newer Lightbox"):
        load_config(tmp_path)
    (tmp_path / "nodes.json").write_text("{not json")
    with pytest.raises(ConfigError, match="cannot read node configuration"):
        load_config(tmp_path)


def test_unknown_node_lists_known_ones() -> None:
    cfg = NetConfig()
    cfg.add(RemoteNode("a", "A", "h", 1))
    cfg.add(DicomWebNode("b", "http://b"))
    with pytest.raises(ConfigError, match=r"unknown node 'c' \(known: a, b\)"):
        cfg.node("c")
    cfg.add(DicomWebNode("a", "http://a"))  # one name, one node
    assert "a" not in cfg.nodes and isinstance(cfg.node("a"), DicomWebNode)


def test_secrets_stay_out_of_repr_and_logs(caplog: pytest.LogCaptureFixture) -> None:
    node = DicomWebNode("w", "http://w", username="me", password="hunter2", token="tok3n")
    caplog.set_level(logging.DEBUG)
    logging.getLogger("viewer.net").info("node %r", node)
    assert "hunter2" not in repr(node) and "tok3n" not in repr(node)
    assert "hunter2" not in caplog.text


def test_tls_context_errors_are_config_errors(tmp_path: Path) -> None:
    node = RemoteNode("t", "T", "h", 2762, tls=True, tls_ca=str(tmp_path / "missing.pem"))
    with pytest.raises(ConfigError, match="cannot load TLS files"):
        node.ssl_context()
    assert RemoteNode("p", "P", "h", 104).ssl_context() is None
