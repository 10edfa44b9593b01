"""The ``raetflo`` command (also ``python -m raetflo``).

``raetflo -v concise -f plan.flo ...`` (options first, as the ``ioflo`` command takes them)
runs a flo as ``raetflo-flo`` does; ``raetflo keep ...`` reads and changes a road keep;
``raetflo probe HOST:PORT`` checks that a road estate answers. Errors are one line on
stderr and exit status 1 (a usage error: argparse's usage and status 2; interrupted: 130).
"""
from __future__ import annotations

import argparse
import logging
import sys

import raetflo

from .. import runner
from ..road.keeping import KeepError
from . import keepcmd, probe
from .errors import CommandError

FLO_USAGE = ("raetflo -v LEVEL -f FILE [-n NAME] [-r] [-p PERIOD] [-b MODULE ...]: run a flo "
             "with ioflo's options (raetflo-flo -h lists them)")


def parser() -> argparse.ArgumentParser:
    """The parser of the subcommands (the flo runner parses its own options)."""
    top = argparse.ArgumentParser(prog="raetflo", description="RAET road tools; "
                                  + FLO_USAGE)
    top.add_argument("--version", action="version", version=runner.version_line())
    commands = top.add_subparsers(dest="command", required=True, metavar="COMMAND")
    keepcmd.add_parser(commands)
    probe.add_parser(commands)
    return top


def main(argv: list[str] | None = None) -> int:
    """Run the flo runner or a subcommand; the exit status."""
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0].startswith("-") and argv[0] not in ("-h", "--help", "--version"):
        return runner.main(argv, prog="raetflo")
    args = parser().parse_args(argv)
    logging.basicConfig(format="raetflo: warning: %(message)s", level=logging.WARNING)
    try:
        return args.run(args, sys.stdout)
    except (CommandError, KeepError) as ex:
        sys.stderr.write(f"raetflo: {ex}\n")
        return 1
    except KeyboardInterrupt:
        sys.stderr.write("raetflo: interrupted\n")
        return 130
    except BrokenPipeError:
        return runner.reader_gone()
