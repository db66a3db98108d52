"""The ``extractor`` console script's entry point: the one function that runs before the
command's imports, so a Ctrl-C while they load ends as every other Ctrl-C does.

Importing ``cli`` brings in rich, pydantic, the session and the Job: 0.3-1 s on a cold
start. A Ctrl-C in that time raised ``KeyboardInterrupt`` inside an import, before
``cli.main``'s handlers existed, and the user got a traceback and exit -2. Here it is
"interrupted" and exit 130. This module imports nothing of the package but the exit codes.
"""

from __future__ import annotations

import sys

from extractor_tui.exits import EXIT_INTERRUPTED

__all__ = ["main"]


def main() -> int:
    """``extractor ...``: load the command line, then run it; returns the exit code."""
    try:
        from extractor_tui.cli import main as command
    except KeyboardInterrupt:
        sys.stderr.write("interrupted\n")
        return EXIT_INTERRUPTED
    return command()
