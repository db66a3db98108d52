"""The ``Client`` protocol and the request/response data every provider shares.

A request carries both the chat messages (what an HTTP provider sends) and the chunk text
and fields they were built from (what the in-process ``offline`` provider reads directly),
so both providers answer the same request object and the engine cannot tell them apart.
``mode`` is the structured-output mode the request was built in (``structured.Mode``): the
engine reads it back when a server refuses the request, to move the endpoint on. ``stage``
names the stage that built it, ``endpoint`` the endpoint that stage asks for (None: any
that serves ``model``), and the sampling fields are sent only when set (``stages.py``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from extractor_tui.core.fields import FieldSet
from extractor_tui.core.model import Evidence

__all__ = ["Client", "LLMRequest", "LLMResponse"]


@dataclass(frozen=True)
class LLMRequest:
    """One call: one chunk × the field set (extract), or one document's evidence (verify)."""

    key: str
    model: str
    messages: tuple[Mapping[str, str], ...]
    response_format: Mapping[str, Any] | None
    chunk_text: str
    fields: FieldSet
    max_tokens: int | None = None
    mode: str = "json_schema"
    tools: tuple[Mapping[str, Any], ...] = ()
    tool_choice: Mapping[str, Any] | None = None
    temperature: float | None = None
    top_p: float | None = None
    seed: int | None = None
    stage: str = "extract"
    endpoint: str | None = None
    evidence: Evidence | None = None  # a verify request's, read by the offline provider


@dataclass(frozen=True)
class LLMResponse:
    """What came back: the message content and everything the tracker and budgets use.

    ``usage_reported`` is False when the server sent no token counts (llama.cpp, some
    proxies): the engine then counts them with the tokenizer and marks them estimated.
    """

    content: str
    finish_reason: str = "stop"
    prompt_tokens: int = 0
    completion_tokens: int = 0
    status: int | None = 200
    request_id: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    cached: bool = False
    usage_reported: bool = True


class Client(Protocol):
    """Anything that answers ``LLMRequest``s. Raises only ``ProviderError`` subclasses."""

    @property
    def provider(self) -> str:
        """The label shown everywhere: ``"offline"`` or ``"openai-compatible"``."""
        ...

    @property
    def endpoint(self) -> str:
        """Where calls go; the circuit breaker and budgets are kept per endpoint."""
        ...

    async def complete(self, request: LLMRequest, timeout: float) -> LLMResponse:
        """Answer one request, or raise a ``ProviderError``."""
        ...

    async def list_models(self, timeout: float) -> list[str]:
        """The models the endpoint serves: one small call ("test connection"), or a
        ``ProviderError`` saying why it failed."""
        ...

    async def aclose(self) -> None:
        """Release connections."""
        ...
