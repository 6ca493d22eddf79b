"""Synthetic series of known geometry for MPR tests: a sphere and an asymmetric marker.

Each phantom is built in patient space first: every voxel's LPS centre (from the affine,
PS3.3 C.7.6.2.1.1) is tested against a sphere and a small cube placed at known LPS points, so
the same anatomy appears whatever the acquisition orientation, spacing or gantry tilt. A test
then checks that each MPR plane shows the objects at the LPS points and sizes they were
built with. :func:`write_series` saves the volume as single-frame CT files so the CLI and
``load_volume`` see the same geometry through real DICOM headers.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from viewer.core.planes import rotation_matrix
from viewer.core.volume import Volume

SPHERE_CENTER = np.array([0.0, 0.0, 0.0])
SPHERE_RADIUS = 12.0
# The marker sits to the patient's left (+x), anterior (-y) and towards the head (+z) of the
# sphere: each axis has a different sign/size so a flip or a swap moves it somewhere else.
MARKER_CENTER = np.array([18.0, -10.0, 14.0])
MARKER_HALF = 3.0  # a 6 mm cube
SPHERE_VALUE, MARKER_VALUE, BACKGROUND = 1000, 2000, -1000


@dataclass(frozen=True)
class Acquisition:
    """How the phantom was "scanned": in-plane axes, spacings, slice step, matrix size."""

    name: str
    row: np.ndarray  # Image Orientation row direction (towards increasing column)
    col: np.ndarray  # Image Orientation column direction (towards increasing row)
    pixel_spacing: tuple[float, float]  # (between rows, between columns)
    step: np.ndarray  # LPS mm from one slice to the next (not along the normal if tilted)
    shape: tuple[int, int, int]  # slices, rows, columns

    def affine(self) -> np.ndarray:
        """(k, j, i) -> LPS, centred so the volume centre is near the LPS origin."""
        a = np.eye(4)
        a[:3, 0] = self.step
        a[:3, 1] = np.asarray(self.col, float) * self.pixel_spacing[0]
        a[:3, 2] = np.asarray(self.row, float) * self.pixel_spacing[1]
        mid = np.array([(s - 1) / 2 for s in self.shape])
        a[:3, 3] = -(a[:3, :3] @ mid) + np.array([1.3, -0.7, 0.4])  # off-grid on purpose
        return a


X, Y, Z = np.eye(3)


def acquisitions() -> dict[str, Acquisition]:
    """Axial, coronal, sagittal, oblique and gantry-tilted scans, all non-isotropic."""
    tilt = np.radians(20.0)
    obl = rotation_matrix(np.array([1.0, 0.4, 0.2]), np.radians(28.0))
    return {
        "axial": Acquisition("axial", X, Y, (0.9, 0.8), 2.0 * Z, (34, 80, 90)),
        "coronal": Acquisition("coronal", X, -Z, (0.8, 0.9), 1.7 * np.cross(X, -Z), (40, 90, 80)),
        "sagittal": Acquisition("sagittal", Y, -Z, (0.85, 0.75), 1.6 * np.cross(Y, -Z), (42, 84, 96)),
        "oblique": Acquisition("oblique", obl @ X, obl @ Y, (0.9, 0.9), 1.5 * (obl @ Z), (48, 84, 84)),
        # gantry tilt: the image plane is tilted about x but the table moves along z
        "tilted": Acquisition("tilted", X, np.array([0, np.cos(tilt), np.sin(tilt)]), (0.8, 0.8), 1.8 * Z,
                              (36, 90, 90)),
    }


def lps_grid(affine: np.ndarray, shape: tuple[int, int, int]) -> np.ndarray:
    k, j, i = np.meshgrid(*(np.arange(s, dtype=float) for s in shape), indexing="ij")
    idx = np.stack([k, j, i, np.ones_like(k)], axis=-1)
    return (idx @ affine.T)[..., :3]


def phantom_voxels(affine: np.ndarray, shape: tuple[int, int, int]) -> np.ndarray:
    """int16 voxels: background, a sphere and the cube marker at their LPS places."""
    p = lps_grid(affine, shape)
    vox = np.full(shape, BACKGROUND, dtype=np.int16)
    vox[np.linalg.norm(p - SPHERE_CENTER, axis=-1) <= SPHERE_RADIUS] = SPHERE_VALUE
    vox[np.all(np.abs(p - MARKER_CENTER) <= MARKER_HALF, axis=-1)] = MARKER_VALUE
    return vox


def phantom_volume(acq: Acquisition) -> Volume:
    affine = acq.affine()
    return Volume(phantom_voxels(affine, acq.shape), affine, headers=[], frame_of_reference_uid="1.2.3")


def write_series(acq: Acquisition, folder: Path) -> list[Path]:
    """Save the phantom as CT Image Storage files with the acquisition's geometry tags."""
    import pydicom
    from pydicom.dataset import FileMetaDataset
    from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, generate_uid

    affine = acq.affine()
    vox = phantom_voxels(affine, acq.shape)
    folder.mkdir(parents=True, exist_ok=True)
    study, series, frame = generate_uid(), generate_uid(), generate_uid()
    paths = []
    order = np.random.default_rng(1).permutation(acq.shape[0])  # file order must not matter
    for n, k in enumerate(order):
        meta = FileMetaDataset()
        meta.MediaStorageSOPClassUID = CTImageStorage
        meta.MediaStorageSOPInstanceUID = generate_uid()
        meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds = pydicom.Dataset()
        ds.file_meta = meta
        ds.SOPClassUID, ds.SOPInstanceUID = CTImageStorage, meta.MediaStorageSOPInstanceUID
        ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.FrameOfReferenceUID = study, series, frame
        ds.Modality, ds.PatientName, ds.PatientID = "CT", "PHANTOM^MPR", "MPR1"
        ds.SeriesNumber, ds.InstanceNumber = 1, n + 1
        ds.SeriesDescription = f"{acq.name} phantom"
        ds.ImagePositionPatient = [float(v) for v in (affine @ np.array([k, 0, 0, 1.0]))[:3]]
        ds.ImageOrientationPatient = [float(v) for v in (*acq.row, *acq.col)]
        ds.PixelSpacing = list(acq.pixel_spacing)
        ds.SliceThickness = float(np.linalg.norm(acq.step))
        ds.Rows, ds.Columns = acq.shape[1], acq.shape[2]
        ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
        ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 1
        ds.RescaleIntercept, ds.RescaleSlope = 0, 1
        ds.WindowCenter, ds.WindowWidth = 500, 3000
        ds.PixelData = vox[k].tobytes()
        path = folder / f"im{n:03d}.dcm"
        ds.save_as(path, enforce_file_format=True)
        paths.append(path)
    return paths
