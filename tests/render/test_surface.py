"""STL export of an iso-surface in patient LPS mm: a sphere phantom of known centre and radius
(acquired obliquely, gantry-tilted, left-handed) comes back at its LPS place and size with its
facets facing out; the real CT's bone surface lies inside the CT's LPS box; writing is atomic."""

from __future__ import annotations

import numpy as np
import pytest
from vtkmodules.util.numpy_support import vtk_to_numpy
from vtkmodules.vtkIOGeometry import vtkSTLReader

from tests.render.phantoms import SPHERE_CENTER, SPHERE_RADIUS, Acquisition, acquisitions, lps_grid
from viewer.core.planes import volume_corners
from viewer.core.volume import Volume, load_volume
from viewer.render.surface import DEFAULT_THRESHOLD, SurfaceError, export_stl
from viewer.render.volume_render import PRESETS


def read_stl(path) -> tuple[np.ndarray, np.ndarray]:
    """(triangle vertices (n, 3, 3), facet normals from the winding (n, 3)) of an STL file."""
    reader = vtkSTLReader()
    reader.SetFileName(str(path))
    reader.MergingOff()  # every facet as written (merging drops the degenerate ones)
    reader.Update()
    poly = reader.GetOutput()
    points = vtk_to_numpy(poly.GetPoints().GetData()).astype(float)
    triangles = vtk_to_numpy(poly.GetPolys().GetConnectivityArray()).reshape(-1, 3)
    corners = points[triangles]
    normals = np.cross(corners[:, 1] - corners[:, 0], corners[:, 2] - corners[:, 0])
    return corners, normals


def sphere_only(acq: Acquisition) -> Volume:
    affine = acq.affine()
    lps = lps_grid(affine, acq.shape)
    voxels = np.where(np.linalg.norm(lps - SPHERE_CENTER, axis=-1) <= SPHERE_RADIUS, 1000, -1000).astype(np.int16)
    return Volume(voxels, affine, headers=[])


def left_handed() -> Acquisition:
    """Axial, but the slices run feet-wards: the (k, j, i) -> LPS affine has a negative determinant."""
    a = acquisitions()["axial"]
    return Acquisition("feet-first", a.row, a.col, a.pixel_spacing, -a.step, a.shape)


@pytest.mark.parametrize("name", ["oblique", "tilted", "sagittal", "feet-first"])
def test_sphere_comes_back_at_its_lps_centre_and_radius(tmp_path, name) -> None:
    acq = left_handed() if name == "feet-first" else acquisitions()[name]
    volume = sphere_only(acq)
    info = export_stl(volume, tmp_path / "sphere.stl", 0)
    corners, normals = read_stl(tmp_path / "sphere.stl")
    assert len(corners) == info.triangles > 500
    areas = np.linalg.norm(normals, axis=1) / 2
    centres = corners.mean(axis=1)
    centroid = (centres * areas[:, None]).sum(axis=0) / areas.sum()
    voxel = min(volume.spacing)
    assert np.linalg.norm(centroid - SPHERE_CENTER) < voxel
    radii = np.linalg.norm(corners.reshape(-1, 3) - SPHERE_CENTER, axis=1)
    assert abs(radii.mean() - SPHERE_RADIUS) < voxel
    assert radii.max() - radii.min() < 2 * max(volume.spacing)  # a sphere, not a sheared ellipsoid
    outward = np.einsum("ij,ij->i", normals, centres - SPHERE_CENTER) > 0
    assert outward.mean() > 0.99  # facets face out whatever the handedness of the affine


@pytest.fixture(scope="module")
def ct(ct_dir) -> Volume:
    return load_volume(ct_dir)


def test_real_ct_bone_surface_lies_in_the_ct_lps_box(ct, tmp_path) -> None:
    out = tmp_path / "bone.stl"
    info = export_stl(ct, out, DEFAULT_THRESHOLD)
    corners, _ = read_stl(out)
    assert len(corners) == info.triangles > 10_000
    box = volume_corners(ct.affine, ct.voxels.shape)
    points = corners.reshape(-1, 3)
    tolerance = 1e-3
    assert np.all(points.min(axis=0) >= box.min(axis=0) - tolerance)
    assert np.all(points.max(axis=0) <= box.max(axis=0) + tolerance)
    np.testing.assert_allclose(points.min(axis=0), info.bounds_lps_mm[::2], atol=1e-3)
    # bone, not the table or skin: the CT's values under the surface points cross the threshold
    index = np.linalg.solve(ct.affine, np.c_[points[::50], np.ones(len(points[::50]))].T)[:3].T
    k, j, i = (np.clip(np.round(index[:, a]).astype(int), 0, ct.voxels.shape[a] - 1) for a in range(3))
    near = ct.voxels[k, j, i]
    assert np.median(near) > 100
    assert [p.name for p in tmp_path.iterdir()] == ["bone.stl"]  # no temporary file left


def test_default_threshold_is_the_bone_preset(tmp_path) -> None:
    assert DEFAULT_THRESHOLD == PRESETS["ct-bone"].iso == 300


def test_errors_are_specific_and_leave_nothing_behind(tmp_path) -> None:
    volume = sphere_only(acquisitions()["axial"])
    with pytest.raises(SurfaceError, match="values run from -1000 to 1000"):
        export_stl(volume, tmp_path / "none.stl", 5000)
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(SurfaceError, match="cannot write here"):
        export_stl(volume, blocker / "out.stl", 0)
    (tmp_path / "old.stl").write_text("previous")
    export_stl(volume, tmp_path / "old.stl", 0)  # replaced whole
    assert (tmp_path / "old.stl").stat().st_size > 1000
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file", "old.stl"]


def triangle_fingerprint(path) -> np.ndarray:
    """Order-free description of an STL's triangles: each coordinate of the centroids and the
    areas, sorted (float32 vertices computed along two paths differ in the last bits only)."""
    corners, normals = read_stl(path)
    centroids = corners.mean(axis=1)
    areas = np.linalg.norm(normals, axis=1) / 2
    return np.stack([np.sort(centroids[:, 0]), np.sort(centroids[:, 1]), np.sort(centroids[:, 2]), np.sort(areas)])


def test_slabs_cover_every_cell_once() -> None:
    from viewer.render.surface import slabs

    for shape in ((134, 512, 512), (2, 4, 4), (1000, 512, 512), (40, 2048, 2048)):
        parts = slabs(*shape)
        cells = [k for k0, k1 in parts for k in range(k0, k1)]
        assert cells == list(range(shape[0] - 1))  # each cell layer exactly once, in order


def test_the_surface_made_in_slabs_is_the_whole_volume_surface(ct, tmp_path, monkeypatch) -> None:
    """Contouring slab by slab (for progress and cancel) gives exactly the one-pass surface."""
    from viewer.render import surface

    parts = []
    info = export_stl(ct, tmp_path / "slabs.stl", DEFAULT_THRESHOLD, progress=parts.append)
    assert len(surface.slabs(*ct.voxels.shape)) > 2  # the real CT is really cut up
    monkeypatch.setattr(surface, "SLAB_VOXELS", 1 << 40)
    assert len(surface.slabs(*ct.voxels.shape)) == 1
    whole = export_stl(ct, tmp_path / "whole.stl", DEFAULT_THRESHOLD)
    assert info.triangles == whole.triangles
    np.testing.assert_allclose(triangle_fingerprint(tmp_path / "slabs.stl"),
                               triangle_fingerprint(tmp_path / "whole.stl"), atol=1e-3, rtol=0)
    # progress: every stage, in order, ending complete
    assert [p.done for p in parts] == list(range(len(parts)))
    assert {p.total for p in parts} == {len(parts) - 1}
    assert parts[-1].message == "Written" and "Writing" in parts[-2].message


def test_a_cancelled_export_leaves_the_old_file_and_no_temporary(ct, tmp_path) -> None:
    from viewer.core.errors import Cancelled
    from viewer.core.tasks import CancelToken

    target = tmp_path / "bone.stl"
    target.write_bytes(b"the user's previous export")
    for stage in (0, 2, "Writing"):  # before the first slab, between slabs, with the file written
        token = CancelToken()
        seen = []

        def progress(p, stage=stage, token=token, seen=seen):
            seen.append(p)
            if p.done == stage or (isinstance(stage, str) and p.message.startswith(stage)):
                token.cancel()

        with pytest.raises(Cancelled):
            export_stl(ct, target, DEFAULT_THRESHOLD, progress=progress, cancel=token)
        assert seen[-1].message != "Written"
        assert target.read_bytes() == b"the user's previous export"
        assert [p.name for p in tmp_path.iterdir()] == ["bone.stl"]


def test_an_unwritable_place_says_what_to_do(tmp_path) -> None:
    volume = sphere_only(acquisitions()["axial"])
    (tmp_path / "folder.stl").mkdir()
    with pytest.raises(SurfaceError, match="is a folder; choose a file name"):
        export_stl(volume, tmp_path / "folder.stl", 0)
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(SurfaceError, match=r"cannot write here .*choose a folder you can write to"):
        export_stl(volume, blocker / "out.stl", 0)
