"""Compare with a prior that lives only on the PACS: listed, retrieved and opened in one step.

The current exam is a follow-up derived from the real CT (30 slices re-issued a year later
with new UIDs, same Patient ID) and is the only study in the cache; the real CT itself is the
prior, held by the real Orthanc (DIMSE and DICOMweb) and dcmqrscp.
"""

from __future__ import annotations

import pydicom
import pytest
from pydicom.uid import generate_uid

from tests.net.helpers import CT_STUDY
from tests.ui.test_browser import import_and_wait
from viewer.net.nodes import DicomWebNode, LocalSettings, NetConfig, RemoteNode, save_config

pytestmark = pytest.mark.pacs


def make_follow_up(ct_dir, dest, count=30):
    dest.mkdir()
    study, series = generate_uid(), generate_uid()
    for path in sorted(ct_dir.glob("*.dcm"))[:count]:
        ds = pydicom.dcmread(path)
        ds.StudyInstanceUID, ds.SeriesInstanceUID = study, series
        ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
        ds.StudyDate = ds.SeriesDate = "20130706"
        ds.StudyDescription = "PANCREAS (follow-up)"
        ds.save_as(dest / path.name)
    return study


@pytest.fixture
def nodes_home(lightbox_home, orthanc, dcmqrscp, viewer_scp):
    cfg = NetConfig(local=LocalSettings(ae_title=str(viewer_scp["aet"]), port=int(viewer_scp["port"]),
                                        bind_host="127.0.0.1"))
    cfg.add(RemoteNode(name="dcmqrscp", aet=dcmqrscp["PACS_AET"], host="127.0.0.1",
                       port=int(dcmqrscp["PACS_DICOM_PORT"]), retrieve="get"))
    cfg.add(DicomWebNode(name="orthanc-web", url=orthanc["PACS_DICOMWEB_URL"]))
    save_config(lightbox_home, cfg)
    return lightbox_home


def test_a_prior_on_the_pacs_is_retrieved_and_compared(qtbot, main_window, nodes_home, ct_dir, tmp_path,
                                                        monkeypatch):
    current_uid = make_follow_up(ct_dir, tmp_path / "follow-up")
    import_and_wait(qtbot, main_window, [tmp_path / "follow-up"])
    main_window.qr_panel.reload_nodes()
    with qtbot.waitSignal(main_window.volume_shown, timeout=60_000):
        main_window.open_study(current_uid)

    from viewer.ui.priors_dialog import NODE_ROLE, PriorsDialog

    listed: list[list[tuple[str, str]]] = []

    def reader_picks_the_pacs_prior(dialog: PriorsDialog) -> int:
        assert dialog.list.count() == 0  # nothing local
        qtbot.waitUntil(lambda: dialog.list.count() > 0, timeout=30_000)
        items = [dialog.list.item(i) for i in range(dialog.list.count())]
        listed.append([(item.data(NODE_ROLE), item.text()) for item in items])
        dialog.list.setCurrentRow(0)
        return 1

    monkeypatch.setattr(PriorsDialog, "exec", reader_picks_the_pacs_prior)
    with qtbot.waitSignal(main_window.comparison_ready, timeout=120_000) as ready:
        main_window.compare_with_prior()
    assert ready.args == [current_uid, CT_STUDY]
    # listed once although both nodes hold it, from the first node that answered, dated and counted
    (entries,) = listed
    assert len(entries) == 1 and entries[0][0] == "dcmqrscp"
    assert entries[0][1].startswith("2012-07-06") and "on dcmqrscp" in entries[0][1]
    assert main_window.store.study(CT_STUDY).instance_count == 134
    left, right = main_window.grid.viewports
    assert left.volume.voxels.shape[0] == 30 and right.volume.voxels.shape[0] == 134
    assert right.scene.window == left.scene.window
