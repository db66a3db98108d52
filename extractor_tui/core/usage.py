"""Tokens per attempt: what the server reported, else our own count, marked estimated.

Every attempt that got an answer costs tokens, whether the answer was used, cut at the token
limit or invalid: before this, cut-off and invalid attempts were recorded as 0 and 0, and a
llama-cpp-python run reported 6,176 completion tokens where the server had generated 11,665.
Where a server reports no usage (llama.cpp, some proxies), or reports one we cannot trust
(``envelope.py`` refuses a malformed one), the tokens are counted with the run's tokenizer
the way a chat server counts them (each message's tokens plus the chat format's own) and
the attempt is marked estimated, so the session, the JSON summary and the app can say so.
An attempt that got no answer (refused, timed out, 5xx) reports nothing and counts nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping

from extractor_tui.core.llm.base import LLMRequest, LLMResponse
from extractor_tui.core.llm.offline import MESSAGE_TOKENS, REPLY_TOKENS
from extractor_tui.core.model import Usage

__all__ = ["Usage", "answer_usage", "estimated_usage"]  # Usage: for engine.py, until it
# imports the type from model.py

Counter = Callable[[str], int]


def _prompt(messages: Iterable[Mapping[str, str]], count: Counter) -> int:
    return sum(count(str(m.get("content") or "")) + MESSAGE_TOKENS
               for m in messages) + REPLY_TOKENS


def estimated_usage(request: LLMRequest, answer: str, count: Counter) -> Usage:
    """The request's and ``answer``'s tokens as we count them, marked estimated."""
    return Usage(_prompt(request.messages, count), count(answer), True)


def answer_usage(request: LLMRequest, response: LLMResponse, count: Counter) -> Usage:
    """What one answered attempt cost: the server's figures, or our estimate."""
    if response.usage_reported:
        return Usage(response.prompt_tokens, response.completion_tokens)
    return estimated_usage(request, response.content, count)
