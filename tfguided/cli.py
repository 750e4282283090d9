"""What every command line shares: absl's app.run, except that asking for help succeeds."""

import sys

from absl import app

HELP_FLAGS = ("--help", "-h", "-?", "--helpshort", "--helpfull", "--helpxml")


def run(main):
    """app.run(main); --help and its kin print the flags and exit 0 (absl exits 1)."""
    try:
        app.run(main)
    except SystemExit as e:
        if e.code == 1 and any(arg in HELP_FLAGS for arg in sys.argv[1:]):
            sys.exit(0)
        raise
