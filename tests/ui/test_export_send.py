"""Export and send from the main window, as jobs: DICOMDIR media, de-identified; C-STORE to a PACS."""

from __future__ import annotations

import shutil
import subprocess

import pydicom
import pytest

from tests.ui.test_browser import import_and_wait
from viewer.net.dicomweb import qido
from viewer.net.find import FindQuery, find_all
from viewer.net.nodes import DicomWebNode, LocalSettings, NetConfig, RemoteNode, save_config


def wait_job(qtbot, job, timeout=120_000):
    qtbot.waitUntil(lambda: job.status != "running", timeout=timeout)
    return job


def test_export_deidentified_dicomdir_media(qtbot, main_window, mr_dir, tmp_path):
    report = import_and_wait(qtbot, main_window, [mr_dir])
    study_uid = report.study_uids[0]
    from viewer.store.deidentify import DeidOptions

    job = wait_job(qtbot, main_window.export_study(study_uid, dest=tmp_path / "cd", dicomdir=True,
                                                   as_zip=False, deidentify=DeidOptions()))
    assert job.status == "done", (job.summary, job.details)
    dicomdir = pydicom.dcmread(tmp_path / "cd" / "DICOMDIR")
    images = [r for r in dicomdir.DirectoryRecordSequence if r.DirectoryRecordType == "IMAGE"]
    assert len(images) == 100
    first = pydicom.dcmread(tmp_path / "cd" / pydicom.fileset.FileSet(dicomdir).find()[0].path)
    assert first.PatientIdentityRemoved == "YES"
    assert str(first.StudyInstanceUID) != study_uid
    if shutil.which("dcmdump"):
        out = subprocess.run(["dcmdump", "-q", str(tmp_path / "cd" / "DICOMDIR")], capture_output=True, text=True)
        assert out.returncode == 0, out.stderr


@pytest.mark.pacs
def test_send_study_to_orthanc(qtbot, main_window, orthanc, viewer_scp, lightbox_home, data_dir):
    cfg = NetConfig(local=LocalSettings(ae_title="LIGHTBOX", port=int(viewer_scp["port"])))
    node = RemoteNode(name="orthanc", aet=orthanc["PACS_AET"], host="127.0.0.1", port=int(orthanc["PACS_DICOM_PORT"]))
    cfg.add(node)
    save_config(lightbox_home, cfg)
    report = import_and_wait(qtbot, main_window, [data_dir / "dicomdir-charsets"], link=False)
    study_uid = next(s.study_uid for s in main_window.store.studies() if s.patient_name == "Buc^Jérôme")
    assert study_uid in report.study_uids
    job = wait_job(qtbot, main_window.send(study_uid, "", "orthanc"))
    assert job.status == "done", (job.summary, job.details)
    found = find_all(node, "STUDY", FindQuery(study_uid=study_uid))
    assert len(found) == 1 and str(found[0].PatientName) == "Buc^Jérôme"


def test_send_study_to_a_dicomweb_node_with_stow(qtbot, main_window, orthanc, lightbox_home, data_dir):
    from viewer.ui.export_dialog import SendDialog

    web = DicomWebNode(name="orthanc-web", url=orthanc["PACS_DICOMWEB_URL"])
    cfg = NetConfig()
    cfg.add(web)
    save_config(lightbox_home, cfg)
    dialog = SendDialog(lightbox_home, "study", parent=main_window)
    assert [dialog.nodes.itemText(i) for i in range(dialog.nodes.count())] == ["orthanc-web"]
    dialog.close()
    import_and_wait(qtbot, main_window, [data_dir / "dicomdir-charsets"], link=False)
    study = next(s for s in main_window.store.studies() if s.patient_name == "Buc^Jérôme")
    job = wait_job(qtbot, main_window.send(study.study_uid, "", "orthanc-web"))
    assert "STOW-RS" in job.title and job.status == "done", (job.summary, job.details)
    assert job.result.sent == job.result.total == study.instance_count
    found = qido(web, "STUDY", FindQuery(study_uid=study.study_uid))
    assert len(found) == 1 and str(found[0].PatientName) == "Buc^Jérôme"
