"""Where a series opens and which way "next image" goes.

A viewport, ``lightbox render`` and cine all page through a volume in the same order, so the
rule lives here, beside the volume it reads, and not in a widget.
"""

from __future__ import annotations

import numpy as np

from viewer.core.volume import Volume


def _instance_number(header) -> int | None:
    try:
        return int(header.get("InstanceNumber"))
    except (TypeError, ValueError):
        return None


def reading_order(volume: Volume) -> tuple[int, int]:
    """Where reading starts and which way "next image" goes: (first slice index, step +1/-1).

    The volume's slices are sorted along the plane normal (index k grows along it), which for
    an axial CT puts the most inferior slice first. Radiologists expect the image the
    acquisition starts with: the lowest Instance Number (0020,0013), PS3.3 C.7.6.1, the number
    that "identifies this image" in acquisition order; the next image is the one the numbers
    grow towards. Without distinct numbers (an unnumbered stack, a multi-frame instance) the
    volume order is kept, except that an axial stack starts at its top (most superior) slice,
    as scanners and other viewers show it.
    """
    count = int(volume.voxels.shape[0])
    if count < 2:
        return 0, 1
    acquired = volume.acquired
    numbered: list[tuple[int, int]] = []  # (Instance Number, k) of every acquired slice
    for k in range(count):
        if acquired is not None and not acquired[k]:
            continue  # a gap or interpolated slice was not acquired: it has no number of its own
        number = _instance_number(volume.headers[k])
        if number is None:
            numbered = []
            break
        numbered.append((number, k))
    if len({n for n, _ in numbered}) > 1:
        step = 1 if numbered[-1][0] >= numbered[0][0] else -1
        lowest = min(n for n, _ in numbered)
        ties = [k for n, k in numbered if n == lowest]
        return (ties[0] if step > 0 else ties[-1]), step
    header = volume.headers[0]
    normal = np.asarray(volume.affine[:3, 0], dtype=float)
    axial = bool(header.get("ImageOrientationPatient")) and int(np.argmax(np.abs(normal))) == 2
    if axial and normal[2] > 0:  # k grows towards the head (+S in LPS): the top slice is the last
        return count - 1, -1
    return 0, 1
