"""Compare with prior, as a reader does it: the same patient's earlier CT opens beside the current
one with the same window, and scrolling one scrolls the other to the same anatomy.

The prior is derived from the real CT: its first 40 slices re-issued as an earlier study (new
Study/Series/SOP Instance and Frame of Reference UIDs, a study date a year earlier), which is
what a prior of the same patient looks like to a viewer.
"""

from __future__ import annotations

import pydicom
import pytest
from pydicom.uid import generate_uid

from tests.ui.conftest import expected_gray, screen_pixel
from tests.ui.test_browser import import_and_wait


def make_prior(ct_dir, dest, count=40):
    dest.mkdir()
    study, series, frame = generate_uid(), generate_uid(), generate_uid()
    for path in sorted(ct_dir.glob("*.dcm"))[:count]:
        ds = pydicom.dcmread(path)
        ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.FrameOfReferenceUID = study, series, frame
        ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
        ds.StudyDate = ds.SeriesDate = "20110706"
        ds.StudyDescription = "PANCREAS (prior)"
        ds.save_as(dest / path.name)
    return study


def test_compare_with_prior_side_by_side_synchronised(qtbot, main_window, ct_dir, tmp_path, monkeypatch):
    prior_uid = make_prior(ct_dir, tmp_path / "prior")
    current_report = import_and_wait(qtbot, main_window, [ct_dir])
    import_and_wait(qtbot, main_window, [tmp_path / "prior"])
    current_uid = current_report.study_uids[0]
    priors = main_window.store.priors(current_uid)
    assert [(p.study.study_uid, p.match) for p in priors] == [(prior_uid, "patient id")]

    with qtbot.waitSignal(main_window.volume_shown, timeout=60_000):
        main_window.open_study(current_uid)
    from viewer.ui.priors_dialog import PriorsDialog

    monkeypatch.setattr(PriorsDialog, "exec", lambda self: 1)  # the reader presses OK on the newest prior
    with qtbot.waitSignal(main_window.comparison_ready, timeout=60_000) as ready:
        main_window.compare_with_prior()
    assert ready.args == [current_uid, prior_uid]
    left, right = main_window.grid.viewports
    assert left.volume.voxels.shape[0] == 134 and right.volume.voxels.shape[0] == 40
    assert right.scene.window == left.scene.window  # matched W/L

    # Both exams open at their first acquired image (Instance Number 1, the top of the stack),
    # the same anatomy, so the captured offset is 0 and positions match directly.
    assert left.current_uid() != right.current_uid()
    assert left.slice_position()[2] == pytest.approx(right.slice_position()[2])
    left.set_slice(120)  # scrolling the current exam moves the prior to the same anatomy (z 445.91)
    assert right.slice_index == 26 and right.slice_position()[2] == pytest.approx(left.slice_position()[2])
    right.scene.set_interpolation(False)
    frame = right.grab_frame()
    center, width = right.scene.window
    j, i = 300, 256
    row, col = screen_pixel(right.scene.renderer, right.volume.affine, 26, j, i, frame.shape[0])
    want = expected_gray(float(right.volume.voxels[26, j, i]), center, width)
    assert abs(float(frame[row, col, 0]) - want) <= 3
