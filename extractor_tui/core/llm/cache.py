"""A ``Client`` that answers from a store of earlier answers before asking the real one.

Why a wrapper and not a check inside the engine: the engine stays ignorant of storage, and
every provider gets the cache the same way. A cached answer comes back as an ordinary
``LLMResponse`` marked ``cached=True`` (no HTTP status, no headers), so the engine parses it,
the tracker shows it as cached, and nothing is paid for it.

The store is anything with ``cached_answer(key)`` (the session is one): a provider package
never imports storage, the job hands the session in. Answers get into the store through
``Session.record(ChunkCompleted)``, not here: only an answer that parsed is worth keeping,
and the engine knows that, the client does not.
"""

from __future__ import annotations

from typing import Protocol

from extractor_tui.core.llm.base import Client, LLMRequest, LLMResponse
from extractor_tui.core.model import CachedAnswer

__all__ = ["AnswerStore", "CachingClient"]


class AnswerStore(Protocol):
    """Where earlier answers are kept, by request key."""

    def cached_answer(self, key: str) -> CachedAnswer | None: ...


class CachingClient:
    """Wraps ``inner``: a request whose key has a stored answer is not sent.

    ``hits`` and ``misses`` count the requests answered from the cache and sent on.
    """

    def __init__(self, inner: Client, store: AnswerStore) -> None:
        self.inner = inner
        self.store = store
        self.hits = 0
        self.misses = 0

    @property
    def provider(self) -> str:
        return self.inner.provider

    @property
    def endpoint(self) -> str:
        return self.inner.endpoint

    async def complete(self, request: LLMRequest, timeout: float) -> LLMResponse:
        cached = self.store.cached_answer(request.key)
        if cached is not None:
            self.hits += 1
            return LLMResponse(cached.content, prompt_tokens=cached.prompt_tokens,
                               completion_tokens=cached.completion_tokens, status=None,
                               cached=True)
        self.misses += 1
        return await self.inner.complete(request, timeout)

    async def list_models(self, timeout: float) -> list[str]:
        return await self.inner.list_models(timeout)

    async def aclose(self) -> None:
        await self.inner.aclose()
