"""The OpenAI-compatible client: the official SDK, with its retries off, errors mapped once.

Why these choices:

* ``AsyncOpenAI(max_retries=0)``: the SDK would otherwise retry silently, and the tracker
  could not show attempts. The engine owns every retry.
* The raw response (``cast_to=httpx2.Response``, the SDK's documented way to make a request
  it has no typed method for): the headers carry ``x-ratelimit-*`` budgets and
  ``retry-after``, which the gate needs on successes as well as on 429s, and the envelope is
  read with ``json.loads``: servers that imitate OpenAI (vLLM, Ollama, llama.cpp) differ in
  small ways a strict parse would reject.
* ``post("/chat/completions", body=...)`` instead of ``chat.completions.create(...)``: the
  typed method walks the nested JSON schema against its TypedDicts on every call, about
  2 ms of CPU per request here, which was half of the client's whole cost. prompts.py
  already builds plain JSON; the bytes on the wire are the same, and auth, base URL,
  connection pooling and error classes are still the SDK's.
* The transport under the SDK is aiohttp (``transport.py``), which the SDK documents for
  concurrency; the engine's CPU per request on it is 0.63-0.75x what it is on httpx2
  (bench/dispatch.py). ``transport="httpx2"`` keeps the SDK's default, for comparison in
  bench/dispatch.py and the transport tests.
* What the server sends (answers, error messages, raw bodies) has the API key redacted
  (``scrub.redact``) before it leaves this class: some servers echo the key back.
* Every ``openai.*Error`` is mapped to our ``ProviderError`` tree here, and only here, with
  ``raise … from exc``. Nothing else in the code base imports ``openai``. A failure to
  connect (refused, DNS, TLS) and a 5xx carry a ``fingerprint``: the engine stops a run
  whose first attempts fail the same way twice, with the server's own words.
* The body carries what the request's structured-output mode asks for (``response_format``,
  or ``tools`` and ``tool_choice``) and nothing it does not: servers refuse fields they do
  not know. OpenAI's own endpoint is not sent the ``schema`` key of a ``json_object``
  format, which only llama.cpp-based servers read. The answer cap goes in
  ``max_completion_tokens`` for OpenAI's reasoning models (o1, o3, o4, gpt-5 families),
  which refuse ``max_tokens`` with a 400, and in ``max_tokens`` everywhere else (vLLM,
  Ollama, llama.cpp and LM Studio read that one).
* ``timeout`` bounds the whole call, body included (``asyncio.timeout`` around it, on
  either transport): a server that drips its answer byte by byte cannot hold a request
  longer. The answer is read by ``envelope.read_envelope``, which checks every field.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import replace
from typing import Any, Literal
from urllib.parse import urlsplit

import httpx2
import openai

from extractor_tui.core.llm.base import LLMRequest, LLMResponse
from extractor_tui.core.llm.envelope import DEFAULT_MAX_BODY_BYTES, read_envelope
from extractor_tui.core.llm.headers import retry_after
from extractor_tui.core.llm.transport import AnswerTooLarge, aiohttp_http_client, uses_aiohttp
from extractor_tui.core.prompts import is_reasoning_model
from extractor_tui.core.scrub import redact, register_secret
from extractor_tui.errors import (
    FatalProviderError,
    InvalidOutput,
    ProviderError,
    RateLimited,
    TransientError,
)

__all__ = ["OpenAIClient", "Transport", "cap_parameter", "map_error", "request_body"]

Transport = Literal["aiohttp", "httpx2"]

_FATAL_HINTS = {
    401: "the API key was refused (check --api-key / OPENAI_API_KEY)",
    403: "the API key may not use this model or endpoint",
    404: "unknown model or wrong base URL",
}


def _code(exc: openai.APIStatusError) -> str:
    code = getattr(exc, "code", None)
    if isinstance(code, str):
        return code
    body = exc.body if isinstance(exc.body, dict) else {}
    error = body.get("error", body)
    if isinstance(error, dict) and isinstance(error.get("code"), str):
        return str(error["code"])
    return ""


def _message(exc: openai.APIStatusError) -> str:
    if isinstance(exc.body, str) and exc.body:
        return exc.body  # the SDK unwraps {"error": "<the reason>"} (LM Studio) to the string
    body = exc.body if isinstance(exc.body, dict) else {}
    error = body.get("error", body)
    if isinstance(error, dict) and isinstance(error.get("message"), str):
        return str(error["message"])
    if isinstance(error, str) and error:  # LM Studio: {"error": "<the reason>"}
        return error
    return str(exc.message)


def cap_parameter(model: str) -> str:
    """The body field that caps the answer's tokens for ``model``: OpenAI's reasoning models
    take only ``max_completion_tokens``."""
    return "max_completion_tokens" if is_reasoning_model(model) else "max_tokens"


def request_body(request: LLMRequest, *, openai_endpoint: bool = False) -> dict[str, Any]:
    """The JSON body of a chat completion for ``request``, in its structured-output mode."""
    body: dict[str, Any] = {"model": request.model, "messages": list(request.messages)}
    if request.response_format is not None:
        fmt = dict(request.response_format)
        if openai_endpoint and fmt.get("type") == "json_object":
            fmt.pop("schema", None)
        body["response_format"] = fmt
    if request.tools:
        body["tools"] = [dict(tool) for tool in request.tools]
    if request.tool_choice is not None:
        body["tool_choice"] = dict(request.tool_choice)
    if request.max_tokens is not None:
        body[cap_parameter(request.model)] = request.max_tokens
    for name, value in (("temperature", request.temperature), ("top_p", request.top_p),
                        ("seed", request.seed)):
        if value is not None:  # unset: the server's default, and no field it may refuse
            body[name] = value
    return body


def _connect_message(cause: BaseException) -> str:
    """"cannot connect: Connect call failed ('127.0.0.1', 9)": aiohttp's reason, without its
    "Cannot connect to host … ssl:default" preamble (the engine names the endpoint)."""
    text = str(cause)
    if "[" in text and text.endswith("]"):
        text = text[text.index("[") + 1:-1]
    return f"cannot connect: {text}"[:300]


def map_error(exc: openai.OpenAIError, timeout: float) -> ProviderError:
    """The one place where an SDK error becomes one of ours."""
    if isinstance(exc, openai.APITimeoutError):
        return TransientError(f"no answer within {timeout:g} s")
    if isinstance(exc, openai.APIConnectionError):
        cause = exc.__cause__ or exc
        if isinstance(cause, AnswerTooLarge):
            return InvalidOutput(str(cause))
        if isinstance(cause, httpx2.ConnectError):  # refused, DNS, TLS: it will not change
            message = _connect_message(cause)
            return TransientError(message, fingerprint=message)
        return TransientError(f"connection failed: {type(cause).__name__}: {cause}"[:300])
    if isinstance(exc, openai.APIStatusError):
        status, code = exc.status_code, _code(exc)
        headers: Mapping[str, str] = exc.response.headers
        request_id = headers.get("x-request-id")
        text = _message(exc)[:300]
        if status == 429 and code != "insufficient_quota":
            return RateLimited(f"429 rate limited: {text}", retry_after=retry_after(headers),
                               request_id=request_id, headers=dict(headers))
        if status == 429:
            return FatalProviderError(f"429 insufficient quota: {text} (add credit or use "
                                      "another key)", status=status, request_id=request_id)
        if status >= 500 or status in (408, 409):
            return TransientError(f"{status} server error: {text}", status=status,
                                  request_id=request_id,
                                  fingerprint=f"{status} {text}" if status >= 500 else None)
        if status == 400 and code == "context_length_exceeded":
            return FatalProviderError(f"400 context too long: {text} (lower --chunk-tokens)",
                                      status=status, request_id=request_id,
                                      endpoint_own=False)
        hint = _FATAL_HINTS.get(status, "the request was refused")
        return FatalProviderError(f"{status} {hint}: {text}", status=status,
                                  request_id=request_id)
    return TransientError(f"{type(exc).__name__}: {exc}"[:300])


def _redacted(error: ProviderError) -> ProviderError:
    """``error`` with the key taken out of what the server sent (message, raw output, request
    id): some servers echo the key they were given, and these texts reach the session, the
    exports and the terminal. The SDK error it came from stays as ``__cause__`` only for
    tracebacks, which are redacted when written (crashlog.py)."""
    error.message = redact(error.message)
    error.args = (error.message, *error.args[1:])
    if error.raw is not None:
        error.raw = redact(error.raw)
    if error.request_id is not None:
        error.request_id = redact(error.request_id)
    if error.fingerprint is not None:
        error.fingerprint = redact(error.fingerprint)
    return error


class OpenAIClient:
    """Any OpenAI-compatible chat-completions endpoint: OpenAI, vLLM, Ollama, llama.cpp."""

    provider = "openai-compatible"

    def __init__(self, *, base_url: str | None, api_key: str | None, timeout: float = 60.0,
                 extra_headers: Mapping[str, str] | None = None,
                 transport: Transport = "aiohttp",
                 max_body_bytes: int = DEFAULT_MAX_BODY_BYTES) -> None:
        self._max_body_bytes = max_body_bytes
        register_secret(api_key)  # a server may echo it back: see _redacted
        http_client = (aiohttp_http_client(timeout, max_body_bytes)
                       if transport == "aiohttp" and uses_aiohttp() else None)
        self._sdk = openai.AsyncOpenAI(
            base_url=base_url or None, api_key=api_key or "not-needed", max_retries=0,
            timeout=timeout, default_headers=dict(extra_headers or {}), http_client=http_client)
        self._endpoint = str(self._sdk.base_url)
        self._openai = urlsplit(self._endpoint).hostname == "api.openai.com"

    @property
    def endpoint(self) -> str:
        return self._endpoint

    async def complete(self, request: LLMRequest, timeout: float) -> LLMResponse:
        """One chat completion; what the server sent comes back with the key redacted."""
        try:
            content, headers, status = await self._post(request, timeout)
        except ProviderError as exc:
            raise _redacted(exc)
        return self.read_answer(content, headers, status, request)

    def body(self, request: LLMRequest) -> dict[str, Any]:
        """The JSON body this client sends for ``request`` (a batch line carries it as is)."""
        return request_body(request, openai_endpoint=self._openai)

    def read_answer(self, content: bytes, headers: Mapping[str, str], status: int,
                    request: LLMRequest) -> LLMResponse:
        """An answer's body read as every answer is (``envelope.read_envelope``), the cap
        checked and the key redacted: a live call's, or a Batch API output line's."""
        try:
            response = read_envelope(content, dict(headers), status, self._max_body_bytes)
        except ProviderError as exc:
            raise _redacted(exc)
        cap = request.max_tokens
        if cap is not None and response.finish_reason != "length" \
                and response.completion_tokens >= cap:
            # Cut at the cap but not labelled so: llama-cpp-python ends a forced tool call
            # with "tool_calls" whatever stopped it. Treated as any answer cut at the limit.
            response = replace(response, finish_reason="length")
        return replace(response, content=redact(response.content))

    async def _post(self, request: LLMRequest,
                    timeout: float) -> tuple[bytes, Mapping[str, str], int]:
        body = self.body(request)
        try:
            async with asyncio.timeout(timeout):
                raw = await self._sdk.post("/chat/completions", cast_to=httpx2.Response,
                                           body=body, options={"timeout": timeout})
                content = raw.content
        except TimeoutError as exc:  # the whole call, body included, took too long
            raise TransientError(f"no answer within {timeout:g} s") from exc
        except openai.OpenAIError as exc:
            raise map_error(exc, timeout) from exc
        return content, raw.headers, raw.status_code

    async def list_models(self, timeout: float = 10.0) -> list[str]:
        """One small call, for "test connection"."""
        try:
            page = await self._sdk.models.list(timeout=timeout)
        except openai.OpenAIError as exc:
            raise _redacted(map_error(exc, timeout)) from exc
        return [model.id for model in page.data]

    async def aclose(self) -> None:
        await self._sdk.close()
