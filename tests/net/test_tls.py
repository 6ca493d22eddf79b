"""DICOM over TLS (PS3.15 B.1) against an in-process pynetdicom TLS SCP with a test CA.

Certificates are made here with the ``openssl`` CLI: a CA, a server certificate for
127.0.0.1, and a client certificate for mutual TLS.
"""

from __future__ import annotations

import shutil
import ssl
import subprocess
from pathlib import Path

import pytest

from viewer.net.echo import echo
from viewer.net.errors import AssociationAborted, TlsFailed
from viewer.net.nodes import LocalSettings, RemoteNode
from viewer.net.send import send
from viewer.net.sink import FolderSink
from viewer.net.storescp import StorageSCP

from .hostile import free_port

OPENSSL = shutil.which("openssl")


def _run(*args: str, cwd: Path) -> None:
    subprocess.run([OPENSSL or "openssl", *args], cwd=cwd, check=True, capture_output=True)


def _issue(d: Path, name: str, cn: str, ext: str) -> None:
    _run(
        "req",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
        "-keyout",
        f"{name}.key",
        "-out",
        f"{name}.csr",
        "-subj",
        f"/CN={cn}",
        cwd=d,
    )
    (d / f"{name}.ext").write_text(ext)
    _run(
        "x509",
        "-req",
        "-in",
        f"{name}.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        f"{name}.pem",
        "-days",
        "1",
        "-extfile",
        f"{name}.ext",
        cwd=d,
    )


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if OPENSSL is None:
        pytest.fail("the TLS tests need the openssl command (apt-get install openssl)")
    d = tmp_path_factory.mktemp("pki")
    _run(
        "req",
        "-x509",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
        "-days",
        "1",
        "-subj",
        "/CN=Lightbox Test CA",
        "-addext",
        "basicConstraints=critical,CA:TRUE",
        "-addext",
        "keyUsage=critical,keyCertSign",
        cwd=d,
    )
    _issue(d, "server", "127.0.0.1", "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n")
    _issue(d, "client", "LIGHTBOX", "extendedKeyUsage=clientAuth\n")
    return d


def _server_context(pki: Path, require_client: bool) -> ssl.SSLContext:
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(pki / "server.pem", pki / "server.key")
    if require_client:
        ctx.verify_mode = ssl.CERT_REQUIRED
        ctx.load_verify_locations(pki / "ca.pem")
    return ctx


def _tls_scp(pki: Path, tmp_path: Path, require_client: bool = False) -> StorageSCP:
    local = LocalSettings(ae_title="TLSSCP", port=free_port(), bind_host="127.0.0.1")
    return StorageSCP(local, FolderSink(tmp_path), ssl_context=_server_context(pki, require_client))


def test_echo_and_send_over_tls(pki: Path, tmp_path: Path, mr_dir: Path) -> None:
    with _tls_scp(pki, tmp_path / "in") as scp:
        node = RemoteNode("tls", "TLSSCP", "127.0.0.1", scp.port, tls=True, tls_ca=str(pki / "ca.pem"))
        assert echo(node) > 0
        report = send(node, sorted(mr_dir.glob("*.IMA"))[:3])
        assert report.ok, report.summary()
    assert len(list((tmp_path / "in").glob("*.dcm"))) == 3


def test_untrusted_certificate_is_named(pki: Path, tmp_path: Path) -> None:
    with _tls_scp(pki, tmp_path) as scp:
        node = RemoteNode("tls", "TLSSCP", "127.0.0.1", scp.port, tls=True)  # system CAs only
        with pytest.raises(TlsFailed, match="certificate not trusted"):
            echo(node)


def test_plain_client_against_tls_server_hints_at_tls(pki: Path, tmp_path: Path) -> None:
    with _tls_scp(pki, tmp_path) as scp, pytest.raises(AssociationAborted, match="enable it for this node"):
        echo(RemoteNode("plain", "TLSSCP", "127.0.0.1", scp.port, acse_timeout=5))


def test_mutual_tls_needs_our_certificate(pki: Path, tmp_path: Path) -> None:
    with _tls_scp(pki, tmp_path, require_client=True) as scp:
        good = RemoteNode(
            "mtls",
            "TLSSCP",
            "127.0.0.1",
            scp.port,
            tls=True,
            tls_ca=str(pki / "ca.pem"),
            tls_cert=str(pki / "client.pem"),
            tls_key=str(pki / "client.key"),
        )
        assert echo(good) > 0
        anonymous = RemoteNode(
            "mtls", "TLSSCP", "127.0.0.1", scp.port, tls=True, tls_ca=str(pki / "ca.pem"), acse_timeout=5
        )
        with pytest.raises((TlsFailed, AssociationAborted), match=r"client certificate|TLS"):
            echo(anonymous)


def test_tls_from_local_settings_and_cli(pki: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """``lightbox config local --tls-cert/--tls-key`` makes the storage SCP TLS-only."""
    from viewer.cli import main
    from viewer.net.nodes import load_config

    home = tmp_path / "home"
    port = free_port()
    assert (
        main(
            [
                "--home",
                str(home),
                "config",
                "local",
                "--aet",
                "TLSSCP",
                "--port",
                str(port),
                "--bind",
                "127.0.0.1",
                "--tls-cert",
                str(pki / "server.pem"),
                "--tls-key",
                str(pki / "server.key"),
            ]
        )
        == 0
    )
    local = load_config(home).local
    assert local.tls_cert == str(pki / "server.pem")
    with StorageSCP(local, FolderSink(tmp_path / "in")):
        assert echo(RemoteNode("tls", "TLSSCP", "127.0.0.1", port, tls=True, tls_ca=str(pki / "ca.pem"))) > 0
        with pytest.raises(AssociationAborted):
            echo(RemoteNode("plain", "TLSSCP", "127.0.0.1", port, acse_timeout=5))
    missing = ["--tls-cert", str(tmp_path / "missing.pem"), "--tls-key", str(tmp_path / "missing.key")]
    assert main(["--home", str(home), "config", "local", *missing]) == 2
    assert "cannot load TLS files" in capsys.readouterr().err
    assert load_config(home).local.tls_cert == str(pki / "server.pem")  # unchanged
    assert main(["--home", str(home), "config", "local", "--no-tls"]) == 0
    assert load_config(home).local.server_ssl_context() is None
