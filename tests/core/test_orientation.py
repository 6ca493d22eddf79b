"""Edge labels from Image Orientation (Patient) and the rotate/flip state (PS3.3 C.7.6.2.1.1)."""

from __future__ import annotations

import numpy as np
import pydicom
import pytest

from viewer.core.orientation import (
    EdgeLabels,
    ViewTransform,
    direction_label,
    edge_labels,
    iop_directions,
    nearest_slice,
    planes_parallel,
)


def first_header(folder):
    path = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in (".dcm", ".ima", ""))[0]
    return pydicom.dcmread(path, stop_before_pixels=True)


@pytest.mark.parametrize(
    ("vector", "label"),
    [
        ([1, 0, 0], "L"), ([-1, 0, 0], "R"), ([0, 1, 0], "P"), ([0, -1, 0], "A"),
        ([0, 0, 1], "H"), ([0, 0, -1], "F"),
        ([0.8, -0.6, 0], "LA"), ([0.2, -0.6, 0.77], "HA"),  # 0.2 is under the obliquity threshold
        ([0.5, 0.5, -0.7071], "FLP"), ([0.999, 0.035, 0], "L"),  # a 2° tilt still reads L
    ],
)
def test_direction_labels(vector, label):
    assert direction_label(vector) == label


def test_axial_ct_real_files(ct_dir):
    row, col, _ = iop_directions(first_header(ct_dir).ImageOrientationPatient)
    assert edge_labels(row, col) == EdgeLabels(left="R", right="L", top="A", bottom="P")


def test_coronal_mr_real_files(mr_dir):
    row, col, normal = iop_directions(first_header(mr_dir).ImageOrientationPatient)
    assert abs(normal[1]) > 0.9, "the MRHead series is coronal"
    labels = edge_labels(row, col)
    assert (labels.top, labels.bottom) == ("H", "F")
    assert {labels.left, labels.right} == {"R", "L"}
    assert labels.right == direction_label(row)


def test_sagittal_and_oblique_synthetic():
    # sagittal: rows run posterior, columns run to the feet
    assert edge_labels([0, 1, 0], [0, 0, -1]) == EdgeLabels(left="A", right="P", top="H", bottom="F")
    # axial rotated 30° about the z axis: both in-plane axes are oblique combinations
    c, s = np.cos(np.radians(30)), np.sin(np.radians(30))
    labels = edge_labels([c, s, 0], [-s, c, 0])
    assert labels == EdgeLabels(left="RA", right="LP", top="AL", bottom="PR")
    # double oblique: three letters
    row = np.array([0.7, 0.5, 0.5]) / np.linalg.norm([0.7, 0.5, 0.5])
    col = np.cross([0, 0, 1.0], row)
    col /= np.linalg.norm(col)
    assert len(edge_labels(row, col).right) == 3


def test_rotate_and_flip_move_the_labels():
    axial = ([1, 0, 0], [0, 1, 0])
    view = ViewTransform()
    cw = view.rotated_clockwise()
    assert edge_labels(*axial, cw) == EdgeLabels(left="P", right="A", top="R", bottom="L")
    assert edge_labels(*axial, view.flipped_horizontally()) == EdgeLabels(left="L", right="R", top="A", bottom="P")
    assert edge_labels(*axial, view.flipped_vertically()) == EdgeLabels(left="R", right="L", top="P", bottom="A")
    # four quarter turns are the identity; flip H then V equals a half turn
    assert cw.rotated_clockwise().rotated_clockwise().rotated_clockwise() == view
    assert view.flipped_horizontally().flipped_vertically() == view.rotated_clockwise().rotated_clockwise()
    assert cw.rotated_counterclockwise() == view
    assert view.flipped_horizontally().mirrored and not cw.mirrored
    assert ViewTransform.from_dict(cw.to_dict()) == cw


def test_nearest_slice_and_parallel_planes():
    affine = np.zeros((4, 4))
    affine[3, 3] = 1
    affine[:3, 0] = [0, 0, 2.5]  # slices 2.5 mm apart along +z
    affine[:3, 1] = [0, 0.7, 0]  # rows go posterior
    affine[:3, 2] = [0.7, 0, 0]  # columns go left
    affine[:3, 3] = [-100, -100, -50]
    k, distance = nearest_slice(affine, 40, [12, 3, -50 + 2.5 * 17 + 1.0])
    assert (k, round(distance, 6)) == (17, 1.0)
    assert nearest_slice(affine, 40, [0, 0, 1000])[0] == 39
    assert planes_parallel([0, 0, 1], [0, 0.05, -1]) and not planes_parallel([0, 0, 1], [0, 1, 0])


def test_reference_line_of_an_axial_slice_on_a_coronal_image():
    from viewer.core.orientation import plane_cuts_image

    # coronal image: rows go left (+x), columns go to the feet (-z); 200 x 150 mm, top at z = 100
    origin, row, col = [-100, 0, 100], [1, 0, 0], [0, 0, -1]
    line = plane_cuts_image([0, 50, 40], [0, 0, 1], origin, row, col, 200, 150)  # axial at z = 40
    assert line is not None
    (a, b) = sorted(line, key=lambda p: p[0])
    assert np.allclose(a, [-100, 0, 40]) and np.allclose(b, [100, 0, 40])
    assert plane_cuts_image([0, 0, -80], [0, 0, 1], origin, row, col, 200, 150) is None  # below the image
    assert plane_cuts_image([0, 0, 0], [0, 1, 0], origin, row, col, 200, 150) is None  # parallel


def test_projection_labels_from_patient_orientation():
    from viewer.core.orientation import edge_labels_from_patient_orientation, opposite_label

    pa_chest = ["L", "F"]  # rows towards the patient's left, columns towards the feet
    assert edge_labels_from_patient_orientation(pa_chest) == EdgeLabels(left="R", right="L", top="H", bottom="F")
    cw = ViewTransform().rotated_clockwise()
    assert edge_labels_from_patient_orientation(pa_chest, cw) == EdgeLabels(left="F", right="H", top="R", bottom="L")
    mlo = ["A", "FR"]  # a right MLO mammogram
    assert edge_labels_from_patient_orientation(mlo) == EdgeLabels(left="P", right="A", top="HL", bottom="FR")
    assert edge_labels_from_patient_orientation([]) is None and opposite_label("AFL") == "PHR"
