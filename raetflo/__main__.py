"""``python -m raetflo``: the ``raetflo`` command."""
import sys

from raetflo.command import main

sys.exit(main())
