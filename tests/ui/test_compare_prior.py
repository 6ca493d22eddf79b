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


def reissue(sources, dest, *, study, series, frame, number, description, patient_id="Pancreas-CT-CB_001",
            date="20120101", orientation=None):
    """Real CT slices re-issued as another series (new SOP UIDs); ``orientation`` relabels their
    plane, as a localizer or a reformat in another plane would be."""
    dest.mkdir(parents=True, exist_ok=True)
    for path in sources:
        ds = pydicom.dcmread(path)
        ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.FrameOfReferenceUID = study, series, frame
        ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
        ds.StudyDate = ds.SeriesDate = date
        ds.PatientID, ds.PatientBirthDate = patient_id, "19600101"
        ds.SeriesNumber, ds.SeriesDescription = number, description
        if orientation is not None:
            ds.ImageOrientationPatient = orientation
        ds.save_as(dest / f"{number}-{path.name}")


CORONAL, SAGITTAL = [1, 0, 0, 0, 0, -1], [0, 1, 0, 0, 0, -1]


def test_compare_shows_the_series_being_read_beside_the_priors_matching_series(qtbot, main_window, ct_dir,
                                                                                  tmp_path, monkeypatch):
    """The current side is the series in the active viewport (not the lowest-numbered scout); the
    prior's series is the axial stack (same plane) even though its description differs and a
    sagittal reformat carries the same description. The prior was matched on name and birth date
    (another Patient ID): accepted by the reader, it scrolls with the current exam."""
    slices = sorted(ct_dir.glob("*.dcm"))
    now, before = tmp_path / "now", tmp_path / "before"
    study, frame = generate_uid(), generate_uid()
    reissue(slices[:1], now, study=study, series=generate_uid(), frame=frame, number=1, description="Topogram",
            orientation=CORONAL)
    reissue(slices[:60], now, study=study, series=generate_uid(), frame=frame, number=201,
            description="PANCREAS DI, iDose (3)")
    prior, prior_frame, prior_axial = generate_uid(), generate_uid(), generate_uid()
    common = dict(study=prior, frame=prior_frame, patient_id="OTHER-HOSPITAL-7", date="20110101")
    reissue(slices[:1], before, series=generate_uid(), number=1, description="Topogram", orientation=CORONAL,
            **common)
    reissue(slices[:20], before, series=generate_uid(), number=2, description="PANCREAS DI, iDose (3)",
            orientation=SAGITTAL, **common)
    reissue(slices[:40], before, series=prior_axial, number=3, description="Abdomen 3.0 B30f", **common)
    import_and_wait(qtbot, main_window, [now])
    import_and_wait(qtbot, main_window, [before])
    assert [(p.study.study_uid, p.match) for p in main_window.store.priors(study)] == [
        (prior, "name and birth date")]

    with qtbot.waitSignals([main_window.volume_shown] * 2, timeout=60_000):
        main_window.open_study(study)
    reading = next(v for v in main_window.grid.viewports if v.volume.voxels.shape[0] == 60)
    main_window.grid.set_active(reading)  # the reader clicked into the axial series
    from viewer.ui.priors_dialog import PriorsDialog

    monkeypatch.setattr(PriorsDialog, "exec", lambda self: 1)
    with qtbot.waitSignal(main_window.comparison_ready, timeout=60_000):
        main_window.compare_with_prior()
    left, right = main_window.grid.viewports
    assert left.volume.voxels.shape[0] == 60
    assert right.volume.headers[0].SeriesInstanceUID == prior_axial and right.volume.voxels.shape[0] == 40
    assert left.slice_position()[2] == pytest.approx(right.slice_position()[2])
    target = right.slice_position(10)[2]  # a slice both exams hold, away from the first
    left.set_slice(next(k for k in range(60) if left.slice_position(k)[2] == pytest.approx(target)))
    assert right.slice_index == 10  # the prior followed to the same anatomy
    assert right.slice_position()[2] == pytest.approx(left.slice_position()[2])


def test_the_sync_menu_shows_the_scrolling_a_comparison_turns_on(qtbot, main_window, ct_dir, tmp_path):
    prior_uid = make_prior(ct_dir, tmp_path / "prior")
    current_uid = import_and_wait(qtbot, main_window, [ct_dir]).study_uids[0]
    import_and_wait(qtbot, main_window, [tmp_path / "prior"])
    scrolling = main_window.reading_toolbar.sync_actions["scroll_enabled"]
    scrolling.setChecked(False)  # the reader had turned synchronised scrolling off
    assert main_window.sync.scroll_enabled is False
    with qtbot.waitSignal(main_window.comparison_ready, timeout=60_000):
        main_window.open_comparison(current_uid, prior_uid)
    assert main_window.sync.scroll_enabled is True and scrolling.isChecked()
    scrolling.setChecked(False)  # and the menu still turns it off
    assert main_window.sync.scroll_enabled is False
