"""The command line's side of the Batch API hand-off: ``--batch``, its progress lines, and
``extractor batch status|cancel SESSION``.

* Progress is one line per change of a batch (status or counts) and one when its files are
  read, printed as plain lines, so they show in a log file or a CI job as on a terminal
  (the live progress bar is drawn only on a terminal).
* ``batch status`` and ``batch cancel`` open the session read-only, without its lock: they
  work from any terminal while a run polls (and writes) the same session. ``status`` shows
  what the session holds and, when the endpoint answers, what the provider says now;
  ``cancel`` asks the provider to cancel every batch still running; the run that waits on
  them (or the next one) collects what they finished and puts the rest back in the queue.
"""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from pathlib import Path

from rich.console import Console
from rich.text import Text

from extractor_tui.config import load_settings
from extractor_tui.core.batch import TERMINAL, BatchService, batch_service, describe
from extractor_tui.core.batch_store import StoredBatch
from extractor_tui.core.model import BatchState
from extractor_tui.core.events import BatchChanged, BatchCollected, Event
from extractor_tui.core.scrub import printable
from extractor_tui.core.session import Session
from extractor_tui.errors import ConfigError, ProviderError

__all__ = ["add_batch_arguments", "add_batch_command", "batch_command", "batch_printer"]


def add_batch_arguments(run: argparse.ArgumentParser) -> None:
    """``--batch``, ``--batch-fallback`` and ``--priority`` of ``extractor run``."""
    run.add_argument("--batch", action="store_true",
                     help="send the chunks through the provider's Batch API (half the price, "
                          "answers within 24 h); Ctrl-C and the same command again resumes")
    run.add_argument("--priority", action="append", default=[], type=Path, metavar="PATH",
                     help="a document, or a folder of them, to send first; repeat for more")
    run.add_argument("--batch-fallback", dest="batch_fallback", choices=("queue", "direct"),
                     default=None,
                     help="failed lines and expired or cancelled batches: into the next batch "
                          "(queue, the default) or sent live (direct)")


def add_batch_command(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    batch = sub.add_parser("batch", help="the Batch API batches of a session: status, cancel")
    batch.add_argument("action", choices=("status", "cancel"))
    batch.add_argument("session", type=Path, metavar="SESSION")
    batch.add_argument("--config", type=Path, metavar="FILE",
                       help="TOML config file (for the API key of the session's endpoint)")
    batch.add_argument("--debug", action="store_true", help="show tracebacks")


class batch_printer:  # noqa: N801 - used as a function: a sink, batch_printer(err)
    """A sink that prints a line whenever a batch changes or is collected."""

    def __init__(self, err: Console) -> None:
        self._err = err

    def __call__(self, event: Event) -> None:
        if isinstance(event, BatchChanged):
            line = f"batch {event.batch}: {describe(event)}"
            if event.message:
                line += f" ({event.message})"
            style = "red" if event.status in (BatchState.FAILED, BatchState.EXPIRED) else "dim"
            self._err.print(Text(printable(line), style=style))
        elif isinstance(event, BatchCollected):
            self._err.print(Text(printable(
                f"batch {event.batch}: read back: {event.answered} answered, {event.invalid} "
                f"to ask again, {event.failed} failed, {event.not_run} not run"), style="dim"))


async def batch_command(args: argparse.Namespace, err: Console) -> int:
    """``extractor batch status|cancel SESSION``; returns the exit code."""
    if not args.session.is_file():
        raise ConfigError(f"{args.session}: no such session file")
    session = Session.open(args.session, read_only=True)
    try:
        batches = session.batches.batches()
        info = session.run_info()
    finally:
        session.close()
    if not batches:
        err.print(f"{printable(args.session)}: no batch was sent from this session")
        return 0
    live = [b for b in batches if b.live and b.batch_id is not None]
    service = _service(args, info.base_url if info is not None else None) if live else None
    try:
        if args.action == "cancel":
            return await _cancel(live, service, err)
        for batch in batches:
            err.print(Text(printable(_status_line(batch))))
        if service is not None:
            for batch in live:
                try:
                    remote = await service.retrieve(batch.batch_id or "")
                except ProviderError as exc:
                    err.print(Text(f"the provider was not reached: {printable(exc)}",
                                   style="yellow"))
                    break
                err.print(Text(printable(
                    f"  now: {remote.id} {remote.status}: {remote.completed + remote.failed:,}"
                    f" of {remote.total or batch.requests:,} done"
                    + (f", {remote.failed:,} failed" if remote.failed else ""))))
        return 0
    finally:
        if service is not None:
            await service.aclose()


async def _cancel(live: list[StoredBatch], service: BatchService | None,
                  err: Console) -> int:
    running = [b for b in live if b.status not in TERMINAL]
    if service is None or not running:
        err.print("no batch of this session is running")
        return 0
    failed = 0
    for batch in running:
        try:
            remote = await service.cancel(batch.batch_id or "")
        except ProviderError as exc:
            failed += 1
            err.print(Text(printable(f"batch {batch.id} ({batch.batch_id}): not cancelled: "
                                     f"{exc}"), style="red"))
            continue
        err.print(Text(printable(f"batch {batch.id} ({remote.id}): {remote.status}")))
    err.print("what the batches finished is kept; the rest goes back to the queue when "
              "the run collects them (run the same extractor run --batch again if none "
              "is waiting)")
    return 1 if failed else 0


def _service(args: argparse.Namespace, base_url: str | None) -> BatchService:
    """The Batch API of the session's endpoint, with the key from the environment or the
    config file (a session never holds one)."""
    settings = load_settings(args.config, base_url=base_url)
    return batch_service(settings, timeout=min(30.0, settings.timeout_s))


def _status_line(batch: StoredBatch) -> str:
    age = _age(batch.created_at)
    state = "read back" if batch.collected else "waiting"
    line = f"batch {batch.id}: {describe(batch)} · {age} old · {state}"
    return line + (f" · {batch.message}" if batch.message else "")


def _age(iso: str) -> str:
    try:
        seconds = (datetime.now(UTC) - datetime.fromisoformat(iso)).total_seconds()
    except ValueError:
        return "?"
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"
