"""LLM clients behind one ``Client`` protocol: an OpenAI-compatible endpoint, or ``offline``.

The engine only sees ``Client.complete(request, timeout)``; which provider answers is decided
once, in ``make_client``. Every SDK error is mapped to ``ProviderError`` inside the client.
"""

from __future__ import annotations

from extractor_tui.core.llm.base import Client, LLMRequest, LLMResponse

__all__ = ["Client", "LLMRequest", "LLMResponse"]
