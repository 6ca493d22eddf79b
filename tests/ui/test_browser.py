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
