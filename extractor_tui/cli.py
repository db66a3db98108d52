"""The ``extractor`` command line: argument parsing and printing, nothing else.

All work is done by ``extractor_tui.core``; this module turns flags into Settings, calls the
engine, and prints. Results go to stdout, progress and diagnostics to stderr, so
``extractor run docs/ --json > out.json`` gives clean JSON.

Exit codes (also in the README):
  0  every input loaded
  1  some inputs could not be loaded (the rest were processed and reported)
  2  bad usage, settings or config file; or no input could be loaded
  70 internal error (a bug: the message names the log file with the traceback)
  130 interrupted (Ctrl-C)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from extractor_tui import __version__
from extractor_tui.config import Settings, load_settings
from extractor_tui.core import (
    ChunkedDocument,
    Document,
    LoadOptions,
    chunk_documents,
    load_documents,
    make_chunker,
)
from extractor_tui.errors import ConfigError, DocumentError, ExtractorError

__all__ = ["main"]

EXIT_OK, EXIT_PARTIAL, EXIT_USAGE, EXIT_INTERNAL, EXIT_INTERRUPTED = 0, 1, 2, 70, 130


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="extractor",
        description="Pull structured fields out of PDFs and text files with LLMs.")
    parser.add_argument("--version", action="version", version=f"extractor {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    run = sub.add_parser(
        "run", help="load and chunk documents headlessly and report them",
        description="Load PDFs (.pdf) and text files (.txt, .md), or folders of them, split "
                    "them into token-sized chunks, and report every file: pages, chunks, "
                    "tokens, or the reason it could not be loaded.")
    run.add_argument("paths", nargs="+", type=Path, metavar="PATH",
                     help="files or folders (folders are read recursively)")
    run.add_argument("--json", action="store_true",
                     help="print one JSON report on stdout instead of a table")
    run.add_argument("--config", type=Path, metavar="FILE",
                     help="TOML config file (default: ~/.config/extractor/config.toml)")
    fields = Settings.model_fields
    for name, flag, kind in (("model", "--model", str),
                             ("chunk_tokens", "--chunk-tokens", int),
                             ("overlap_tokens", "--overlap-tokens", int),
                             ("max_file_mb", "--max-file-mb", float),
                             ("pdf_timeout_s", "--pdf-timeout", float),
                             ("load_workers", "--workers", int)):
        run.add_argument(flag, dest=name, type=kind, default=None,
                         help=f"{fields[name].description} (default: {fields[name].default})")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script; returns the exit code."""
    parser = _parser()
    args = parser.parse_args(argv)
    err = Console(stderr=True, highlight=False, soft_wrap=True)
    if args.command is None:
        parser.print_help()
        return EXIT_USAGE
    try:
        return asyncio.run(_run(args, err))
    except KeyboardInterrupt:
        err.print("interrupted")
        return EXIT_INTERRUPTED
    except ConfigError as exc:
        err.print(Text(f"error: {exc}", style="red"))
        return EXIT_USAGE
    except ExtractorError as exc:
        err.print(Text(f"error: {exc}", style="red"))
        return EXIT_PARTIAL
    except Exception:  # noqa: BLE001 - last resort: a bug must not print a traceback at users
        log = Path(tempfile.gettempdir()) / f"extractor-crash-{int(time.time())}.log"
        log.write_text(traceback.format_exc(), encoding="utf-8")
        err.print(Text(f"internal error (a bug): details in {log}", style="red"))
        return EXIT_INTERNAL


async def _run(args: argparse.Namespace, err: Console) -> int:
    settings = load_settings(args.config, model=args.model, chunk_tokens=args.chunk_tokens,
                             overlap_tokens=args.overlap_tokens, max_file_mb=args.max_file_mb,
                             pdf_timeout_s=args.pdf_timeout_s,
                             load_workers=args.load_workers)
    chunker, resolved = make_chunker(settings.model, settings.chunk_tokens,
                                     settings.overlap_tokens)
    err.print(Text(f"tokenizer: {resolved.describe()}", style="dim"))
    options = LoadOptions(max_file_bytes=settings.max_file_bytes,
                          pdf_timeout_s=settings.pdf_timeout_s, workers=settings.load_workers)

    def progress(outcome: Document | DocumentError) -> None:
        if isinstance(outcome, DocumentError):
            err.print(Text.assemble(("✗ ", "red"), str(outcome.path), ": ", outcome.reason))

    started = time.perf_counter()
    result = await load_documents(args.paths, options, progress)
    chunked = await chunk_documents(result.documents, chunker, settings.load_workers)
    elapsed = time.perf_counter() - started
    for note in result.notes:
        err.print(Text(f"note: {note}", style="dim"))

    if args.json:
        print(json.dumps(_report(chunked, result.errors, resolved.describe(), settings),
                         ensure_ascii=False, indent=2))
    else:
        Console(highlight=False).print(_table(chunked))
    loaded, total = len(chunked), len(result.outcomes)
    err.print(f"loaded {loaded} of {total} file(s) in {elapsed:.2f} s; "
              f"{sum(len(c.chunks) for c in chunked)} chunk(s), "
              f"{sum(c.token_count for c in chunked):,} token(s)"
              + (f"; {len(result.errors)} could not be loaded" if result.errors else ""))
    if loaded == 0:
        return EXIT_USAGE
    return EXIT_PARTIAL if result.errors else EXIT_OK


def _table(chunked: list[ChunkedDocument]) -> Table:
    paths = [item.document.path.resolve() for item in chunked]
    common = Path(os.path.commonpath([p.parent for p in paths])) if paths else Path.cwd()
    table = Table(title=Text(f"Documents in {common}"), title_justify="left")
    with_notes = any(item.document.notes for item in chunked)
    table.add_column("file", overflow="fold", ratio=3)
    for header in ("pages", "chars", "chunks", "tokens"):
        table.add_column(header, justify="right", no_wrap=True)
    if with_notes:
        table.add_column("notes", overflow="fold", ratio=2)
    for item in chunked:
        doc = item.document
        cells: list[Text | str] = [
            Text(str(doc.path.resolve().relative_to(common))), str(doc.page_count),
            f"{len(doc.text):,}", str(len(item.chunks)), f"{item.token_count:,}"]
        if with_notes:
            cells.append(Text("; ".join(doc.notes)))
        table.add_row(*cells)
    return table


def _report(chunked: list[ChunkedDocument], errors: list[DocumentError], tokenizer: str,
            settings: Settings) -> dict[str, Any]:
    return {
        "tokenizer": tokenizer,
        "chunk_tokens": settings.chunk_tokens,
        "overlap_tokens": settings.overlap_tokens,
        "documents": [
            {"path": str(item.document.path), "kind": item.document.kind,
             "pages": item.document.page_count, "chars": len(item.document.text),
             "notes": list(item.document.notes),
             "chunks": [{"index": c.index, "tokens": c.token_count, "start": c.start,
                         "end": c.end, "pages": [c.page_start, c.page_end]}
                        for c in item.chunks]}
            for item in chunked],
        "errors": [{"path": str(e.path), "error": type(e).__name__, "reason": e.reason}
                   for e in errors],
    }
