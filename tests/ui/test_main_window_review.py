"""The main window as a reader meets it: keyboard focus, the status bar, settings, menus.

Each test drives the real window on real data from ``../shared/data`` (pytest-qt) and fails
on the behaviour a review found missing.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

from tests.ui.test_browser import import_and_wait


def study_index(win, study_uid):
    from viewer.ui.study_browser import UID_ROLE

    model = win.browser.model
    return next(i for i in win.browser._all_indexes() if model.itemFromIndex(i).data(UID_ROLE) == study_uid)


def test_keys_scroll_right_after_double_clicking_a_study(qtbot, main_window, ct_dir):
    """PgDn/arrows act on the image as soon as the study is open, without clicking into it first."""
    win = main_window
    uid = import_and_wait(qtbot, win, [ct_dir]).study_uids[0]
    win.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is win)
    index = study_index(win, uid)
    win.browser.tree.setFocus()
    win.browser.tree.setCurrentIndex(index)
    qtbot.waitUntil(lambda: QApplication.focusWidget() is win.browser.tree)
    with qtbot.waitSignal(win.volume_shown, timeout=60_000):
        win.browser.tree.doubleClicked.emit(index)  # what a double-click on the row does
    qtbot.waitUntil(lambda: QApplication.focusWidget() is win.viewport.vtk_widget)
    start = win.viewport.image_number()  # reading order: the first acquired image, then the next
    QTest.keyClick(QApplication.focusWidget(), Qt.Key.Key_PageDown)
    QTest.keyClick(QApplication.focusWidget(), Qt.Key.Key_Down)
    assert win.viewport.image_number() == start + 2


def open_ct(qtbot, win, ct_dir):
    uid = import_and_wait(qtbot, win, [ct_dir]).study_uids[0]
    with qtbot.waitSignal(win.volume_shown, timeout=60_000):
        win.open_study(uid)
    return uid


def hover(widget, point):
    """A mouse move without a button (QTest.mouseMove sends none on the offscreen platform)."""
    from PySide6.QtCore import QEvent, QPointF
    from PySide6.QtGui import QMouseEvent

    local = QPointF(point)
    event = QMouseEvent(QEvent.Type.MouseMove, local, QPointF(widget.mapToGlobal(point)), Qt.MouseButton.NoButton,
                        Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(widget, event)


def shown_value(win, view, report, k):
    """The status text must carry the value of the voxel the viewport reports under the cursor."""
    value = float(view.volume.voxels[k, report["row"], report["column"]])
    return f"{value:.0f} HU at row {report['row']}, col {report['column']}"


def test_the_value_under_the_cursor_and_the_probe_go_to_the_status_bar(qtbot, main_window, ct_dir):
    from tests.ui.test_viewport import widget_point

    win = main_window
    open_ct(qtbot, win, ct_dir)
    view = win.viewport
    k, j, i = view.slice_index, 300, 256
    with qtbot.waitSignal(view.hovered) as hovered:
        hover(view.vtk_widget, widget_point(view, view.volume, k, j, i))
    report = hovered.args[0]
    assert abs(report["row"] - j) <= 1 and abs(report["column"] - i) <= 1
    assert win.value_label.text().startswith(shown_value(win, view, report, k))

    win.reading_toolbar.select_tool("probe")
    with qtbot.waitSignal(view.probed) as probed:
        QTest.mouseClick(view.vtk_widget, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier,
                         widget_point(view, view.volume, k, 256, 200))
    report = probed.args[0]
    assert abs(report["row"] - 256) <= 1 and abs(report["column"] - 200) <= 1
    assert win.value_label.text().startswith("Probe: " + shown_value(win, view, report, k))


def press(view, key):
    QTest.keyClick(view.vtk_widget, key)
    return view.scene.window


def test_window_presets_edited_in_settings_reach_the_viewer(qtbot, store, lightbox_home, ct_dir):
    """settings.json's presets apply at start-up, and a saved edit applies to the series already open."""
    from tests.ui.conftest import open_main_window
    from viewer.core.settings import Settings, load_settings, save_settings

    save_settings(lightbox_home, Settings(user_presets=[
        {"modality": "CT", "name": "Lung", "center": -500, "width": 1400},
        {"modality": "CT", "name": "Pancreas", "center": 60, "width": 250, "key": "9"}]))
    win = open_main_window(qtbot, store, lightbox_home)
    open_ct(qtbot, win, ct_dir)
    view = win.viewport
    assert press(view, Qt.Key.Key_4) == (-500.0, 1400.0)  # the edited built-in keeps its key
    assert press(view, Qt.Key.Key_9) == (60.0, 250.0)  # a preset of the user's own
    win.reading_toolbar.presets_menu.aboutToShow.emit()
    assert any("Pancreas" in a.text() for a in win.reading_toolbar.presets_menu.actions())

    settings = load_settings(lightbox_home)  # what the settings dialog's Save does, then apply_settings
    settings.user_presets[0]["center"] = -650
    save_settings(lightbox_home, settings)
    win.apply_settings()
    assert press(view, Qt.Key.Key_4) == (-650.0, 1400.0)  # the open series follows the edit


DAMAGED_SETTINGS = ['{"theme": "blue"}\n', '{"theme": "dark", "annotations": tr']  # a bad value; a cut-off file


def test_a_damaged_settings_file_does_not_stop_the_viewer(qtbot, store, lightbox_home, ct_dir):
    """Defaults are used, the user's file is kept beside as settings.json.bad, the status bar says so."""
    from tests.ui.conftest import open_main_window

    path = lightbox_home / "settings.json"
    (lightbox_home / "settings.json.bad").write_text("an older damaged file\n")  # never overwritten
    path.write_text(DAMAGED_SETTINGS[0])
    win = open_main_window(qtbot, store, lightbox_home)
    kept = lightbox_home / "settings.json.bad.1"
    assert kept.read_text() == DAMAGED_SETTINGS[0] and not path.exists()
    assert (lightbox_home / "settings.json.bad").read_text() == "an older damaged file\n"
    assert str(kept) in win.statusBar().currentMessage() and "blue" in win.statusBar().currentMessage()
    open_ct(qtbot, win, ct_dir)
    assert press(win.viewport, Qt.Key.Key_4) == (-600, 1500)  # the default presets work

    path.write_text(DAMAGED_SETTINGS[1])  # damaged while running (another editor): Save & apply survives too
    win.apply_settings()
    assert (lightbox_home / "settings.json.bad.2").read_text() == DAMAGED_SETTINGS[1]
    assert "cannot read settings" in win.statusBar().currentMessage()


@pytest.mark.parametrize("damaged", DAMAGED_SETTINGS, ids=["bad-value", "truncated"])
def test_the_application_starts_with_a_damaged_settings_file(lightbox_home, tmp_path, damaged):
    """`lightbox view` exited with "theme must be one of ..." / "cannot read settings"."""
    (lightbox_home / "settings.json").write_text(damaged)
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    env.update(QT_QPA_PLATFORM="offscreen", VTK_DEFAULT_OPENGL_WINDOW="vtkOSOpenGLRenderWindow")
    shot = tmp_path / "shot.png"
    done = subprocess.run([sys.executable, "-m", "viewer", "--home", str(lightbox_home), "view",
                           "--screenshot", str(shot)], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert shot.stat().st_size > 1000
    assert (lightbox_home / "settings.json.bad").read_text() == damaged


def ct_with_a_localizer(qtbot, win, ct_dir, tmp_path):
    """The real CT plus a one-image localizer series in the same study: (study, CT series, localizer)."""
    import pydicom
    from pydicom.uid import generate_uid

    from tests.ui.test_compare_prior import CORONAL, reissue

    first = sorted(ct_dir.glob("*.dcm"))[0]
    header = pydicom.dcmread(first, stop_before_pixels=True)
    scout = generate_uid()
    reissue([first], tmp_path / "scout", study=header.StudyInstanceUID, series=scout,
            frame=header.FrameOfReferenceUID, number=1, description="Topogram", orientation=CORONAL,
            patient_id=header.PatientID, date=header.StudyDate)
    import_and_wait(qtbot, win, [ct_dir])
    import_and_wait(qtbot, win, [tmp_path / "scout"])
    return header.StudyInstanceUID, header.SeriesInstanceUID, scout


def test_export_from_a_series_row_exports_that_series_only(qtbot, main_window, ct_dir, tmp_path, monkeypatch):
    import pydicom

    from viewer.ui.export_dialog import ExportDialog

    win = main_window
    study, _ct_series, scout = ct_with_a_localizer(qtbot, win, ct_dir, tmp_path)
    dest = tmp_path / "out"

    def accept(dialog):
        dialog.destination.setText(str(dest))
        return 1

    monkeypatch.setattr(ExportDialog, "exec", accept)
    with qtbot.waitSignal(win.jobs.job_added) as added:
        win._browser_action("Export…", study, scout)  # the context menu on the localizer's row
    job = added.args[0]
    qtbot.waitUntil(lambda: job.status != "running", timeout=60_000)
    assert job.status == "done", job.summary
    exported = [pydicom.dcmread(p, stop_before_pixels=True) for p in dest.rglob("*")
                if p.is_file() and p.name != "DICOMDIR"]
    assert [ds.SeriesInstanceUID for ds in exported] == [scout]


def test_deleting_what_is_on_screen_clears_its_viewports(qtbot, main_window, ct_dir, tmp_path, monkeypatch):
    from PySide6.QtWidgets import QMessageBox

    win = main_window
    study, ct_series, scout = ct_with_a_localizer(qtbot, win, ct_dir, tmp_path)
    with qtbot.waitSignals([win.volume_shown] * 2, timeout=60_000):
        win.open_study(study)
    showing = {v.volume.headers[0].SeriesInstanceUID: v for v in win.grid.viewports}
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.StandardButton.Yes)
    win._browser_action("Delete", study, scout)
    assert showing[scout].volume is None and showing[ct_series].volume is not None
    win._browser_action("Delete", study, "")
    assert all(v.volume is None for v in win.grid.all_viewports)
    assert win.current_study_uid == ""


def test_f1_lists_every_registered_shortcut(qtbot, main_window, monkeypatch):
    """Help → Keyboard shortcuts (F1) is a table of what the keys really do: every QAction with a
    shortcut in the window is there (it cannot drift), and the image viewport's keys too."""
    from PySide6.QtGui import QAction, QKeySequence
    from PySide6.QtWidgets import QMessageBox

    def no_text_box(*args, **kwargs):
        raise AssertionError(f"F1 showed a message box, not the shortcut table: {args[2][:80]!r}")

    monkeypatch.setattr(QMessageBox, "information", no_text_box)

    from viewer.ui.shortcuts import ShortcutsDialog

    win = main_window
    f1 = next(a for a in win.findChildren(QAction) if a.shortcut() == QKeySequence("F1"))
    f1.trigger()
    dialog = next(d for d in win.findChildren(ShortcutsDialog) if d.isVisible())
    rows = dialog.rows()
    keys = {k for k, _ in rows}
    registered = {s.toString(QKeySequence.SequenceFormat.NativeText)
                  for a in win.findChildren(QAction) for s in a.shortcuts()}
    assert {"Ctrl+D", "Ctrl+O", "Ctrl+R", "Ctrl+P", "Ctrl+T", "Ctrl+M", "Ctrl+3", "Ctrl+,", "F1"} <= registered
    assert registered <= keys
    texts = "\n".join(f"{k}\t{w}" for k, w in rows)
    for needed in ("PgUp / PgDn", "Home / End", "Corner annotations", "Cine", "W/L presets"):
        assert needed in texts
    assert "Viewport" not in texts and "observer" not in texts  # not the developer docstring


def test_layout_and_the_browser_thumbnail_split_are_remembered(qtbot, store, lightbox_home):
    from tests.ui.conftest import open_main_window

    win = open_main_window(qtbot, store, lightbox_home)
    win.grid.set_layout(2, 3)
    win.left_splitter.setSizes([250, 450])
    sizes = win.left_splitter.sizes()
    win.close()
    again = open_main_window(qtbot, store, lightbox_home)
    assert (again.grid.rows, again.grid.cols) == (2, 3)
    top, bottom = again.left_splitter.sizes()  # the split, even if the window came back another height
    assert abs(top / (top + bottom) - sizes[0] / sum(sizes)) < 0.02


def test_the_annotations_setting_applies_to_the_whole_layout(qtbot, store, lightbox_home, ct_dir, tmp_path):
    """"Show corner annotations" off in settings.json: off at start-up in every viewport; turned
    on in Settings: on in every viewport, not only the active one."""
    from tests.ui.conftest import open_main_window
    from viewer.core.settings import Settings, load_settings, save_settings

    save_settings(lightbox_home, Settings(annotations=False))
    win = open_main_window(qtbot, store, lightbox_home)
    study, _, _ = ct_with_a_localizer(qtbot, win, ct_dir, tmp_path)
    with qtbot.waitSignals([win.volume_shown] * 2, timeout=60_000):
        win.open_study(study)
    views = win.grid.viewports
    assert len(views) == 2 and not any(v.annotations_visible for v in win.grid.all_viewports)

    settings = load_settings(lightbox_home)
    settings.annotations = True
    save_settings(lightbox_home, settings)
    win.grid.set_active(views[1])
    win.apply_settings()
    assert all(v.annotations_visible for v in win.grid.all_viewports)
    QTest.keyClick(views[0].vtk_widget, Qt.Key.Key_A)  # the A key: the whole layout
    assert not any(v.annotations_visible for v in win.grid.all_viewports)


def test_the_toolbar_imports_files_folders_zips_and_media(qtbot, main_window, mr_dir, tmp_path, monkeypatch):
    """One Import button on the main tool bar with all four ways in; the ZIP entry imports a ZIP."""
    import zipfile

    from PySide6.QtWidgets import QFileDialog, QToolBar, QToolButton

    win = main_window
    toolbar = next(t for t in win.findChildren(QToolBar) if t.objectName() == "main-toolbar")
    button = next(b for b in toolbar.findChildren(QToolButton) if b.text().startswith("Import"))
    assert button.menu().actions() == [win.import_cd_action, win.import_folder_action, win.import_files_action,
                                       win.import_zip_action, win.index_in_place_action]
    archive = tmp_path / "mr.zip"
    with zipfile.ZipFile(archive, "w") as z:
        for path in sorted(mr_dir.rglob("*")):
            if path.is_file():
                z.write(path, path.relative_to(mr_dir))
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: (str(archive), ""))
    with qtbot.waitSignal(win.import_finished, timeout=120_000) as imported:
        button.menu().actions()[3].trigger()
    assert imported.args[0].imported > 0 and imported.args[0].failed == 0


def test_import_cd_scans_off_the_gui_thread_and_asks_which_medium(qtbot, main_window, data_dir, mr_dir, tmp_path,
                                                                   monkeypatch):
    """The media scan (it may walk a slow network share under /mnt) runs on another thread; with
    several media the reader chooses one; with none, a message, then a folder picker."""
    import threading

    from PySide6.QtWidgets import QFileDialog, QInputDialog, QMessageBox

    import viewer.ui.main_window as main_window_module

    win = main_window
    cd = data_dir / "dicomdir-charsets"
    media: list = [cd, mr_dir]
    scanned_on = []

    def scan():
        scanned_on.append(threading.current_thread())
        return list(media)

    monkeypatch.setattr(main_window_module, "mounted_dicom_media", scan)
    offered = []

    def choose(parent, title, label, items, current=0, editable=False):
        offered.append(list(items))
        return next(i for i in items if "dicomdir-charsets" in i), True

    monkeypatch.setattr(QInputDialog, "getItem", choose)
    with qtbot.waitSignal(win.import_finished, timeout=120_000) as imported:
        win.import_cd_action.trigger()
    assert scanned_on and scanned_on[0] is not threading.main_thread()
    assert len(offered) == 1 and len(offered[0]) == 2
    assert imported.args[0].imported == 11  # the chosen medium only (the MR folder has 100 images)

    media.clear()
    told = []
    monkeypatch.setattr(QMessageBox, "information", lambda parent, title, text, *a: told.append(text))
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", lambda *a, **k: str(mr_dir))
    with qtbot.waitSignal(win.import_finished, timeout=120_000) as imported:
        win.import_cd_action.trigger()
    assert len(told) == 1 and "No CD/DVD" in told[0]
    assert imported.args[0].imported == 100  # the folder picked (its 101st file is not DICOM)


def test_import_folder_copies_and_index_in_place_does_not(qtbot, main_window, mr_dir, ct_dir, tmp_path,
                                                          monkeypatch):
    """Import copies (a tidied Downloads folder must not empty the cache); File → Index folder
    in place keeps the files where they are."""
    import shutil

    from PySide6.QtWidgets import QFileDialog

    win = main_window
    copied_src, linked_src = tmp_path / "copied", tmp_path / "linked"
    shutil.copytree(mr_dir, copied_src)
    linked_src.mkdir()
    for f in sorted(ct_dir.glob("*.dcm"))[:5]:
        shutil.copyfile(f, linked_src / f.name)
    where = {}
    for folder, act in ((copied_src, win.import_folder_action), (linked_src, win.index_in_place_action)):
        monkeypatch.setattr(QFileDialog, "getExistingDirectory", lambda *a, folder=folder, **k: str(folder))
        with qtbot.waitSignal(win.import_finished, timeout=120_000) as imported:
            act.trigger()
        report = imported.args[0]
        assert report.imported > 0 and report.failed == 0
        (study,) = [s for s in win.store.studies() if s.study_uid not in where]
        where[study.study_uid] = (folder, [i.path for i in win.store.study_instances(study.study_uid)])
    (copied,), (linked,) = ([p for f, p in where.values() if f == src] for src in (copied_src, linked_src))
    assert copied and not any(copied_src in p.parents for p in copied)  # in the managed store
    assert len(linked) == 5 and all(p.parent == linked_src for p in linked)  # where they were


def test_the_window_fits_the_screen_and_has_the_icon(qtbot, store, lightbox_home):
    """The first-start size never exceeds the screen's free area (the virtual display is 1280x1024,
    smaller than the preferred 1400x900 is wide); the application icon is found and loads."""
    from PySide6.QtGui import QIcon

    from viewer.ui.application import application_icon
    from viewer.ui.main_window import MainWindow

    win = MainWindow(store, lightbox_home)
    qtbot.addWidget(win)
    free = win.screen().availableGeometry()
    assert win.width() <= free.width() and win.height() <= free.height()
    icon = application_icon()
    assert icon is not None and not QIcon(str(icon)).pixmap(64, 64).isNull()
