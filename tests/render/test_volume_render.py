"""3D: the real CT with the bone preset renders offscreen (Mesa), and the frame changes with
rotation; presets and the clipping box change what is drawn."""

from __future__ import annotations

import numpy as np
import pytest

from viewer.core.volume import load_volume
from viewer.render.offscreen import OffscreenWindow
from viewer.render.volume_render import PRESETS, VolumeScene


@pytest.fixture(scope="module")
def ct(ct_dir):
    volume = load_volume(ct_dir)
    volume.voxels = np.ascontiguousarray(volume.voxels[::2, ::2, ::2])  # lean: 67x256x256
    volume.affine = volume.affine.copy()
    volume.affine[:3, :3] *= 2
    return volume


def test_real_ct_bone_preset_renders_and_changes_with_rotation(ct) -> None:
    window = OffscreenWindow(200, 200)
    try:
        scene = VolumeScene(ct)
        window.add(scene.renderer)
        front = window.frame()
        assert front.max() > 150 and (front.sum(axis=2) > 100).mean() > 0.05  # bone drawn, not empty
        scene.rotate(90)
        side = window.frame()
        assert (side.sum(axis=2) > 100).mean() > 0.05
        assert np.abs(front.astype(int) - side.astype(int)).mean() > 5  # a different view
        scene.set_interactive(True)
        coarse = window.frame()
        assert (coarse.sum(axis=2) > 100).mean() > 0.05
        scene.set_interactive(False)
        scene.set_preset("mip")
        mip = window.frame()
        assert np.abs(mip.astype(int) - side.astype(int)).mean() > 5
        center = np.array(scene.actor.GetCenter())
        scene.set_preset("ct-bone")
        scene.set_clipping_box(scene.actor.GetBounds())  # the whole volume: nothing clipped
        assert np.abs(window.frame().astype(int) - side).mean() < 0.5  # (ray ends at the box's faces)
        scene.set_clipping_box((center[0] - 20, center[0] + 20, -1e4, 1e4, -1e4, 1e4))
        clipped = window.frame()
        drawn = (clipped.sum(axis=2) > 100).mean()
        assert 0.005 < drawn < (side.sum(axis=2) > 100).mean()  # a 40 mm slab of the patient is left
    finally:
        window.close()


def test_presets_are_complete() -> None:
    assert {"ct-bone", "ct-soft-tissue", "ct-lung", "ct-angio", "mip", "mr-default"} <= set(PRESETS)
