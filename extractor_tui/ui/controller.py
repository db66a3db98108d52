"""The app's one door to the engine: it owns the ``Job`` and runs slow work in workers.

Screens never load, call, merge or store anything (STYLE habits 2 and 3): they call a
method here, and this object runs the matching ``Job`` verb in a Textual worker that is
named and grouped, and exclusive where two at once make no sense (habit 6, after
harlequin). Every worker is started with ``exit_on_error=False``, so a failure reaches the
app's one error handler (``ExtractorApp.on_worker_state_changed``) as a notification, never
as a traceback. When work ends, a message naming the fact (``DocumentsChanged``,
``RunBegan``, ``RunEnded``, ``ValueEdited``, ``JobReplaced``) goes to the app, which tells
the views to redraw: attributes go down, messages go up.

Every ``Job`` call stays on the event loop's thread, in async workers: the session is
SQLite with its same-thread check on, and the Job already keeps its slow parts (PDF
parsing in worker processes, HTTP) off the loop. What screens read is bounded: counts,
pages of rows and single chunks (``Session``'s page reads), so a screen over 10,000
documents costs what it draws, not what the session holds.

Settings and fields are immutable inside a Job, so changing them builds a new Job on the
same session. The engine's events always go to the same ``EventBuffer``, so the Run screen
keeps showing every request across runs, retries and reconfigurations.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import SecretStr
from textual.app import App
from textual.message import Message
from textual.worker import Worker

from extractor_tui.config import Settings
from extractor_tui.core.batch_store import StoredBatch
from extractor_tui.core.clock import Clock, SystemClock
from extractor_tui.core.documents import Skipped
from extractor_tui.core.events import (
    BudgetReached,
    Event,
    SamplingDropped,
    StructuredOutputChanged,
)
from extractor_tui.core.export import export
from extractor_tui.core.fields import FieldSet
from extractor_tui.core.job import Job
from extractor_tui.core.job_plan import Plan
from extractor_tui.core.job_setup import endpoint_models, list_models
from extractor_tui.core.llm.base import Client
from extractor_tui.core.model import (
    ChunkId,
    ChunkOutcome,
    ChunkStatus,
    FieldResult,
    RunResult,
    WorkItem,
)
from extractor_tui.core.run_settings import needs_key, restore
from extractor_tui.core.session import (
    DocumentSummary,
    Session,
    StoredAttempt,
    StoredRequest,
    UnfinishedChunk,
)
from extractor_tui.core.session_lock import SessionLock
from extractor_tui.errors import ConfigError, ProviderError, SessionBusy
from extractor_tui.ui.dialogs.key import KeyDialog
from extractor_tui.ui.dialogs.plan import PlanDialog
from extractor_tui.ui.dialogs.raise_cap import RaiseCapDialog
from extractor_tui.ui.event_buffer import EventBuffer
from extractor_tui.ui.recent import RecentSessions
from extractor_tui.ui.widgets.literal import display_path

def _remove_files(path: Path) -> None:
    """A session file with the WAL files SQLite keeps beside it."""
    for suffix in ("-wal", "-shm", ""):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


__all__ = ["PLAN_AT_ONCE", "Controller", "DocumentsChanged", "JobReplaced", "RunBegan",
           "RunEnded", "ValueEdited"]

PLAN_AT_ONCE = 1000
"""Documents in the session up to which the run's plan is made at once (tens of ms), so
its dialog is up with the key; past it the plan is made in steps while the screen lives."""


@dataclass
class DocumentsChanged(Message):
    """Documents were added, removed or read again."""


@dataclass
class RunBegan(Message):
    """The engine started sending: a run, a resume or a retry."""

    label: str


@dataclass
class RunEnded(Message):
    """The engine stopped; ``result`` is None when the worker itself was stopped."""

    label: str
    result: RunResult | None


@dataclass
class ValueEdited(Message):
    """The user changed a field's value by hand (or marked chunks empty)."""

    doc_id: int | None


@dataclass
class JobReplaced(Message):
    """Settings, fields or the session changed: everything on screen is stale."""


class Controller:
    """Owns the Job (and through it the session); every slow verb runs in a worker."""

    def __init__(self, app: App[Any], settings: Settings, fields: FieldSet, session: Session,
                 recent: RecentSessions, *, client: Client | None = None,
                 clock: Clock | None = None, differences: Sequence[str] = (),
                 created: bool = False) -> None:
        self._app = app
        self._created: set[Path] = {session.path.resolve()} if created else set()
        """Session files this app made: one it leaves holding nothing is removed."""
        self.differences: tuple[str, ...] = tuple(differences)
        """Settings the user set that differ from how the session was made; the plan
        lists them before anything is sent."""
        self._client = client  # injected (tests): kept across reconfigurations
        self._asking_cap = False  # a RaiseCapDialog is open
        self.clock = clock or SystemClock()
        self.events = EventBuffer()
        self.recent = recent
        self.job = self._make_job(settings, fields, session)
        self._loading = 0
        self._load_lock = asyncio.Lock()
        self._closed = False
        recent.add(session.path)

    def _make_job(self, settings: Settings, fields: FieldSet, session: Session) -> Job:
        # The tokenizer waits until documents are added or a plan is asked for: the app
        # opens without reading a BPE file.
        job = Job(settings, fields, session, client=self._client, sink=self._on_event,
                  clock=self.clock, record_info=not session.read_only, defer_tokenizer=True)
        job.pause_at_cap = True  # at the cost cap the app asks (RaiseCapDialog)
        return job

    def _on_event(self, event: Event) -> None:
        """Every event goes to the buffer the Run screen drains; the few facts said at once
        are notified too: an endpoint's new mode, a sampling parameter it refused; the
        cost cap's question is asked."""
        self.events(event)
        if isinstance(event, StructuredOutputChanged):
            self._app.notify(event.message, title="Structured output", markup=False)
        elif isinstance(event, SamplingDropped):
            self._app.notify(f"The server does not take {event.parameter}; sending without "
                             "it.", title="Sampling", markup=False)
        elif isinstance(event, BudgetReached) and event.paused and not self._asking_cap:
            # Asked once: two requests in flight can both find the cap reached.
            self._asking_cap = True
            self._app.push_screen(RaiseCapDialog(event.spent, event.limit), self._cap_answer)

    def _cap_answer(self, cap: float | None) -> None:
        """A higher cap goes on at once; no answer stops the run (the rest stays queued)."""
        self._asking_cap = False
        if cap is None:
            self.cancel()
        else:
            self.job.raise_cap(cap)
            self._app.notify(f"Cost cap raised to ${cap:.4f}.", markup=False)

    # -- what the views read ------------------------------------------------------------------

    @property
    def settings(self) -> Settings:
        return self.job.settings

    @property
    def fields(self) -> FieldSet:
        return self.job.fields

    @property
    def session_path(self) -> Path:
        return self.job.session.path

    @property
    def running(self) -> bool:
        return self.job.engine.running

    @property
    def closed(self) -> bool:
        """True once ``shutdown`` began: the session may be closed, read nothing more."""
        return self._closed

    @property
    def loading(self) -> bool:
        return self._loading > 0

    def documents(self) -> list[DocumentSummary]:
        """Every document of the session, by path (ids change when one is read again).
        Screens ask for pages (``document_page``); this is the whole list."""
        return self.job.session.document_summaries(by_path=True)

    def document_count(self) -> int:
        return self.job.session.document_count()

    def document_page(self, offset: int, limit: int) -> list[DocumentSummary]:
        """Documents ``offset`` to ``offset + limit`` of ``documents()``, in one query."""
        return self.job.session.document_summaries(offset, limit, by_path=True)

    def document(self, doc_id: int) -> DocumentSummary | None:
        return self.job.session.document_summary(doc_id)

    def document_index(self, doc_id: int) -> int | None:
        """Where a document is in ``documents()``; None when it is not in the session."""
        return self.job.session.document_index(doc_id)

    def chunks(self, doc_id: int) -> list[WorkItem]:
        """One document's chunks with their text (its page preview)."""
        return self.job.session.work_items(doc_id)

    def skipped(self) -> list[Skipped]:
        """Files passed over while walking folders (other types, links to folders), by path."""
        return sorted(self.job.skipped.values(), key=lambda skipped: str(skipped.path))

    def forget_skipped(self, path: str) -> None:
        """Drop a skipped file from the list (it was never part of the session)."""
        if self.job.skipped.pop(path, None) is not None:
            self._app.post_message(DocumentsChanged())

    def outcomes(self, doc_id: int) -> list[ChunkOutcome]:
        return self.job.chunk_outcomes(doc_id)

    def unfinished_count(self) -> int:
        """Chunks with no answer whose last request failed or was cancelled."""
        return self.job.session.unfinished_count()

    def unfinished_page(self, offset: int, limit: int) -> list[UnfinishedChunk]:
        """Those chunks ``offset`` to ``offset + limit``, in (document, chunk) order."""
        return self.job.session.unfinished_page(offset, limit)

    def unfinished_ids(self) -> list[ChunkId]:
        return self.job.session.unfinished_ids()

    def unfinished_detail(self, chunk: ChunkId) -> StoredRequest | None:
        """One unfinished chunk in full: text, raw output, every call."""
        return self.job.session.stored_request(chunk)

    def attempts(self, chunk: ChunkId) -> list[StoredAttempt]:
        return self.job.session.attempts(chunk.doc, chunk.label)

    def chunk(self, doc_id: int, label: str) -> WorkItem | None:
        return self.job.session.work_item(doc_id, label)

    def results(self, doc_id: int) -> dict[str, FieldResult]:
        return self.job.results(doc_id)

    def plan(self) -> Plan:
        return self.job.plan()

    # -- the RunView's controls ---------------------------------------------------------------

    def pause(self) -> None:
        self.job.engine.pause()

    def resume(self) -> None:
        self.job.engine.resume()

    def cancel(self) -> None:
        """Stop the run; a Batch API run asks the provider to cancel its batches (what they
        finished is collected, the rest goes back in the queue)."""
        runner = self.job.batch_runner
        if runner is not None:
            self._work(runner.cancel(), name="cancel batches", group="cancel")
        else:
            self.job.engine.cancel()

    def batches(self) -> list[StoredBatch]:
        """The session's Batch API batches, oldest first."""
        return self.job.session.batches.batches()

    def set_concurrency(self, maximum: int) -> None:
        self.job.engine.set_concurrency(maximum)

    @property
    def concurrency(self) -> int:
        return self.job.engine.pool.maximum

    @property
    def endpoint_names(self) -> tuple[str, ...]:
        """The config file's ``[[endpoints]]`` the run goes to; none when it is one base URL."""
        return tuple(e.name for e in self.job.engine.pool.endpoints) if self.job.several \
            else ()

    @property
    def concurrency_cap(self) -> int:
        return self.job.engine.pool.maximum_cap

    @property
    def limit(self) -> int:
        return self.job.engine.pool.limit

    @property
    def in_flight(self) -> int:
        return self.job.engine.pool.in_flight

    def now(self) -> float:
        return self.clock.now()

    # -- workers ------------------------------------------------------------------------------

    def _work(self, work: Coroutine[Any, Any, object], name: str, group: str, *,
              exclusive: bool = False) -> Worker[object]:
        return self._app.run_worker(work, name=name, group=group, exclusive=exclusive,
                                    exit_on_error=False)

    def _idle(self, doing: str, *, loads_too: bool = False) -> bool:
        """True when nothing is running (or loading); else say why ``doing`` must wait."""
        if self.running:
            self._app.notify(f"A run is in progress: pause or cancel it on the Run screen "
                             f"before you {doing}.", severity="warning", markup=False)
            return False
        if loads_too and self.loading:
            self._app.notify(f"Documents are still loading; {doing} when they are in.",
                             severity="warning", markup=False)
            return False
        return True

    def add_paths(self, paths: Sequence[Path]) -> Worker[object]:
        """Load, chunk and register files and folders (a failed file keeps its reason)."""
        self._loading += 1
        # One spelling per file: typed relative paths, the tree's absolute ones and a folder
        # holding a file already added all name the same document, so it is listed once.
        absolute = [Path(os.path.abspath(Path(path).expanduser())) for path in paths]
        return self._work(self._add(absolute), name=f"load {len(paths)} path(s)",
                          group="load")

    async def _add(self, paths: list[Path], verb: str = "Added") -> None:
        try:
            async with self._load_lock:
                result = await self.job.add_paths(paths)
        finally:
            self._loading -= 1
            self._app.post_message(DocumentsChanged())
        failed = f", {len(result.errors)} could not be read (see their rows)" \
            if result.errors else ""
        if result.skipped:
            failed += f", {len(result.skipped)} other file(s) skipped"
        unchanged = f" ({len(result.unchanged)} unchanged since they were read)" \
            if result.unchanged else ""
        self._app.notify(f"{verb} {len(result.documents) + len(result.unchanged)} "
                         f"document(s){unchanged}{failed}.",
                         severity="warning" if result.errors else "information", markup=False)

    def remove_documents(self, doc_ids: Sequence[int]) -> None:
        if not self._idle("remove documents", loads_too=True):
            return
        for doc_id in doc_ids:
            self.job.remove_document(doc_id)
        self._app.post_message(DocumentsChanged())

    def request_run(self) -> None:
        """Show the plan (chunks, tokens, estimated cost) and run once the user confirms.
        A session of many documents has its plan made in steps (``Job.plan_async``): over
        10,000 documents it held the screen about 1 s; a smaller one's is shown at once."""
        if not self._idle("start a run", loads_too=True):
            return
        if self.job.session.document_count() <= PLAN_AT_ONCE:
            self._ask_to_run(self.plan())
            return

        async def planned() -> None:
            plan = await self.job.plan_async()
            if self._idle("start a run", loads_too=True):  # nothing began meanwhile
                self._ask_to_run(plan)

        self._work(planned(), name="plan", group="plan", exclusive=True)

    def _ask_to_run(self, plan: Plan) -> None:
        if plan.to_send == 0 and not any(stage.requests for stage in plan.stages[1:]):
            self._app.notify("Nothing to send: every chunk of every loaded document has an "
                             "answer. Add documents, or retry chunks on the Failed screen.")
            return

        def confirmed(how: str | None) -> None:
            if how is not None:
                self.run(batch=how == "batch")

        self._app.push_screen(PlanDialog(plan, self.differences), confirmed)

    def run(self, *, batch: bool = False) -> Worker[object] | None:
        """Send every pending chunk (``request_run`` shows the plan first); with ``batch``
        through the endpoint's Batch API (``Job.run_batch``)."""
        if not self._idle("start a run"):
            return None
        if batch:
            return self._work(self._send("Batch API run", self.job.run_batch),
                              name="batch run", group="run", exclusive=True)
        return self._work(self._send("run", self.job.run), name="run", group="run",
                          exclusive=True)

    def retry(self, chunks: Sequence[ChunkId], *, split: bool = False) -> Worker[object] | None:
        """Send chosen chunks again through the same engine (cut in two first if ``split``)."""
        if not chunks or not self._idle("retry"):
            return None
        wanted = list(chunks)
        label = f"{'split and retry' if split else 'retry'} {len(wanted)} chunk(s)"

        async def again() -> RunResult:
            return await self.job.retry(wanted, split=split)

        return self._work(self._send(label, again), name=label, group="run", exclusive=True)

    async def _send(self, label: str, start: Any) -> None:
        if self.job.engine.pool.paused:  # a run cancelled while paused left the gate shut
            self.job.engine.resume()
        self._app.post_message(RunBegan(label))
        result: RunResult | None = None
        try:
            result = await start()
        finally:
            self._app.post_message(RunEnded(label, result))

    def toggle_urgent(self, doc_ids: Sequence[int] = (), chunks: Sequence[ChunkId] = ()) -> bool:
        """Mark documents or chunks urgent (sent first), or unmark them when all of them
        already are; True when they are urgent now. Kept in the session."""
        docs, marked = self.job.session.urgent.get()
        already = (all(d in docs for d in doc_ids)
                   and all((c.doc, c.label) in marked for c in chunks))
        self.job.session.urgent.set(doc_ids, chunks, urgent=not already)
        return not already

    def urgent_documents(self) -> frozenset[int]:
        """The documents marked urgent."""
        return self.job.session.urgent.get()[0]

    def mark_empty(self, chunks: Sequence[ChunkId]) -> None:
        """Store an empty answer for chunks the user says hold nothing."""
        if chunks and self._idle("mark chunks empty"):
            self.job.mark_empty(list(chunks))
            self._app.post_message(ValueEdited(None))

    def edit(self, doc_id: int, field: str, value: object, *, by: str = "user") -> FieldResult:
        """Store a hand edit in the session; it is marked as an edit everywhere."""
        result = self.job.edit(doc_id, field, value, by=by)
        self._app.post_message(ValueEdited(doc_id))
        return result

    def export(self, path: Path) -> Worker[object]:
        return self._work(self._export(path), name=f"export {path.name}", group="export",
                          exclusive=True)

    async def _export(self, path: Path) -> None:
        # In steps, and written on a thread: 10,000 documents froze the screen for seconds.
        report = await self.job.report_async()
        await asyncio.to_thread(export, report, path)
        documents = len(report.get("documents", []))
        self._app.notify(f"Wrote {display_path(path)} ({documents} document(s)).",
                         markup=False)

    def test_connection(self, settings: Settings) -> Worker[object]:
        return self._work(self._test(settings), name="test connection", group="connection",
                          exclusive=True)

    async def _test(self, settings: Settings) -> None:
        if settings.resolved_provider == "offline":
            self._app.notify("The offline provider is built in (no LLM): there is nothing to "
                             "connect to.", markup=False)
            return
        if settings.endpoints:
            await self._test_endpoints(settings)
            return
        where = settings.base_url or "https://api.openai.com/v1"
        try:
            models = await list_models(settings)
        except ProviderError as exc:
            self._app.notify(f"{where}: {exc}", title="Connection failed", severity="error",
                             markup=False)
            return
        listed = "is listed" if settings.model in models else "is not listed"
        self._app.notify(f"{where} answered with {len(models)} model(s); {settings.model} "
                         f"{listed}.", title="Connection works", markup=False)

    async def _test_endpoints(self, settings: Settings) -> None:
        """Each of the config file's ``[[endpoints]]``, one line each: the base URL is not
        what a run with them uses."""
        try:
            answers = await endpoint_models(settings)
        except ConfigError as exc:  # a key variable that is not set
            self._app.notify(str(exc), title="Connection failed", severity="error",
                             markup=False)
            return
        lines, failed = [], 0
        for name, answer in answers:
            if isinstance(answer, ProviderError):
                failed += 1
                lines.append(f"{name}: {answer}")
                continue
            listed = "is listed" if settings.model in answer else "is not listed"
            lines.append(f"{name} answered with {len(answer)} model(s); {settings.model} "
                         f"{listed}.")
        title = (f"Connection failed for {failed} of {len(answers)} endpoints" if failed
                 else "Connection works")
        self._app.notify("\n".join(lines), title=title,
                         severity="error" if failed else "information", markup=False)

    # -- replacing the Job --------------------------------------------------------------------

    def apply(self, settings: Settings | None = None, fields: FieldSet | None = None) -> bool:
        """Use new settings and/or fields from now on; False when a run forbids it now."""
        if not self._idle("change settings or fields", loads_too=True):
            return False
        settings = settings or self.settings
        fields = fields or self.fields
        old = self.settings
        reread = (fields.fingerprint() != self.fields.fingerprint()
                  or (settings.model, settings.chunk_tokens, settings.overlap_tokens)
                  != (old.model, old.chunk_tokens, old.overlap_tokens))
        self._work(self._replace(settings, fields, self.job.session, reread),
                   name="apply settings", group="configure", exclusive=True)
        return True

    def new_session(self) -> None:
        """Switch to a fresh session file (removed again if nothing is added to it)."""
        path = self.recent.new_path()
        self._created.add(path.resolve())
        self.open_session(path)

    def _leave(self, session: Session) -> None:
        """Close a session the app no longer uses; one it made and left empty goes."""
        path = session.path.resolve()
        empty = path in self._created and session.stats().documents == 0
        session.close()
        if empty:
            _remove_files(path)
            self.recent.remove(path)

    def delete_session(self, path: Path) -> bool:
        """Delete a session file (not the one in use); False when refused."""
        if path.resolve() == self.session_path.resolve():
            self._app.notify("This is the session in use: open another before you delete "
                             "it.", severity="warning", markup=False)
            return False
        try:
            lock = SessionLock.acquire(path, "the app")  # not while another extractor writes
        except SessionBusy as busy:
            self._app.notify(str(busy), title="Not deleted", severity="error", markup=False)
            return False
        try:
            _remove_files(path)
        except OSError as exc:
            self._app.notify(f"{display_path(path)}: {exc.strerror or exc}",
                             title="Not deleted", severity="error", markup=False)
            return False
        finally:
            lock.release()
        self.recent.remove(path)
        self._app.notify(f"Deleted session {display_path(path)}.", markup=False)
        return True

    def rename_session(self, path: Path, name: str) -> Worker[object] | None:
        """Give a session file a new name in its folder (the one in use too)."""
        target = path.with_name(name if name.endswith(".sqlite") else f"{name}.sqlite")
        if target.exists():
            self._app.notify(f"{display_path(target)} exists already: choose another name.",
                             severity="warning", markup=False)
            return None
        current = path.resolve() == self.session_path.resolve()
        if current and not self._idle("rename the session", loads_too=True):
            return None
        if not current:
            try:  # not while another extractor writes it
                SessionLock.acquire(path, "the app").release()
            except SessionBusy as busy:
                self._app.notify(str(busy), title="Not renamed", severity="error",
                                 markup=False)
                return None
        return self._work(self._rename(path, target, current), name="rename session",
                          group="session", exclusive=True)

    async def _rename(self, path: Path, target: Path, current: bool) -> None:
        old = self.job
        if current:
            old.session.close()  # renamed closed: SQLite names its -wal and -shm by path
        for suffix in ("", "-wal", "-shm"):
            if Path(f"{path}{suffix}").exists():
                os.replace(f"{path}{suffix}", f"{target}{suffix}")
        self.recent.rename(path, target)
        if path.resolve() in self._created:
            self._created.add(target.resolve())
        if current:
            self.job = self._make_job(self.settings, self.fields,
                                      Session.open(target, lock="the app"))
            if self._client is None:
                await old.aclose()
        self._app.notify(f"Renamed to {display_path(target)}.", markup=False)
        self._app.post_message(JobReplaced())

    def open_session(self, path: Path, *, resume: bool = False) -> None:
        """Switch to another session file; with ``resume``, then offer to send what is left."""
        if self._idle("open another session", loads_too=True):
            self._work(self._open(path, resume), name=f"open {path.name}", group="session",
                       exclusive=True)

    async def _open(self, path: Path, resume: bool) -> None:
        session = Session.open(path, lock="the app")  # SessionBusy: said as any error
        info = session.run_info()
        fields = info.fields if info is not None else self.fields
        # The session's own settings come back whole (the key is the one in use: sessions
        # never hold one); nothing set this time competes, so there is nothing to report.
        settings, self.differences = restore(self.settings, info)
        await self._replace(settings, fields, session, reread=False)
        self.recent.add(path)
        self._app.notify(f"Opened session {display_path(path)}.", markup=False)
        self.ask_key(then=self.request_run if resume else None)

    def ask_key(self, then: Callable[[], None] | None = None) -> None:
        """When an HTTP provider has no key, ask for one (empty: the server needs none);
        then call ``then``. Escape leaves the settings as they are and calls nothing."""
        if not needs_key(self.settings):
            if then is not None:
                then()
            return
        where = self.settings.base_url or "https://api.openai.com/v1"

        def typed(key: str | None) -> None:
            if key is None:
                return
            if not key:
                if then is not None:
                    then()
                return
            settings = self.settings.model_copy(update={"api_key": SecretStr(key)})
            self._work(self._keyed(settings, then), name="apply key", group="configure",
                       exclusive=True)

        self._app.push_screen(KeyDialog(where), typed)

    async def _keyed(self, settings: Settings, then: Callable[[], None] | None) -> None:
        await self._replace(settings, self.fields, self.job.session, reread=False)
        if then is not None:
            then()

    async def _replace(self, settings: Settings, fields: FieldSet, session: Session,
                       reread: bool) -> None:
        old = self.job
        self.job = self._make_job(settings, fields, session)
        if old.session is session:
            self.job.skipped.update(old.skipped)
        if self._client is None:
            await old.aclose()
        if old.session is not session:
            self._leave(old.session)
        if reread:
            await self._reread()
        self._app.post_message(JobReplaced())

    async def _reread(self) -> None:
        """Chunk the loaded documents again for new fields, model or chunk sizes.

        ``Job.add_paths`` re-registers each document: chunks whose request key is unchanged
        keep their answers, the others are replaced, and hand edits stay.
        """
        loaded = [doc for doc in self.job.documents() if doc.error is None]
        if not loaded:
            return
        self._loading += 1
        await self._add([Path(doc.path) for doc in loaded], "Chunked again for the new settings:")

    async def shutdown(self) -> None:
        """Stop sending, let the run record what it finished, close the client and session."""
        if self._closed:
            return
        self._closed = True
        self.job.engine.cancel("the app was closed")
        for worker in [w for w in self._app.workers if w.group == "run"]:
            try:
                await asyncio.wait_for(worker.wait(), timeout=10)
            except Exception:  # noqa: BLE001 - the error handler has reported it already
                pass
        await self.job.aclose()
        self._leave(self.job.session)
