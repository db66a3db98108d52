"""A loopback OpenAI-compatible HTTP server for tests and benchmarks, with scripted faults.

Why it is built this way:

* It speaks real HTTP/1.1 over a real socket on 127.0.0.1 (never another address), so the
  official ``openai`` SDK and its HTTP transport (connection pool, keep-alive, timeouts,
  status-to-exception mapping, header parsing) are exercised exactly as in production;
  a mocked transport would test our assumptions about the SDK rather than the SDK.
* Faults are scripted per request (a list consumed in arrival order, or a function of the
  request), so a test says precisely which request gets a 429, a hang or a dropped socket.
* Everything is bounded: header and body sizes, idle keep-alive time, every latency and
  hang, the number of requests and the server's lifetime. ``close()`` cancels every
  connection task, so a test that forgets something cannot leave the loop busy.
* Two kinds of rate limit, because providers enforce theirs in two ways: a sliding window
  (at most n requests in any ``per_s`` seconds) and a *quantised* one, as OpenAI and Azure
  document it: a per-minute budget enforced over one second (a bucket holding one second of
  it, refilled evenly), whose ``x-ratelimit-*`` headers are read from that bucket. Refused
  requests count against both, as they do at OpenAI.
* Hostile answers too (``Fault.hostile``): any wait header value, a ``usage`` of the wrong
  type, a body sent one byte at a time, a body of any size, so the client's defences are
  tested against bytes on a socket.
* Only the standard library is used, so it also runs as its own process for benchmarks:
  ``python tests/loopback.py --port 0 --latency 0.25`` prints ``READY <base_url>``.
* ``profile=`` (``server_profiles.py``) makes it take and refuse structured output as one
  real server does (OpenAI, vLLM, llama-server, llama-cpp-python, Ollama, LM Studio), with
  that server's status codes and error bodies, and answer forced tool calls its way.
* ``batch=`` also serves OpenAI's Files and Batch APIs (``loopback_batch.py``): each request
  of a batch is answered by the same responder, and ``batch_script`` (``Fault`` values, as
  for live calls) decides which lines fail.
* ``responder=GoldModel(...)`` (``gold_model.py``; ``--gold FILE --wrong MODEL=SHARE`` on
  the command line) answers as a model that knows the right values of some documents,
  with a share of them wrong-but-grounded for the models named: the verify stage's bench.

Use::

    async with LoopbackServer(script=[Fault.rate_limited("retry-after-ms", 0.1)]) as server:
        client = AsyncOpenAI(base_url=server.base_url, api_key="k", max_retries=0)
        ...  # the first request gets a 429, the rest normal answers; see server.log
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import random
import signal
import sys
import time
from collections import Counter, deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from http import HTTPStatus
from typing import Any, Literal, TypeAlias

from gold_model import GoldModel, load_truth
from loopback_batch import BatchAPI, LineAnswer
from server_profiles import PROFILES, Profile, prompt_schema

HOST = "127.0.0.1"
MAX_HEADER_BYTES = 64 * 1024
MAX_BODY_BYTES = 16 * 1024 * 1024
IDLE_TIMEOUT_S = 30.0
MAX_DELAY_S = 60.0
MAX_SENT_BODY_BYTES = 256 * 1024 * 1024  # the largest body a fault may send
MALFORMED_CONTENT = '{"fields": [1, 2'

FaultKind = Literal[
    "ok", "rate_limited", "server_error", "hang", "drop", "malformed", "empty", "truncated",
    "auth_failed", "insufficient_quota", "model_not_found", "context_too_long", "broken_body",
]
WaitHeader = Literal["retry-after", "retry-after-ms", "reset-requests", "reset-tokens", "none"]
Status: TypeAlias = int | Literal["dropped", "hung"]
Limiter = Literal["window", "quantised"]
_DEFAULT_USAGE = object()  # Fault.usage: keep the envelope's own usage

# (message, type, code) of each error fault's JSON body, as OpenAI words them.
_INVALID = "invalid_request_error"
_ERRORS: dict[str, tuple[str, str, str | None]] = {
    "rate_limited": ("Rate limit reached for requests.", "requests", "rate_limit_exceeded"),
    "server_error": ("The server had an error while processing your request.", "server_error",
                     None),
    "auth_failed": ("Incorrect API key provided", _INVALID, "invalid_api_key"),
    "insufficient_quota": ("You exceeded your current quota, please check your plan and billing "
                           "details.", "insufficient_quota", "insufficient_quota"),
    "model_not_found": ("The model does not exist or you do not have access to it.", _INVALID,
                        "model_not_found"),
    "context_too_long": ("This model's maximum context length was exceeded.", _INVALID,
                         "context_length_exceeded"),
}
_CONTENT_KINDS = frozenset({"ok", "malformed", "empty", "truncated", "broken_body"})


@dataclass(frozen=True)
class Fault:
    """What the server does with one chat-completion request; build one with the classmethods.

    ``latency`` (seconds, capped at 60) passes before anything is sent. ``wait_s`` is the wait
    a ``rate_limited`` fault advertises in ``header``; ``hang_s`` is how long a ``hang`` fault
    stays silent (capped at 60) before closing the connection. Four are the hostile
    server's (``Fault.hostile``): ``headers`` sent verbatim, ``usage`` put in the envelope
    as given (None leaves it out), the body sent over ``drip_s`` seconds, and an answer's
    content padded to ``body_bytes``. ``message`` replaces an error's message (an escape
    sequence, an echoed key).
    """

    kind: FaultKind
    latency: float = 0.0
    status: int = 200
    header: WaitHeader = "none"
    wait_s: float = 0.0
    hang_s: float = 0.0
    headers: tuple[tuple[str, str], ...] = ()
    usage: Any = _DEFAULT_USAGE
    drip_s: float = 0.0
    body_bytes: int = 0
    message: str | None = None

    @classmethod
    def ok(cls, latency: float = 0.0) -> Fault:
        """A normal answer whose content comes from the server's responder."""
        return cls("ok", latency)

    @classmethod
    def rate_limited(cls, header: WaitHeader = "retry-after-ms", wait: float = 1.0,
                     latency: float = 0.0) -> Fault:
        """HTTP 429 ``rate_limit_exceeded`` advertising ``wait`` seconds in one kind of header."""
        return cls("rate_limited", latency, 429, header=header, wait_s=wait)

    @classmethod
    def server_error(cls, status: int = 500, latency: float = 0.0,
                     message: str | None = None) -> Fault:
        """A 5xx with a JSON error body (its message replaced by ``message`` when given)."""
        return cls("server_error", latency, status, message=message)

    @classmethod
    def hang(cls, seconds: float = MAX_DELAY_S, latency: float = 0.0) -> Fault:
        """Read the request, send nothing for ``seconds``, then close the connection."""
        return cls("hang", latency, 0, hang_s=seconds)

    @classmethod
    def drop(cls, latency: float = 0.0) -> Fault:
        """Read the request, then close the socket without writing a byte."""
        return cls("drop", latency, 0)

    @classmethod
    def malformed(cls, latency: float = 0.0) -> Fault:
        """200 with a valid envelope whose ``message.content`` is not valid JSON."""
        return cls("malformed", latency)

    @classmethod
    def empty(cls, latency: float = 0.0) -> Fault:
        """200 whose ``message.content`` is ``""``."""
        return cls("empty", latency)

    @classmethod
    def truncated(cls, latency: float = 0.0) -> Fault:
        """200, ``finish_reason: "length"``, content cut to the first half of the normal one."""
        return cls("truncated", latency)

    @classmethod
    def auth_failed(cls, latency: float = 0.0, message: str | None = None) -> Fault:
        """401 ``invalid_api_key`` (its message replaced by ``message`` when given: some
        servers echo the key they were sent)."""
        return cls("auth_failed", latency, 401, message=message)

    @classmethod
    def insufficient_quota(cls, latency: float = 0.0) -> Fault:
        """429 whose code and type are ``insufficient_quota`` (retrying will not help)."""
        return cls("insufficient_quota", latency, 429)

    @classmethod
    def model_not_found(cls, latency: float = 0.0) -> Fault:
        """404 ``model_not_found``."""
        return cls("model_not_found", latency, 404)

    @classmethod
    def context_too_long(cls, latency: float = 0.0) -> Fault:
        """400 ``context_length_exceeded``."""
        return cls("context_too_long", latency, 400)

    @classmethod
    def broken_body(cls, latency: float = 0.0) -> Fault:
        """200 whose HTTP body is a JSON envelope cut in half (Content-Length still matches)."""
        return cls("broken_body", latency)

    @classmethod
    def hostile(cls, base: Fault | None = None, *, headers: Mapping[str, str] | None = None,
                usage: Any = _DEFAULT_USAGE, drip_s: float = 0.0,
                body_bytes: int = 0) -> Fault:
        """``base`` (a normal answer by default) with a hostile server's twists: extra
        ``headers`` verbatim (``{"retry-after": "0"}``), ``usage`` replaced by any JSON value
        (None leaves it out), the body dripped over ``drip_s`` seconds (capped at 60), or
        the content padded to ``body_bytes`` (capped at 256 MiB)."""
        base = base or cls.ok()
        return replace(base, headers=tuple((headers or {}).items()), usage=usage,
                       drip_s=drip_s, body_bytes=body_bytes)


@dataclass(frozen=True)
class RequestInfo:
    """What a script function sees: arrival number (0-based, all requests), body, headers."""

    index: int
    body: dict[str, Any]
    headers: Mapping[str, str]
    arrived: float


@dataclass
class RequestRecord:
    """One request as the server handled it; ``status`` is the code sent, or dropped/hung."""

    index: int
    method: str
    path: str
    arrived: float
    body: dict[str, Any] | None
    fault: str = ""
    status: Status | None = None
    finished: float | None = None


Script: TypeAlias = Sequence[Fault] | Callable[[RequestInfo], Fault]
Responder: TypeAlias = Callable[[dict[str, Any]], str]


def openai_duration(seconds: float) -> str:
    """``seconds`` in OpenAI's ``x-ratelimit-reset-*`` format: ``250ms``, ``1s``, ``6m0s``."""
    ms = max(0, math.ceil(seconds * 1000))
    if ms < 1000:
        return f"{ms}ms"
    hours, rest = divmod(ms, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    secs = f"{rest / 1000:.3f}".rstrip("0").rstrip(".")
    return (f"{hours}h" if hours else "") + (f"{minutes}m" if hours or minutes else "") + secs + "s"


def minimal_instance(schema: Mapping[str, Any], root: Mapping[str, Any] | None = None,
                     depth: int = 0) -> Any:
    """The smallest value valid against a (structured-outputs style) JSON schema."""
    root = schema if root is None else root
    if depth > 32 or not isinstance(schema, Mapping):
        return None  # too deep, or a boolean schema such as ``true``
    if isinstance(ref := schema.get("$ref"), str) and ref.startswith("#"):
        target: Any = root
        for part in (p for p in ref[1:].split("/") if p):
            target = target[part.replace("~1", "/").replace("~0", "~")]
        return minimal_instance(target, root, depth + 1)
    if "const" in schema:
        return schema["const"]
    if schema.get("enum"):
        return schema["enum"][0]
    options = schema.get("anyOf") or schema.get("oneOf") or schema.get("allOf")
    if options:
        if any(o.get("type") == "null" for o in options):
            return None
        return minimal_instance(options[0], root, depth + 1)
    kind = schema.get("type", "object" if "properties" in schema else "null")
    if isinstance(kind, list):
        kind = "null" if "null" in kind or not kind else kind[0]
    props = schema.get("properties", {})
    defaults: dict[str, Any] = {"array": [], "string": "", "number": 0, "integer": 0,
                                "boolean": False, "null": None}
    if kind == "object":
        return {name: minimal_instance(sub, root, depth + 1) for name, sub in props.items()}
    return defaults.get(kind)


def default_responder(body: Mapping[str, Any]) -> str:
    """What a model that does as it is told answers: the minimal instance of the schema it
    was given (``json_schema``, the ``schema`` of ``json_object``, a forced tool's
    parameters, else one written in the prompt) as JSON; ``{}`` or ``ok`` without one."""
    fmt = body.get("response_format") or {}
    tools = body.get("tools") or []
    if fmt.get("type") == "json_schema":
        return json.dumps(minimal_instance(fmt.get("json_schema", {}).get("schema", {})))
    if fmt.get("type") == "json_object" and isinstance(fmt.get("schema"), dict):
        return json.dumps(minimal_instance(fmt["schema"]))
    if tools and isinstance(body.get("tool_choice"), dict):
        return json.dumps(minimal_instance(tools[0]["function"].get("parameters", {})))
    written = prompt_schema(body)
    if written is not None:
        return json.dumps(minimal_instance(written))
    return "{}" if fmt.get("type") == "json_object" else "ok"


def profile_responder(profile: Profile) -> Responder:
    """The answer of a model behind ``profile``: constrained by the schema that server
    passes on, else following the schema written in its prompt."""
    def respond(body: Mapping[str, Any]) -> str:
        schema = profile.schema(body) or prompt_schema(body)
        return json.dumps(minimal_instance(schema)) if schema is not None else "{}"
    return respond


TokenCounter: TypeAlias = Callable[[str], int]


def _chars_over_4(text: str) -> int:
    return len(text) // 4


def _prompt_tokens(body: Mapping[str, Any], count: TokenCounter | None) -> int:
    """Characters / 4 of the messages; with a tokenizer's ``count``, what a chat server
    reports: each message's tokens plus 3, and 3 for the reply (OpenAI's chat format)."""
    texts = []
    for message in body.get("messages") or []:
        content = message.get("content") if isinstance(message, dict) else None
        if isinstance(content, str):
            texts.append(content)
        elif isinstance(content, list):
            texts.append("".join(p.get("text", "") for p in content if isinstance(p, dict)))
    if count is None:
        return max(1, _chars_over_4("".join(texts)))
    return sum(count(text) + 3 for text in texts) + 3


def completion_envelope(body: Mapping[str, Any], content: str, finish_reason: str,
                        index: int, usage: Any = _DEFAULT_USAGE,
                        tool_call: bool = False, completion_tokens: int | None = None,
                        count: TokenCounter | None = None) -> dict[str, Any]:
    """A ``chat.completion`` object echoing the request's model, with token usage counted by
    ``count`` (else characters / 4), or ``completion_tokens`` when given (``usage`` replaces
    it with any value; None leaves it out, as some servers do); with ``tool_call`` the
    content goes in the forced tool call's ``arguments``."""
    prompt = _prompt_tokens(body, count)
    completion = completion_tokens or max(1, (count or _chars_over_4)(content))
    message: dict[str, Any] = {"role": "assistant", "content": content, "refusal": None}
    if tool_call:
        name = str(body["tool_choice"]["function"]["name"])
        message["content"] = None
        message["tool_calls"] = [{"id": f"call_loopback_{index}", "type": "function",
                                  "function": {"name": name, "arguments": content}}]
    envelope = {
        "id": f"chatcmpl-loopback-{index}", "object": "chat.completion",
        "created": int(time.time()), "model": str(body.get("model", "loopback")),
        "choices": [{"index": 0, "finish_reason": finish_reason, "logprobs": None,
                     "message": message}],
        "usage": {"prompt_tokens": prompt, "completion_tokens": completion,
                  "total_tokens": prompt + completion},
    }
    if usage is None:
        del envelope["usage"]
    elif usage is not _DEFAULT_USAGE:
        envelope["usage"] = usage
    return envelope


def _error(message: str, type_: str = _INVALID, code: str | None = None) -> bytes:
    """An OpenAI-style JSON error body."""
    error = {"message": message, "type": type_, "param": None, "code": code}
    return json.dumps({"error": error}).encode()


def _wait_headers(header: WaitHeader, wait: float) -> dict[str, str]:
    if header == "retry-after":
        return {"retry-after": str(max(0, math.ceil(wait)))}
    if header == "retry-after-ms":
        return {"retry-after-ms": str(max(0, math.ceil(wait * 1000)))}
    if header in ("reset-requests", "reset-tokens"):
        return {f"x-ratelimit-{header}": openai_duration(wait)}
    return {}


class _Window:
    """A sliding-window request limit; refused requests count against it too."""

    def __init__(self, limit: int, per_s: float) -> None:
        self.limit, self.per_s = limit, per_s
        self._times: deque[float] = deque()

    def admit(self, now: float) -> tuple[bool, dict[str, str]]:
        """Whether a request arriving ``now`` is allowed, and the x-ratelimit headers to send."""
        while self._times and self._times[0] <= now - self.per_s:
            self._times.popleft()
        allowed = len(self._times) < self.limit
        self._times.append(now)
        # As OpenAI documents it, x-ratelimit-reset-requests is the time until the budget is
        # back to its initial state (the newest entry has left the window); retry-after-ms is
        # the time until one slot frees (every entry but the newest limit-1 has left).
        full = self._times[-1] + self.per_s - now
        slot = self._times[max(0, len(self._times) - self.limit)] + self.per_s - now
        headers = {"x-ratelimit-limit-requests": str(self.limit),
                   "x-ratelimit-remaining-requests": str(max(0, self.limit - len(self._times))),
                   "x-ratelimit-reset-requests": openai_duration(full)}
        if not allowed:
            headers["retry-after-ms"] = str(max(1, math.ceil(slot * 1000)))
        return allowed, headers


class _Quantised:
    """A per-minute style limit enforced over one second, as OpenAI and Azure say they may.

    ``limit`` requests per ``per_s`` seconds, held in a bucket of one second's worth
    (``limit / per_s``, at least one) refilled evenly. A refused request takes its token
    too (the level may go down to minus one bucket), so hammering digs the hole deeper. The
    headers give the published budget (``limit``) and what the bucket says: what is left in
    it now, and the time until it is full again.
    """

    def __init__(self, limit: int, per_s: float) -> None:
        self.limit, self.rate = limit, limit / per_s
        self.capacity = max(1.0, self.rate)
        self._level, self._at = self.capacity, None

    def admit(self, now: float) -> tuple[bool, dict[str, str]]:
        if self._at is not None:
            self._level = min(self.capacity, self._level + (now - self._at) * self.rate)
        self._at = now
        allowed = self._level >= 1.0
        self._level = max(-self.capacity, self._level - 1.0)
        headers = {"x-ratelimit-limit-requests": str(self.limit),
                   "x-ratelimit-remaining-requests": str(max(0, math.floor(self._level))),
                   "x-ratelimit-reset-requests":
                       openai_duration((self.capacity - self._level) / self.rate)}
        if not allowed:
            until_one = (1.0 - self._level) / self.rate
            headers["retry-after-ms"] = str(max(1, math.ceil(until_one * 1000)))
        return allowed, headers


class LoopbackServer:
    """An OpenAI-compatible HTTP/1.1 server on 127.0.0.1; use ``async with`` or start/close.

    ``script`` decides each ``POST /v1/chat/completions``: a list of faults consumed in arrival
    order (then ``default``), or a function of ``RequestInfo``. ``responder`` gives a normal
    answer's content. ``rate_limit=(n, per_s)`` refuses requests beyond n per sliding window,
    or, with ``limiter="quantised"``, beyond a bucket of one second of n per ``per_s``
    (checked before the script; a refused request does not consume a script entry). After
    ``max_requests`` requests every answer is 503; after ``max_lifetime_s`` the server closes.
    ``profile`` (a ``server_profiles.PROFILES`` name) refuses what that server refuses,
    before the script, and answers as a model behind it would unless ``responder`` is given.
    ``token_counter`` counts usage as a server with that tokenizer would (else chars / 4).
    ``batch`` (True, or ``BatchAPI`` keyword arguments) serves ``/v1/files`` and
    ``/v1/batches`` too (``self.batch``); ``batch_script`` decides each batch line as
    ``script`` decides each live request (default: ``default``).
    """

    def __init__(self, *, port: int = 0, script: Script | None = None,
                 default: Fault = Fault.ok(), responder: Responder = default_responder,
                 rate_limit: tuple[int, float] | None = None, limiter: Limiter = "window",
                 models: Sequence[str] = ("loopback-1",), max_requests: int = 100_000,
                 max_lifetime_s: float = 300.0, idle_timeout_s: float = IDLE_TIMEOUT_S,
                 record_bodies: bool = True, profile: str | None = None,
                 token_counter: TokenCounter | None = None,
                 batch: bool | Mapping[str, Any] = False,
                 batch_script: Script | None = None) -> None:
        if not (0 < max_lifetime_s < math.inf and 0 < idle_timeout_s < math.inf):
            raise ValueError("max_lifetime_s and idle_timeout_s must be positive and finite")
        if max_requests < 1 or (rate_limit is not None and not (rate_limit[0] >= 1
                                                                 and rate_limit[1] > 0)):
            raise ValueError("max_requests and the rate limit must be positive")
        self.profile = PROFILES[profile] if profile is not None else None
        self._count = token_counter
        if self.profile is not None and responder is default_responder:
            responder = profile_responder(self.profile)
        self._port, self._script, self._default, self._responder = port, script, default, responder
        self._window: _Window | _Quantised | None = None
        if rate_limit is not None:
            self._window = (_Quantised(*rate_limit) if limiter == "quantised"
                            else _Window(*rate_limit))
        self._models, self._record_bodies = tuple(models), record_bodies
        self.max_requests, self.max_lifetime_s = max_requests, max_lifetime_s
        self.idle_timeout_s = idle_timeout_s
        self.log: list[RequestRecord] = []
        self.status_counts: Counter[Status] = Counter()
        self.in_flight = self.max_in_flight = self.requests_total = self.connections_total = 0
        self._script_pos = 0
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._lifetime: asyncio.Task[None] | None = None
        self._closing = False
        self._closed = asyncio.Event()
        self._started = 0.0
        self._batch_script, self._batch_pos = batch_script, 0
        self.batch: BatchAPI | None = None
        if batch:
            options = dict(batch) if isinstance(batch, Mapping) else {}
            self.batch = BatchAPI(self._batch_answer, **options)

    @property
    def address(self) -> tuple[str, int]:
        """The (host, port) the listening socket is bound to."""
        if self._server is None:
            raise RuntimeError("server not started")
        host, port = self._server.sockets[0].getsockname()[:2]
        return str(host), int(port)

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:<port>/v1``, for ``AsyncOpenAI(base_url=...)``."""
        return f"http://{HOST}:{self.address[1]}/v1"

    async def start(self) -> None:
        """Listen on 127.0.0.1 and arm the lifetime timer."""
        self._server = await asyncio.start_server(self._accept, HOST, self._port,
                                                  limit=MAX_HEADER_BYTES)
        self._started = time.monotonic()
        self._lifetime = asyncio.create_task(self._expire())

    async def close(self) -> None:
        """Stop listening, cancel every connection task and close every connection."""
        if self._closing:
            await self._closed.wait()
            return
        self._closing = True
        if self._server is not None:
            self._server.close()
        me = asyncio.current_task()
        for _ in range(3):  # a connection accepted just before close() reaches _accept later
            await asyncio.sleep(0)
            tasks = [t for t in self._tasks if t is not me]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()
        if self._lifetime is not None and self._lifetime is not me:
            self._lifetime.cancel()
            await asyncio.gather(self._lifetime, return_exceptions=True)
        self._closed.set()

    async def wait_closed(self) -> None:
        """Return once the server has closed (by ``close()`` or its lifetime ending)."""
        await self._closed.wait()

    async def __aenter__(self) -> LoopbackServer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def reset_stats(self) -> None:
        """Forget the log, the status counts and the in-flight peak (the script is kept)."""
        self.log.clear()
        self.status_counts.clear()
        self.max_in_flight = self.in_flight

    def stats(self) -> dict[str, Any]:
        """A JSON-ready summary: request and connection totals, statuses, in-flight peak."""
        counts = sorted(self.status_counts.items(), key=lambda item: str(item[0]))
        return {"requests": self.requests_total, "connections": self.connections_total,
                "status_counts": {str(status): n for status, n in counts},
                "max_in_flight": self.max_in_flight,
                "uptime_s": round(time.monotonic() - self._started, 3)}

    async def _expire(self) -> None:
        await asyncio.sleep(self.max_lifetime_s)
        await self.close()

    def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        # A plain callback that owns the task: registered at once (close() sees it), and
        # Python 3.11's own wrapper task would log spurious errors when cancelled.
        if self._closing:
            writer.close()
            return
        self.connections_total += 1
        task = asyncio.create_task(self._connection(reader, writer))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            # Bounded: one request per pass, and requests past the cap close the connection.
            for _ in range(self.max_requests + 1):
                if self._closing or not await self._one_request(reader, writer):
                    break
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError):
            pass
        finally:
            writer.close()

    async def _one_request(self, reader: asyncio.StreamReader,
                           writer: asyncio.StreamWriter) -> bool:
        """Serve one request on a kept-alive connection; False when the connection should end."""
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), self.idle_timeout_s)
        except asyncio.IncompleteReadError:
            return False  # the client closed the connection between requests
        except asyncio.LimitOverrunError:
            return await self._reject(writer, 431, "Request headers too large")
        lines = head.decode("latin-1").split("\r\n")
        parts = lines[0].split(" ")
        pairs = (line.partition(":") for line in lines[1:] if line)
        headers = {name.strip().lower(): value.strip() for name, _, value in pairs}
        length = headers.get("content-length", "0")
        if len(parts) != 3 or "transfer-encoding" in headers or not length.isdigit():
            return await self._reject(writer, 400, "Unsupported request framing")
        path = parts[1].split("?")[0] if len(parts) == 3 else ""
        upload = self.batch is not None and self.batch.handles(path)
        if int(length) > (self.batch.max_upload_bytes if upload and self.batch
                          else MAX_BODY_BYTES):
            return await self._reject(writer, 413, "Request body too large")
        raw = await asyncio.wait_for(reader.readexactly(int(length)), self.idle_timeout_s)
        method, version = parts[0], parts[2]
        close = headers.get("connection", "").lower() == "close" or version != "HTTP/1.1"
        if upload and self.batch is not None:
            return await self._batch_request(writer, method, parts[1], headers, raw, close)
        return await self._handle(writer, method, path, headers, raw, close)

    async def _batch_request(self, writer: asyncio.StreamWriter, method: str, target: str,
                             headers: dict[str, str], raw: bytes, close: bool) -> bool:
        """A Files or Batch API request: answered at once by ``self.batch``, and logged."""
        assert self.batch is not None
        index = self.requests_total
        self.requests_total += 1
        record = RequestRecord(index, method, target.split("?")[0], time.monotonic(), None,
                               fault="batch")
        if len(self.log) < self.max_requests:
            self.log.append(record)
        if index >= self.max_requests:
            status, payload, extra = 503, _error("Loopback request cap reached"), {}
            close = True
        else:
            status, payload, extra = self.batch.handle(method, target, headers, raw)
        record.status, record.finished = status, time.monotonic()
        self.status_counts[status] += 1
        extra = {**extra, "x-request-id": f"req_loopback_{index}"}
        await self._send(writer, status, payload, extra, close)
        return not close

    def _batch_answer(self, body: dict[str, Any], index: int) -> LineAnswer:
        """How the model answers one request of a batch: the same responder and faults as
        a live call; a hang or a dropped connection is a ``request_timeout`` line."""
        info = RequestInfo(index, body, {}, time.monotonic())
        if callable(self._batch_script):
            fault = self._batch_script(info)
        elif self._batch_script is not None and self._batch_pos < len(self._batch_script):
            fault = self._batch_script[self._batch_pos]
            self._batch_pos += 1
        else:
            fault = self._default
        if fault.kind in ("hang", "drop"):
            return LineAnswer(0, b"", "request_timeout")
        status, payload, _ = self._answer(fault, body, index)
        return LineAnswer(status, payload if isinstance(payload, bytes) else payload.whole())

    async def _handle(self, writer: asyncio.StreamWriter, method: str, path: str,
                      headers: dict[str, str], raw: bytes, close: bool) -> bool:
        """Decide, wait the latency, then answer, drop or hang; keeps the log and counters."""
        now, index = time.monotonic(), self.requests_total
        self.requests_total += 1
        try:
            body = json.loads(raw) if raw else {}
        except ValueError:
            body = None
        kept = body if self._record_bodies and isinstance(body, dict) else None
        record = RequestRecord(index, method, path, now, kept)
        if len(self.log) < self.max_requests:
            self.log.append(record)
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            info = RequestInfo(index, body, headers, now) if isinstance(body, dict) else None
            record.fault, fault, status, payload, extra = self._decide(index, info, method, path)
            await asyncio.sleep(min(max(fault.latency, 0.0), MAX_DELAY_S))
            if fault.kind == "drop":
                record.status = "dropped"
                return False
            if fault.kind == "hang":
                record.status = "hung"
                await asyncio.sleep(min(max(fault.hang_s, 0.0), MAX_DELAY_S))
                return False
            close = close or index >= self.max_requests
            record.status = status
            extra["x-request-id"] = f"req_loopback_{index}"
            await self._send(writer, status, payload, extra, close, fault.drip_s)
            return not close
        finally:
            record.finished = time.monotonic()
            self.in_flight -= 1
            if record.status is not None:
                self.status_counts[record.status] += 1

    def _decide(self, index: int, info: RequestInfo | None, method: str,
                path: str) -> tuple[str, Fault, int, Payload, dict[str, str]]:
        """What to record as the fault, the fault applied, and the status, body and headers."""
        immediate = Fault.ok()
        if index >= self.max_requests:
            return "request_cap", immediate, 503, _error("Loopback request cap reached"), {}
        if (method, path) == ("GET", "/v1/models"):
            data = [{"id": model, "object": "model", "created": 0, "owned_by": "loopback"}
                    for model in self._models]
            payload = json.dumps({"object": "list", "data": data}).encode()
            return "models", immediate, 200, payload, {}
        if (method, path) != ("POST", "/v1/chat/completions"):
            return "unknown_path", immediate, 404, _error(f"Invalid URL ({method} {path})"), {}
        if info is None:
            return "bad_request", immediate, 400, _error("Request body is not a JSON object"), {}
        limits: dict[str, str] = {}
        if self._window is not None:
            allowed, limits = self._window.admit(info.arrived)
            if not allowed:
                payload = _error(*_ERRORS["rate_limited"])
                return "server_rate_limit", immediate, 429, payload, limits
        refusal = self.profile.refuse(info.body) if self.profile is not None else None
        if refusal is not None:
            return "refused", immediate, refusal.status, refusal.payload(), limits
        fault = self._next_fault(info)
        status, payload, extra = self._respond(fault, info.body, info.index)
        return fault.kind, fault, status, payload, {**limits, **extra}

    def _next_fault(self, info: RequestInfo) -> Fault:
        if self._script is None:
            return self._default
        if callable(self._script):
            return self._script(info)
        if self._script_pos < len(self._script):
            self._script_pos += 1
            return self._script[self._script_pos - 1]
        return self._default

    def _respond(self, fault: Fault, body: dict[str, Any],
                 index: int) -> tuple[int, Payload, dict[str, str]]:
        """Status, body and extra headers for a scripted fault (drop/hang send nothing)."""
        status, payload, headers = self._answer(fault, body, index)
        return status, payload, {**headers, **dict(fault.headers)}

    def _answer(self, fault: Fault, body: dict[str, Any],
                index: int) -> tuple[int, Payload, dict[str, str]]:
        if fault.kind not in _CONTENT_KINDS:
            message, type_, code = _ERRORS.get(fault.kind, _ERRORS["server_error"])
            if fault.kind == "model_not_found":
                message = message.replace("The model", f"The model `{body.get('model')}`")
            message = fault.message if fault.message is not None else message
            headers = _wait_headers(fault.header, fault.wait_s)
            return fault.status, _error(message, type_, code), headers
        try:
            content = self._responder(body)
        except Exception as exc:  # a test's responder bug becomes a visible 500, not a hang
            return 500, _error(f"loopback responder raised {exc!r}", "server_error"), {}
        tool_call = self._answers_with_a_call(body)
        finish = self.profile.tool_finish if tool_call and self.profile is not None else "stop"
        if fault.kind == "malformed":
            content = MALFORMED_CONTENT
        elif fault.kind == "empty":
            content = ""
        used: int | None = None
        if fault.kind == "truncated":
            content, finish = content[: len(content) // 2], "length"
            if tool_call and self.profile is not None:
                finish = self.profile.cut_tool_finish
            cap = body.get("max_completion_tokens", body.get("max_tokens"))
            used = cap if isinstance(cap, int) and cap > 0 else None  # cut at the cap
        if fault.body_bytes > 0:  # padded with spaces: still valid JSON, sent in pieces
            envelope = completion_envelope(body, content + _PAD, finish, index, fault.usage)
            head, _, tail = json.dumps(envelope).encode().partition(_PAD.encode())
            size = min(fault.body_bytes, MAX_SENT_BODY_BYTES)
            return 200, _Padded(head, max(0, size - len(head) - len(tail)), tail), {}
        payload = json.dumps(completion_envelope(body, content, finish, index, fault.usage,
                                                 tool_call, used, self._count)).encode()
        return 200, payload[: len(payload) // 2] if fault.kind == "broken_body" else payload, {}

    def _answers_with_a_call(self, body: Mapping[str, Any]) -> bool:
        """A forced tool call is answered in ``tool_calls`` unless the server ignores it."""
        forced = bool(body.get("tools")) and isinstance(body.get("tool_choice"), dict)
        return forced and (self.profile is None or self.profile.tools == "call")

    async def _reject(self, writer: asyncio.StreamWriter, status: int, message: str) -> bool:
        """Answer a request that cannot be framed, and end the connection."""
        await self._send(writer, status, _error(message), {}, close=True)
        return False

    async def _send(self, writer: asyncio.StreamWriter, status: int, payload: Payload,
                    extra: Mapping[str, str], close: bool, drip_s: float = 0.0) -> None:
        known = status in HTTPStatus._value2member_map_
        extra = dict(extra)
        head = [f"HTTP/1.1 {status} {HTTPStatus(status).phrase if known else 'Status'}",
                f"content-type: {extra.pop('content-type', 'application/json')}",
                f"content-length: {len(payload)}",
                f"connection: {'close' if close else 'keep-alive'}"]
        head += [f"{name}: {value}" for name, value in extra.items()]
        writer.write(("\r\n".join(head) + "\r\n\r\n").encode("latin-1"))
        if drip_s > 0:  # one byte at a time, spread over drip_s (a bounded number of sleeps)
            body = bytes(payload) if isinstance(payload, bytes) else payload.whole()
            pause = min(drip_s, MAX_DELAY_S) / max(1, len(body))
            for position in range(len(body)):
                writer.write(body[position:position + 1])
                await writer.drain()
                await asyncio.sleep(pause)
            return
        for piece in ([payload] if isinstance(payload, bytes) else payload.pieces()):
            writer.write(piece)
            await writer.drain()


class _Padded:
    """A body too large to build at once: ``head``, ``pad`` spaces, ``tail``, sent in pieces."""

    PIECE = 1024 * 1024

    def __init__(self, head: bytes, pad: int, tail: bytes) -> None:
        self.head, self.pad, self.tail = head, pad, tail

    def __len__(self) -> int:
        return len(self.head) + self.pad + len(self.tail)

    def pieces(self) -> Iterator[bytes]:
        yield self.head
        left = self.pad
        while left > 0:
            yield b" " * min(left, self.PIECE)
            left -= self.PIECE
        yield self.tail

    def whole(self) -> bytes:
        return b"".join(self.pieces())


Payload: TypeAlias = bytes | _Padded
_PAD = "@@loopback-pad@@"  # json.dumps leaves it as it is


def _fault_picker(rate: float, seed: int, latency: float,
                  with_429: bool = True) -> Callable[[RequestInfo], Fault]:
    """Per request: with probability ``rate`` a transient or invalid fault, else ok(latency)."""
    rng = random.Random(seed)
    mix = [Fault.server_error(500), Fault.server_error(503), Fault.drop(),
           Fault.malformed(latency)]
    if with_429:
        mix.append(Fault.rate_limited("retry-after-ms", 0.1))
    return lambda _info: rng.choice(mix) if rng.random() < rate else Fault.ok(latency)


def hostile_fault(spec: str) -> Fault:
    """``--hostile`` on the command line: ``retry-after=0``, ``retry-after-ms=-5`` (429s with
    that header verbatim), ``usage=JSON``, ``drip=SECONDS``, ``body-mb=N``, ``status=500:TEXT``
    (that status with that error message on every request)."""
    name, _, value = spec.partition("=")
    if name in ("retry-after", "retry-after-ms"):
        return Fault.hostile(Fault.rate_limited("none"), headers={name: value})
    if name == "usage":
        return Fault.hostile(usage=json.loads(value))
    if name == "drip":
        return Fault.hostile(drip_s=float(value))
    if name == "body-mb":
        return Fault.hostile(body_bytes=int(float(value) * 1024 * 1024))
    if name == "status":
        code, _, text = value.partition(":")
        return Fault("server_error", status=int(code), message=text or None)
    raise ValueError(f"unknown --hostile {spec!r}")


def _parse_rate(text: str) -> tuple[int, float]:
    count, _, per = text.partition("/")
    return int(count), float(per or "1")


async def _serve(args: argparse.Namespace) -> None:
    picker = _fault_picker(args.fault_rate, args.seed, args.latency, not args.no_429)
    hostile = hostile_fault(args.hostile) if args.hostile else None
    wrong = {model: float(share) for model, _, share in
             (spec.partition("=") for spec in args.wrong)}
    responder: Responder = (GoldModel(load_truth(args.gold), wrong_models=wrong,
                                      seed=args.seed) if args.gold else default_responder)
    server = LoopbackServer(
        port=args.port, responder=responder,
        script=(lambda _info: hostile) if hostile is not None else picker,
        rate_limit=_parse_rate(args.rate_limit) if args.rate_limit else None,
        limiter="quantised" if args.quantised else "window",
        max_requests=args.max_requests, max_lifetime_s=args.lifetime, record_bodies=False,
        profile=args.profile)
    await server.start()
    print(f"READY {server.base_url}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    waiters = [asyncio.create_task(stop.wait()), asyncio.create_task(server.wait_closed())]
    await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
    for waiter in waiters:
        waiter.cancel()
    await asyncio.gather(*waiters, return_exceptions=True)
    await server.close()
    print(json.dumps(server.stats()), file=sys.stderr, flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point: serve on 127.0.0.1 until SIGTERM/SIGINT or the lifetime ends."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--latency", type=float, default=0.0, help="seconds per normal answer")
    parser.add_argument("--rate-limit", default=None, help="N/SECONDS, e.g. 100/1.0")
    parser.add_argument("--quantised", action="store_true",
                        help="enforce --rate-limit over one second (a bucket of one second's "
                             "worth), as OpenAI may, instead of a sliding window")
    parser.add_argument("--fault-rate", type=float, default=0.0)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--no-429", action="store_true",
                        help="leave 429s out of the --fault-rate mix")
    parser.add_argument("--hostile", default=None, metavar="KIND=VALUE",
                        help="every answer hostile: retry-after=0, retry-after-ms=-5, "
                             "usage=JSON, drip=SECONDS, body-mb=N, status=CODE:MESSAGE")
    parser.add_argument("--lifetime", type=float, default=300.0)
    parser.add_argument("--max-requests", type=int, default=100_000)
    parser.add_argument("--profile", choices=sorted(PROFILES), default=None,
                        help="take and refuse structured output as this server does")
    parser.add_argument("--gold", default=None, metavar="FILE",
                        help='answer as a model that knows the right values: a JSON list of '
                             '{"text": document text, "values": {field: [as written]}}')
    parser.add_argument("--wrong", action="append", default=[], metavar="MODEL=SHARE",
                        help="with --gold: this model gets SHARE of each document's fields "
                             "wrong-but-grounded (repeat for more models)")
    asyncio.run(_serve(parser.parse_args(argv)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
