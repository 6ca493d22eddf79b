"""DICOMweb client: QIDO-RS search, WADO-RS retrieve, STOW-RS store (PS3.18), on stdlib urllib.

The same contracts as the DIMSE side: :func:`qido` takes a :class:`~viewer.net.find.FindQuery`
and returns identifier datasets (PS3.18 F.2 JSON → pydicom), :func:`wado` hands each
instance to an :class:`~viewer.net.sink.InstanceSink` and returns a
:class:`~viewer.net.retrieve.RetrieveReport`, :func:`stow` returns a
:class:`~viewer.net.send.SendReport`. WADO-RS responses are parsed as a stream, part by part
(PS3.18 8.7.3.5 / RFC 2387 multipart/related), so a large study never sits in memory whole,
and a cancel takes effect between instances.
"""

from __future__ import annotations

import base64
import io
import json
import logging
import os
import socket
import ssl
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any, BinaryIO

import pydicom
from pydicom.dataset import Dataset
from pydicom.filewriter import dcmwrite

from viewer.core.errors import LightboxError, NetError
from viewer.core.tasks import CancelToken, Progress, ProgressCallback
from viewer.net.errors import ConnectionRefused, ConnectTimeout, DicomWebError, HostNotFound, TlsFailed
from viewer.net.find import RETURN_KEYS, FindQuery, date_range, matches
from viewer.net.nodes import DicomWebNode
from viewer.net.retrieve import RetrieveReport
from viewer.net.send import SendReport
from viewer.net.sink import InstanceSink, keep_part10

log = logging.getLogger(__name__)

DICOM_JSON = "application/dicom+json"
MULTIPART_DICOM = 'multipart/related; type="application/dicom"'
CHUNK = 1 << 20
STOW_BATCH_BYTES = 64 << 20  # one STOW-RS request per ~64 MB: progress and cancel granularity


# --- HTTP --------------------------------------------------------------------------------------


def _request(
    node: DicomWebNode,
    path: str,
    *,
    accept: str | None = None,
    method: str = "GET",
    body: Any = None,
    headers: Mapping[str, str] | None = None,
) -> Any:
    """Open ``node.url + path``; map transport failures to the same errors as DIMSE."""
    url = node.url + path
    req = urllib.request.Request(url, data=body, method=method)
    if accept:
        req.add_header("Accept", accept)
    for key, value in (headers or {}).items():
        req.add_header(key, value)
    if node.token:
        req.add_header("Authorization", f"Bearer {node.token}")
    elif node.username:
        creds = base64.b64encode(f"{node.username}:{node.password or ''}".encode()).decode()
        req.add_header("Authorization", f"Basic {creds}")
    ctx = ssl.create_default_context(cafile=node.ca_file) if url.startswith("https:") else None
    try:
        return urllib.request.urlopen(req, timeout=node.timeout, context=ctx)
    except urllib.error.HTTPError as exc:
        body = exc.read()
        detail = body[:500].decode("utf-8", "replace").strip()
        hint = {
            401: " (check the user name and password / token)",
            403: " (not allowed for this account)",
            404: " (no such study/series, or wrong service URL)",
        }.get(exc.code, "")
        reason = f"{exc.reason}{hint}" + (f": {detail}" if detail else "")
        raise DicomWebError(url, reason, exc.code, body) from exc
    except urllib.error.URLError as exc:
        raise _transport_error(node, url, exc.reason) from exc
    except TimeoutError as exc:
        raise ConnectTimeout(node.label, f"no answer within {node.timeout:g} s") from exc


def _transport_error(node: DicomWebNode, url: str, reason: Any) -> NetError:
    if isinstance(reason, ConnectionRefusedError):
        return ConnectionRefused(node.label, f"connection refused — nothing listens at {url.split('?')[0]}")
    if isinstance(reason, socket.gaierror):
        return HostNotFound(node.label, f"host not found ({reason.strerror})")
    if isinstance(reason, TimeoutError | socket.timeout):
        return ConnectTimeout(node.label, f"no connection within {node.timeout:g} s")
    if isinstance(reason, ssl.SSLError):
        return TlsFailed(node.label, f"TLS failed: {reason}")
    return DicomWebError(url, str(reason))


# --- QIDO-RS -------------------------------------------------------------------------------------


def _qido_params(q: FindQuery, level: str) -> dict[str, str]:
    """Search parameters (PS3.18 8.3.4): attribute keywords with DICOM matching syntax."""
    params = {
        "PatientName": q.patient_name,
        "PatientID": q.patient_id,
        "StudyDate": date_range(q.study_date) if q.study_date else "",
        "AccessionNumber": q.accession,
    }
    if level == "STUDY":
        params.update(StudyDescription=q.description, ModalitiesInStudy=q.modality)
    else:
        params.update(Modality=q.modality, SeriesDescription=q.description)
    if level == "IMAGE":
        params["SOPInstanceUID"] = q.sop_uid
    return {k: v for k, v in params.items() if v}


def qido(
    node: DicomWebNode, level: str, query: FindQuery | Mapping[str, Any] | None = None, limit: int | None = None
) -> list[Dataset]:
    """QIDO-RS search (PS3.18 10.6) at STUDY, SERIES or IMAGE level; results as datasets.

    Results are checked against the filters as for C-FIND (:func:`viewer.net.find.matches`).
    """
    level = level.upper()
    q = FindQuery.coerce(query)
    if level == "STUDY":
        path = "/studies"
    elif level == "SERIES":
        path = f"/studies/{q.study_uid}/series" if q.study_uid else "/series"
    elif level == "IMAGE":
        if q.study_uid and q.series_uid:
            path = f"/studies/{q.study_uid}/series/{q.series_uid}/instances"
        elif q.study_uid:
            path = f"/studies/{q.study_uid}/instances"
        else:
            path = "/instances"
    else:
        raise DicomWebError(node.url, f"query level must be STUDY, SERIES or IMAGE, not {level!r}")
    params = _qido_params(q, level)
    if level == "STUDY" and q.study_uid:
        params["StudyInstanceUID"] = q.study_uid
    if level != "IMAGE" and level != "STUDY" and q.series_uid:
        params["SeriesInstanceUID"] = q.series_uid
    fields = [*RETURN_KEYS["PATIENT"], *RETURN_KEYS["STUDY"]] if level == "STUDY" else list(RETURN_KEYS[level])
    query_items = [*params.items(), *[("includefield", f) for f in fields]]
    if limit:
        query_items.append(("limit", str(limit)))
    # Keep * and ? literal: Orthanc 1.10 does not decode %2A, and both are legal in a query.
    encoded = urllib.parse.urlencode(query_items, safe="*?")
    with _request(node, f"{path}?{encoded}", accept=DICOM_JSON) as rsp:
        raw = rsp.read()
    if not raw.strip():
        return []  # 204 No Content: no matches
    try:
        items = json.loads(raw)
    except ValueError as exc:
        raise DicomWebError(node.url + path, f"answer is not DICOM JSON: {exc}") from exc
    results = [Dataset.from_json(item) for item in items]
    return [ds for ds in results if matches(ds, params)]


def ping(node: DicomWebNode) -> float:
    """Round-trip seconds of a minimal QIDO-RS search (``/studies?limit=1``): the DICOMweb C-ECHO."""
    start = time.perf_counter()
    with _request(node, "/studies?limit=1", accept=DICOM_JSON) as rsp:
        rsp.read()
    return time.perf_counter() - start


# --- WADO-RS -------------------------------------------------------------------------------------


def _boundary(content_type: str) -> bytes:
    for part in content_type.split(";"):
        key, _, value = part.strip().partition("=")
        if key.lower() == "boundary":
            return value.strip().strip('"').encode()
    raise ValueError(f"no boundary in Content-Type {content_type!r}")


def iter_multipart(stream: BinaryIO, boundary: bytes, chunk: int = CHUNK) -> Iterator[tuple[dict[str, str], bytes]]:
    """Yield (headers, body) for each part of a multipart/related stream (RFC 2046 5.1.1)."""
    delimiter = b"\r\n--" + boundary
    buf = bytearray(b"\r\n")  # lets the first delimiter match without a special case
    eof = False

    def fill() -> bool:
        nonlocal eof
        if eof:
            return False
        data = stream.read(chunk)
        if not data:
            eof = True
            return False
        buf.extend(data)
        return True

    # preamble
    while (start := buf.find(delimiter)) < 0:
        if not fill():
            return
    del buf[: start + len(delimiter)]
    while True:
        while len(buf) < 2 and fill():
            pass
        if buf[:2] == b"--":
            return  # close delimiter
        while (head_end := buf.find(b"\r\n\r\n")) < 0:
            if not fill():
                raise ValueError("truncated multipart part headers")
        headers: dict[str, str] = {}
        for line in bytes(buf[:head_end]).decode("latin-1").split("\r\n"):
            if ":" in line:
                key, _, value = line.partition(":")
                headers[key.strip().lower()] = value.strip()
        del buf[: head_end + 4]
        searched = 0
        while (end := buf.find(delimiter, searched)) < 0:
            searched = max(0, len(buf) - len(delimiter))
            if not fill():
                raise ValueError("truncated multipart body (connection closed mid-instance)")
        body = bytes(buf[:end])
        del buf[: end + len(delimiter)]
        yield headers, body


def _count_instances(node: DicomWebNode, study_uid: str, series_uid: str | None) -> int:
    """Best effort total for progress, from QIDO-RS counts; 0 when unknown."""
    try:
        if series_uid:
            rows = qido(node, "SERIES", {"study_uid": study_uid, "series_uid": series_uid})
            return sum(int(r.get("NumberOfSeriesRelatedInstances", 0) or 0) for r in rows)
        rows = qido(node, "STUDY", {"study_uid": study_uid})
        return sum(int(r.get("NumberOfStudyRelatedInstances", 0) or 0) for r in rows)
    except (LightboxError, ValueError):
        return 0


def wado(
    node: DicomWebNode,
    study_uid: str,
    series_uid: str | None = None,
    sop_uids: Iterable[str] | None = None,
    sink: InstanceSink | None = None,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> RetrieveReport:
    """WADO-RS retrieve (PS3.18 10.4) of a study, series or instances into ``sink``.

    Asks for any transfer syntax (``transfer-syntax=*``, PS3.18 8.7.3.5.2) so the server
    sends what it stores without transcoding. Connection problems before the first byte
    raise; later ones are recorded in the report with what arrived.
    """
    if sink is None:
        raise DicomWebError(node.url, "WADO-RS needs a sink for the received instances")
    report = RetrieveReport(method="wado")
    start = time.perf_counter()
    base = f"/studies/{study_uid}" + (f"/series/{series_uid}" if series_uid else "")
    paths = [f"{base}/instances/{uid}" for uid in sop_uids] if sop_uids and series_uid else [base]
    total = len(paths) if sop_uids and series_uid else _count_instances(node, study_uid, series_uid)
    accept = f"{MULTIPART_DICOM}; transfer-syntax=*"
    try:
        for path in paths:
            with _request(node, path, accept=accept) as rsp:
                boundary = _boundary(rsp.headers.get("Content-Type", ""))
                for _headers, body in iter_multipart(rsp, boundary):
                    try:
                        ds = keep_part10(pydicom.dcmread(io.BytesIO(body)), body)
                        sink(ds)
                    except Exception as exc:
                        report.failed += 1
                        log.warning("WADO-RS part not stored: %s", exc)
                        continue
                    report.received += 1
                    report.completed += 1
                    report.received_sop_uids.append(str(ds.SOPInstanceUID))
                    if progress is not None:
                        progress(Progress(report.received, max(total, report.received), f"{report.received} received"))
                    if cancel is not None and cancel.cancelled:
                        report.cancelled = True
                        return report
    except NetError as exc:
        if report.received == 0 and not isinstance(exc, DicomWebError):
            raise
        report.error = exc
    except (OSError, ValueError) as exc:
        report.error = DicomWebError(node.url + base, f"transfer interrupted: {exc}")
    finally:
        report.seconds = time.perf_counter() - start
    report.status = 0 if report.error is None and not report.failed else None
    report.status_text = "OK" if report.status == 0 else ""
    return report


# --- STOW-RS -------------------------------------------------------------------------------------


def _part_bytes(item: str | os.PathLike[str] | Dataset) -> tuple[str, bytes]:
    if isinstance(item, Dataset):
        buf = io.BytesIO()
        dcmwrite(buf, item, enforce_file_format=True)
        return str(item.get("SOPInstanceUID", "?")), buf.getvalue()
    path = Path(item)
    return str(path), path.read_bytes()


def _stow_batch(node: DicomWebNode, parts: list[tuple[str, bytes]], report: SendReport) -> None:
    boundary = uuid.uuid4().hex
    chunks: list[bytes] = []
    for _name, data in parts:
        chunks += [f"--{boundary}\r\nContent-Type: application/dicom\r\n\r\n".encode(), data, b"\r\n"]
    chunks.append(f"--{boundary}--\r\n".encode())
    body = b"".join(chunks)
    headers = {"Content-Type": f'{MULTIPART_DICOM}; boundary="{boundary}"', "Content-Length": str(len(body))}
    try:
        with _request(node, "/studies", method="POST", body=body, accept=DICOM_JSON, headers=headers) as rsp:
            raw = rsp.read()
    except DicomWebError as exc:
        if exc.http_status != 409:  # 409 Conflict: none stored, the body says why (PS3.18 10.5.3)
            raise
        raw = exc.body
    try:
        answer = Dataset.from_json(json.loads(raw)) if raw.strip() else Dataset()
    except ValueError as exc:
        raise DicomWebError(node.url + "/studies", f"STOW-RS answer is not DICOM JSON: {exc}") from exc
    failed = {str(item.get("ReferencedSOPInstanceUID", "")): item for item in answer.get("FailedSOPSequence", [])}
    stored = {str(item.get("ReferencedSOPInstanceUID", "")) for item in answer.get("ReferencedSOPSequence", [])}
    for name, data in parts:
        uid = str(
            pydicom.dcmread(io.BytesIO(data), stop_before_pixels=True, specific_tags=["SOPInstanceUID"]).get(
                "SOPInstanceUID", ""
            )
        )
        if uid in failed:
            reason = failed[uid].get("FailureReason", "")
            report.failures.append((name, f"refused by the server (Failure Reason {reason})"))
        elif uid in stored or not answer:
            report.sent += 1
        else:
            report.failures.append((name, "not acknowledged by the server"))


def stow(
    node: DicomWebNode,
    items: Iterable[str | os.PathLike[str] | Dataset],
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> SendReport:
    """STOW-RS store (PS3.18 10.5) of files or datasets, in requests of about 64 MB.

    The server's answer lists stored (Referenced SOP Sequence) and refused (Failed SOP
    Sequence, with a Failure Reason from PS3.18 Table I.2-3) instances; both land in the report.
    """
    report = SendReport()
    start = time.perf_counter()
    items = list(items)
    report.total = len(items)
    batch: list[tuple[str, bytes]] = []
    size = 0
    try:
        for index, item in enumerate(items):
            if cancel is not None and cancel.cancelled:
                report.cancelled = True
                break
            try:
                name, data = _part_bytes(item)
            except (OSError, ValueError) as exc:
                report.failures.append((str(item), f"cannot read: {exc}"))
                continue
            batch.append((name, data))
            size += len(data)
            if size >= STOW_BATCH_BYTES or index == len(items) - 1:
                _stow_batch(node, batch, report)
                batch, size = [], 0
                if progress is not None:
                    progress(Progress(index + 1, len(items), f"{report.sent} stored"))
        if batch and not report.cancelled:
            _stow_batch(node, batch, report)
    except NetError as exc:
        report.error = exc
    finally:
        report.seconds = time.perf_counter() - start
    return report
