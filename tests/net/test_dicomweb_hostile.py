"""DICOMweb against a misbehaving in-process HTTP server: auth, truncated WADO-RS, STOW-RS refusals."""

from __future__ import annotations

import base64
import io
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pydicom
import pytest

from viewer.net.dicomweb import ping, qido, stow, wado
from viewer.net.errors import DicomWebError
from viewer.net.nodes import DicomWebNode
from viewer.net.sink import FolderSink

BOUNDARY = "b0und4ry"


@dataclass
class Behaviour:
    parts: list[bytes] = field(default_factory=list)
    cut_after: int | None = None  # WADO: close the connection inside part N
    stow_failed: set[str] = field(default_factory=set)
    seen_auth: list[str | None] = field(default_factory=list)


def _handler(b: Behaviour) -> type[BaseHTTPRequestHandler]:
    class H(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def _auth_ok(self) -> bool:
            auth = self.headers.get("Authorization")
            b.seen_auth.append(auth)
            if auth != "Basic " + base64.b64encode(b"doctor:s3cret").decode():
                self.send_response(401)
                self.send_header("WWW-Authenticate", 'Basic realm="pacs"')
                self.send_header("Content-Length", "0")
                self.end_headers()
                return False
            return True

        def do_GET(self) -> None:
            if not self._auth_ok():
                return
            if self.path.startswith("/dw/studies?"):
                body = b"[]"
                self.send_response(200)
                self.send_header("Content-Type", "application/dicom+json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                return
            self.send_response(200)
            self.send_header("Content-Type", f'multipart/related; type="application/dicom"; boundary={BOUNDARY}')
            self.end_headers()
            for i, part in enumerate(b.parts):
                head = f"--{BOUNDARY}\r\nContent-Type: application/dicom\r\n\r\n".encode()
                if b.cut_after is not None and i == b.cut_after:
                    self.wfile.write(head + part[: len(part) // 2])
                    self.wfile.flush()
                    self.close_connection = True
                    return
                self.wfile.write(head + part + b"\r\n")
            self.wfile.write(f"--{BOUNDARY}--\r\n".encode())

        def do_POST(self) -> None:
            if not self._auth_ok():
                return
            length = int(self.headers["Content-Length"])
            body = self.rfile.read(length)
            boundary = self.headers["Content-Type"].split("boundary=")[1].strip('"').encode()
            uids = []
            for chunk in body.split(b"--" + boundary)[1:-1]:
                data = chunk.split(b"\r\n\r\n", 1)[1][:-2]
                uids.append(str(pydicom.dcmread(io.BytesIO(data)).SOPInstanceUID))
            answer: dict = {}
            ok = [u for u in uids if u not in b.stow_failed]
            bad = [u for u in uids if u in b.stow_failed]
            if ok:
                answer["00081199"] = {"vr": "SQ", "Value": [{"00081155": {"vr": "UI", "Value": [u]}} for u in ok]}
            if bad:
                answer["00081198"] = {
                    "vr": "SQ",
                    "Value": [
                        {"00081155": {"vr": "UI", "Value": [u]}, "00081197": {"vr": "US", "Value": [0xA700]}}
                        for u in bad
                    ],
                }
            out = json.dumps(answer).encode()
            self.send_response(409 if bad and not ok else 202 if bad else 200)
            self.send_header("Content-Type", "application/dicom+json")
            self.send_header("Content-Length", str(len(out)))
            self.end_headers()
            self.wfile.write(out)

    return H


@pytest.fixture
def server(ct_dir: Path) -> Iterator[tuple[Behaviour, int]]:
    b = Behaviour()
    b.parts = [p.read_bytes() for p in sorted(ct_dir.glob("*.dcm"))[:4]]
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(b))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield b, httpd.server_address[1]
    finally:
        httpd.shutdown()
        httpd.server_close()


def _node(port: int, password: str = "s3cret") -> DicomWebNode:
    return DicomWebNode("h", f"http://127.0.0.1:{port}/dw", username="doctor", password=password, timeout=5)


def test_basic_auth_sent_and_401_explained(server: tuple[Behaviour, int]) -> None:
    b, port = server
    assert ping(_node(port)) > 0
    assert b.seen_auth[-1] == "Basic ZG9jdG9yOnMzY3JldA=="
    with pytest.raises(DicomWebError, match="check the user name and password") as info:
        qido(_node(port, password="wrong"), "STUDY")
    assert info.value.http_status == 401
    assert "s3cret" not in str(info.value) and "wrong" not in str(info.value)


def test_truncated_wado_keeps_complete_instances(server: tuple[Behaviour, int], tmp_path: Path) -> None:
    b, port = server
    b.cut_after = 2
    report = wado(_node(port), "1.2.3", "4.5.6", sink=FolderSink(tmp_path))
    assert report.received == 2 and not report.ok
    assert isinstance(report.error, DicomWebError) and "interrupted" in str(report.error)
    assert len(list(tmp_path.glob("*.dcm"))) == 2


def test_stow_partial_refusal_is_itemised(server: tuple[Behaviour, int], ct_dir: Path) -> None:
    b, port = server
    files = sorted(ct_dir.glob("*.dcm"))[:3]
    b.stow_failed = {str(pydicom.dcmread(files[1], stop_before_pixels=True).SOPInstanceUID)}
    report = stow(_node(port), files)
    assert report.sent == 2 and report.failed == 1 and not report.ok
    assert report.failures[0][0] == str(files[1]) and "Failure Reason 42752" in report.failures[0][1]
    b.stow_failed = {str(pydicom.dcmread(f, stop_before_pixels=True).SOPInstanceUID) for f in files}
    refused = stow(_node(port), files)
    assert refused.sent == 0 and refused.failed == 3
