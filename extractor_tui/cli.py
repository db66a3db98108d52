"""The ``extractor`` command line: argument parsing, error reporting, nothing else.

* ``extractor [PATH...] [options]`` opens the Textual app with those documents loaded (as
  ``harlequin FILE`` does).
* ``extractor run PATH... [options]`` is the headless front end (``cli_run.py``).
* ``extractor export SESSION --output FILE`` re-exports a saved session.
* ``extractor batch status|cancel SESSION``: a session's Batch API batches (``cli_batch.py``).

Every user error is an ``ExtractorError`` and becomes one red line and exit code 2 (usage)
or 1; anything else is a bug: its traceback goes to a private log file (``crashlog.py``),
never at the user, unless ``--debug`` is given. Everything printed passes through
``scrub.printable`` (no secret, no escape sequence). Exit codes are defined
in ``exits.py`` and listed in the README.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import traceback
from collections.abc import Sequence
from pathlib import Path

from rich.console import Console
from rich.text import Text

from extractor_tui import __version__
from extractor_tui.cli_batch import add_batch_arguments, add_batch_command, batch_command
from extractor_tui.cli_run import Terminated, prepare, run_command
from extractor_tui.core.scrub import printable, redact
from extractor_tui.crashlog import CrashLogUnavailable, write_crash_log
from extractor_tui.errors import ConfigError, ExtractorError, FieldSpecError, SessionBusy
from extractor_tui.exits import (
    EXIT_INTERNAL,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_PARTIAL,
    EXIT_TERMINATED,
    EXIT_USAGE,
)
from extractor_tui.options import add_run_arguments

__all__ = ["EXIT_INTERNAL", "EXIT_INTERRUPTED", "EXIT_OK", "EXIT_PARTIAL", "EXIT_TERMINATED",
           "EXIT_USAGE", "main"]

_COMMANDS = ("run", "export", "batch")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="extractor",
        description="Pull structured fields out of PDFs and text files with LLMs. "
                    "`extractor [PATH...]` opens the app; `extractor run` works headless.")
    parser.add_argument("--version", action="version", version=f"extractor {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    run = sub.add_parser(
        "run", help="extract fields headlessly; results to a file or stdout",
        description="Load PDFs (.pdf) and text files (.txt, .md), or folders of them, split "
                    "them into token-sized chunks, extract the fields from every chunk, merge "
                    "and validate them, and write the results.")
    add_run_arguments(run)
    add_batch_arguments(run)
    run.add_argument("--output", metavar="FILE", default="-",
                     help='.json, .csv or .jsonl (failed chunks), chosen by extension; "-" '
                          "= JSON on stdout (default)")
    run.add_argument("--dry-run", action="store_true",
                     help="plan only: documents, pages, chunks, tokens, estimated cost; no "
                          "calls")
    run.add_argument("--debug", action="store_true", help="show tracebacks")
    export = sub.add_parser("export", help="write a saved session's results to a file")
    export.add_argument("session", type=Path, metavar="SESSION")
    export.add_argument("--output", metavar="FILE", default="-",
                        help='.json, .csv or .jsonl; "-" = JSON on stdout')
    export.add_argument("--verified-columns", action="store_true",
                        help="a CSV gets a 'NAME verified' column after each field")
    export.add_argument("--debug", action="store_true", help="show tracebacks")
    add_batch_command(sub)
    return parser


def _app_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="extractor",
        usage="extractor [PATH...] [options]          the app, with these documents loaded\n"
              "       extractor run PATH... [options]      headless: results to a file or "
              "stdout\n"
              "       extractor export SESSION [--output FILE]\n"
              "       extractor batch status|cancel SESSION",
        description="Pull structured fields out of PDFs and text files with LLMs. Without a "
                    "command, open the app on PATH (files or folders). The headless "
                    "commands have their own help: `extractor run --help`, `extractor "
                    "export --help`, `extractor batch --help`.",
        epilog="Commands: extractor run (extract headlessly; results to a file or stdout), "
               "extractor export (write a saved session's results to a file), "
               "extractor batch (a session's Batch API batches: status, cancel).")
    parser.add_argument("--version", action="version", version=f"extractor {__version__}")
    add_run_arguments(parser)
    parser.add_argument("--debug", action="store_true", help="show tracebacks")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script; returns the exit code."""
    _claim_standard_fds()
    argv = list(sys.argv[1:] if argv is None else argv)
    app_mode = not argv or argv[0] not in _COMMANDS  # `extractor --help` is the app's
    parser = _app_parser() if app_mode else _parser()
    args = parser.parse_args(argv)
    err = Console(stderr=True, highlight=False, soft_wrap=True)
    try:
        if app_mode:
            from extractor_tui.ui.launch import launch_app
            return launch_app(args, err)
        if args.command == "export":
            return _export(args, err)
        if args.command == "batch":
            return asyncio.run(batch_command(args, err))
        prepare(args)
        return asyncio.run(run_command(args, err))
    except KeyboardInterrupt:
        err.print("interrupted")
        return EXIT_INTERRUPTED
    except Terminated:
        err.print("terminated")
        return EXIT_TERMINATED
    except (ConfigError, FieldSpecError, SessionBusy) as exc:
        err.print(Text(f"error: {printable(exc)}", style="red"))
        if getattr(args, "debug", False):
            err.print(Text(redact(traceback.format_exc())))
        return EXIT_USAGE
    except ExtractorError as exc:
        err.print(Text(f"error: {printable(exc)}", style="red"))
        if getattr(args, "debug", False):
            err.print(Text(redact(traceback.format_exc())))
        return EXIT_PARTIAL
    except Exception:  # noqa: BLE001 - last resort: a bug must not print a traceback at users
        if getattr(args, "debug", False):
            err.print(Text(redact(traceback.format_exc())))
            return EXIT_INTERNAL
        try:
            log = write_crash_log(traceback.format_exc())
        except CrashLogUnavailable as exc:
            err.print(Text(f"internal error (a bug); no log was written: {printable(exc)}; "
                           "run again with --debug to see the details", style="red"))
            return EXIT_INTERNAL
        err.print(Text(f"internal error (a bug): details in {printable(log)}", style="red"))
        return EXIT_INTERNAL


def _claim_standard_fds() -> None:
    """Open the null device on file descriptors 0-2 that were closed (``>&-``).

    Otherwise the next file opened (the session database, a temporary file) would get the
    number, and a report written to "stdout" would land in it. ``sys.stdout`` stays None,
    so ``--output -`` is still refused as a closed stdout.
    """
    for fd in (0, 1, 2):
        try:
            os.fstat(fd)
        except OSError:
            null = os.open(os.devnull, os.O_RDWR)
            if null != fd:
                os.dup2(null, fd)
                os.close(null)


def _export(args: argparse.Namespace, err: Console) -> int:
    from extractor_tui.config import load_settings
    from extractor_tui.core.export import check_output, export
    from extractor_tui.core.readout import session_report
    from extractor_tui.core.report import exit_code
    from extractor_tui.core.session import Session

    if not args.session.is_file():
        raise ConfigError(f"{args.session}: no such session file")
    check_output(args.output)
    session = Session.open(args.session, read_only=True)  # a run may be writing it
    try:
        info = session.run_info()
        if info is None:
            raise ConfigError(f"{args.session}: the session has no fields yet")
        # Read from the file alone: no provider, tokenizer or engine (prices may be set in
        # the config file).
        report = session_report(session, info.fields, provider=info.provider,
                                model=info.model, prices=load_settings(None).prices)
        export(report, args.output, verified_columns=args.verified_columns)
        if args.output != "-":
            err.print(Text(f"wrote {args.output}", style="dim"))
        return exit_code(report)
    finally:
        session.close()
