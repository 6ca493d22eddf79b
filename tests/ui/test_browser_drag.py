"""Study browser rows drag into viewports; patient rows sort by their latest study date (issue 8)."""

from __future__ import annotations

from PySide6.QtCore import Qt

from tests.ui.test_browser import browser_rows, import_and_wait
from tests.ui.test_stacks import _drop
from viewer.ui.layout_grid import SeriesDrop
from viewer.ui.study_browser import KIND_ROLE, UID_ROLE

DATE = 4  # the "Study date" column


def test_series_and_study_rows_drag_into_viewports(qtbot, main_window, ct_dir, mr_dir):
    win = main_window
    import_and_wait(qtbot, win, [ct_dir])
    import_and_wait(qtbot, win, [mr_dir])
    browser, model = win.browser, win.browser.model
    assert browser.tree.dragEnabled()
    patients, studies = browser_rows(win)
    assert not model.flags(patients[0].index()) & Qt.ItemFlag.ItemIsDragEnabled
    mr = next(s for s in studies if browser.store.study(s.data(UID_ROLE)).modalities == ("MR",))
    ct = next(s for s in studies if s is not mr)
    browser.select_study(ct.data(UID_ROLE))  # fills the study's series rows
    series = ct.child(0, 0)
    assert series.data(KIND_ROLE) == "series"
    assert model.flags(series.index()) & Qt.ItemFlag.ItemIsDragEnabled
    mime = model.mimeData([series.index()])
    assert model.mimeTypes() == ["application/x-lightbox-series"]
    drop = SeriesDrop.from_mime(mime)
    assert drop.series_instance_uid == series.data(UID_ROLE) and len(drop.paths) == 134
    assert drop.study_instance_uid == ct.data(UID_ROLE)
    win.grid.set_layout(1, 2)
    left, right = win.grid.viewports[:2]
    assert _drop(qtbot, win, mime, right).voxels.shape == (134, 512, 512)
    # a study row drags as its biggest image series
    volume = _drop(qtbot, win, model.mimeData([mr.index().siblingAtColumn(DATE)]), left)
    assert volume.voxels.shape == (100, 256, 256) and left.volume is volume


def test_patients_sort_by_their_latest_study_date(qtbot, main_window, data_dir, ct_dir, mr_dir):
    win = main_window
    import_and_wait(qtbot, win, [data_dir / "dicomdir-charsets"], link=False)
    import_and_wait(qtbot, win, [ct_dir])
    import_and_wait(qtbot, win, [mr_dir])
    model = win.browser.model
    win.browser.tree.sortByColumn(DATE, Qt.SortOrder.DescendingOrder)
    patients, _ = browser_rows(win)
    assert len(patients) == 13
    shown = [model.item(p.row(), DATE).text() for p in patients]
    latest = [max(p.child(r, DATE).text() for r in range(p.rowCount())) for p in patients]
    assert shown == latest  # the CD's studies have no Study Date: their patients' cells stay empty
    assert shown[:2] == ["2012-07-06", "2005-05-11"] and shown == sorted(shown, reverse=True)
    win.browser.tree.sortByColumn(DATE, Qt.SortOrder.AscendingOrder)
    patients, _ = browser_rows(win)
    assert [model.item(p.row(), DATE).text() for p in patients][-2:] == ["2005-05-11", "2012-07-06"]
