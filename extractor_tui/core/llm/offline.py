"""The built-in ``offline`` provider: a deterministic heuristic extractor, not an LLM.

With no API key and no base URL the engine uses this client, labelled ``offline``
everywhere, so a new user can run the whole flow (load, chunk, dispatch, review, export) at
once and see it work. Real extraction needs an LLM endpoint.

Why it answers like a model: ``complete`` returns JSON text in exactly the shape that
``prompts.response_format`` asks a real model for (``{field: [{value, quote, confidence}]}``),
so its answers go through the same ``parse_output``, grounding, merge and validation as any
model's, and the engine cannot tell the providers apart. It reads ``request.chunk_text`` and
``request.fields`` directly instead of the prompt.

How it reads a chunk (``_offline_scan`` has the details): label-value lines matched to field
names and synonyms (``_offline_rules``), the items listed under a matching heading, and a few
typed and prose patterns; a typed value is offered only if ``fields.coerce`` accepts it.
Confidence says which rule fired: 0.9 exact label, 0.8 partial label, 0.7 layout or prose
pattern, 0.6 weak label or nearby mention, 0.5 pattern-only guess.

In-process, no network, no randomness: the same request always gets the same answer, and a
chunk takes well under a millisecond (regexes are compiled once, vocabularies cached per
field set).

It answers the verify stage too, as a deterministic check against the evidence rather than a
second opinion (``offline_verdicts``): a field is ``confirmed`` when a candidate holding the
extracted value has its quote in the chunk text the request carries, ``corrected`` to the
first other candidate whose quote is there when the value's own is not, else
``not_found``. So ``--stages extract,verify --offline`` runs the whole flow with no key, and
what it catches is exactly the candidates whose quotes are not in the text.

Its usage is counted as a server would count it, with the bundled ``cl100k_base`` (exact
for the models that use it): the messages' tokens plus ``MESSAGE_TOKENS`` per message and
``REPLY_TOKENS`` for the reply (the chat format's own tokens, as OpenAI documents them), and
the answer's tokens. Counting characters / 4 instead undercounted JSON answers by 20-30 %.
"""

from __future__ import annotations

import json
from dataclasses import replace

from chunking import resolve_encoding
from extractor_tui.core.fields import FieldSet, FieldSpec, coerce
from extractor_tui.core.llm._offline_rules import field_vocabulary
from extractor_tui.core.llm._offline_scan import best_first, scan
from extractor_tui.core.llm.base import LLMRequest, LLMResponse
from extractor_tui.core.model import Evidence, Verdict

__all__ = ["MESSAGE_TOKENS", "REPLY_TOKENS", "OfflineClient", "count_tokens", "offline_answer",
           "offline_verdicts", "prompt_tokens"]

MESSAGE_TOKENS = 3  # per message: its role and separators in the chat format
REPLY_TOKENS = 3    # the start of the assistant's reply


def offline_answer(chunk_text: str, fields: FieldSet) -> str:
    """The JSON answer for one chunk, in the ``response_format`` shape, keys in field order."""
    vocab = field_vocabulary(fields)
    ranked = best_first(scan(chunk_text, vocab), vocab)
    answer = {
        spec.name: [{"value": item.value, "quote": item.quote, "confidence": item.confidence}
                    for item in ranked.get(index, [])]
        for index, spec in enumerate(fields)
    }
    return json.dumps(answer, ensure_ascii=False)


def _folded(text: str) -> str:
    return " ".join(text.split()).casefold()


def _same(spec: FieldSpec, raw: object, value: object) -> bool:
    """Whether the candidate ``raw`` reads as the extracted ``value``."""
    try:
        return coerce(replace(spec, many=False), raw) == value
    except ValueError:
        return _folded(str(raw)) == _folded(str(value))


def _verdict(spec: FieldSpec, entry: dict[str, object], in_text: list[dict[str, str]]
             ) -> dict[str, object]:
    values = [{"value": c["value"], "quote": c["quote"]} for c in in_text]
    if not values:
        return {"verdict": Verdict.NOT_FOUND.value, "values": []}
    if spec.many:
        return {"verdict": Verdict.CONFIRMED.value, "values": values}
    value = entry.get("value")
    same = [v for v in values if value is not None and _same(spec, v["value"], value)]
    if same:
        return {"verdict": Verdict.CONFIRMED.value, "values": same[:1]}
    return {"verdict": Verdict.CORRECTED.value, "values": values[:1]}


def offline_verdicts(evidence: Evidence, fields: FieldSet) -> str:
    """The verify answer for ``evidence``: each field's candidates whose quotes are in the
    chunk text, judged as the module docstring says; JSON, keys in field order."""
    text = [_folded(chunk.text) for chunk in evidence.chunks]
    listed = json.loads(evidence.extracted)
    answer = {}
    for spec in fields:
        entry = listed.get(spec.name) or {}
        candidates = [c for c in entry.get("candidates", [])
                      if isinstance(c, dict) and isinstance(c.get("quote"), str)]
        in_text = [c for c in candidates
                   if _folded(c["quote"]) and any(_folded(c["quote"]) in t for t in text)]
        answer[spec.name] = _verdict(spec, entry, in_text)
    return json.dumps(answer, ensure_ascii=False)


def count_tokens(text: str) -> int:
    """``text``'s tokens in the bundled cl100k_base (read from a file, never the network)."""
    return len(resolve_encoding(None).encoding.encode_ordinary(text))


def prompt_tokens(messages: tuple[dict[str, str], ...] | list[dict[str, str]]) -> int:
    """The prompt tokens a chat-completions server reports for ``messages``."""
    return sum(count_tokens(m.get("content", "")) + MESSAGE_TOKENS
               for m in messages) + REPLY_TOKENS


class OfflineClient:
    """The ``Client`` that answers every request in-process with ``offline_answer``."""

    @property
    def provider(self) -> str:
        return "offline"

    @property
    def endpoint(self) -> str:
        return "offline"

    async def complete(self, request: LLMRequest, timeout: float) -> LLMResponse:
        """Answer at once; ``timeout`` is irrelevant here (the work takes microseconds)."""
        content = (offline_verdicts(request.evidence, request.fields)
                   if request.evidence is not None
                   else offline_answer(request.chunk_text, request.fields))
        prompt = (prompt_tokens([dict(m) for m in request.messages]) if request.messages
                  else count_tokens(request.chunk_text))
        return LLMResponse(content=content, finish_reason="stop", prompt_tokens=prompt,
                           completion_tokens=max(1, count_tokens(content)), status=200,
                           request_id=f"offline-{request.key[:12]}")

    async def list_models(self, timeout: float) -> list[str]:
        """None: the built-in provider is no LLM and serves no model."""
        return []

    async def aclose(self) -> None:
        """Nothing to release."""
