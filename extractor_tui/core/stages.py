"""The stages of an extraction: what each one sends, with which model and sampling.

Two stages run on the one engine: ``extract`` (one request per chunk) and ``verify`` (one
request per document, or a few when its evidence is large; ``verify.py``). The engine does
not know which is which: every work item names its stage (``ChunkId.stage``), and the
stage builds the item's request, parses its answer, re-asks after a bad one and says
whether a cut answer may be split. Dispatch, retries, the gate, negotiation, the cache and
the tracker are the same for both, so a verify request is retried, paced and recorded
exactly as a chunk is.

Sampling (temperature, top_p, seed) is per stage, and so are a stage's model and
``endpoint`` (the name of one of the ``[[endpoints]]``: the pool sends the stage's requests
there only). A sampling value that is not set is not sent: the server's default applies,
and the request key stays what it was before stages had sampling, so sessions made earlier
keep their answers. ``seed`` is sent where the server takes one: some refuse it (Azure's
Mistral with a 422 ``extra_forbidden`` at ``body.seed``, proxies that "do not support
parameters: {'seed': 1}"), and a refusal that names it (``refuses_seed``) makes the engine
drop it for that endpoint and send again.
"""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Protocol

from extractor_tui.core.fields import FieldSet
from extractor_tui.core.llm.base import LLMRequest
from extractor_tui.core.model import RawCandidate, Sampling, StageName, WorkItem
from extractor_tui.core.prompts import make_request, parse_output, repair_messages
from extractor_tui.core.structured import Mode
from extractor_tui.errors import ProviderError

__all__ = ["ExtractStage", "Stage", "refuses_seed", "with_sampling"]


class Stage(Protocol):
    """What the engine asks of a stage, for each of its items."""

    @property
    def name(self) -> str:
        """``"extract"`` or ``"verify"``: the ``ChunkId.stage`` of its items."""
        ...

    @property
    def model(self) -> str:
        """The model its requests name."""
        ...

    @property
    def endpoint(self) -> str | None:
        """The endpoint its requests go to (``[stages.*] endpoint``); None: any that serves
        its model."""
        ...

    @property
    def splits(self) -> bool:
        """Whether an answer cut at the token limit splits the item in two and sends both."""
        ...

    def build_request(self, item: WorkItem, mode: Mode) -> LLMRequest:
        """The request for ``item`` in the endpoint's structured-output ``mode``."""
        ...

    def parse(self, item: WorkItem, content: str) -> tuple[RawCandidate, ...]:
        """The answer's candidates; ``InvalidOutput`` when it cannot be used."""
        ...

    def repair(self, request: LLMRequest, bad_output: str, error: str) -> LLMRequest:
        """``request`` again, with the unusable answer and what was wrong with it."""
        ...


class ExtractStage:
    """One request per chunk: the field set's candidates in the chunk (``prompts.py``)."""

    name = StageName.EXTRACT.value
    splits = True

    def __init__(self, fields: FieldSet, model: str, sampling: Sampling = Sampling(), *,
                 max_tokens: int | None = None, endpoint: str | None = None) -> None:
        self.fields = fields
        self.model = model
        self.sampling = sampling
        self.max_tokens = max_tokens
        self.endpoint = endpoint

    def build_request(self, item: WorkItem, mode: Mode) -> LLMRequest:
        request = make_request(fields=self.fields, chunk_text=item.text, model=self.model,
                               key=item.key, max_tokens=self.max_tokens, mode=mode)
        return with_sampling(request, self.sampling, self.name, self.endpoint)

    def parse(self, item: WorkItem, content: str) -> tuple[RawCandidate, ...]:
        return parse_output(content, self.fields)

    def repair(self, request: LLMRequest, bad_output: str, error: str) -> LLMRequest:
        return replace(request, messages=repair_messages(request.messages, bad_output, error))


def with_sampling(request: LLMRequest, sampling: Sampling, stage: str,
                  endpoint: str | None) -> LLMRequest:
    """``request`` carrying a stage's sampling, name and endpoint."""
    return replace(request, temperature=sampling.temperature, top_p=sampling.top_p,
                   seed=sampling.seed, stage=stage, endpoint=endpoint)


_SEED = re.compile(r"(?<![a-z_])seed(?![a-z_])", re.IGNORECASE)
_NOT_ABOUT_THE_REQUEST = frozenset({401, 403, 404, 429})


def refuses_seed(error: ProviderError) -> bool:
    """Whether ``error`` is a server refusing the ``seed`` it was sent (a 4xx naming it)."""
    status = error.status
    if status is None or not 400 <= status < 500 or status in _NOT_ABOUT_THE_REQUEST:
        return False
    return _SEED.search(error.message) is not None
