"""A partial retrieve has a failure summary to open, and finished jobs can be cleared (issue 8)."""

from __future__ import annotations

import threading

import pydicom
from PySide6.QtCore import Qt

from viewer.net.errors import StatusError
from viewer.net.retrieve import RetrieveReport
from viewer.ui.jobs import WorkerBridge
from viewer.ui.jobs_panel import DONE, PARTIAL, RUNNING, JobRunner, JobsPanel


def _real_uids(ct_dir, count):
    return [str(pydicom.dcmread(p, stop_before_pixels=True).SOPInstanceUID)
            for p in sorted(ct_dir.glob("*.dcm"))[:count]]


def test_partial_retrieve_details_and_clear_finished(qtbot, ct_dir):
    uids = _real_uids(ct_dir, 5)
    workers = WorkerBridge()
    runner = JobRunner(workers)
    panel = JobsPanel(runner)
    qtbot.addWidget(panel)
    panel.show()

    # C-MOVE where the PACS sent 3 of 5 and listed the 2 it could not send (PS3.4 C.4.2.1.4)
    partial = RetrieveReport("move", status=0xB000, status_text="Warning", completed=3, failed=3,
                             received=3, received_sop_uids=uids[:3], failed_sop_uids=uids[3:])
    job = runner.start("Retrieve study from PACS (C-MOVE)", lambda **_kw: partial)
    qtbot.waitUntil(lambda: job.status != RUNNING, timeout=10_000)
    assert job.status == PARTIAL
    row = panel.rows[0]
    assert row.details_button.isVisibleTo(panel)
    assert f"not retrieved: SOP Instance UID {uids[3]}" in job.details
    assert f"not retrieved: SOP Instance UID {uids[4]}" in job.details
    assert any("1 more sub-operations failed" in line for line in job.details)

    # a retrieve that ended on an error says it, even with nothing listed
    broken = RetrieveReport("get", received=1, received_sop_uids=uids[:1],
                            error=StatusError("PACS", "C-GET", 0xA701, "Out of resources"))
    failed = runner.start("Retrieve series (C-GET)", lambda **_kw: broken)
    qtbot.waitUntil(lambda: failed.status != RUNNING, timeout=10_000)
    assert any(line.startswith("error: ") and "A701" in line.upper() for line in failed.details)
    assert panel.rows[0].details_button.isVisibleTo(panel)

    release = threading.Event()
    running = runner.start("Import folder", lambda **_kw: release.wait(10) and None)
    ok = runner.start("Export", lambda **_kw: None)
    qtbot.waitUntil(lambda: ok.status == DONE, timeout=10_000)
    assert panel.clear_button.isEnabled()
    assert panel.clear_finished() == 3
    assert [r.job for r in panel.rows] == [running] and runner.jobs == [running]
    release.set()
    qtbot.waitUntil(lambda: running.status == DONE, timeout=10_000)
    qtbot.mouseClick(panel.clear_button, Qt.MouseButton.LeftButton)
    assert panel.rows == [] and panel.empty.isVisibleTo(panel)
    workers.shutdown()
