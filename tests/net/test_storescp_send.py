"""Our storage SCP receiving DCMTK storescu pushes; C-STORE send to both PACS, checked by C-FIND."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pydicom
import pytest

from viewer.core.tasks import CancelToken
from viewer.net.echo import echo
from viewer.net.errors import AssociationRejected
from viewer.net.find import find_all
from viewer.net.nodes import LocalSettings, RemoteNode
from viewer.net.retrieve import retrieve
from viewer.net.send import send
from viewer.net.sink import FolderSink
from viewer.net.storescp import StorageSCP

from .hostile import free_port

STORESCU = shutil.which("storescu")


def _storescu(port: int, files: list[Path], calling: str = "MODALITY") -> subprocess.CompletedProcess:
    assert STORESCU, "DCMTK storescu is required (apt-get install dcmtk)"
    return subprocess.run(
        [STORESCU, "-aet", calling, "-aec", "LIGHTBOX", "127.0.0.1", str(port), *map(str, files)],
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_storescu_push_lands_in_the_sink(mr_dir: Path, tmp_path: Path) -> None:
    files = sorted(mr_dir.glob("*.IMA"))[:20]
    local = LocalSettings(port=free_port(), bind_host="127.0.0.1")
    with StorageSCP(local, FolderSink(tmp_path / "in")) as scp:
        run = _storescu(scp.port, files)
        assert run.returncode == 0, run.stderr
        assert scp.received == 20
    for f in files:
        original = pydicom.dcmread(f)
        got = pydicom.dcmread(tmp_path / "in" / f"{original.SOPInstanceUID}.dcm")
        assert got.file_meta.TransferSyntaxUID in (
            pydicom.uid.ImplicitVRLittleEndian,
            pydicom.uid.ExplicitVRLittleEndian,
        )
        assert np.array_equal(got.pixel_array, original.pixel_array)


def test_accept_list_rejects_unknown_callers(mr_dir: Path, tmp_path: Path) -> None:
    local = LocalSettings(port=free_port(), bind_host="127.0.0.1", accept_aets=["CT1", "LIGHTBOX"])
    with StorageSCP(local, FolderSink(tmp_path)) as scp:
        run = _storescu(scp.port, sorted(mr_dir.glob("*.IMA"))[:1], calling="INTRUDER")
        assert run.returncode != 0
        assert "Calling AE Title Not Recognized" in run.stderr + run.stdout
        me = RemoteNode("self", "LIGHTBOX", "127.0.0.1", scp.port)
        with pytest.raises(AssociationRejected, match="calling AE title not recognized"):
            echo(me, LocalSettings(ae_title="INTRUDER"))
        assert echo(me, LocalSettings(ae_title="CT1")) > 0
        assert scp.received == 0
    assert not list(tmp_path.iterdir())


@pytest.mark.pacs
def test_send_transfer_syntaxes_and_read_back(
    node: RemoteNode, pacs: dict, local: LocalSettings, data_dir: Path, tmp_path: Path
) -> None:
    """Nine encodings of one MR slice: Orthanc takes them as they are, dcmqrscp only uncompressed,
    so there the compressed ones go out decompressed. Either way every pixel survives."""
    files = sorted((data_dir / "mr-transfer-syntaxes").glob("*.dcm"))
    report = send(node, files)
    assert report.ok and report.sent == 9, report.summary() + str(report.failures)
    if pacs["KIND"] == "dcmqrscp":
        assert report.converted == 6  # RLE, 2x JPEG lossless, 2x JPEG-LS, J2K
    else:
        assert report.converted == 0

    originals = {str(pydicom.dcmread(f).SOPInstanceUID): f for f in files}
    series = str(pydicom.dcmread(files[0]).SeriesInstanceUID)
    study = str(pydicom.dcmread(files[0]).StudyInstanceUID)
    found = find_all(node, "IMAGE", {"study_uid": study, "series_uid": series})
    assert set(originals) <= {str(d.SOPInstanceUID) for d in found}

    back = retrieve(node, study, series, sorted(originals), method="get", sink=FolderSink(tmp_path), local=local)
    assert back.received == 9, back.summary()
    reference = pydicom.dcmread(files[0]).pixel_array
    for uid in originals:
        assert np.array_equal(pydicom.dcmread(tmp_path / f"{uid}.dcm").pixel_array, reference), uid


@pytest.mark.pacs
def test_send_datasets_progress_and_cancel(node: RemoteNode, ct_dir: Path) -> None:
    datasets = [pydicom.dcmread(p) for p in sorted(ct_dir.glob("*.dcm"))[:6]]
    token = CancelToken()
    seen = []

    def progress(p) -> None:
        seen.append(p.done)
        if p.done == 2:
            token.cancel()

    report = send(node, datasets, progress=progress, cancel=token)
    assert report.cancelled and report.sent == 2 and seen == [1, 2]


def test_send_reports_unreadable_files(tmp_path: Path, mr_dir: Path) -> None:
    bad = tmp_path / "notdicom.dcm"
    bad.write_text("hello")
    local = LocalSettings(port=free_port(), bind_host="127.0.0.1")
    with StorageSCP(local, FolderSink(tmp_path / "in")) as scp:
        report = send(RemoteNode("self", "LIGHTBOX", "127.0.0.1", scp.port), [bad, *sorted(mr_dir.glob("*.IMA"))[:3]])
    assert report.sent == 3 and report.total == 4 and not report.ok
    assert report.failures[0][0] == str(bad) and "not a DICOM file" in report.failures[0][1]
