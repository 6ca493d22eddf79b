"""Every stack of a series can be listed and loaded, not only the biggest (issue 3)."""

from __future__ import annotations

from tests.multistack import CT_SLICES, MR_SLICES, build_multistack_series
from viewer.core.volume import load_stack, load_volume


def test_every_stack_is_listed_and_loadable(tmp_path, mr_dir, ct_dir):
    _, _, files = build_multistack_series(mr_dir, ct_dir, tmp_path / "series")
    main, stacks = load_stack(files, 0)
    assert [(s.index, s.count, s.images, s.shape) for s in stacks] == [
        (0, 2, MR_SLICES, (MR_SLICES, 256, 256)), (1, 2, CT_SLICES, (CT_SLICES, 512, 512))]
    assert main.voxels.shape == (MR_SLICES, 256, 256) and main in stacks[0] and main not in stacks[1]
    assert {p.rsplit("/", 1)[1] for p in stacks[1].paths} == {f"im{n:03d}.dcm" for n in range(11, 15)}
    other, again = load_stack(files, 1)
    assert other.voxels.shape == (CT_SLICES, 512, 512) and other in stacks[1]
    assert again == stacks
    assert load_stack(files, 7)[0].voxels.shape == other.voxels.shape  # clamped to the last stack
    # the files of one stack load as that stack alone (what a drag of one stack carries)
    alone = load_volume(stacks[1].paths)
    assert alone.voxels.shape == other.voxels.shape and not alone.warnings
