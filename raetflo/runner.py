"""``raetflo-flo`` (or ``python -m raetflo.runner``): run a flo and fail loudly.

It takes the options of the ``ioflo`` command and runs the flo the same way, with
raetflo's behaviours loaded, but its exit status tells what happened: 0 when the flo ran
to its end, 1 with a one-line message when it did not build (a parse error, an unknown
``go`` target, an unreadable file: ``ioflo`` 2.0.3 exits 0 for most of these) or when a
Deed stopped it with a configuration error.
"""
from __future__ import annotations

import collections.abc  # noqa: F401  (ioflo 2.0.3 uses it without importing it)
import sys

from ioflo import __version__ as ioflo_version
from ioflo.app import run as iorun
from ioflo.base.excepting import ParseError

import raetflo

BEHAVIOURS = "raetflo.behaving"


def main(argv: list[str] | None = None) -> int:
    """Parse ``ioflo`` options (``argv``, default the command line), build and run the flo."""
    if argv is not None:  # ioflo's parser reads only sys.argv
        sys.argv[1:] = argv
    args = iorun.parseArgs(version=f"raetflo {raetflo.__version__} (ioflo {ioflo_version})")
    behaviors = [BEHAVIOURS, *(name for name in args.behaviors or () if name != BEHAVIOURS)]
    try:
        skedder = iorun.run(name=args.name, period=float(args.period), real=args.realtime,
                            retro=args.retrograde, filepath=args.filename,
                            behaviors=behaviors, mode=args.parsemode,
                            username=args.username, password=args.password,
                            verbose=args.verbose, consolepath=args.console,
                            statistics=args.statistics)
    except ParseError as ex:
        sys.exit(f"raetflo-flo: cannot build '{args.filename}': {str(ex).strip()}")
    if not skedder.built:
        sys.exit(f"raetflo-flo: cannot build '{args.filename}' (see the messages above)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
