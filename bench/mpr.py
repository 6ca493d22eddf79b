"""MPR and 3D benchmark, offscreen on the CPU: Lightbox beside plain VTK in the same run.

    .venv/bin/python bench/mpr.py [--slices 400] [--repeat 10]

Volume: a synthetic 512x512xN int16 CT-like volume (0.7 x 0.7 x 1.0 mm). Rows: oblique linear
and cubic reslice of a 512x512 plane, a 20 mm MIP slab (oblique: VTK slab path; axial: the
numpy fast path), crosshair drag in a 3-plane MPR (reslice + render, frames/s), opening the
MPR, and volume rendering frames/s while rotating (coarse) and at rest. scipy's
map_coordinates is timed too when scipy is installed (it is not a project dependency).
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import numpy as np


def _median_ms(fn, repeat: int) -> float:
    fn()
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1e3


def synthetic(slices: int):
    from viewer.core.volume import Volume

    z, y, x = np.ogrid[:slices, :512, :512]
    vox = np.full((slices, 512, 512), -1000, np.int16)
    body = ((x - 256) ** 2 + (y - 256) ** 2) < 200**2
    vox[np.broadcast_to(body, vox.shape)] = 40
    bone = (((x - 256) ** 2 + (y - 330) ** 2) < 25**2) & ((z % 30) < 25)
    vox[np.broadcast_to(bone, vox.shape)] = 900
    vox += np.random.default_rng(0).integers(-20, 20, vox.shape, dtype=np.int16)
    affine = np.eye(4)
    affine[:3, 0], affine[:3, 1], affine[:3, 2] = [0, 0, 1.0], [0, 0.7, 0], [0.7, 0, 0]
    return Volume(vox, affine, headers=[])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--slices", type=int, default=400)
    ap.add_argument("--repeat", type=int, default=10)
    args = ap.parse_args()
    if not os.environ.get("DISPLAY"):
        os.environ.setdefault("VTK_DEFAULT_OPENGL_WINDOW", "vtkEGLRenderWindow")
    from vtkmodules.vtkImagingCore import vtkImageReslice

    from viewer.core.planes import Crosshair, rotation_matrix
    from viewer.render.mpr import MprScene, Reslicer, Slab, _matrix
    from viewer.render.offscreen import OffscreenWindow
    from viewer.render.volume_render import VolumeScene

    volume = synthetic(args.slices)
    rows: list[tuple[str, str, str]] = []
    reslicer = Reslicer.from_volume(volume)
    cross = Crosshair(np.array([179.0, 179.0, args.slices / 2]))
    cross.rotation = rotation_matrix(np.array([1.0, 0.5, 0.2]), np.radians(30))
    row, col = cross.axes("axial")
    grid = reslicer.grid(cross.center, row, col, size=(512, 512))

    def plain(mode: str, slab: int = 1):
        r = vtkImageReslice()
        r.SetInputData(reslicer.image)
        r.SetOutputDimensionality(2)
        r.SetResliceAxes(_matrix(reslicer._axes(grid, 0.7)))
        r.SetOutputExtent(0, 511, 0, 511, 0, 0)
        getattr(r, {"linear": "SetInterpolationModeToLinear", "cubic": "SetInterpolationModeToCubic"}[mode])()
        if slab > 1:
            r.SetSlabNumberOfSlices(slab)
            r.SetSlabModeToMax()

        def run():
            r.Modified()
            r.Update()
        return run

    try:
        from scipy.ndimage import map_coordinates
    except ImportError:
        map_coordinates = None

    def scipy_run(order: int):
        if map_coordinates is None:
            return None
        c, r_ = np.meshgrid(np.arange(512), np.arange(512))
        pts = np.stack([c.ravel(), r_.ravel(), np.zeros(c.size), np.ones(c.size)])
        ijk = (reslicer._axes(grid) @ pts)[:3]
        return lambda: map_coordinates(volume.voxels, ijk[::-1], order=order)

    for label, mode in (("oblique linear 512²", "linear"), ("oblique cubic 512²", "cubic")):
        reslicer.set_interpolation(mode)  # type: ignore[arg-type]
        ours = _median_ms(lambda: reslicer.sample(grid), args.repeat)
        vtk = _median_ms(plain(mode), args.repeat)
        sp = scipy_run(1 if mode == "linear" else 3)
        sci = f"{_median_ms(sp, 3):.1f}" if sp else "n/a (scipy not installed)"
        rows.append((label, f"{ours:.1f} ms", f"VTK {vtk:.1f} ms; scipy {sci}"))
    reslicer.set_interpolation("linear")
    slab = Slab(20.0, "mip")
    ours = _median_ms(lambda: reslicer.sample(grid, slab), max(3, args.repeat // 2))
    vtk = _median_ms(plain("linear", 29), max(3, args.repeat // 2))
    rows.append(("20 mm MIP, oblique (VTK slab path)", f"{ours:.1f} ms", f"VTK slab 29x0.7 mm {vtk:.1f} ms"))
    axial = reslicer.grid(cross.center, np.array([1.0, 0, 0]), np.array([0, 1.0, 0]))
    ours = _median_ms(lambda: reslicer.sample(axial, slab), args.repeat)
    rows.append(("20 mm MIP, axial (numpy fast path)", f"{ours:.1f} ms", f"VTK slab 29x0.7 mm {vtk:.1f} ms"))

    t0 = time.perf_counter()
    window = OffscreenWindow(1536, 512)
    scene = MprScene(volume, window=(40, 400))
    for renderer in scene.renderers:
        window.add(renderer)
    for plane in scene.planes.values():
        plane.fit()
    window.render_window.Render()
    rows.append(("open 3-plane MPR (volume in memory)", f"{(time.perf_counter() - t0) * 1e3:.0f} ms", "-"))
    n = 3 * args.repeat
    t0 = time.perf_counter()
    for k in range(n):
        scene.crosshair.move_to(scene.crosshair.center + np.array([0.7, 0.7, 0.5 * (-1) ** k]))
        scene.update()
        window.render_window.Render()
    rows.append(("crosshair drag, 3 planes 512² each", f"{n / (time.perf_counter() - t0):.1f} fps", "-"))
    window.close()

    window = OffscreenWindow(512, 512)
    vr = VolumeScene(volume)
    window.add(vr.renderer)
    still = _median_ms(lambda: (vr.rotate(3), window.render_window.Render()), 3)
    vr.set_interactive(True)
    moving = _median_ms(lambda: (vr.rotate(3), window.render_window.Render()), args.repeat)
    window.close()
    rows.append(("volume rendering 512², CPU ray cast, rotating", f"{1e3 / moving:.1f} fps",
                 f"at rest {still:.0f} ms/frame"))

    print(f"volume 512x512x{args.slices} int16, 0.7x0.7x1.0 mm")
    print(f"| {'what':48s} | {'Lightbox':>10s} | reference (same run) |")
    print(f"|{'-' * 50}|{'-' * 12}|---|")
    for what, ours_text, ref in rows:
        print(f"| {what:48s} | {ours_text:>10s} | {ref} |")


if __name__ == "__main__":
    main()
