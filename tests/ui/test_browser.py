"""Importing real media in the main window: studies appear in the browser, open, show tags."""

from __future__ import annotations

from viewer.ui.study_browser import KIND_ROLE, UID_ROLE


def import_and_wait(qtbot, win, paths, **kwargs):
    with qtbot.waitSignal(win.import_finished, timeout=120_000) as blocker:
        win.import_paths(paths, **kwargs)
    return blocker.args[0]


def browser_rows(win):
    model = win.browser.model
    patients = [model.item(r, 0) for r in range(model.rowCount())]
    studies = [p.child(r, 0) for p in patients for r in range(p.rowCount())]
    return patients, studies


def test_dicomdir_media_import_fills_the_browser(qtbot, main_window, data_dir):
    report = import_and_wait(qtbot, main_window, [data_dir / "dicomdir-charsets"], link=False)
    assert (report.imported, report.failed) == (11, 0)
    patients, studies = browser_rows(main_window)
    assert len(patients) == 11 and len(studies) == 11
    names = {p.toolTip() for p in patients}
    assert "Buc^Jérôme" in names and "Wang^XiaoDong=王^小東" in names
    assert all(s.data(KIND_ROLE) == "study" for s in studies)
    # the quick filter is accent-insensitive and matches any name component
    main_window.browser.search.setText("jerome")
    patients, studies = browser_rows(main_window)
    assert [p.toolTip() for p in patients] == ["Buc^Jérôme"]
    main_window.browser.search.setText("")


def test_open_study_from_browser_and_find_patient_name_in_tags(qtbot, main_window, data_dir):
    import_and_wait(qtbot, main_window, [data_dir / "dicomdir-charsets"], link=False)
    main_window.browser.search.setText("Äneas")
    _, studies = browser_rows(main_window)
    assert len(studies) == 1
    study_uid = studies[0].data(UID_ROLE)
    with qtbot.waitSignal(main_window.volume_shown, timeout=60_000) as blocker:
        main_window.browser.study_activated.emit(study_uid)
    volume = blocker.args[0]
    assert volume.voxels.shape == (1, 512, 512)
    frame = main_window.viewport.grab_frame()
    assert len({tuple(px) for px in frame[::16, ::16].reshape(-1, 3)}) > 8  # an image, not a blank
    dialog = main_window.show_tags()
    qtbot.addWidget(dialog)
    assert dialog.apply_filter("PatientName") >= 1
    rows = dialog.visible_rows()
    assert ("(0010,0010)", "PatientName", "Äneas^Rüdiger") in rows


def test_thumbnails_are_built_in_the_background_and_cached(qtbot, main_window, ct_dir, lightbox_home):
    import_and_wait(qtbot, main_window, [ct_dir])
    _, studies = browser_rows(main_window)
    main_window.browser.select_study(studies[0].data(UID_ROLE))
    strip = main_window.thumbnails
    assert strip.count() == 1
    qtbot.waitUntil(lambda: strip.pending == 0, timeout=30_000)
    cached = list((lightbox_home / "thumbnails").glob("*.png"))
    assert len(cached) == 1
    image = strip.item(0).icon().pixmap(128, 128).toImage()
    assert image.width() == 128 and len({image.pixel(x, 64) for x in range(0, 128, 4)}) > 5


def test_thumbnail_drag_payload_drops_into_a_viewport(qtbot, main_window, ct_dir, mr_dir):
    """A thumbnail's drag data, dropped on the second viewport, loads that series there."""
    from PySide6.QtCore import QPointF, Qt
    from PySide6.QtGui import QDragEnterEvent, QDropEvent
    from PySide6.QtWidgets import QApplication

    import_and_wait(qtbot, main_window, [ct_dir])
    import_and_wait(qtbot, main_window, [mr_dir])
    mr = next(s for s in main_window.store.studies() if s.modalities == ("MR",))
    main_window.grid.set_layout(1, 2)
    main_window.thumbnails.show_study(mr.study_uid)
    mime = main_window.thumbnails.mimeData([main_window.thumbnails.item(0)])
    target = main_window.grid.viewports[1]
    at = QPointF(20, 20)
    QApplication.sendEvent(target.vtk_widget, QDragEnterEvent(at.toPoint(), Qt.DropAction.CopyAction, mime,
                                                              Qt.MouseButton.LeftButton,
                                                              Qt.KeyboardModifier.NoModifier))
    with qtbot.waitSignal(main_window.volume_shown, timeout=60_000) as shown:
        drop = QDropEvent(at, Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                          Qt.KeyboardModifier.NoModifier)
        QApplication.sendEvent(target.vtk_widget, drop)
    assert shown.args[0].voxels.shape == (100, 256, 256)
    assert target.volume is shown.args[0]
    assert main_window.grid.viewports[0].volume is None


def test_two_people_under_one_patient_id_are_two_rows_flagged(qtbot, main_window, mr_dir, tmp_path):
    """SMITH^JOHN and DOE^JANE, both registered as 12345: two patient rows, each marked, each
    with its own study; never one row under the first name."""
    from tests.store.test_patient_identity import _two_people

    _two_people(mr_dir, tmp_path / "in")
    import_and_wait(qtbot, main_window, [tmp_path / "in"])
    patients, _ = browser_rows(main_window)
    assert len(patients) == 2 and all(p.text().endswith("⚠") for p in patients)
    assert sorted(p.text().split(",")[0] for p in patients) == ["DOE", "SMITH"]
    assert all("also used for another person" in p.toolTip() for p in patients)
    assert all(p.rowCount() == 1 for p in patients)
