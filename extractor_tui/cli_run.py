"""``extractor run``: the headless front end, a contract other tools script against.

It only turns flags into Settings and a FieldSet (``options.py``, as the app does), drives a ``Job`` (the same coordinator the
TUI uses), shows progress on stderr and writes the result where ``--output`` says. The
progress line is fed by the same ``RequestTracker`` the TUI shows, refreshed on a timer,
never per event. Results go to the file or stdout; progress, notes and the summary go to
stderr, so ``extractor run docs/ --preset invoice > out.json`` gives clean JSON.

Exit codes (README): 0 every chunk completed and every field valid · 1 results were written
but a document, chunk or field failed · 2 nothing could run (usage, schema, no readable
document, a fatal provider error before any result) · 70 a bug · 130 interrupted (Ctrl-C) ·
143 terminated (SIGTERM); both write what finished to --output first.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeRemainingColumn
from rich.text import Text

from extractor_tui.cli_batch import batch_printer
from extractor_tui.core.events import (
    CircuitClosed,
    CircuitOpened,
    Event,
    SamplingDropped,
    StructuredOutputChanged,
)
from extractor_tui.core.export import check_output, export
from extractor_tui.core.job import Job
from extractor_tui.core.job_plan import Plan
from extractor_tui.core.job_setup import prepare_sdk, prepare_tokenizer
from extractor_tui.core.model import ChunkStatus, ResultStatus
from extractor_tui.core.notices import LongWaits
from extractor_tui.core.report import exit_code
from extractor_tui.core.report import warm as warm_report
from extractor_tui.core.scrub import printable, redact_url
from extractor_tui.core.session import RunInfo, Session
from extractor_tui.core.steps import drop_async
from extractor_tui.core.tracker import RequestTracker, describe_failures
from extractor_tui.errors import ConfigError, DocumentError, OutputError, SessionWriteError
from extractor_tui.exits import EXIT_OK, EXIT_PARTIAL, EXIT_USAGE
from extractor_tui.heap import settle
from extractor_tui.options import fields_from, flag_warnings, settings_from

__all__ = ["Terminated", "prepare", "run_command"]

DEFAULT_BASE_URL = "https://api.openai.com/v1"


def prepare(args: argparse.Namespace) -> None:
    """What a run needs first, done before its event loop starts: the SDK's imports and TLS
    context (0.3-0.7 s), the tokenizer, the report's serialisers, and one full GC pass whose
    survivors are frozen out of the run's passes (``heap.settle``, 60-70 ms).

    On a thread beside the loop they still held it: building the tokenizer or a pydantic
    serialiser, or reading the CA bundle, is one native call that keeps the GIL (a 5 ms
    timer came back 60-80 ms late), and the GC pass ran on the loop. Before the loop there
    is nothing to hold up, and Ctrl-C is a plain KeyboardInterrupt. Settings that do not
    parse are left to ``run_command``, which says why."""
    try:
        settings = settings_from(args)
    except ConfigError:
        return
    if settings.resolved_provider != "offline":
        prepare_sdk()
    prepare_tokenizer(settings)
    warm_report()
    settle()


async def run_command(args: argparse.Namespace, err: Console) -> int:
    """The whole of ``extractor run``; returns the exit code."""
    if not args.paths:
        raise ConfigError("no documents: give at least one file or folder")
    for warning in flag_warnings(args):
        err.print(Text(f"warning: {warning}", style="yellow"))
    settings = settings_from(args)
    fields = fields_from(args)
    assert fields is not None
    output = args.output or "-"
    check_output(output)
    session = Session.open(args.session or ":memory:", lock="extractor run")
    before = session.run_info()  # how the session was made, before this run says otherwise
    tracker = RequestTracker()

    batches = batch_printer(err)  # only a --batch run has batch events to print
    waits = LongWaits()

    several = bool(settings.endpoints) and settings.resolved_provider == "openai"

    def sink(event: Event) -> None:
        tracker.apply(event)
        batches(event)
        if isinstance(event, StructuredOutputChanged):  # said once per move, as it happens
            named = f"{event.name}: " if several and event.name else ""
            err.print(Text(f"note: {printable(named + event.message)}", style="yellow"))
        elif several and isinstance(event, CircuitOpened) and event.out_of_service:
            err.print(Text(f"note: endpoint {printable(event.endpoint)} is out of service "
                           f"({printable(event.reason)}); its work goes to the others",
                           style="yellow"))
        elif several and isinstance(event, CircuitClosed) and event.endpoint:
            err.print(Text(f"note: endpoint {printable(event.endpoint)} answers again",
                           style="dim"))
        elif isinstance(event, SamplingDropped):
            err.print(Text(f"note: the server does not take {event.parameter}; sending "
                           f"without it ({printable(event.reason)})", style="yellow"))
        elif (notice := waits.notice(event)) is not None:  # on a terminal or not
            err.print(Text(printable(notice), style="yellow"))

    job = Job(settings, fields, session, sink=sink, defer_tokenizer=True)
    with _sigterm_cancels() as terminated:
        try:
            return await _run_job(job, args, err, tracker, output, before)
        except asyncio.CancelledError:
            if terminated.is_set():
                raise Terminated from None
            raise
        finally:
            await job.aclose()
            session.close()


class Terminated(Exception):
    """SIGTERM ended the run; what finished was kept and written (exit 143)."""


@contextmanager
def _sigterm_cancels() -> Iterator[asyncio.Event]:
    """SIGTERM (``kill``, ``timeout``, systemd) cancels the run as Ctrl-C does, so what
    finished is written to --output; the event says it was SIGTERM, for exit 143."""
    loop = asyncio.get_running_loop()
    task = asyncio.current_task()
    terminated = asyncio.Event()

    def on_sigterm() -> None:
        terminated.set()
        if task is not None:
            task.cancel()

    try:
        loop.add_signal_handler(signal.SIGTERM, on_sigterm)
    except (NotImplementedError, RuntimeError):  # Windows, or not the main thread
        yield terminated
        return
    try:
        yield terminated
    finally:
        loop.remove_signal_handler(signal.SIGTERM)


async def _run_job(job: Job, args: argparse.Namespace, err: Console, tracker: RequestTracker,
                   output: str, before: RunInfo | None) -> int:
    settle()  # the job and its client too (what ``prepare`` froze is not walked again)
    await job.load_tokenizer()  # read on a thread: the line below names it
    models = printable(job.settings.model)
    if job.verification.enabled:
        models += f" · verify model: {printable(job.verification.model)}"
    if not job.settings.stages.extract.enabled:
        models += " (extract stage off: only verifying)"
    err.print(Text(f"provider: {printable(_provider_label(job))} · model: {models} · "
                   f"tokenizer: {job.encoding.describe()}", style="dim"))
    if job.several and job.settings.base_url:
        err.print(Text("note: the base URL is not used: requests go to the config file's "
                       "[[endpoints]]", style="dim"))

    def on_outcome(outcome: object) -> None:
        if isinstance(outcome, DocumentError):
            err.print(Text.assemble(("✗ ", "red"), printable(outcome.path), ": ",
                                    printable(outcome.reason)))

    loaded = await job.add_paths(args.paths, on_outcome)
    skipped_files, notes = loaded.skipped, loaded.notes
    # The loaded texts are in the session now: not kept through the run (freeing 10,000 of
    # them when the command returned held the loop 30-70 ms, after the memory was held).
    del loaded
    for skipped in skipped_files:
        err.print(Text.assemble(("- ", "dim"), printable(skipped.path), ": ",
                                (f"skipped: {printable(skipped.reason)}", "dim")))
    for note in notes:
        err.print(Text(f"note: {printable(note)}", style="dim"))
    job.limit_to(job.named)  # this command's documents, whatever else the session holds
    urgent = list(getattr(args, "priority", []) or [])
    if urgent and not job.mark_urgent(urgent):
        err.print(Text("note: --priority named no document of this run", style="yellow"))
    plan = await job.plan_async()
    for line in _reuse_lines(job, plan, before):
        err.print(Text(f"session: {line}", style="dim"))
    batch = bool(getattr(args, "batch", False))
    err.print(Text(_plan_line(plan, batch)))
    if plan.urgent:
        err.print(Text(printable(
            f"order: {plan.urgent} urgent chunk(s) first ({', '.join(plan.urgent_documents)}), "
            f"then {plan.to_send - plan.urgent} other(s)")))
    if job.settings.max_cost_usd is not None:
        err.print(Text(job.cap_line(), style="dim"))
    if args.dry_run:
        return EXIT_OK if plan.documents else EXIT_USAGE
    if plan.documents == 0:
        err.print(Text("error: no document could be read", style="red"))
        _write(job, output, err, verified=args.verified_columns)
        return EXIT_USAGE
    started = time.perf_counter()
    with _progress(err) as progress:
        task = progress.add_task("chunks", total=max(1, plan.to_send), detail="")
        refresher = asyncio.create_task(_refresh(progress, task, tracker, job))
        try:
            result = await (job.run_batch() if batch else job.run())
        except asyncio.CancelledError:
            refresher.cancel()
            report = job.report()
            _write(job, output, err, report, verified=args.verified_columns)
            _summary(err, report, time.perf_counter() - started)
            _failures(err, tracker)
            err.print("interrupted: everything finished so far is kept"
                      + (f" in {printable(args.session)}" if args.session else ""))
            raise
        except SessionWriteError:
            # The answers the session holds still reach --output; the caller prints the
            # session's error as one line (exit 1), also when --output cannot be written.
            refresher.cancel()
            try:
                _write(job, output, err, job.report(), verified=args.verified_columns)
            except (ConfigError, OutputError) as exc:
                err.print(Text(f"error: {printable(exc)}", style="red"))
            raise
        finally:
            refresher.cancel()
            _update(progress, task, tracker, job)
    # In steps, and the file written on a thread: 10,000 documents held the loop 5 s here.
    report = await job.report_async()
    await asyncio.to_thread(_write, job, output, err, report, verified=args.verified_columns)
    # Rich renders the summary's lines in about 60 ms for 10,000 documents: on a thread too.
    await asyncio.to_thread(_summary, err, report, time.perf_counter() - started)
    _failures(err, tracker)
    code = exit_code(report)
    await drop_async(report["documents"])
    if batch and result.cancelled:
        err.print(Text("a batch was cancelled: what it answered is kept, the rest is back in "
                       "the queue; run the same command again to send it", style="yellow"))
    if result.budget:
        err.print(Text(printable(result.budget), style="yellow"))
        return EXIT_PARTIAL
    if result.fatal:
        err.print(Text(f"stopped: {printable(result.fatal)}", style="red"))
        if not any(o.status is ChunkStatus.COMPLETED for o in job.outcomes.values()):
            return EXIT_USAGE
    return code


def _reuse_lines(job: Job, plan: Plan, before: RunInfo | None) -> list[str]:
    """What a session that was used before gives this run, and what it does not."""
    if before is None:
        return []
    lines = []
    others = job.session.document_count() - len(job.named)
    if others:
        lines.append(f"{others} other document(s) in it are not part of this run and not in "
                     "its report")
    old, new = before.fields, job.fields
    if old.fingerprint() != new.fingerprint():
        lines.append(f"the fields differ from the session's ({printable(old.name)}: "
                     f"{', '.join(old.names)}; now {', '.join(new.names)}): no stored answer "
                     "fits them")
    elif before.model != job.settings.model:
        lines.append(f"its answers came from {printable(before.model)}, this run asks "
                     f"{printable(job.settings.model)}: none of them is reused")
    else:
        lines.append(f"{plan.cached} of {plan.chunks} chunk(s) answered from it; "
                     f"{plan.to_send} to send")
    return lines


def _plan_line(plan: Plan, batch: bool = False) -> str:
    cost = ("unknown cost (model not in the price table)" if plan.cost_usd is None
            else f"≈ ${plan.cost_usd:.4f} live, ${plan.batch_cost_usd or 0:.4f} with --batch"
            + (" (this run)" if batch else ""))
    if plan.provider == "offline" and plan.model_cost_usd is not None:
        cost = f"free offline; with {plan.model} ≈ ${plan.model_cost_usd:.4f}"
    failed = f" ({plan.failed_documents} unreadable)" if plan.failed_documents else ""
    waiting = f", {plan.in_batches} waiting in a batch" if plan.in_batches else ""
    line = (f"plan: {plan.documents} document(s){failed}, {plan.pages} page(s), "
            f"{plan.chunks} chunk(s), {plan.chunk_tokens:,} chunk tokens; to send: "
            f"{plan.to_send} request(s) ({plan.cached} answered from the session{waiting}), "
            f"≈ {plan.prompt_tokens:,} prompt + {plan.completion_tokens:,} completion "
            f"tokens, {cost}")
    for stage in plan.stages[1:]:
        price = ("unknown cost" if stage.cost_usd is None else f"≈ ${stage.cost_usd:.4f}")
        if plan.provider == "offline":
            price = "free offline"
        line += (f"; {stage.stage} with {stage.model}: {stage.requests} request(s) "
                 f"({stage.cached} answered from the session), ≈ {stage.prompt_tokens:,} "
                 f"prompt + {stage.completion_tokens:,} completion tokens, {price}"
                 + (" (estimated before extraction)" if stage.estimated else "")
                 + (f"; {stage.skipped} document(s) not verified: not extracted yet, and "
                    "the extract stage is off" if stage.skipped else ""))
    if len(plan.stages) > 1 and plan.provider != "offline":
        total = plan.total_cost_usd
        line += "; total " + ("unknown" if total is None else f"≈ ${total:.4f}")
    return line


def _progress(err: Console) -> Progress:
    return Progress(TextColumn("[progress.description]{task.description}"), BarColumn(),
                    TaskProgressColumn(), TextColumn("{task.completed:.0f}/{task.total:.0f}"),
                    TextColumn("{task.fields[detail]}"), TimeRemainingColumn(),
                    console=err, transient=False, disable=not err.is_terminal,
                    refresh_per_second=8)


async def _refresh(progress: Progress, task: Any, tracker: RequestTracker, job: Job) -> None:
    while True:
        _update(progress, task, tracker, job)
        await asyncio.sleep(0.2)


def _update(progress: Progress, task: Any, tracker: RequestTracker, job: Job) -> None:
    summary = tracker.summary(job.clock.now())
    cost = job.cost(summary.prompt_tokens, summary.completion_tokens)
    detail = (f"in flight {summary.in_flight}/{summary.limit} · retries "
              f"{sum(summary.retries.values())} · tokens "
              f"{summary.prompt_tokens + summary.completion_tokens:,} · "
              + ("cost ?" if cost is None else f"${cost:.4f}")
              + (" · cooling down" if summary.cooling_until else ""))
    progress.update(task, completed=summary.done, total=max(1, summary.total), detail=detail)


def _failures(err: Console, tracker: RequestTracker) -> None:
    """Why attempts failed, with counts: the first thing to read when a run went badly."""
    failures = tracker.failure_reasons()
    err.print(Text(f"failed attempts: {printable(describe_failures(failures))}",
                   style="yellow" if failures else "dim"))


def _write(job: Job, output: str, err: Console, report: dict[str, Any] | None = None, *,
           verified: bool = False) -> None:
    report = report if report is not None else job.report()
    export(report, output, verified_columns=verified)
    if output != "-":
        err.print(Text(f"wrote {output}", style="dim"))


def _provider_label(job: Job) -> str:
    if job.provider == "offline":
        return "offline (built-in heuristic provider, no LLM)"
    if job.several:
        names = ", ".join(endpoint.name for endpoint in job.engine.pool.endpoints)
        return f"{job.provider}, {len(job.engine.pool.endpoints)} endpoints: {names}"
    return f"{job.provider} {redact_url(job.settings.base_url or DEFAULT_BASE_URL)}"


def _endpoint_line(endpoint: dict[str, Any]) -> Text:
    """``endpoint fleet-a: 120 answers, 3× 429, 0 errors · closed · json_schema · limit
    20/20``: the same figures as the JSON ``summary.endpoints`` and the Run screen."""
    breaker = endpoint["breaker"] + (f" ({endpoint['reason']})" if endpoint["reason"] else "")
    line = (f"endpoint {endpoint['name']}: {endpoint['answers']} answers, "
            f"{endpoint['rate_limited']}× 429, {endpoint['errors']} errors · {breaker} · "
            f"{endpoint['mode']} · limit {endpoint['limit']}/{endpoint['maximum']}")
    return Text(printable(line), style="dim" if endpoint["breaker"] == "closed" else "yellow")


SUMMARY_LINES = 20
"""Documents listed one per line in the summary at most; past that, those that need a look
first, then counts (the JSON report has every document)."""


def _summary(err: Console, report: dict[str, Any], elapsed: float) -> None:
    summary = report["summary"]
    documents = report["documents"]
    shown = documents
    if len(documents) > SUMMARY_LINES:  # 10,000 lines on stderr took 6 s and said little
        shown = [doc for doc in documents if doc["status"] != ResultStatus.COMPLETE][:SUMMARY_LINES]
    for doc in shown:
        style = {"complete": "green", "partial": "yellow"}.get(doc["status"], "red")
        invalid = [name for name, f in doc["fields"].items() if not f["valid"]]
        detail = doc["error"] or (
            f"{doc['chunks']['completed']}/{doc['chunks']['total']} chunks"
            + (f", invalid: {', '.join(invalid)}" if invalid else ""))
        err.print(Text.assemble((f"{doc['status']:>8} ", style), printable(doc["path"]),
                                "  ", (printable(detail), "dim")))
    if len(shown) < len(documents):
        counts = Counter(doc["status"] for doc in documents)
        err.print(Text(f"… {len(documents) - len(shown):,} more document(s) not listed; in all "
                       + ", ".join(f"{n:,} {status}" for status, n in counts.most_common())
                       + " (every document is in the report)", style="dim"))
    skipped = report["skipped"]
    for entry in skipped[:SUMMARY_LINES]:
        err.print(Text.assemble((f"{'skipped':>8} ", "dim"), printable(entry["path"]), "  ",
                                (printable(entry["reason"]), "dim")))
    if len(skipped) > SUMMARY_LINES:
        err.print(Text(f"… {len(skipped) - SUMMARY_LINES:,} more skipped file(s) (see the "
                       "report's \"skipped\")", style="dim"))
    cost = summary["cost_usd"]
    err.print(Text(
        f"{summary['documents']} document(s), {summary['chunks']} chunk(s), "
        f"{summary['requests']} request(s), {summary['retries']} retries, "
        f"{summary['failed_chunks']} failed chunk(s); tokens {summary['prompt_tokens']:,} "
        f"prompt + {summary['completion_tokens']:,} completion"
        + (" (partly estimated: some answers came without usage)" if summary["tokens_estimated"]
           else "") + "; "
        + ("cost unknown" if cost is None else f"cost ${cost:.4f}")
        + f"; {elapsed:.1f} s; provider {summary['provider']}"))
    if len(summary["endpoints"]) > 1:
        for endpoint in summary["endpoints"]:
            err.print(_endpoint_line(endpoint))

