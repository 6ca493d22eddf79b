"""Synthetic DICOM series of known geometry, for testing that voxels land where they belong.

A phantom is a set of planes (position, orientation, pixel spacing) through a patient that
holds a bright sphere at a known LPS point and a smaller, dimmer cube marker off to one side
(so a flip or transposition along any axis moves the marker to the wrong place). Pixel
values are computed from each pixel's LPS centre (PS3.3 C.7.6.2.1.1), independently of the
loader's affine, so a test can check where the loader says the sphere is.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence as DicomSequence
from pydicom.uid import (
    PYDICOM_IMPLEMENTATION_UID,
    CTImageStorage,
    EnhancedCTImageStorage,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
    RLELossless,
    generate_uid,
)

SPHERE_HU = 1000
MARKER_HU = 400
BACKGROUND_HU = -1000
INTERCEPT = -1024


@dataclass
class Phantom:
    """Geometry of a synthetic series and the objects in it (all in LPS mm)."""

    rows: int = 64
    columns: int = 64
    slices: int = 40
    row_direction: Sequence[float] = (1.0, 0.0, 0.0)  # IOP[0:3]
    column_direction: Sequence[float] = (0.0, 1.0, 0.0)  # IOP[3:6]
    pixel_spacing: tuple[float, float] = (1.5, 1.25)  # (between rows, between columns)
    step: Sequence[float] | None = None  # slice-to-slice vector; default normal * 2.5 mm
    center: Sequence[float] = (0.0, 0.0, 0.0)  # LPS of the middle of the block
    sphere: Sequence[float] = (6.0, -8.0, 4.0)
    sphere_radius: float = 9.0
    marker: Sequence[float] = (-18.0, 14.0, -20.0)
    marker_half: float = 3.0
    distances: Sequence[float] | None = None  # explicit offsets along step (irregular spacing)
    extra: dict = field(default_factory=dict)  # attributes added to every slice

    @property
    def normal(self) -> np.ndarray:
        return np.cross(np.asarray(self.row_direction, float), np.asarray(self.column_direction, float))

    def step_vector(self) -> np.ndarray:
        return np.asarray(self.step, float) if self.step is not None else self.normal * 2.5

    def positions(self) -> list[np.ndarray]:
        """Image Position (Patient) of every slice, centred on ``center``."""
        row = np.asarray(self.row_direction, float)
        col = np.asarray(self.column_direction, float)
        step = self.step_vector()
        unit = step / np.linalg.norm(step)
        offsets = (np.asarray(self.distances, float) if self.distances is not None
                   else np.arange(self.slices) * np.linalg.norm(step))
        mid = (offsets[0] + offsets[-1]) / 2
        corner = (np.asarray(self.center, float)
                  - col * self.pixel_spacing[0] * (self.rows - 1) / 2
                  - row * self.pixel_spacing[1] * (self.columns - 1) / 2)
        return [corner + unit * (d - mid) for d in offsets]

    def values(self, position: np.ndarray) -> np.ndarray:
        """HU of one slice whose first voxel is at ``position``, from each pixel's LPS centre."""
        row = np.asarray(self.row_direction, float)
        col = np.asarray(self.column_direction, float)
        j, i = np.mgrid[0:self.rows, 0:self.columns]
        lps = (position[None, None, :] + j[..., None] * col * self.pixel_spacing[0]
               + i[..., None] * row * self.pixel_spacing[1])
        out = np.full((self.rows, self.columns), BACKGROUND_HU, np.int16)
        in_sphere = np.linalg.norm(lps - np.asarray(self.sphere, float), axis=-1) <= self.sphere_radius
        in_marker = np.all(np.abs(lps - np.asarray(self.marker, float)) <= self.marker_half, axis=-1)
        out[in_sphere] = SPHERE_HU
        out[in_marker] = MARKER_HU
        return out


def _base(ph: Phantom, series_uid: str, study_uid: str, frame_uid: str) -> Dataset:
    ds = Dataset()
    ds.PatientName = "Phantom^Geometry"
    ds.PatientID = "PHANTOM"
    ds.StudyInstanceUID = study_uid
    ds.SeriesInstanceUID = series_uid
    ds.FrameOfReferenceUID = frame_uid
    ds.Modality = "CT"
    ds.SeriesNumber = 1
    ds.Rows, ds.Columns = ph.rows, ph.columns
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit = 16, 12, 11
    ds.PixelRepresentation = 0
    return ds


def _meta(sop_class: str, sop_uid: str, syntax: str) -> FileMetaDataset:
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = sop_class
    meta.MediaStorageSOPInstanceUID = sop_uid
    meta.TransferSyntaxUID = syntax
    meta.ImplementationClassUID = PYDICOM_IMPLEMENTATION_UID
    return meta


def write_series(
    folder: Path,
    ph: Phantom,
    *,
    syntax: str = ExplicitVRLittleEndian,
    shuffle: bool = False,
    reverse: bool = False,
    missing: Sequence[int] = (),
    seed: int = 7,
    series_uid: str | None = None,
    name_prefix: str = "",
) -> list[Path]:
    """Write one single-frame CT file per slice; returns the paths in slice order (kept ones).

    ``reverse`` numbers the files (and Instance Numbers) against the slice direction,
    ``shuffle`` gives them opaque random names, ``missing`` drops those slice indices.
    """
    folder.mkdir(parents=True, exist_ok=True)
    series_uid = series_uid or generate_uid()
    # files written for one series share its study and frame of reference
    study_uid = generate_uid(entropy_srcs=[series_uid, "study"])
    frame_uid = generate_uid(entropy_srcs=[series_uid, "frame of reference"])
    positions = ph.positions()
    order = list(range(len(positions)))
    if reverse:
        order.reverse()
    rng = random.Random(seed)
    names = [f"{name_prefix}{n:04d}.dcm" for n in range(len(order))]
    if shuffle:
        names = [f"{name_prefix}{rng.getrandbits(48):012x}" for _ in order]
    written: dict[int, Path] = {}
    for number, k in enumerate(order):
        if k in missing:
            continue
        ds = _base(ph, series_uid, study_uid, frame_uid)
        uid = generate_uid()
        ds.SOPClassUID, ds.SOPInstanceUID = CTImageStorage, uid
        ds.InstanceNumber = number + 1
        ds.ImagePositionPatient = [round(float(v), 4) for v in positions[k]]
        ds.ImageOrientationPatient = [float(v) for v in (*ph.row_direction, *ph.column_direction)]
        ds.PixelSpacing = list(ph.pixel_spacing)
        ds.SliceThickness = 2.5
        ds.RescaleSlope, ds.RescaleIntercept, ds.RescaleType = 1, INTERCEPT, "HU"
        ds.WindowCenter, ds.WindowWidth = 40, 400
        for key, value in ph.extra.items():
            setattr(ds, key, value)
        stored = (ph.values(positions[k]).astype(np.int32) - INTERCEPT).astype(np.uint16)
        ds.file_meta = _meta(CTImageStorage, uid, ExplicitVRLittleEndian)
        ds.PixelData = stored.tobytes()
        if syntax == RLELossless:
            ds.compress(RLELossless, encoding_plugin="pylibjpeg")
        elif syntax != ExplicitVRLittleEndian:
            ds.file_meta.TransferSyntaxUID = syntax
        path = folder / names[number]
        ds.save_as(path, enforce_file_format=True)
        written[k] = path
    return [written[k] for k in sorted(written)]


def write_enhanced(path: Path, ph: Phantom, *, shuffle_frames: bool = True, seed: int = 3,
                   slopes: Sequence[float] | None = None) -> list[int]:
    """Write an Enhanced CT Image (PS3.3 A.38) holding the phantom as one multi-frame file.

    Frames are stored in a shuffled order with per-frame Plane Position and Pixel Value
    Transformation; orientation and pixel measures are shared. ``slopes`` gives per-slice
    Rescale Slopes (stored values are scaled to match). Returns the slice index of each
    stored frame.
    """
    positions = ph.positions()
    order = list(range(len(positions)))
    if shuffle_frames:
        random.Random(seed).shuffle(order)
    uid = generate_uid()
    ds = _base(ph, generate_uid(), generate_uid(), generate_uid())
    ds.SOPClassUID, ds.SOPInstanceUID = EnhancedCTImageStorage, uid
    ds.InstanceNumber = 1
    ds.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL", "NONE"]
    ds.NumberOfFrames = len(order)
    ds.BitsStored, ds.HighBit = 16, 15
    shared = Dataset()
    measures = Dataset()
    measures.PixelSpacing = list(ph.pixel_spacing)
    measures.SliceThickness = 2.5
    shared.PixelMeasuresSequence = DicomSequence([measures])
    orient = Dataset()
    orient.ImageOrientationPatient = [float(v) for v in (*ph.row_direction, *ph.column_direction)]
    shared.PlaneOrientationSequence = DicomSequence([orient])
    voi = Dataset()
    voi.WindowCenter, voi.WindowWidth = 40, 400
    shared.FrameVOILUTSequence = DicomSequence([voi])
    ds.SharedFunctionalGroupsSequence = DicomSequence([shared])
    per_frame = []
    pixels = []
    for n, k in enumerate(order):
        item = Dataset()
        content = Dataset()
        content.StackID = "1"
        content.InStackPositionNumber = k + 1
        content.FrameAcquisitionNumber = 1
        item.FrameContentSequence = DicomSequence([content])
        pos = Dataset()
        pos.ImagePositionPatient = [round(float(v), 4) for v in positions[k]]
        item.PlanePositionSequence = DicomSequence([pos])
        pvt = Dataset()
        slope = float(slopes[k]) if slopes is not None else 1.0
        pvt.RescaleSlope, pvt.RescaleIntercept, pvt.RescaleType = slope, INTERCEPT, "HU"
        item.PixelValueTransformationSequence = DicomSequence([pvt])
        per_frame.append(item)
        hu = ph.values(positions[k]).astype(np.float64)
        pixels.append(np.rint((hu - INTERCEPT) / slope).astype(np.uint16))
        del n
    ds.PerFrameFunctionalGroupsSequence = DicomSequence(per_frame)
    ds.file_meta = _meta(EnhancedCTImageStorage, uid, ExplicitVRLittleEndian)
    ds.PixelData = np.stack(pixels).tobytes()
    ds.save_as(path, enforce_file_format=True)
    return order


__all__ = ["BACKGROUND_HU", "MARKER_HU", "SPHERE_HU", "ImplicitVRLittleEndian", "Phantom", "write_enhanced",
           "write_series"]
