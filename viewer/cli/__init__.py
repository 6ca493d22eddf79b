"""The ``lightbox`` command: the GUI by default, headless subcommands for scripts.

``lightbox [PATH]`` opens the viewer (importing/opening PATH); ``lightbox COMMAND ...`` runs
a headless command on the same layers the GUI uses. Each command group lives in its own
module with a ``register(subparsers)`` function; its handler returns the exit code:
0 success, 1 partial (some items failed, listed), 2 usage or fatal error.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from viewer import __version__
from viewer.core.errors import LightboxError

# One module per command group; each adds its subparsers in register(subparsers).
COMMAND_MODULES: tuple[str, ...] = (
    "viewer.cli.view",
    "viewer.cli.store_commands",
    "viewer.cli.render_commands",
    "viewer.cli.net_commands",
)

EXIT_OK, EXIT_PARTIAL, EXIT_FAILURE = 0, 1, 2


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="lightbox",
        description="Lightbox DICOM viewer. Without a command, opens the viewer (on PATH if given).",
    )
    parser.add_argument("--version", action="version", version=f"lightbox {__version__}")
    parser.add_argument("--home", metavar="DIR", help="Lightbox home (cache, settings); default "
                        "$LIGHTBOX_HOME or the platform's user data folder")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(commands)
    return parser


def _with_default_command(argv: list[str], parser: argparse.ArgumentParser) -> list[str]:
    """``lightbox PATH`` means ``lightbox view PATH``: insert the command when none is given."""
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg == "--home":
            i += 2
            continue
        if arg.startswith("--home=") or arg in ("-h", "--help", "--version"):
            i += 1
            continue
        break
    if i < len(argv) and argv[i] in commands:
        return argv
    if any(a in ("-h", "--help", "--version") for a in argv[:i]):
        return argv
    return [*argv[:i], "view", *argv[i:]]


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(_with_default_command(list(sys.argv[1:] if argv is None else argv), parser))
    try:
        return int(args.func(args))
    except LightboxError as exc:
        print(f"lightbox: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    except KeyboardInterrupt:
        print("lightbox: interrupted", file=sys.stderr)
        return EXIT_FAILURE
