"""MPR and 3D from the main window on the real CT: the actions open windows that render it."""

from __future__ import annotations

import numpy as np

from tests.ui.test_browser import import_and_wait


def test_mpr_and_3d_actions_render_the_open_series(qtbot, main_window, ct_dir):
    report = import_and_wait(qtbot, main_window, [ct_dir])
    with qtbot.waitSignal(main_window.volume_shown, timeout=60_000):
        main_window.open_study(report.study_uids[0])
    for action in (main_window.mpr_action, main_window.vr_action):
        action.trigger()
        window = main_window.reconstructions[-1]
        qtbot.waitExposed(window)
        frame = window.view.grab_frame()
        assert frame.std() > 10 and len(np.unique(frame[::8, ::8, 0])) > 20
        window.close()
