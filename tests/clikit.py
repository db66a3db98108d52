"""Helpers for the ``extractor run`` tests: an isolated environment, a loopback server on its
own thread, a responder that answers like a model, and report comparisons.

Why a thread: ``cli.main`` calls ``asyncio.run`` itself, so the loopback server cannot share
its loop. ``ServerThread`` runs the server on a private loop in a daemon thread; the CLI,
in-process or in a subprocess, reaches it over real HTTP at ``base_url``.

Why ``model_responder`` rebuilds the request from the HTTP body: the server sees only what a
real model would see (the prompt and the response format), so answering from the chunk text
between the prompt's delimiters and the field list in the prompt tests that the prompt
carries everything needed. It answers what the offline provider answers for that chunk, so
a run over HTTP must produce the same fields as an ``--offline`` run.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from loopback import Fault, LoopbackServer, RequestInfo, RequestRecord

from extractor_tui.cli import main
from extractor_tui.core.fields import FieldSet, FieldSpec, FieldType
from extractor_tui.core.llm.offline import offline_answer

REPO = Path(__file__).resolve().parents[1]
SAMPLES = REPO / "sample_docs"
EXPECTED: dict[str, Any] = json.loads((SAMPLES / "expected.json").read_text(encoding="utf-8"))
KINDS = {"invoice": "invoices", "contract": "contracts", "medical": "medical"}
"""Preset name → its folder under ``sample_docs``."""
PRESET_OF = {"invoice": "invoice", "contract": "contract", "discharge_summary": "medical"}
"""``expected.json`` kind → preset name."""
CHAT = "/v1/chat/completions"

VOLATILE_SUMMARY = ("elapsed_seconds", "requests", "retries", "prompt_tokens",
                    "completion_tokens", "cost_usd", "stages",  # stages: each one's counts
                    "endpoints")  # endpoints: their counts
VOLATILE_DOCUMENT = ("tokens", "cost_usd")


# --------------------------------------------------------------------------- environment


def isolate(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No provider settings from the machine: no key, no base URL, no config file."""
    import os
    for name in list(os.environ):
        if name.startswith("EXTRACTOR_") or name in ("OPENAI_API_KEY", "OPENAI_BASE_URL"):
            monkeypatch.delenv(name)
    config = tmp_path / "xdg-config"
    config.mkdir(exist_ok=True)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(config))


def child_env(home: Path) -> dict[str, str]:
    """For a child process: the machine's environment without provider settings, and the
    XDG folders under ``home`` (made world-writable, for a child that runs as nobody)."""
    import os
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("EXTRACTOR_") and k not in ("OPENAI_API_KEY", "OPENAI_BASE_URL")}
    for name in ("XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_STATE_HOME", "XDG_CACHE_HOME"):
        folder = home / name
        folder.mkdir(exist_ok=True)
        folder.chmod(0o777)
        env[name] = str(folder)
    return env


@pytest.fixture
def cli_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """An isolated environment, cwd = the repository (relative sample paths); tmp_path back."""
    isolate(monkeypatch, tmp_path)
    monkeypatch.chdir(REPO)
    return tmp_path


@dataclass(frozen=True)
class CliResult:
    code: int
    out: str
    err: str


def run_cli(args: Sequence[str | Path], capsys: pytest.CaptureFixture[str]) -> CliResult:
    """``extractor ARGS`` in-process; stdout and stderr as captured text."""
    capsys.readouterr()
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return CliResult(code, out, err)


# --------------------------------------------------------------------------- the server


class ServerThread:
    """A ``LoopbackServer`` on its own event loop in a daemon thread.

    The server's log and counters are plain attributes, read from the test thread while the
    server thread writes them; each read is atomic under the GIL, which is all these tests
    need (they poll, and compare once the CLI has finished).
    """

    def __init__(self, **options: Any) -> None:
        self._options = options
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True,
                                        name="loopback-server")
        self.server: LoopbackServer

    def __enter__(self) -> ServerThread:
        self._thread.start()

        async def start() -> LoopbackServer:
            server = LoopbackServer(**self._options)
            await server.start()
            return server

        self.server = asyncio.run_coroutine_threadsafe(start(), self._loop).result(10)
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            asyncio.run_coroutine_threadsafe(self.server.close(), self._loop).result(10)
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)
            self._loop.close()

    @property
    def base_url(self) -> str:
        return self.server.base_url

    def call(self, step: Callable[[], Any]) -> Any:
        """Run ``step`` on the server's loop (between two requests) and return its value."""
        async def run() -> Any:
            return step()
        return asyncio.run_coroutine_threadsafe(run(), self._loop).result(10)

    def chats(self) -> list[RequestRecord]:
        """Every chat-completion request received so far, in arrival order."""
        return [r for r in list(self.server.log) if r.path == CHAT]


# --------------------------------------------------------------------------- a fake model

_OPENING = re.compile(r"^<<<DOCUMENT-([0-9a-f]{8})>>>$", re.MULTILINE)
_FIELD_LINE = re.compile(r"^- (\w+) \[(\w+)(?: \(one of: (.*)\))?, (single|list)\]: (.*)$",
                         re.MULTILINE)


def _user_prompt(body: Mapping[str, Any]) -> str:
    """The first user message: the field list and the delimited chunk."""
    for message in body.get("messages") or ():
        if message.get("role") == "user" and _OPENING.search(message.get("content", "")):
            return str(message["content"])
    raise ValueError("no user message with a delimited document chunk")


def chunk_text(body: Mapping[str, Any] | None) -> str:
    """The chunk text between the prompt's delimiter lines."""
    if body is None:
        return ""
    prompt = _user_prompt(body)
    opening = _OPENING.search(prompt)
    assert opening is not None
    closing = f"\n<<<END-DOCUMENT-{opening[1]}>>>"
    start = opening.end() + 1
    end = prompt.index(closing, start)
    return prompt[start:end]


def prompt_fields(body: Mapping[str, Any]) -> FieldSet:
    """The field set as the prompt lists it (name, type, list or not, enum, description)."""
    specs = []
    for name, kind, enum, shape, description in _FIELD_LINE.findall(_user_prompt(body)):
        specs.append(FieldSpec(name, FieldType(kind), shape == "list",
                               "" if description == "(no description)" else description,
                               enum=tuple(enum.split(", ")) if enum else None))
    return FieldSet(tuple(specs))


def model_responder(body: dict[str, Any]) -> str:
    """What the offline provider answers for the chunk and fields in this request."""
    return offline_answer(chunk_text(body), prompt_fields(body))


_FAULTS = (Fault.server_error(500), Fault.server_error(503), Fault.drop(), Fault.malformed(),
           Fault.rate_limited("retry-after-ms", 0.02))


def flaky_script(seed: int, rate: float = 0.25, max_faults_per_chunk: int = 2
                 ) -> Callable[[RequestInfo], Fault]:
    """Faults decided by a hash of (seed, chunk text, how often the chunk was asked).

    About ``rate`` of the first ``max_faults_per_chunk`` requests of each chunk get one of
    500, 503, a dropped connection, malformed JSON or a 429 with ``retry-after-ms: 20``;
    then the chunk is answered. Keyed by content rather than arrival order, so the same
    chunks fail the same way whatever order concurrency sends them in.
    """
    asked: Counter[str] = Counter()

    def script(info: RequestInfo) -> Fault:
        text = chunk_text(info.body)
        n = asked[text]
        asked[text] += 1
        digest = hashlib.sha256(f"{seed}:{n}:{text}".encode()).digest()
        if n < max_faults_per_chunk and int.from_bytes(digest[:4]) < rate * 2**32:
            return _FAULTS[digest[4] % len(_FAULTS)]
        return Fault.ok()

    return script


# --------------------------------------------------------------------------- reports


def stable(report: Mapping[str, Any]) -> dict[str, Any]:
    """The report without what differs between equivalent runs: time, requests, tokens, cost."""
    data: dict[str, Any] = json.loads(json.dumps(report))
    for key in VOLATILE_SUMMARY:
        data["summary"].pop(key, None)
    for document in data["documents"]:
        for key in VOLATILE_DOCUMENT:
            document.pop(key, None)
    return data


def fields_and_statuses(report: Mapping[str, Any]) -> dict[str, Any]:
    """Per document path: its status, chunk counts and fields (everything about values)."""
    return {d["path"]: {"status": d["status"], "chunks": d["chunks"], "fields": d["fields"]}
            for d in report["documents"]}


def folded(text: str) -> str:
    """Whitespace collapsed and case folded, as grounding compares quotes."""
    return " ".join(text.split()).casefold()


def wait_for(condition: Callable[[], bool], timeout: float, what: str) -> None:
    """Poll ``condition`` every 10 ms; fail the test after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.01)
