"""A thumbnail made while a series was still arriving is rebuilt once more instances are in (issue 8)."""

from __future__ import annotations

from tests.ui.test_browser import browser_rows, import_and_wait
from viewer.ui.thumbnails import UID_ROLE


def _icon_bytes(strip) -> bytes:
    image = strip.item(0).icon().pixmap(128, 128).toImage()
    return bytes(image.constBits())


def test_thumbnail_is_rebuilt_when_the_series_grows(qtbot, main_window, ct_dir, lightbox_home):
    win, strip = main_window, main_window.thumbnails
    files = sorted(ct_dir.glob("*.dcm"))
    import_and_wait(qtbot, win, files[:10])  # what had arrived when the thumbnail was first made
    _, studies = browser_rows(win)
    study_uid = studies[0].data(UID_ROLE)
    win.browser.select_study(study_uid)
    qtbot.waitUntil(lambda: strip.pending == 0, timeout=30_000)
    series_uid = strip.item(0).data(UID_ROLE)
    early = _icon_bytes(strip)
    cache = lightbox_home / "thumbnails"
    first = list(cache.glob("*.png"))
    assert len(first) == 1

    import_and_wait(qtbot, win, files)  # the rest of the series arrives
    strip.show_study(study_uid)
    qtbot.waitUntil(lambda: strip.pending == 0, timeout=30_000)
    assert _icon_bytes(strip) != early  # the middle of 134 slices, not of the first 10
    assert first[0].name == f"{series_uid}-10.png"
    assert [p.name for p in cache.glob("*.png")] == [f"{series_uid}-134.png"]  # the stale one is gone
    assert "134 im" in strip.item(0).text()
