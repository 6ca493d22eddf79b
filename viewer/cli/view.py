"""``lightbox [view] [PATH] [--screenshot PNG]``: open the viewer window."""

from __future__ import annotations

import argparse


def register(commands: argparse._SubParsersAction) -> None:
    p = commands.add_parser("view", help="open the viewer (the default command)")
    p.add_argument("path", nargs="?", help="a DICOM file, folder, DICOMDIR media or ZIP to open")
    p.add_argument("--screenshot", metavar="PNG",
                   help="render the main window after loading, save it to PNG and exit "
                        "(works without a display)")
    p.add_argument("--wait", type=float, default=1.0, metavar="SECONDS",
                   help="with --screenshot: how long to let loading finish first (default 1)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from viewer.app import run_gui  # Qt is imported only when a window is wanted

    return run_gui(path=args.path, home=args.home, screenshot=args.screenshot, wait=args.wait)
