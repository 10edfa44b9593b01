"""``raetflo-flo`` (or ``python -m raetflo.runner``): run a flo and fail loudly.

It takes the options of the ``ioflo`` command and runs the flo the same way, with
raetflo's behaviours loaded, but its exit status tells what happened: 0 when the flo ran
to its end, 1 with a one-line message when it did not build (a parse error, an unknown
``go`` target, an unreadable file: ``ioflo`` 2.0.3 exits 0 for most of these) or when a
Deed stopped it with a configuration error.

``-q`` (``--quiet``) mutes ioflo's own build and trace lines: what is printed is what the
flo's ``print`` verbs, raetflo's Deeds and their stacks say, at the ``-v`` level.
"""
from __future__ import annotations

import argparse
import cProfile
import collections.abc  # noqa: F401  (ioflo 2.0.3 uses it without importing it)
import importlib
import importlib.util
import os
import pstats
import re
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, nullcontext
from typing import Any

from ioflo import __version__ as ioflo_version
from ioflo.aid.consoling import VERBIAGE_NAMES, Console, getConsole
from ioflo.base import acting, building
from ioflo.base.excepting import ParseError
from ioflo.base.skedding import Skedder

import raetflo

from .behaving import common

BEHAVIOURS = "raetflo.behaving"
REFERENCE = "raet."  # modules of raet 0.6.8, which does not import on Python 3.10+
QUIET_CONSOLE = "raetflo"  # the console a quiet run's Deeds, stacks and prints write to


def verbosity(value: str) -> int:
    """A ``-v`` value (a name such as ``concise`` or 0-4) as a console level."""
    if value in VERBIAGE_NAMES:
        return VERBIAGE_NAMES.index(value)
    if value in ("0", "1", "2", "3", "4"):
        return int(value)
    raise argparse.ArgumentTypeError(
        f"'{value}' is not a verbosity: use one of {', '.join(VERBIAGE_NAMES)} or 0-4")


def version_line() -> str:
    """What ``--version`` prints, from every raetflo command."""
    return f"raetflo {raetflo.__version__} (ioflo {ioflo_version})"


def parser(prog: str = "raetflo-flo") -> argparse.ArgumentParser:
    """The options of the ``ioflo`` command, and ``-q``."""
    p = argparse.ArgumentParser(
        prog=prog, description="Run a flo with raetflo's Deeds; the exit status says "
        "whether it built and ran to its end.")
    p.add_argument("-V", "--version", action="version", version=version_line())
    p.add_argument("-v", "--verbose", type=verbosity, default="concise",
                   help="verbosity: mute, terse, concise, verbose, profuse or 0-4")
    p.add_argument("-q", "--quiet", action="store_true",
                   help="print only what the flo's print verbs, raetflo's Deeds and "
                   "stacks say (at the -v level), none of ioflo's build and trace lines")
    p.add_argument("-c", "--console", default="", help="file path of a console log")
    p.add_argument("-p", "--period", type=float, default=0.125,
                   help="seconds per skedder run")
    p.add_argument("-r", "--realtime", action="store_true", help="run in real time")
    p.add_argument("-R", "--retrograde", action="store_true", default=True,
                   help="shift timers when the clock goes back (always on)")
    p.add_argument("-n", "--name", default="skedder", help="skedder name")
    p.add_argument("-f", "--filename", required=True, help="the flo script to run")
    p.add_argument("-b", "--behaviors", nargs="*", default=None,
                   help="more behaviour modules or packages to load")
    p.add_argument("-m", "--parsemode", default="", help="flo parsing mode")
    p.add_argument("-U", "--username", default="", help="user name")
    p.add_argument("-P", "--password", default="", help="password")
    p.add_argument("-S", "--statistics", nargs="?", const=True, default=False,
                   help="profile the run, into the file given (or ioflo's default)")
    return p


class QuietPrinter(acting.Printer):
    """The ``print`` verb of a quiet run: prints to raetflo's console."""

    def action(self, message: str, **kw: Any) -> None:
        common.console().terse(f"*** {message} ***\n")


@contextmanager
def quiet(level: int) -> Iterator[None]:
    """Mute ioflo's console; Deeds, stacks and ``print`` write to their own at ``level``."""
    registry = acting.Actor.Registry
    printer = registry["Printer"]
    common.use_console(getConsole(QUIET_CONSOLE, verbosity=level))
    registry["Printer"] = registry["QuietPrinter"]
    try:
        yield
    finally:
        registry["Printer"] = printer
        common.use_console(None)


def why(ex: Exception) -> str:
    """``ex`` in one line, without the file path an ImportError ends with."""
    return f"{type(ex).__name__}: " + re.sub(r" \(/[^)]*\)$", "", str(ex))


def reader_gone() -> int:
    """The reader of standard output went away (``| head``): send the rest nowhere, so
    exiting flushes nothing into the closed pipe; the exit status."""
    os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return 1


def build_error(ex: Exception) -> str:
    """A plain error ioflo's builder raised, in one line with the flo line it was on."""
    builder, tb = None, ex.__traceback__
    while tb is not None:  # a Builder building a statement (not resolving the whole flo)
        candidate = tb.tb_frame.f_locals.get("self")
        if isinstance(candidate, building.Builder) and tb.tb_frame.f_code.co_name != "build":
            builder = candidate
        tb = tb.tb_next
    where = "" if builder is None else flo_line(builder)
    if isinstance(ex, TypeError) and "not all arguments converted" in str(ex):
        # ioflo's own message for this case fails to format
        return (f"a word ioflo reserves (to, from, by, with, per, as, ...) stands where a "
                f"field or value goes{where}; put such fields in a share and send it "
                f"'with share'")
    return why(ex) + where


def flo_line(builder: building.Builder) -> str:
    """`` (line N: TEXT)`` of the statement ``builder`` was building. Its own line count
    may have read one line ahead (to look for a continuation), so the line is found by
    its text, from that count back."""
    text = " ".join(str(builder.currentHuman).split())
    number = builder.currentCount
    try:
        with open(builder.fileName) as flo:
            lines = flo.read().splitlines()
    except OSError:
        lines = []
    for candidate in range(min(number, len(lines)), 0, -1):
        if text and " ".join(lines[candidate - 1].split("#")[0].split()) == text:
            number = candidate
            break
    return f" (line {number}: {text})"


def exists(name: str) -> bool:
    """Whether module ``name`` can be found (its parents are imported to look)."""
    try:
        return importlib.util.find_spec(name) is not None
    except ImportError:
        return False


def loadable(names: Sequence[str], prog: str) -> list[str]:
    """The behaviour modules to load for ``names``: each is imported now, so one that
    does not import stops the run with one line; a module of raet that does not import
    is replaced by its raetflo twin (``raet.flo.behaving`` -> ``raetflo.flo.behaving``)."""
    modules = [BEHAVIOURS]
    for name in names:
        try:
            importlib.import_module(name)
        except Exception as ex:  # noqa: BLE001  (whatever stops the import is reported)
            twin = "raetflo." + name[len(REFERENCE):] if name.startswith(REFERENCE) else None
            if twin is None or not exists(twin):
                sys.exit(f"{prog}: cannot load behaviours '{name}': {why(ex)}")
            print(f"{prog}: {name} does not import on this Python ({why(ex)}); loading "
                  f"{twin}, its raetflo twin", file=sys.stderr)
            name = twin
        if name not in modules:
            modules.append(name)
    return modules


def build(args: argparse.Namespace, behaviors: list[str], level: int) -> Skedder:
    """The skedder of the flo ``args`` name, built (or not: see ``built``)."""
    console = getConsole(verbosity=level, path=args.console)
    console.terse(f"\n----------------------\nBuilding Skeddar '{args.name}' ...\n")
    skedder = Skedder(name=args.name, period=args.period, real=args.realtime,
                      retro=args.retrograde, filepath=args.filename, behaviors=behaviors,
                      mode=args.parsemode, username=args.username, password=args.password)
    skedder.build()
    return skedder


def run(skedder: Skedder, statistics: Any) -> None:
    """Run ``skedder`` to its end; with ``statistics`` (True or a file path) profiled."""
    console = getConsole()
    console.terse(f"\n----------------------\nStarting mission plan '{skedder.plan}' from "
                  f"file:\n    {skedder.filepath}\n")
    if not statistics:
        skedder.run()
    else:
        path = os.path.join("/tmp", "ioflo", "profiles", skedder.name) \
            if statistics is True else os.path.abspath(os.path.expanduser(statistics))
        os.makedirs(os.path.dirname(path), exist_ok=True)
        cProfile.runctx("skedder.run()", globals(), {"skedder": skedder}, path)
        pstats.Stats(path).sort_stats("time").print_stats()
    console.terse("\n----------------------\n")


def main(argv: Sequence[str] | None = None, prog: str = "raetflo-flo") -> int:
    """Parse ``ioflo`` options (and ``-q``) from ``argv``, build and run the flo."""
    args = parser(prog).parse_args(argv)
    behaviors = loadable(args.behaviors or (), prog)
    level = Console.Wordage.mute if args.quiet else args.verbose
    hint = "run it without -q to see ioflo's messages" if args.quiet else "see the messages above"
    with quiet(args.verbose) if args.quiet else nullcontext():
        try:
            skedder = build(args, behaviors, level)
        except ParseError as ex:
            sys.exit(f"{prog}: cannot build '{args.filename}': {str(ex).strip()}")
        except Exception as ex:  # noqa: BLE001  (ioflo's resolver raises plain errors)
            sys.exit(f"{prog}: cannot build '{args.filename}': {build_error(ex)}")
        if not skedder.built:
            sys.exit(f"{prog}: cannot build '{args.filename}' ({hint})")
        try:
            run(skedder, args.statistics)
        except BrokenPipeError:
            return reader_gone()
    return 0


if __name__ == "__main__":
    sys.exit(main())
