"""The ``lightbox`` command: the GUI by default, headless subcommands for scripts.

``lightbox [PATH]`` opens the viewer (importing/opening PATH); ``lightbox COMMAND ...`` runs
a headless command on the same layers the GUI uses. Each command group lives in its own
module with a ``register(subparsers)`` function; its handler returns the exit code:
0 success, 1 partial (some items failed, listed), 2 usage or fatal error; 141 when stdout
was closed before everything was written (``lightbox ls | head``), as for a program stopped
by SIGPIPE, without a traceback. ``--home DIR`` may come before or after the command.
"""

from __future__ import annotations

import argparse
import importlib
import os
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
EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE: what a shell reports for a writer whose reader left
_HOME_HELP = "Lightbox home (cache, settings); default $LIGHTBOX_HOME or the platform's user data folder"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="lightbox",
        description="Lightbox DICOM viewer. Without a command, opens the viewer (on PATH if given).",
    )
    parser.add_argument("--version", action="version", version=f"lightbox {__version__}")
    parser.add_argument("--home", metavar="DIR", help=_HOME_HELP)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(commands)
    for sub in commands.choices.values():  # `lightbox ls --home X` as well as `lightbox --home X ls`
        _add_home(sub)
    return parser


def _add_home(parser: argparse.ArgumentParser) -> None:
    """``--home`` on a (sub)command and its own subcommands; SUPPRESS keeps the one given first."""
    if not any("--home" in a.option_strings for a in parser._actions):
        parser.add_argument("--home", metavar="DIR", default=argparse.SUPPRESS, help=_HOME_HELP)
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                _add_home(sub)


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
        code = int(args.func(args))
        sys.stdout.flush()  # a closed pipe shows here, not in the interpreter's exit
        return code
    except BrokenPipeError:
        _silence_stdout()
        return EXIT_BROKEN_PIPE
    except LightboxError as exc:
        print(f"lightbox: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    except KeyboardInterrupt:
        print("lightbox: interrupted", file=sys.stderr)
        return EXIT_FAILURE


def _silence_stdout() -> None:
    """Point stdout at the null device so the interpreter's final flush cannot fail again
    (docs.python.org/3/library/signal.html#note-on-sigpipe)."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):  # no real file descriptor (captured in tests)
        pass
