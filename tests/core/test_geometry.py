"""Series-to-volume geometry on synthetic series of known geometry (PS3.3 C.7.6.2.1.1).

Each phantom holds a sphere and an off-centre marker at known LPS points; after loading,
the centroid of each object, mapped through the volume's affine, must land on that point,
whatever the acquisition plane, file naming, file order and slice direction.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from pydicom.uid import ImplicitVRLittleEndian, RLELossless

from viewer.core.errors import Cancelled, GeometryError
from viewer.core.geometry import make_plane, tilt_degrees
from viewer.core.tasks import CancelToken, Progress
from viewer.core.volume import SeriesLoader, load_stacks, load_volume

try:
    from tests.core.phantoms import MARKER_HU, SPHERE_HU, Phantom, write_enhanced, write_series
except ImportError:  # tests/core collected as a rootdir-less directory
    from phantoms import MARKER_HU, SPHERE_HU, Phantom, write_enhanced, write_series  # type: ignore[no-redef]


def _rotation(axis: str, degrees: float) -> np.ndarray:
    c, s = math.cos(math.radians(degrees)), math.sin(math.radians(degrees))
    return {
        "x": np.array([[1, 0, 0], [0, c, -s], [0, s, c]]),
        "y": np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]]),
        "z": np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]]),
    }[axis]


OBLIQUE = _rotation("z", 20) @ _rotation("x", 25) @ _rotation("y", -15)
TILT = _rotation("x", 18)

PHANTOMS = {
    "axial": Phantom(),
    "sagittal": Phantom(row_direction=(0, 1, 0), column_direction=(0, 0, -1)),
    "coronal": Phantom(row_direction=(1, 0, 0), column_direction=(0, 0, -1)),
    "oblique": Phantom(row_direction=tuple(OBLIQUE @ [1, 0, 0]), column_direction=tuple(OBLIQUE @ [0, 1, 0])),
    # gantry tilt: the image planes are tilted about the left-right axis, the table (and so
    # Image Position) moves along z only: the step is not along the normal
    "gantry-tilt": Phantom(row_direction=(1, 0, 0), column_direction=tuple(TILT @ [0, 1, 0]),
                           step=(0, 0, 2.5)),
}


def centroid(volume, value: int) -> np.ndarray:
    """Mean voxel index (k, j, i) of voxels holding ``value``."""
    idx = np.argwhere(volume.voxels == value)
    assert len(idx), f"no voxel holds {value}"
    return idx.mean(axis=0)


def assert_lands(volume, ph: Phantom, tol_mm: float = 1.0) -> None:
    for value, where in ((SPHERE_HU, ph.sphere), (MARKER_HU, ph.marker)):
        found = volume.index_to_patient(centroid(volume, value))
        assert np.linalg.norm(found - np.asarray(where)) < tol_mm, (value, found, where)
        # and back: the inverse affine puts the known point on the object's voxels
        k, j, i = np.rint(volume.patient_to_index(where)).astype(int)
        assert volume.voxels[k, j, i] == value


@pytest.mark.parametrize("name", sorted(PHANTOMS))
@pytest.mark.parametrize("order", ["sorted", "shuffled", "reversed"])
def test_objects_land_at_their_lps_point(tmp_path: Path, name: str, order: str) -> None:
    ph = PHANTOMS[name]
    write_series(tmp_path, ph, shuffle=order == "shuffled", reverse=order == "reversed")
    vol = load_volume(tmp_path)
    assert vol.voxels.shape == (ph.slices, ph.rows, ph.columns)
    assert vol.voxels.dtype == np.int16
    assert vol.warnings == []
    assert_lands(vol, ph)
    # the affine follows the contract: column 1 = IOP[3:6] * row spacing, column 2 = IOP[0:3] * column spacing
    np.testing.assert_allclose(vol.affine[:3, 1], np.asarray(ph.column_direction) * ph.pixel_spacing[0], atol=1e-6)
    np.testing.assert_allclose(vol.affine[:3, 2], np.asarray(ph.row_direction) * ph.pixel_spacing[1], atol=1e-6)
    # slices ascend along the normal, and column 3 is the first slice's position
    assert vol.affine[:3, 0] @ ph.normal > 0
    np.testing.assert_allclose(vol.affine[:3, 3], [float(v) for v in vol.headers[0].ImagePositionPatient])
    positions = np.asarray([[float(v) for v in h.ImagePositionPatient] for h in vol.headers])
    assert np.all(np.diff(positions @ ph.normal) > 0)


def test_gantry_tilt_is_kept_exactly(tmp_path: Path) -> None:
    ph = PHANTOMS["gantry-tilt"]
    write_series(tmp_path, ph, shuffle=True)
    vol = load_volume(tmp_path)
    np.testing.assert_allclose(vol.affine[:3, 0], [0, 0, 2.5], atol=1e-3)  # the table step, not the normal
    assert vol.tilt_degrees == pytest.approx(18, abs=0.05)
    assert tilt_degrees(np.diag([2.5, 1.0, 1.0, 1.0])) == 0


def test_missing_slice_is_reported_and_shown_as_gap(tmp_path: Path) -> None:
    ph = Phantom()
    write_series(tmp_path, ph, shuffle=True, missing=[17, 30, 31])
    vol = load_volume(tmp_path)
    assert vol.voxels.shape[0] == ph.slices  # the grid keeps its step
    assert [k for k, ok in enumerate(vol.acquired) if not ok] == [17, 30, 31]
    assert any("3 missing slice" in w for w in vol.warnings), vol.warnings
    assert np.all(vol.voxels[17] == vol.voxels[17].flat[0])  # an empty slice, not interpolated anatomy
    assert vol.spacing[0] == pytest.approx(2.5)
    assert_lands(vol, ph)
    assert "missing" in str(vol.headers[17].ImageComments)
    assert "ImageComments" not in vol.headers[16]  # the neighbour lent its attributes, not its elements
    positions = np.asarray([[float(v) for v in h.ImagePositionPatient] for h in vol.headers])
    predicted = np.asarray([vol.index_to_patient([k, 0, 0]) for k in range(ph.slices)])
    np.testing.assert_allclose(positions, predicted, atol=1e-3)


def test_irregular_spacing_is_resampled_with_a_warning(tmp_path: Path) -> None:
    offsets = np.concatenate([np.arange(20) * 2.0, 38 + 3.1 + np.arange(20) * 3.1])
    ph = Phantom(slices=40, distances=offsets, step=(0, 0, 1))
    write_series(tmp_path, ph, shuffle=True)
    vol = load_volume(tmp_path)
    assert any("irregular slice spacing" in w and "resampled" in w for w in vol.warnings), vol.warnings
    assert vol.voxels.dtype == np.float32
    total = offsets[-1] - offsets[0]
    assert vol.spacing[0] * (vol.voxels.shape[0] - 1) == pytest.approx(total)
    # interpolated grid: the sphere's centre is still where it was put
    k, j, i = np.rint(vol.patient_to_index(ph.sphere)).astype(int)
    assert vol.voxels[k, j, i] == pytest.approx(SPHERE_HU, abs=1)
    mask = vol.voxels > (SPHERE_HU + MARKER_HU) / 2
    found = vol.index_to_patient(np.argwhere(mask).mean(axis=0))
    assert np.linalg.norm(found - np.asarray(ph.sphere)) < 1.5


def test_two_echoes_at_the_same_positions_split_into_stacks(tmp_path: Path) -> None:
    uid = "1.2.826.0.1.3680043.8.498.1234"
    write_series(tmp_path, Phantom(slices=12, extra={"EchoNumbers": 1}), series_uid=uid, name_prefix="a")
    write_series(tmp_path, Phantom(slices=12, extra={"EchoNumbers": 2}), series_uid=uid, name_prefix="b",
                 shuffle=True)
    stacks = load_stacks(tmp_path)
    assert len(stacks) == 2
    assert sorted(s.label.split(", ")[-1] for s in stacks) == ["echo 1", "echo 2"]
    assert all(s.voxels.shape == (12, 64, 64) and s.warnings[0].startswith("the series holds 2 stacks")
               for s in stacks)
    vol = load_volume(tmp_path)
    assert vol.voxels.shape == (12, 64, 64) and "2 stacks" in vol.warnings[0]


def test_temporal_positions_split_in_numeric_order(tmp_path: Path) -> None:
    uid = "1.2.826.0.1.3680043.8.498.4321"
    for t in (10, 2, 1):
        write_series(tmp_path, Phantom(slices=6, extra={"TemporalPositionIdentifier": t}), series_uid=uid,
                     name_prefix=f"t{t}-", shuffle=True, seed=t)
    stacks = load_stacks(tmp_path)
    assert [s.label.rsplit(", ", 1)[-1] for s in stacks] == [
        "temporal position 1", "temporal position 2", "temporal position 10"]
    assert [int(s.headers[0].TemporalPositionIdentifier) for s in stacks] == [1, 2, 10]


def test_localizer_in_the_series_is_a_separate_stack(tmp_path: Path) -> None:
    uid = "1.2.826.0.1.3680043.8.498.5678"
    ph = Phantom(slices=20)
    write_series(tmp_path, ph, series_uid=uid)
    write_series(tmp_path, Phantom(slices=1, row_direction=(0, 1, 0), column_direction=(0, 0, -1)),
                 series_uid=uid, name_prefix="scout")
    vol = load_volume(tmp_path)
    assert vol.voxels.shape == (20, 64, 64)
    assert_lands(vol, ph)
    assert "sagittal" in vol.warnings[0]


def test_enhanced_multiframe_functional_groups(tmp_path: Path) -> None:
    ph = Phantom(slices=24, row_direction=(1, 0, 0), column_direction=(0, 0, -1))
    write_enhanced(tmp_path / "enhanced.dcm", ph)
    vol = load_volume(tmp_path / "enhanced.dcm")
    assert vol.voxels.shape == (24, 64, 64) and vol.voxels.dtype == np.int16
    assert_lands(vol, ph)
    assert float(vol.headers[0].WindowCenter) == 40  # Frame VOI LUT lifted into each slice header
    assert "PerFrameFunctionalGroupsSequence" not in vol.headers[3]
    positions = np.asarray([[float(v) for v in h.ImagePositionPatient] for h in vol.headers])
    np.testing.assert_allclose(positions, [vol.index_to_patient([k, 0, 0]) for k in range(24)], atol=1e-3)
    assert len({int(h.InstanceNumber) for h in vol.headers}) == 24  # frame numbers, one per frame


def test_enhanced_per_frame_rescale_gives_float_modality_values(tmp_path: Path) -> None:
    ph = Phantom(slices=10)
    slopes = [1.0 + 0.5 * (k % 2) for k in range(10)]
    write_enhanced(tmp_path / "e.dcm", ph, slopes=slopes)
    vol = load_volume(tmp_path / "e.dcm")
    assert vol.voxels.dtype == np.float32
    # the per-frame Pixel Value Transformation was applied frame by frame
    k, j, i = np.rint(vol.patient_to_index(ph.sphere)).astype(int)
    assert vol.voxels[k, j, i] == pytest.approx(SPHERE_HU, abs=1)
    assert vol.voxels[1].min() == pytest.approx(-1000, abs=1)


@pytest.mark.parametrize("workers", [0, 2])
@pytest.mark.parametrize("syntax", [ImplicitVRLittleEndian, RLELossless])
def test_in_process_and_parallel_loads_agree(tmp_path: Path, workers: int, syntax: str) -> None:
    ph = PHANTOMS["oblique"]
    write_series(tmp_path, ph, syntax=syntax, shuffle=True)
    loader = SeriesLoader(tmp_path, workers=workers)
    vol = loader.load()
    assert_lands(vol, ph)
    assert np.array_equal(loader.read_slice(13), vol.voxels[13])


def test_cancel_during_parallel_decode_leaves_nothing_behind(tmp_path: Path) -> None:
    write_series(tmp_path / "series", Phantom(slices=48))
    shm = Path("/dev/shm")
    before = set(shm.glob("lightbox-vol-*")) if shm.is_dir() else set()
    token = CancelToken()

    def progress(report: Progress) -> None:
        if report.message == "decoding slices":
            token.cancel()

    loader = SeriesLoader(tmp_path / "series", workers=2)
    with pytest.raises(Cancelled):
        loader.load(progress=progress, cancel=token)
    after = set(shm.glob("lightbox-vol-*")) if shm.is_dir() else set()
    assert after == before
    assert loader.load().voxels.shape == (48, 64, 64)  # the pool survives a cancelled load


def test_geometry_errors_name_the_problem() -> None:
    with pytest.raises(GeometryError, match="not orthogonal"):
        make_plane([0, 0, 0], [1, 0, 0, 1, 0, 0], [1, 1], 4, 4, where="x.dcm")
    with pytest.raises(GeometryError, match=r"x\.dcm: Image Position"):
        make_plane([0, 0], [1, 0, 0, 0, 1, 0], [1, 1], 4, 4, where="x.dcm")


def test_two_series_in_one_folder_are_refused(tmp_path: Path) -> None:
    write_series(tmp_path, Phantom(slices=3), name_prefix="a")
    write_series(tmp_path, Phantom(slices=3), name_prefix="b")
    with pytest.raises(GeometryError, match="2 series"):
        load_volume(tmp_path)
