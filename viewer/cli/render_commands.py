"""``lightbox render``: one image of a series to PNG, offscreen, through the VTK pipeline.

Without ``--plane`` it renders acquired image ``--slice K`` through the 2D viewport's own
scene (viewer.render.slice_scene), so the PNG shows what the viewer shows: the file's VOI
(window or VOI LUT table), MONOCHROME1 / Presentation LUT Shape inversion, RGB and palette
colour, overlays and shutters; one output pixel per stored pixel unless ``--size``. K counts
from 0 in reading order, as the viewer pages: 0 is the image the acquisition starts with (the
lowest Instance Number), and ``--annotate`` labels it "Im K+1/N" as the viewport does.

With ``--plane axial|coronal|sagittal`` it reconstructs that plane in patient coordinates
through ``--at X,Y,Z`` (LPS mm, default the volume centre), optionally as a ``--slab MM``
MIP/MinIP/average, in the radiological convention (patient right on the image's left for
axial and coronal, head up for coronal and sagittal, anterior on the left for sagittal) with
square pixels of the smallest voxel spacing, covering the volume; MONOCHROME1 is inverted
there too. Values that start with "-" are taken as typed (``--window -600/1500``).
``--json`` prints the output's geometry (Image Position/Orientation/Pixel Spacing style) so
a script can map any PNG pixel back to the patient.

With ``--stl OUT.stl`` it writes the iso-surface at ``--threshold`` (modality units, HU for
CT; default 300 HU, the bone preset's) as binary STL in patient LPS millimetres instead of a
PNG, written atomically; ``--json`` then prints the triangle count and the LPS bounds.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from pathlib import Path

import numpy as np

from viewer.core.errors import GeometryError, LightboxError

EXIT_OK, EXIT_FAILURE = 0, 2


class RenderUsageError(LightboxError):
    """The arguments do not describe one image to render."""


def register(commands: argparse._SubParsersAction) -> None:
    p = commands.add_parser(
        "render",
        help="render one slice or MPR plane of a series to PNG, or its surface to STL (headless)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("source", help="a DICOM file or folder, or a study/series UID in the cache")
    p.add_argument("--series", metavar="UID", help="which series, when SOURCE holds several")
    p.add_argument("--slice", type=int, metavar="K",
                   help="acquired image K, 0-based in reading order (0 = lowest Instance Number, "
                        "shown as 'Im 1/N' in the viewer; default: the middle one)")
    p.add_argument("--window", metavar="CENTER/WIDTH", help="window, e.g. 40/400 (default: the file's)")
    p.add_argument("--size", metavar="WxH", help="output size in pixels (the image is fitted, aspect kept)")
    p.add_argument("--annotate", action="store_true", help="draw corner annotations and edge letters")
    p.add_argument("--plane", choices=("axial", "coronal", "sagittal"), help="reconstruct this plane")
    p.add_argument("--at", metavar="X,Y,Z", help="LPS point (mm) the plane passes through")
    p.add_argument("--slab", type=float, metavar="MM", help="slab thickness in mm (with --plane)")
    p.add_argument("--mode", choices=("mip", "minip", "avg"), default="mip", help="slab mode (default mip)")
    p.add_argument("--interpolation", choices=("nearest", "linear", "cubic"), default="linear")
    p.add_argument("--json", action="store_true", help="print the output's geometry as JSON")
    p.add_argument("--stl", metavar="OUT.stl", help="write the iso-surface at --threshold as STL (LPS mm)")
    p.add_argument("--threshold", type=float, metavar="VALUE",
                   help="iso-surface value for --stl in modality units (default: the CT bone preset's, 300 HU)")
    p.add_argument("-o", "--output", metavar="OUT.png", help="the PNG to write (required unless --stl)")
    # argparse takes "-600/1500" or "-10,20,300" for an unknown option ("expected one argument"):
    # only plain negative numbers count as values. These options take negative numbers joined
    # by "/" or "," (a lung window's centre, an LPS point right of or anterior to the origin),
    # so any argument that starts with "-" and a digit is a value here; no option of this
    # command looks like that.
    p._negative_number_matcher = re.compile(r"^-\.?\d")
    p.set_defaults(func=run)


def _parse_window(text: str) -> tuple[float, float]:
    try:
        center, width = (float(v) for v in text.split("/"))
    except ValueError:
        raise RenderUsageError(f"--window wants CENTER/WIDTH, e.g. 40/400, not {text!r}") from None
    if width < 1:
        raise RenderUsageError(f"--window width must be >= 1, got {width:g}")
    return center, width


def _int_or_none(value: object) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _templates(home: str | None) -> dict[str, str]:
    """The user's corner annotation templates (settings.json), so --annotate writes the lines
    the viewer shows."""
    from viewer.core.home import lightbox_home
    from viewer.core.settings import load_settings

    return load_settings(lightbox_home(home)).annotation_templates


def _voi_window(voi) -> tuple[float, float]:
    """(center, width) of a window, or of a VOI LUT table's input range (as the viewport says)."""
    if hasattr(voi, "center"):
        return float(voi.center), float(voi.width)
    return voi.first_mapped + len(voi.data) / 2, float(len(voi.data))


def _voi_json(voi) -> dict | None:
    if voi is None:
        return None
    center, width = _voi_window(voi)
    report = {"center": center, "width": width}
    if hasattr(voi, "function"):
        report["function"] = voi.function
    else:
        report["voi_lut"] = voi.explanation
    return report


def _parse_size(text: str) -> tuple[int, int]:
    try:
        width, height = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise RenderUsageError(f"--size wants WxH, e.g. 512x512, not {text!r}") from None
    if not (1 <= width <= 8192 and 1 <= height <= 8192):
        raise RenderUsageError(f"--size must be between 1x1 and 8192x8192, got {text}")
    return width, height


def _parse_point(text: str) -> np.ndarray:
    try:
        point = np.array([float(v) for v in text.split(",")])
    except ValueError:
        point = np.array([])
    if point.shape != (3,):
        raise RenderUsageError(f"--at wants X,Y,Z in LPS mm, e.g. 0,-20.5,100, not {text!r}")
    return point


def _series_paths(source: str, series_uid: str | None, home: str | None) -> list[Path] | str:
    """Files of the one series to render: from a path, or from the cache by UID."""
    from viewer.core.series import find_series

    if os.path.exists(source):
        scan = find_series(source)
        if not scan.series:
            raise GeometryError(f"no DICOM image files in {source}")
        chosen = [s for s in scan.series if series_uid in (None, s.series_uid)]
        if not chosen:
            raise RenderUsageError(f"series {series_uid} is not in {source}")
        if len(chosen) > 1:
            found = "\n  ".join(f"{s.series_uid}  #{s.number} {s.description}" for s in chosen)
            raise RenderUsageError(f"{source} holds {len(chosen)} series; pick one with --series:\n  {found}")
        return chosen[0].paths
    from viewer.core.home import lightbox_home
    from viewer.store import Store

    with Store.open(lightbox_home(home)) as store:
        uid = series_uid or source
        instances = store.instances(uid)
        if not instances and store.study(source) is not None:
            series = store.series(source)
            if series_uid is None and len(series) > 1:
                found = "\n  ".join(f"{s.series_uid}  #{s.number} {s.description}" for s in series)
                raise RenderUsageError(f"study {source} has {len(series)} series; pick one with --series:\n"
                                       f"  {found}")
            if series:
                instances = store.instances(series_uid or series[0].series_uid)
        if not instances:
            raise RenderUsageError(f"{source} is neither a file or folder nor a study/series UID in the cache")
        return [row.path for row in instances]


def run(args: argparse.Namespace) -> int:
    if not os.environ.get("DISPLAY"):
        # no X server: skip VTK's X attempt (and its warning) and render through EGL
        os.environ.setdefault("VTK_DEFAULT_OPENGL_WINDOW", "vtkEGLRenderWindow")
    from viewer.core.annotations import corner_texts
    from viewer.core.pixels.display import default_voi, presentation_inverted
    from viewer.core.pixels.voi import Window, default_window
    from viewer.core.planes import standard_grid, volume_center
    from viewer.core.reading_order import reading_order
    from viewer.core.volume import load_volume
    from viewer.render.mpr import Reslicer, Slab, render_plane, write_png
    from viewer.render.slice_scene import render_slice

    if args.stl is not None:
        return _run_stl(args)
    if args.threshold is not None:
        raise RenderUsageError("--threshold goes with --stl")
    if args.output is None:
        raise RenderUsageError("say where to write the PNG with -o OUT.png (or write a surface with --stl OUT.stl)")
    window = _parse_window(args.window) if args.window else None
    size = _parse_size(args.size) if args.size else None
    if args.plane is None and (args.at or args.slab):
        raise RenderUsageError("--at and --slab need --plane")
    if args.plane is not None and args.slice is not None:
        raise RenderUsageError("--slice selects an acquired slice; with --plane use --at X,Y,Z")
    at = _parse_point(args.at) if args.at else None
    if args.slab is not None and not args.slab > 0:
        raise RenderUsageError(f"--slab must be a thickness in mm > 0, got {args.slab:g}")
    slab = Slab(args.slab, args.mode) if args.slab else None

    volume = load_volume(_series_paths(args.source, args.series, args.home))
    shape = volume.voxels.shape
    n = shape[0]
    color = volume.voxels.ndim == 4
    inverted = presentation_inverted(volume.headers[0])  # MONOCHROME1 / Presentation LUT Shape (C.11.6)
    texts = None
    if args.plane is None:
        # the acquired image through the viewport's own scene: VOI, inversion, colour as shown
        number = n // 2 if args.slice is None else args.slice  # 0-based in reading order
        if not 0 <= number < n:
            raise RenderUsageError(f"--slice {number} is out of range: the series has {n} images (0..{n - 1})")
        _first, step = reading_order(volume)  # as Viewport.slice_at: volume index of image `number`
        index = number if step > 0 else n - 1 - number
        header = volume.headers[index]
        voi = Window(*window) if window is not None else default_voi(volume.headers[0], volume.voxels)
        if args.annotate:
            texts = corner_texts(header, number, n, None if color else voi, templates=_templates(args.home))
        rendered = render_slice(volume, index, voi, inverted=inverted, size=size, corner_texts=texts,
                                interpolation=args.interpolation if size is not None else None)
        frame, grid = rendered.frame, rendered.grid
        shown_voi = rendered.voi
    else:
        if color:
            raise RenderUsageError("--plane reconstructs grey-scale series only; this one is colour "
                                   "(render its acquired images without --plane)")
        number = index = None
        reslicer = Reslicer.from_volume(volume)
        reslicer.set_interpolation(args.interpolation)
        center = volume_center(volume.affine, shape) if at is None else at
        grid = standard_grid(volume.affine, shape, args.plane, center=center, size=size)
        header = volume.headers[int(np.clip(round(reslicer.lps_to_index(center)[0]), 0, n - 1))]
        pixels = reslicer.sample(grid, slab)
        if window is None:
            chosen = default_window(volume.headers[n // 2], volume.voxels)
            window = (chosen.center, chosen.width)
        shown_voi = Window(*window)
        if args.annotate:
            texts = corner_texts(header, 0, n, window, templates=_templates(args.home))
            slab_text = f"  {slab.mode.upper()} {slab.thickness:g} mm" if slab else ""
            texts["lower_left"] = f"{args.plane.capitalize()} MPR{slab_text}\n" + "LPS ({:.1f}, {:.1f}, {:.1f})".format(
                *(at if at is not None else volume_center(volume.affine, shape)))
        frame = render_plane(pixels, grid, window, texts, inverted=inverted)
    out = Path(args.output)
    if out.parent and not out.parent.exists():
        out.parent.mkdir(parents=True, exist_ok=True)
    write_png(frame, str(out))
    if args.json:
        report = {
            "output": str(out),
            "series_uid": str(volume.headers[0].get("SeriesInstanceUID", "")) if volume.headers else "",
            "frame_of_reference_uid": volume.frame_of_reference_uid,
            "plane": args.plane or "acquired",
            "slice": number,  # --slice: 0-based in reading order
            "volume_index": index,  # the same image's index in the volume (sorted along the normal)
            "instance_number": _int_or_none(header.get("InstanceNumber")) if index is not None else None,
            "annotations": texts,
            "window": _voi_json(shown_voi),  # null for colour images (shown as stored)
            "inverted": inverted and not color,
            "slab": None if slab is None else {"thickness_mm": slab.thickness, "mode": slab.mode},
            "interpolation": "nearest" if args.plane is None and size is None else args.interpolation,
            **grid.to_json(),
        }
        json.dump(report, sys.stdout, indent=1)
        sys.stdout.write("\n")
    return EXIT_OK


def _run_stl(args: argparse.Namespace) -> int:
    """``--stl``: the surface of the whole volume; the PNG-only options make no sense here."""
    from viewer.core.volume import load_volume
    from viewer.render.surface import DEFAULT_THRESHOLD, export_stl

    png_only = [f"--{name}" for name in ("slice", "window", "size", "plane", "at", "slab", "output")
                if getattr(args, name) not in (None, False)] + (["--annotate"] if args.annotate else [])
    if png_only:
        raise RenderUsageError(f"{', '.join(png_only)} apply to PNG output, not to --stl")
    threshold = DEFAULT_THRESHOLD if args.threshold is None else args.threshold
    volume = load_volume(_series_paths(args.source, args.series, args.home))
    info = export_stl(volume, args.stl, threshold)
    if args.json:
        report = {
            "series_uid": str(volume.headers[0].get("SeriesInstanceUID", "")) if volume.headers else "",
            "frame_of_reference_uid": volume.frame_of_reference_uid,
            **info.to_json(),
        }
        json.dump(report, sys.stdout, indent=1)
        sys.stdout.write("\n")
    return EXIT_OK
