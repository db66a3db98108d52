"""One extraction session, coordinated: the single object both front ends drive.

``extractor run`` and the TUI never load, chunk, call, merge or store anything themselves:
they call a ``Job`` (STYLE habit 2, one engine and two front ends). A Job holds the
settings, the field set, the client, the session store and one ``Engine``, and offers the
verbs a user has: add or remove documents, plan (the dry run), run what is not done yet,
retry chosen chunks (as they are, or split), mark a chunk empty, edit or pick a value, and
build the report.

State lives in the session (SQLite), so a Job opened on an existing session file resumes:
chunks whose request key has a stored response are answered from it at no cost, and only the
rest are sent. Outcomes of this process's runs are kept in memory too, keyed by ChunkId, so
results are merged in a deterministic order whatever order the answers came in.

Stored outcomes are restored lazily, a document at a time, when its results or outcomes are
first asked for: parsing every stored answer when the Job opened took 2 s for 12,000 chunks,
before the app could draw anything (issue 14).
"""

from __future__ import annotations

import asyncio
import functools
import json
import random
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Concatenate, ParamSpec, TypeVar
from urllib.parse import urlsplit

from chunking import Chunk, Chunker, ResolvedEncoding
from extractor_tui.config import Settings
from extractor_tui.core.chunks import chunk_documents, make_chunker
from extractor_tui.core.clock import Clock, SystemClock
from extractor_tui.core.endpoint_board import EndpointBoard
from extractor_tui.core.endpoint_setup import endpoint_specs
from extractor_tui.core.endpoints import EndpointSpec
from extractor_tui.core.documents import (
    Document,
    LoadOptions,
    LoadResult,
    Skipped,
    load_documents,
)
from extractor_tui.core.batch import BatchRunner
from extractor_tui.core.engine import Engine, EngineConfig
from extractor_tui.core.events import (
    AttemptFinished,
    AttemptStarted,
    ChunkCompleted,
    ChunkRetrying,
    ChunkSplit,
    Event,
    RequestPlanned,
    Sink,
    StructuredOutputChanged,
)
from extractor_tui.core.fields import FieldSet
from extractor_tui.core.llm.base import Client
from extractor_tui.core.llm.cache import CachingClient
from extractor_tui.core.merge import merge_document
from extractor_tui.core.model import (
    ChunkId,
    ChunkOutcome,
    ChunkStatus,
    FieldResult,
    FileStamp,
    RunResult,
    StageStatus,
    Usage,
    WorkItem,
)
from extractor_tui.core.pricing import cost_usd
from extractor_tui.core.readout import (
    basis_of,
    document_outcomes,
    extract_status,
    finished,
    merged_results,
    stored_outcomes,
)
from extractor_tui.core.llm.offline import MESSAGE_TOKENS, REPLY_TOKENS, offline_answer
from extractor_tui.core.prompts import (
    answer_schema,
    answer_token_cap,
    build_messages,
    chunk_key,
    document_digest,
)
from extractor_tui.core.stage_plan import StagePlan
from extractor_tui.core.stages import ExtractStage
from extractor_tui.core.verification import Verification
from extractor_tui.core.structured import Mode
from extractor_tui.core.report import (
    BatchBilling,
    DocumentReport,
    RunSummary,
    StageSpend,
    assemble_report,
    document_json,
    document_report,
    failed_document,
)
from extractor_tui.core._session_schema import redact_url
from extractor_tui.core.job_plan import DocumentEntry, Plan
from extractor_tui.core.job_setup import MODES_META, engine_config, make_client, negotiated_modes
from extractor_tui.core.job_spend import JobSpending
from extractor_tui.core.run_settings import session_settings
from extractor_tui.core.session import PAGE, ReusableChunk, Session, StoredDocument
from extractor_tui.core.steps import Steps, finish, finish_async
from extractor_tui.heap import KEEP_EVERY, keep
from extractor_tui.errors import DocumentError, SessionWriteError

__all__ = ["Job"]

# The dry-run estimate of the answers' size reads at most this many pending chunks (spread
# evenly) with the built-in extractor and scales up: under a millisecond each.
_ESTIMATE_SAMPLE = 256


def _planned(item: WorkItem, at: float) -> RequestPlanned:
    return RequestPlanned(item.id, item.document, item.pages, item.tokens, at,
                          (item.start, item.end), item.key)


_STORE_PAGE = 50
"""Documents a step of a pass that writes merges and writes (about 10 ms of the loop)."""

_P = ParamSpec("_P")
_R = TypeVar("_R")


def _bulk_reads(method: Callable[Concatenate[Job, _P], _R]) -> Callable[Concatenate[Job, _P], _R]:
    """Run a method that reads every document's chunks or edits, one at a time, inside
    ``Session.bulk_reads``: one query for all of them instead of one per document."""
    @functools.wraps(method)
    def wrapper(self: Job, /, *args: _P.args, **kwargs: _P.kwargs) -> _R:
        with self.session.bulk_reads():
            return method(self, *args, **kwargs)
    return wrapper

def _bulk_steps(method: Callable[Concatenate[Job, _P], Steps[_R]]
                ) -> Callable[Concatenate[Job, _P], Steps[_R]]:
    """``_bulk_reads`` for a pass run in steps (``steps.py``): the one read serves every
    step, until a write of chunks, edits or stage requests (this pass's or another task's
    between two steps) drops it."""
    @functools.wraps(method)
    def wrapper(self: Job, /, *args: _P.args, **kwargs: _P.kwargs) -> Steps[_R]:
        with self.session.bulk_reads():
            return (yield from method(self, *args, **kwargs))
    return wrapper


_Stamp = tuple[int, int, int]
"""What a document's merged results depend on (``Job._stamp``)."""


class Job(JobSpending):
    """Documents, fields, settings, client, session and engine for one extraction."""

    def __init__(self, settings: Settings, fields: FieldSet, session: Session, *,
                 client: Client | None = None, sink: Sink | None = None,
                 clock: Clock | None = None, rng: random.Random | None = None,
                 record_info: bool = True, defer_tokenizer: bool = False) -> None:
        """``defer_tokenizer``: resolve the model's encoding when first needed (adding
        documents does it on a thread), not now. Reading a BPE file takes 0.3-1 s and holds
        the interpreter for most of it even on a thread, so the app opens without it."""
        self.settings = settings
        self.fields = fields
        self.session = session
        self._sinks: list[Sink] = [session.record]
        self._inner: Client | None = None  # the one endpoint's client, without the cache
        if sink is not None:
            self._sinks.append(sink)
        self.clock = clock or SystemClock()
        self._tokenizer: tuple[Chunker, ResolvedEncoding] | None = None
        self._tokenizer_lock = threading.Lock()  # a thread may be resolving it meanwhile
        if not defer_tokenizer:
            self._resolve_tokenizer()
        endpoints, config = self._endpoints(client)
        # A stage's endpoint names one of the [[endpoints]]: with none (one endpoint, or
        # offline) there is nothing to name and every stage goes to the one there is.
        routed = isinstance(endpoints, list)
        extract = ExtractStage(fields, settings.model, settings.extract_sampling(),
                               max_tokens=settings.max_output_tokens
                               or answer_token_cap(fields, settings.model),
                               endpoint=settings.stages.extract.endpoint if routed else None)
        self.verification = Verification(settings, fields, session, self.count_tokens,
                                         routed=routed)
        self.engine = Engine(endpoints, fields, model=settings.model, config=config,
                             sink=self._emit, clock=self.clock, rng=rng,
                             count_tokens=self.count_tokens,
                             stages=[extract, self.verification.stage])
        self.endpoints = EndpointBoard()  # each endpoint's health, for the report
        self.endpoints.declare(self.engine.endpoint_info())
        self.outcomes: dict[ChunkId, ChunkOutcome] = {}
        """This process's outcomes, and the stored ones restored so far: a document's on
        first use (``chunk_outcomes``, ``results``), every document's by ``report()``."""
        self._restored: set[int] = set()  # documents whose stored outcomes are in outcomes
        self._restored_all = False
        self._events = 0  # emitted: every ``KEEP_EVERY`` the heap is kept (``heap.py``)
        self._epoch = 0  # grows whenever an outcome is replaced (not when a gap is filled)
        self._memo: tuple[_Stamp, dict[int, dict[str, FieldResult]]] | None = None
        """The results ``_store_steps`` computed and stored last, each handed out once
        while nothing they rest on has changed: the report at the end of a run merged every
        document again."""
        self.requests = 0
        self.requests_by_stage: dict[str, int] = {}
        self.retries = 0
        self.elapsed = 0.0
        self.last_run: RunResult | None = None
        self.batch_runner: BatchRunner | None = None  # while run_batch waits on batches
        self.pause_at_cap = False  # the app: a run at --max-cost pauses and asks
        self._answered_now: dict[ChunkId, ChunkCompleted] = {}  # answers of the current run
        # (document id, stage) → what its calls cost in this job
        self._spent: dict[tuple[int, str], Usage] = {}
        self._spent_batch: dict[int, Usage] = {}  # … its Batch API lines (the batch price)
        self.batch_answers = 0  # Batch API lines that came back with an answer, this job
        # Files skipped while walking folders (other types, links to folders): shown and
        # reported, never stored, as they are no part of the session.
        self.skipped: dict[str, Skipped] = {}
        # The documents add_paths registered, and, once limit_to() is called, the only ones
        # planned, sent and reported (a session may hold others, from earlier commands).
        self.named: dict[int, None] = {}
        self.scope: frozenset[int] | None = None
        if record_info:
            session.set_run_info(fields=fields, model=settings.model, provider=self.provider,
                                 base_url=None if self.several else settings.base_url,
                                 settings=session_settings(settings))

    def _endpoints(self, client: Client | None
                   ) -> tuple[Client | list[EndpointSpec], EngineConfig]:
        """The engine's endpoints: the config file's ``[[endpoints]]``, else the one client
        (given, or the one the settings ask for, kept as ``_inner`` for the Batch API);
        each answers from the session's cache."""
        settings, session = self.settings, self.session
        modes = negotiated_modes(session)
        if client is None and settings.endpoints and settings.resolved_provider == "openai":
            specs = endpoint_specs(settings, modes=modes,
                                   wrap=lambda inner: CachingClient(inner, session))
            return specs, engine_config(settings)
        self._inner = client or make_client(settings)
        cached = CachingClient(self._inner, session)
        return cached, engine_config(settings, modes.get(redact_url(cached.endpoint)))

    def _resolve_tokenizer(self) -> tuple[Chunker, ResolvedEncoding]:
        with self._tokenizer_lock:
            if self._tokenizer is None:
                self._tokenizer = make_chunker(self.settings.model, self.settings.chunk_tokens,
                                               self.settings.overlap_tokens)
            return self._tokenizer

    async def load_tokenizer(self) -> None:
        """Resolve the encoding on a thread if it is not yet (``defer_tokenizer``)."""
        if self._tokenizer is None:
            await asyncio.to_thread(self._resolve_tokenizer)

    @property
    def chunker(self) -> Chunker:
        return self._resolve_tokenizer()[0]

    @property
    def encoding(self) -> ResolvedEncoding:
        """The model's encoding and how it was found (``describe()``)."""
        return self._resolve_tokenizer()[1]

    def count_tokens(self, text: str) -> int:
        return len(self.encoding.encoding.encode_ordinary(text))

    @property
    def provider(self) -> str:
        return self.engine.provider

    @property
    def several(self) -> bool:
        """Requests go to the config file's ``[[endpoints]]`` (not to ``base_url``)."""
        return len(self.engine.pool.endpoints) > 1 or bool(
            self.settings.endpoints and self.provider != "offline")

    def _emit(self, event: Event) -> None:
        self._events += 1
        if self._events % KEEP_EVERY == 0:
            keep()
        self.endpoints.apply(event)
        if isinstance(event, AttemptStarted):
            self.requests += 1
            stage = event.id.stage
            self.requests_by_stage[stage] = self.requests_by_stage.get(stage, 0) + 1
        elif isinstance(event, AttemptFinished) and not event.cached:
            used = Usage(event.prompt_tokens, event.completion_tokens, event.tokens_estimated)
            if event.batch:
                self._spent_batch[event.id.doc] = self._spent_batch.get(
                    event.id.doc, Usage()) + used
                self.batch_answers += 1
            else:
                where = (event.id.doc, event.id.stage)
                self._spent[where] = self._spent.get(where, Usage()) + used
        elif isinstance(event, ChunkCompleted) and not event.cached:
            self._answered_now[event.id] = event
        elif isinstance(event, ChunkRetrying):
            self.retries += 1
        elif isinstance(event, StructuredOutputChanged):
            # Kept, so a resumed run starts in the mode this endpoint takes.
            modes = negotiated_modes(self.session)
            modes[redact_url(event.endpoint)] = event.mode
            self.session.set_meta(MODES_META, json.dumps(modes))
        for sink in self._sinks:
            sink(event)

    # -- documents ---------------------------------------------------------------------------

    async def add_paths(self, paths: Sequence[Path | str],
                        on_outcome: Callable[[Document | DocumentError], None] | None = None
                        ) -> LoadResult:
        """Load, chunk and register files and folders; a failed file is kept with its reason."""
        options = LoadOptions(max_file_bytes=self.settings.max_file_bytes,
                              pdf_timeout_s=self.settings.pdf_timeout_s,
                              workers=self.settings.load_workers)
        await self.load_tokenizer()
        result = await load_documents([Path(p) for p in paths], options, on_outcome,
                                      reuse=await self._reuse_check())
        chunked = await chunk_documents(result.documents, self.chunker,
                                        self.settings.load_workers)
        for entry in chunked:
            doc_id = await self._register(entry.document, entry.chunks)
            self.named[doc_id] = None
            if entry.document.stamp is not None:
                self.session.set_file_stamp(doc_id, entry.document.stamp, self._chunking)
        for error in result.errors:
            self.named[self.session.add_failed_document(str(error.path), error.reason)] = None
        if result.unchanged:  # registered as they are: named all the same
            wanted = {str(path) for path in result.unchanged}
            known: dict[str, int] = {}
            for page in self.session.document_pages():  # a page a step, as plan()
                known.update((doc.path, doc.id) for doc in page if doc.path in wanted)
                await asyncio.sleep(0)
            self.named.update((known[str(path)], None) for path in result.unchanged
                              if str(path) in known)
        for skipped in result.skipped:
            self.skipped[str(skipped.path)] = skipped
        return result

    @property
    def _chunking(self) -> str:
        """What decides where chunks fall: the same file chunked the same way gives the same
        spans."""
        return json.dumps([self.settings.chunk_tokens, self.settings.overlap_tokens,
                           self.encoding.name])

    def _key(self, text_sha256: str, start: int, end: int) -> str:
        """The request key of a chunk of this job (one definition for registering a file
        and for telling whether a stored one is still current)."""
        return chunk_key(text_sha256, start, end, self.fields, self.settings.model,
                         self.settings.structured_output, self.settings.extract_sampling())

    async def _reuse_check(self) -> Callable[[Path, FileStamp], bool]:
        """Whether a file is registered as it is now: same size and mtime, chunked the same
        way, and its first chunk's request key unchanged (same fields, model and mode), so
        neither reading nor chunking it again could change anything. What the session
        knows is read a page at a time (10,000 files at once held the loop 150 ms)."""
        known: dict[str, tuple[FileStamp, str, ReusableChunk]] = {}
        for page in self.session.reusable_pages():
            known.update(page)
            await asyncio.sleep(0)
        chunking = self._chunking

        def reusable(path: Path, stamp: FileStamp) -> bool:
            entry = known.get(str(path))
            if entry is None:
                return False
            stored, stored_chunking, first = entry
            return (stored == stamp and stored_chunking == chunking
                    and self._key(first.text_sha256, first.start, first.end) == first.key)

        return reusable

    async def _register(self, document: Document, chunks: Sequence[Chunk]) -> int:
        """Store a loaded document and its chunks. The heavy parts (hashing the text, one key
        per chunk, writing the chunks) run off the event loop: for a 50 MB file they took
        the loop about 2 s."""
        text_sha = await asyncio.to_thread(document_digest, document.text)
        doc_id = self.session.add_document(str(document.path), pages=document.page_count,
                                           page_starts=document.page_starts,
                                           text_sha256=text_sha, notes=document.notes)
        # Always hand the session the whole chunk list: it keeps every chunk whose request key
        # is unchanged (with its halves, history and answer) and replaces the rest, so new
        # fields, model or chunk sizes take effect while edits and the cache survive.
        items = await asyncio.to_thread(self._work_items, document, chunks, doc_id, text_sha)
        await self.session.add_chunks_aside(doc_id, items)
        self._forget_restored(doc_id)  # chunks may have changed: restore again when asked
        return doc_id

    def _work_items(self, document: Document, chunks: Sequence[Chunk], doc_id: int,
                    text_sha: str) -> list[WorkItem]:
        return [WorkItem(ChunkId(doc_id, chunk.index), str(document.path), chunk.text,
                         chunk.start, chunk.end, document.page_starts, chunk.token_count,
                         self._key(text_sha, chunk.start, chunk.end))
                for chunk in chunks]

    def remove_document(self, doc_id: int) -> None:
        self.session.remove_document(doc_id)
        for chunk in [c for c in self.outcomes if c.doc == doc_id]:
            del self.outcomes[chunk]
        self._epoch += 1
        self._forget_restored(doc_id)

    def limit_to(self, doc_ids: Iterable[int]) -> None:
        """Plan, send and report only these documents (``extractor run``: the ones named on
        its command line), whatever else the session holds."""
        self.scope = frozenset(doc_ids)

    @_bulk_reads
    def documents(self) -> list[DocumentEntry]:
        """The session's documents (those in ``scope`` when it is set), in session order."""
        entries = []
        for stored in self.session.documents():
            if self.scope is not None and stored.id not in self.scope:
                continue
            items = tuple(self.session.work_items(stored.id)) if stored.error is None else ()
            entries.append(DocumentEntry(stored.id, stored.path, stored.pages, stored.error,
                                         items, tuple(stored.notes)))
        return entries

    def _stored_pages(self) -> Iterator[list[StoredDocument]]:
        """The session's documents in scope, a page at a time (none empty)."""
        for stored in self.session.document_pages(_STORE_PAGE):
            page = [doc for doc in stored if self.scope is None or doc.id in self.scope]
            if page:
                yield page

    def _document_pages(self) -> Iterator[list[DocumentEntry]]:
        """``documents()`` a page at a time, each page's chunks read when it comes (inside
        ``bulk_reads``): for passes in steps, which must not read every chunk at once."""
        for page in self._stored_pages():
            self.session.prefetch_items([doc.id for doc in page if doc.error is None])
            yield [DocumentEntry(doc.id, doc.path, doc.pages, doc.error,
                                 tuple(self.session.work_items(doc.id))
                                 if doc.error is None else (), tuple(doc.notes))
                   for doc in page]

    # -- plan and run ------------------------------------------------------------------------

    def pending(self) -> list[WorkItem]:
        """Chunks with no answer yet, less those waiting in a batch already submitted:
        sending them now would pay for them twice."""
        return finish(self._pending_steps())[1]

    def _pending_steps(self) -> Steps[tuple[list[WorkItem], list[WorkItem]]]:
        """The chunks in scope with no answer yet, a page of documents a step; and those
        of them not waiting in a batch (``pending``)."""
        busy = self.session.batches.live_keys()
        waiting: list[WorkItem] = []
        for page in self._stored_pages():
            waiting += self.session.pending_items([doc.id for doc in page])
            yield
        return waiting, [item for item in waiting if item.key not in busy]

    def plan(self) -> Plan:
        """Documents, pages, chunks, tokens and the estimated cost of sending what is pending."""
        return finish(self._plan_steps())

    async def plan_async(self) -> Plan:
        """``plan`` in steps: 10,000 documents held the loop about 1 s."""
        return await finish_async(self._plan_steps())

    @_bulk_steps
    def _plan_steps(self) -> Steps[Plan]:
        docs: list[DocumentEntry] = []
        for page in self._document_pages():
            docs += page
            yield
        loaded = [d for d in docs if d.error is None]
        waiting, pending = yield from self._pending_steps()
        if not self.settings.stages.extract.enabled:
            pending = []
        overhead = self._prompt_overhead()
        prompt = sum(item.tokens + overhead for item in pending)
        completion = yield from self._completion_steps(pending)
        all_items = [item for d in loaded for item in d.items]
        extract = StagePlan("extract", self.settings.model, len(pending),
                            len(all_items) - len(waiting), prompt, completion,
                            self.cost(prompt, completion))
        stages = ((extract, self._verify_plan(loaded)) if self.verification.enabled
                  else (extract,))
        return Plan(
            documents=len(loaded), failed_documents=len(docs) - len(loaded),
            pages=sum(d.pages for d in loaded), chunks=len(all_items), to_send=len(pending),
            cached=len(all_items) - len(waiting), chunk_tokens=sum(i.tokens for i in all_items),
            prompt_tokens=prompt, completion_tokens=completion,
            cost_usd=cost_usd(self.settings.model, prompt, completion, provider=self.provider,
                              overrides=self.settings.prices),
            provider=self.provider, model=self.settings.model,
            tokenizer=self.encoding.describe(),
            model_cost_usd=cost_usd(self.settings.model, prompt, completion,
                                    provider="openai", overrides=self.settings.prices),
            batch_cost_usd=cost_usd(self.settings.model, prompt, completion,
                                    provider=self.provider, overrides=self.settings.prices,
                                    batch=True),
            in_batches=len(waiting) - len(pending), stages=stages, **self._order(pending))

    def _order(self, pending: list[WorkItem]) -> dict[str, Any]:
        """What goes first: the urgent chunks, and the documents they are in."""
        is_urgent = self.urgency()
        urgent = [item for item in pending if is_urgent is not None and is_urgent(item)]
        return {"urgent": len(urgent),
                "urgent_documents": tuple(dict.fromkeys(item.document for item in urgent))}

    def _verify_plan(self, loaded: Sequence[DocumentEntry]) -> StagePlan:
        self._restore(None)  # every document's outcomes are read: one pass, not one each
        documents = [(d.doc_id, d.path, d.items, self._finished(d)) for d in loaded]
        return self.verification.plan(
            documents, self._extract_results,
            self.engine.primary("verify").negotiation.mode,
            extracting=self.settings.stages.extract.enabled,
            cost=lambda prompt, completion: self.cost(prompt, completion, stage="verify"))

    def _prompt_overhead(self) -> int:
        """Tokens a request adds to its chunk's: the messages around it, in the endpoint's
        mode, with the chat format's own tokens as servers count them. The schema counts
        only where it is in the prompt: written there (``json_object``, ``prompt``), or on
        OpenAI's own endpoint, which bills a ``json_schema`` or a tool's parameters as
        prompt; local servers turn it into a grammar. Counting it everywhere put the
        estimate 64 % over on the invoices (14,491 prompt tokens for 8,828)."""
        encode = self.encoding.encoding.encode_ordinary
        mode = self.engine.primary("extract").negotiation.mode
        messages = build_messages(self.fields, "", mode)
        tokens = sum(len(encode(m["content"])) + MESSAGE_TOKENS for m in messages) \
            + REPLY_TOKENS
        if mode in (Mode.JSON_SCHEMA, Mode.TOOLS) and self._openai_endpoint():
            tokens += len(encode(json.dumps(answer_schema(self.fields))))
        return tokens

    def _openai_endpoint(self) -> bool:
        if self.provider == "offline":
            return False
        primary = self.engine.primary("extract")
        return urlsplit(primary.client.endpoint).hostname == "api.openai.com"

    def _completion_steps(self, pending: Sequence[WorkItem]) -> Steps[int]:
        """The answers' tokens: what the built-in extractor finds in the pending chunks,
        values and quotes in the answer's JSON. A field count times a constant missed by a
        factor of 4 between contracts (mostly empty answers) and discharge summaries (long
        lists); the values actually in the text do not."""
        if not pending:
            return 0
        step = max(1, -(-len(pending) // _ESTIMATE_SAMPLE))
        sample = pending[::step]
        encode = self.encoding.encoding.encode_ordinary
        tokens = 0
        for item in sample:
            tokens += len(encode(offline_answer(item.text, self.fields)))
            yield
        return round(tokens * len(pending) / len(sample))

    async def run(self, only: Sequence[ChunkId] | None = None) -> RunResult:
        """Run the enabled stages: every pending chunk, then the verify requests of every
        document whose extract stage has finished (or just ``only``, of either stage).
        Stored answers cost no call, so when every stage is done nothing is sent."""
        if only is not None:
            return await self._send(self._chosen(only))
        results: list[RunResult] = []
        if self.settings.stages.extract.enabled:
            results.append(await self._send((await finish_async(self._pending_steps()))[1]))
            await finish_async(self._extract_status_steps())
        if self.verification.enabled and not any(r.fatal or r.budget for r in results):
            pending = self._verify_pending()
            if pending or not results:
                results.append(await self._send(pending))
        return RunResult.joined(results)

    def _finished(self, doc: DocumentEntry) -> list[WorkItem] | None:
        return finished(doc.items, self.chunk_outcomes(doc.doc_id))

    @_bulk_steps
    def _extract_status_steps(self) -> Steps[None]:
        """Keep where every document's extract stage stands, a page of documents a step."""
        for page in self._document_pages():
            self._restore([doc.doc_id for doc in page])
            rows = []
            for doc in page:
                if doc.error is None:
                    outcomes = self.chunk_outcomes(doc.doc_id)
                    rows.append((doc.doc_id, "extract", extract_status(doc.items, outcomes),
                                 self.settings.model, basis_of(self._finished(doc) or ())))
            self.session.stages.set_statuses(rows)
            yield

    def _verify_pending(self) -> list[WorkItem]:
        """The verify requests of every finished document not answered yet."""
        pending: list[WorkItem] = []
        self._restore(None)  # every document's outcomes are read: one pass, not one each
        for doc in self.documents():
            answered = self._finished(doc) if doc.error is None else None
            if answered is not None:
                pending += self.verification.prepare(doc.doc_id, doc.path,
                                                     self._extract_results(doc.doc_id),
                                                     answered)
        return pending

    async def retry(self, chunks: Sequence[ChunkId], *, split: bool = False) -> RunResult:
        """Send chosen chunks again; ``split`` first cuts each in two at a good boundary."""
        if not split:
            return await self.run(chunks)
        halves: list[WorkItem] = []
        for item in self._chosen(chunks):
            pair = (self.engine.split_item(item, force=True) if item.id.stage == "extract"
                    else None)
            if pair is None:
                halves.append(item)
                continue
            # An event, not a direct write: the session stores the halves from it, and the
            # Run screen's tracker marks the parent split instead of leaving it failed.
            now = self.clock.now()
            self._emit(ChunkSplit(item.id, (_planned(pair[0], now), _planned(pair[1], now)),
                                  now))
            self.outcomes.pop(item.id, None)
            self._epoch += 1
            halves.extend(pair)
        return await self._send(halves)

    def _chosen(self, chunks: Sequence[ChunkId]) -> list[WorkItem]:
        wanted = set(chunks)
        later = [s.item for s in self.session.stages.requests("verify") if s.item.id in wanted]
        return [item for item in self.session.work_items() if item.id in wanted] + later

    async def _send(self, items: Sequence[WorkItem]) -> RunResult:
        """One engine run; its outcomes join the Job's, even when it is interrupted.
        Urgent chunks go first, and ``max_cost_usd`` caps what it may spend."""
        started = self.clock.now()
        self._answered_now.clear()
        items = self._urgent_first(list(items))
        self._arm_cap(items)
        try:
            result = await self.engine.run(items)
        except (asyncio.CancelledError, SessionWriteError):
            self._interrupted(started)
            raise
        documents: set[int] = set()
        verified: set[int] = set()
        for outcome in result.outcomes:  # one pass: 12,000 outcomes, three passes took 30 ms
            chunk = outcome.item.id
            self.outcomes[chunk] = outcome
            documents.add(chunk.doc)
            if chunk.stage == "verify":
                verified.add(chunk.doc)
        self._epoch += 1
        self.elapsed += result.elapsed
        self.last_run = result
        self._keep_verify_status(verified)
        await finish_async(self._store_steps(documents))
        return result

    def _keep_verify_status(self, doc_ids: Iterable[int]) -> None:
        wanted = set(doc_ids)
        if not wanted:  # an extract-only run: no pass over 10,000 documents for nothing
            return
        for doc in self.documents():
            answered = self._finished(doc) if doc.doc_id in wanted else None
            if answered is not None:
                self.verification.keep_status(doc.doc_id, answered)


    def _interrupted(self, started: float) -> None:
        """Interrupted, or the session could not be written (a full disk, a locked file):
        the run's outcomes go down with it, but every answer committed in the session is
        taken back, so a report written now shows them, with what the answers of this run
        cost (the session's cache keeps no cost) and its time."""
        self._restore(None, again=True)
        for chunk, done in self._answered_now.items():
            outcome = self.outcomes.get(chunk)
            if outcome is not None and outcome.status is ChunkStatus.COMPLETED:
                self.outcomes[chunk] = replace(
                    outcome, attempts=done.attempts, prompt_tokens=done.prompt_tokens,
                    completion_tokens=done.completion_tokens, cached=False)
        self._epoch += 1
        elapsed = max(0.0, self.clock.now() - started)
        self.elapsed += elapsed
        self.last_run = RunResult((), None, True, elapsed)

    def mark_empty(self, chunks: Sequence[ChunkId]) -> None:
        """The user says these chunks hold nothing: store an empty answer for each (a verify
        request is no chunk: it is left out)."""
        empty = json.dumps({spec.name: [] for spec in self.fields})
        chosen = [item for item in self._chosen(chunks) if item.id.stage == "extract"]
        for item in chosen:
            # Recorded like any answer, so the cache, resume and the report all agree. Planned
            # first: a failure restored from the session has no row on the Run screen yet.
            now = self.clock.now()
            self._emit(_planned(item, now))
            self._emit(ChunkCompleted(item.id, 0, now, 0.0, 0, 0, "", (), empty,
                                      marked_empty=True))
            self.outcomes[item.id] = ChunkOutcome(item, ChunkStatus.COMPLETED, 0, (), empty)
        self._epoch += 1
        self._store_results({item.id.doc for item in chosen})

    # -- results -----------------------------------------------------------------------------

    def _restore(self, doc_ids: Iterable[int] | None, *, again: bool = False) -> None:
        """Take in the stored answers and recorded failures of these documents (None: all)
        that are not restored yet (``again``: those too). A stored answer replaces what is
        in memory only with ``again`` (an interrupted run takes back what it committed);
        otherwise this process's own outcome stays, and a stored one fills a gap."""
        if doc_ids is None:
            if self._restored_all and not again:
                return
            self._take_stored(None, again=again)
            self._restored_all = True
            return
        wanted = sorted({d for d in doc_ids if again or d not in self._restored})
        if not again:  # what this process answered itself has nothing to take in
            self._restored.update(d for d in wanted if self._covered(d))
            wanted = [d for d in wanted if d not in self._restored]
        for at in range(0, len(wanted), PAGE):
            page = wanted[at:at + PAGE]
            self._take_stored(page[0] if len(page) == 1 else page, again=again)
            self._restored.update(page)

    def _covered(self, doc_id: int) -> bool:
        """Whether every leaf chunk of a document has an outcome in memory: then what the
        session holds for it changes nothing (a stored answer only fills a gap). At the
        end of a 10,000-document run, asking anyway read every answer back (1 s)."""
        items = self.session.work_items(doc_id)
        return bool(items) and all(item.id in self.outcomes for item in items)

    def _take_stored(self, doc_ids: int | list[int] | None, *, again: bool) -> None:
        for chunk, outcome in stored_outcomes(self.session, self.fields, doc_ids).items():
            if chunk not in self.outcomes or (again and outcome.status is ChunkStatus.COMPLETED):
                self.outcomes[chunk] = outcome

    def _forget_restored(self, doc_id: int) -> None:
        self._restored.discard(doc_id)
        self._restored_all = False

    def chunk_outcomes(self, doc_id: int) -> list[ChunkOutcome]:
        """The latest outcome of every leaf chunk of a document, in chunk order."""
        items = self.session.work_items(doc_id)
        if not self._restored_all:
            self._restore([doc_id])
        return [self.outcomes[item.id] for item in items if item.id in self.outcomes]

    def results(self, doc_id: int) -> dict[str, FieldResult]:
        """Merged, grounded, validated fields, with the user's edits applied on top.

        Computed, never written: a read (a screen showing a row, an export of a session
        that is full or read-only) must not write. ``_store_results`` keeps them in the
        session after what changes them: a run, a retry, an edit, chunks marked empty."""
        if self._memo is not None and self._memo[0] == self._stamp():
            kept = self._memo[1].pop(doc_id, None)  # once: held on, 10,000 documents' cost
            if kept is not None:
                return kept
        return merged_results(self.session, self.fields, doc_id, self.chunk_outcomes(doc_id))

    def _stamp(self) -> _Stamp:
        """What merged results rest on: the session's rows (answers, verdicts, edits,
        chunks), the outcomes of this process, and the fields."""
        return (self.session.changes, self._epoch, id(self.fields))

    def _answered(self, doc_id: int) -> list[WorkItem]:
        """A document's answered chunks, in order: what its extract results rest on."""
        return [o.item for o in self.chunk_outcomes(doc_id) if o.status is ChunkStatus.COMPLETED]

    def _extract_results(self, doc_id: int) -> dict[str, FieldResult]:
        """The extract stage's merged results (before verification and edits)."""
        completed = [(o.item, o.candidates) for o in self.chunk_outcomes(doc_id)
                     if o.status is ChunkStatus.COMPLETED]
        return merge_document(self.fields, completed)  # no verdict, no edit

    def _store_results(self, doc_ids: Iterable[int]) -> None:
        """Keep the merged results of these documents in the session, for other readers of
        the file (a document removed meanwhile is skipped)."""
        finish(self._store_steps(doc_ids))

    @_bulk_steps
    def _store_steps(self, doc_ids: Iterable[int]) -> Steps[None]:
        """``_store_results`` a page of documents a step, each page merged and written
        without a step between (so an edit made between two steps is never overwritten
        by results merged before it). What it merged is kept for the report that
        follows, unless something changed between two steps."""
        wanted = sorted(set(doc_ids))
        kept: dict[int, dict[str, FieldResult]] | None = {}
        expected = self._stamp()
        for at in range(0, len(wanted), _STORE_PAGE):
            if kept is not None and self._stamp() != expected:
                kept = None  # another task wrote meanwhile: what was merged may be stale
            page = self.session.known_documents(wanted[at:at + _STORE_PAGE])
            self.session.prefetch_items(page)
            self._restore(page)
            merged = [(doc_id, self.results(doc_id)) for doc_id in page]
            self.session.save_many_results(merged)
            if kept is not None:
                kept.update(merged)
            expected = self._stamp()
            yield
        if kept is not None and self._stamp() == expected:
            self._memo = (expected, kept)

    def edit(self, doc_id: int, field: str, value: object, *, by: str = "user") -> FieldResult:
        """Store a hand edit (who and when kept) and return the field with it applied."""
        spec = self.fields.get(field)
        if spec is None:
            raise KeyError(field)
        at = datetime.now(UTC).isoformat(timespec="seconds")
        self.session.add_edit(doc_id, field, value, by=by, at=at)
        self._store_results([doc_id])
        return self.results(doc_id)[field]

    def cost(self, prompt_tokens: int, completion_tokens: int, *,
             batch: bool = False, stage: str = "extract") -> float | None:
        """What these tokens cost with the stage's model, at the live price or the Batch
        API's with ``batch``."""
        return cost_usd(self._stage_model(stage), prompt_tokens, completion_tokens,
                        provider=self.provider, overrides=self.settings.prices, batch=batch)

    def _verify_shown(self, used: Usage) -> bool:
        """Whether the summary lists the verify stage: asked for, or it made calls."""
        return (self.verification.enabled or bool(self.requests_by_stage.get("verify"))
                or used != Usage())

    def _stage_model(self, stage: str) -> str:
        return self.verification.model if stage == "verify" else self.settings.model

    def _verify_outcomes(self, doc: DocumentEntry) -> list[ChunkOutcome]:
        """The document's verify requests on its current basis: as this process's runs
        ended them, else as the session keeps them (answered ones cost nothing now)."""
        _, stored = self.verification.answers(doc.doc_id, basis_of(self._answered(doc.doc_id)))
        return [self.outcomes.get(o.item.id, o) for o in stored]

    def _stage_statuses(self, doc: DocumentEntry, outcomes: Sequence[ChunkOutcome],
                        stored: dict[tuple[int, str], tuple[StageStatus, str | None, str]]
                        ) -> dict[str, str | None]:
        """Where each stage stands for a document (``verification.py``)."""
        return {"extract": extract_status(doc.items, outcomes).value,
                "verify": self.verification.reported_status(doc.doc_id,
                                                            self._finished(doc), stored)}


    def report(self) -> dict[str, Any]:
        """The JSON result (the contract in the README), documents in session order.
        Writes nothing: the session may be full, locked or opened read-only."""
        return finish(self._report_steps())

    async def report_async(self) -> dict[str, Any]:
        """``report`` in steps of a few documents: 10,000 documents held the loop 3 s."""
        return await finish_async(self._report_steps())

    @_bulk_steps
    def _report_steps(self) -> Steps[dict[str, Any]]:
        reports: list[DocumentReport] = []
        dumped: list[dict[str, Any]] = []
        totals: dict[str, Usage] = {}
        for page in self._document_pages():
            self._restore(doc.doc_id for doc in page)
            statuses = self.session.stages.statuses([doc.doc_id for doc in page])
            for doc in page:
                report = self._document_report(doc, statuses, totals)
                dumped.append(document_json(report))
                # The totals need only the counts: the fields and failed chunks (with their
                # text) are in ``dumped`` now, and were held twice.
                reports.append(replace(report, fields={}, failed_chunks=()))
                yield
        fatal = self.last_run.fatal if self.last_run else None
        cancelled = self.last_run.cancelled if self.last_run else False
        batched = Usage.total(self._spent_batch.values())
        summary = RunSummary.from_documents(
            reports, requests=self.requests, retries=self.retries,
            elapsed_seconds=self.elapsed, provider=self.provider, model=self.settings.model,
            fatal=fatal, cancelled=cancelled, skipped=len(self.skipped),
            batch=BatchBilling(self.batch_answers, batched.prompt, batched.completion,
                               self.cost(batched.prompt, batched.completion, batch=True)),
            stages={stage: StageSpend(self._stage_model(stage),
                                      self.requests_by_stage.get(stage, 0), used.prompt,
                                      used.completion,
                                      self.cost(used.prompt, used.completion, stage=stage))
                    for stage, used in totals.items()
                    if stage == "extract" or self._verify_shown(used)},
            endpoints=self.endpoints.health())
        return assemble_report(dumped, summary,
                               [(path, skip.reason) for path, skip in self.skipped.items()])

    def _document_report(self, doc: DocumentEntry,
                         statuses: dict[tuple[int, str], tuple[StageStatus, str | None, str]],
                         totals: dict[str, Usage]) -> DocumentReport:
        """One document of the report; what it cost is added to ``totals`` (per stage)."""
        if doc.error is not None:
            return failed_document(doc.path, doc.error, self.fields)
        outcomes = document_outcomes(doc.items, self.outcomes)
        # Every call this job made for the document, the cut-off and invalid answers and the
        # halves' parents included: summing the outcomes missed all of those. Calls answered
        # through the Batch API are billed at its price; each stage's with its own model.
        batched = self._spent_batch.get(doc.doc_id, Usage())
        cost = self.cost(batched.prompt, batched.completion, batch=True)
        spent = batched
        for stage in ("extract", "verify"):
            used = self._spent.get((doc.doc_id, stage), Usage())
            totals[stage] = totals.get(stage, Usage()) + used
            spent += used
            cost = _add(cost, self.cost(used.prompt, used.completion, stage=stage))
        return document_report(doc.path, self.fields, outcomes, self.results(doc.doc_id), cost,
                               spent, later=self._verify_outcomes(doc),
                               stages=self._stage_statuses(doc, outcomes, statuses))

    async def aclose(self) -> None:
        await self.engine.aclose()


def _add(first: float | None, second: float | None) -> float | None:
    """Two costs together; unknown when either is."""
    return None if first is None or second is None else round(first + second, 6)
