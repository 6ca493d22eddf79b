"""One reading session as a user lives it, start to finish, on an empty home:

import the real DICOMDIR media through the CD import action, see the studies appear, open
the CT, scroll, window, measure, find Patient Name in the tag browser, compare with a prior,
retrieve a study from a real Orthanc through the Q/R panel and see it appear, export it as
DICOMDIR media. Every step asserts on state and on rendered pixels.
"""

from __future__ import annotations

import numpy as np
import pydicom
import pytest
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QWheelEvent
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

from tests.ui.conftest import expected_gray, screen_pixel
from tests.ui.test_compare_prior import make_prior
from viewer.net.nodes import LocalSettings, NetConfig, RemoteNode, save_config

pytestmark = pytest.mark.pacs


def rendered(view, k, j, i):
    frame = view.grab_frame()
    row, col = screen_pixel(view.scene.renderer, view.volume.affine, k, j, i, frame.shape[0])
    return float(frame[row, col, 0])


def widget_point(view, k, j, i):
    row, col = screen_pixel(view.scene.renderer, view.volume.affine, k, j, i, view.vtk_widget.height())
    return QPoint(col, row)


def test_a_reading_session(qtbot, main_window, lightbox_home, data_dir, ct_dir, tmp_path, orthanc, viewer_scp,
                           monkeypatch):
    win = main_window
    assert win.store.studies() == []  # an empty home

    # 1. Import CD/DVD finds the mounted medium with a DICOMDIR and copies it into the cache.
    import viewer.ui.main_window as main_window_module

    monkeypatch.setattr(main_window_module, "mounted_dicom_media", lambda: [data_dir / "dicomdir-charsets"])
    with qtbot.waitSignal(win.import_finished, timeout=120_000) as imported:
        win.import_cd_action.trigger()
    assert imported.args[0].imported == 11
    assert win.browser.model.rowCount() == 11
    medium = win.store.instances(win.store.series(win.store.studies()[0].study_uid)[0].series_uid)[0]
    assert lightbox_home in medium.path.parents  # copied: the CD can be ejected

    # 2. The CT (and a prior of the same patient) arrive from a folder; open the CT.
    with qtbot.waitSignal(win.import_finished, timeout=120_000) as imported:
        win.import_paths([ct_dir])
    ct_uid = imported.args[0].study_uids[0]
    prior_uid = make_prior(ct_dir, tmp_path / "prior")
    with qtbot.waitSignal(win.import_finished, timeout=120_000):
        win.import_paths([tmp_path / "prior"])
    assert win.browser.model.rowCount() == 12  # 11 media patients + the CT patient with two studies
    with qtbot.waitSignal(win.volume_shown, timeout=60_000) as shown:
        win.browser.study_activated.emit(ct_uid)
    volume = shown.args[0]
    view = win.viewport
    view.set_interpolation(False)

    # 3. Scroll with the wheel: 10 images on from the first acquired one (the top of the stack).
    widget = view.vtk_widget
    centre = QPointF(widget.width() / 2, widget.height() / 2)
    for _ in range(10):
        QApplication.sendEvent(widget, QWheelEvent(centre, widget.mapToGlobal(centre), QPoint(0, 0), QPoint(0, -120),
                                                   Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier,
                                                   Qt.ScrollPhase.NoScrollPhase, False))
    k = view.slice_index
    assert k == 133 - 10 and int(volume.headers[k].InstanceNumber) == 11  # the volume is sorted feet first
    center, width = view.scene.window
    assert rendered(view, k, 300, 256) == pytest.approx(expected_gray(volume.voxels[k, 300, 256], center, width),
                                                        abs=3)

    # 4. Window: a lung preset by its number key, then the pixels follow.
    QTest.keyClick(widget, Qt.Key.Key_4)
    assert view.scene.window == (-600.0, 1500.0)
    assert rendered(view, k, 300, 256) == pytest.approx(expected_gray(volume.voxels[k, 300, 256], -600, 1500),
                                                        abs=3)

    # 5. Measure 100 columns along a row: 100 x 1.0742 mm.
    view.set_tool("length")
    added = []
    view.measurement_added.connect(added.append)
    start, end = widget_point(view, k, 256, 150), widget_point(view, k, 256, 250)
    QTest.mousePress(widget, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, start)
    for t in np.linspace(0, 1, 10):
        QTest.mouseMove(widget, start + (end - start) * float(t))
    QTest.mouseRelease(widget, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, end)
    assert len(added) == 1
    assert added[0].result["length"] == pytest.approx(100 * 1.07421875, abs=2 * view.scene.mm_per_pixel)
    view.set_tool("window")

    # 6. The tag browser finds Patient Name.
    dialog = win.show_tags()
    qtbot.addWidget(dialog)
    assert dialog.apply_filter("patient name") >= 1 or dialog.apply_filter("PatientName") >= 1
    assert ("(0010,0010)", "PatientName", "Pancreas-CT-CB_001") in dialog.visible_rows()

    # 7. Compare with the prior: side by side, same window, scrolling together.
    from viewer.ui.priors_dialog import PriorsDialog

    monkeypatch.setattr(PriorsDialog, "exec", lambda self: 1)
    with qtbot.waitSignal(win.comparison_ready, timeout=60_000) as ready:
        win.compare_with_prior(ct_uid)
    assert ready.args == [ct_uid, prior_uid]
    left, right = win.grid.viewports
    left.set_slice(120)  # both opened at their first image, the top: the prior's slice 26 is the same z
    assert right.slice_index == 26 and right.scene.window == left.scene.window

    # 8. Retrieve the MR study from the real Orthanc through the Q/R panel.
    cfg = NetConfig(local=LocalSettings(ae_title="LIGHTBOX", port=int(viewer_scp["port"]), bind_host="127.0.0.1"))
    cfg.add(RemoteNode(name="Orthanc", aet=orthanc["PACS_AET"], host="127.0.0.1",
                       port=int(orthanc["PACS_DICOM_PORT"]), retrieve="get"))
    save_config(lightbox_home, cfg)
    win.qr_action.trigger()
    panel = win.qr_panel
    panel.reload_nodes()
    panel.patient_name.setText("Facial*")
    with qtbot.waitSignal(panel.results_ready, timeout=30_000) as found:
        panel.search_button.click()
    assert found.args[0] == 1
    panel.results.topLevelItem(0).setSelected(True)
    with qtbot.waitSignal(panel.retrieve_finished, timeout=120_000) as retrieved:
        panel.retrieve_button.click()
    assert retrieved.args[0].received == 100
    qtbot.waitUntil(lambda: win.browser.model.rowCount() == 13, timeout=10_000)
    mr_uid = next(s.study_uid for s in win.store.studies() if s.modalities == ("MR",))
    with qtbot.waitSignal(win.volume_shown, timeout=60_000) as shown:
        win.open_study(mr_uid)
    assert shown.args[0].voxels.shape == (100, 256, 256)
    assert len({tuple(px) for px in win.viewport.grab_frame()[::8, ::8].reshape(-1, 3)}) > 20

    # 9. Export it as DICOM media with a DICOMDIR.
    job = win.export_study(mr_uid, dest=tmp_path / "cd", dicomdir=True, as_zip=False, deidentify=None)
    qtbot.waitUntil(lambda: job.status != "running", timeout=60_000)
    assert job.status == "done", job.details
    media = pydicom.dcmread(tmp_path / "cd" / "DICOMDIR")
    assert sum(r.DirectoryRecordType == "IMAGE" for r in media.DirectoryRecordSequence) == 100
