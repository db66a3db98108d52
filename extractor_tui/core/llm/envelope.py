"""Reading a chat-completion answer: every field checked before anything trusts it.

A server that imitates OpenAI (or a hostile one) can send any JSON. Each answer field is
checked for its type and range here, so a bad answer is an ordinary failure of one chunk and
never an exception that ends the run:

* a body over the size cap, or JSON whose fields have the wrong type (``choices`` not a
  list, ``content`` not text, ``usage`` a string, a list, or a count too large for SQLite's
  64-bit integers): ``InvalidOutput``, so the chunk is re-asked with the error;
* a body that is not JSON at all (cut short on the way): ``TransientError``, retried;
* no ``usage`` (llama.cpp, some proxies, streaming imitations): the answer is kept and
  ``usage_reported`` is False, so the engine counts the tokens itself and marks them
  estimated.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from extractor_tui.core.llm.base import LLMResponse
from extractor_tui.errors import InvalidOutput, TransientError

__all__ = ["DEFAULT_MAX_BODY_BYTES", "MAX_TOKEN_COUNT", "read_envelope"]

DEFAULT_MAX_BODY_BYTES = 10 * 1024 * 1024
MAX_TOKEN_COUNT = 10**9  # no single call uses a billion tokens; SQLite stops at 2**63 - 1


def _mb(size: int) -> str:
    return f"{size / (1024 * 1024):.1f} MB"


def _count(usage: Mapping[str, Any], name: str) -> int | None:
    """One usage count: None when absent; ``InvalidOutput`` when not a sane whole number."""
    value = usage.get(name)
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) \
            or not 0 <= value <= MAX_TOKEN_COUNT:
        raise InvalidOutput(f"the server's usage.{name} is not a token count: "
                            f"{json.dumps(value)[:80]}")
    return value


def _usage(data: Mapping[str, Any]) -> tuple[int, int] | None:
    usage = data.get("usage")
    if usage is None:
        return None
    if not isinstance(usage, dict):
        raise InvalidOutput(f"the server's usage is not an object: {json.dumps(usage)[:80]}")
    prompt, completion = _count(usage, "prompt_tokens"), _count(usage, "completion_tokens")
    if prompt is None or completion is None:
        return None
    return prompt, completion


def _tool_arguments(message: Mapping[str, Any]) -> str:
    """The first tool call's arguments, or ``""``; a server that ignores ``tool_choice``
    (Ollama, llama-server) answers in ``content`` instead, read as usual."""
    calls = message.get("tool_calls")
    if isinstance(calls, list) and calls and isinstance(calls[0], dict):
        function = calls[0].get("function")
        if isinstance(function, dict):
            arguments = function.get("arguments")
            if isinstance(arguments, str):
                return arguments
            if isinstance(arguments, dict):  # some servers send the object itself
                return json.dumps(arguments)
    return ""


def _content(data: Any) -> tuple[str, str]:
    """(content, finish_reason) of the first choice, each field's type checked."""
    if not isinstance(data, dict):
        raise InvalidOutput("the answer is not a JSON object")
    choices = data.get("choices")
    if not isinstance(choices, list) or not choices:
        raise InvalidOutput("the answer has no choices")
    choice = choices[0]
    message = choice.get("message") if isinstance(choice, dict) else None
    if not isinstance(message, dict):
        raise InvalidOutput("the answer's first choice has no message")
    content = message.get("content")
    if content is not None and not isinstance(content, str):
        raise InvalidOutput("the message content is not text", raw=str(content)[:2000])
    if not content:  # tools mode: the answer is the forced call's arguments
        content = _tool_arguments(message)
    finish = choice.get("finish_reason")
    if finish is not None and not isinstance(finish, str):
        raise InvalidOutput("the answer's finish_reason is not text")
    return content or "", finish or "stop"


def read_envelope(body: bytes, headers: dict[str, str], status: int,
                  max_body_bytes: int = DEFAULT_MAX_BODY_BYTES) -> LLMResponse:
    """The answer in ``body``, or the ``ProviderError`` that says what is wrong with it."""
    request_id = headers.get("x-request-id")
    if len(body) > max_body_bytes:
        raise InvalidOutput(f"the answer is {_mb(len(body))}, over the {_mb(max_body_bytes)} "
                            "cap on an answer's size", status=status, request_id=request_id)
    text = body.decode("utf-8", "replace")
    try:
        data = json.loads(text)
    except (ValueError, RecursionError) as exc:  # RecursionError: nested 100,000 deep
        raise TransientError(f"the server sent an unreadable response ({type(exc).__name__})",
                             status=status, request_id=request_id, raw=text[:2000]) from exc
    try:
        content, finish = _content(data)
        usage = _usage(data)
    except InvalidOutput as exc:
        exc.status, exc.request_id = status, request_id
        exc.raw = exc.raw or text[:2000]
        raise
    prompt, completion = usage or (0, 0)
    return LLMResponse(content=content, finish_reason=finish, prompt_tokens=prompt,
                       completion_tokens=completion, status=status, request_id=request_id,
                       headers=headers, usage_reported=usage is not None)
