"""What a document's verify request(s) carry: planned from its extract results, the same way
every time, so a plan, a run and a reopened session all arrive at the same evidence (and so
at the same request keys and cached answers).

Per field: the merged value, the candidates (one per distinct value, with a quote and the
chunks that offered it) and the conflicts; and the text of every chunk any candidate of the
field came from. A chunk serves several fields but is sent once per request.

One request when it fits, else a few: fields are taken in field order into the current
request while the text of the chunks they add stays within ``budget_tokens``; a field whose
chunks would overflow it starts the next request. A field's chunks are never parted (its
values could not be judged on half its evidence), so a field whose own chunks exceed the
budget is sent alone, whole. Fields without candidates ride in the first request: the
verifier may still find them in the chunks sent for the others.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence

from extractor_tui.core.fields import FieldSet
from extractor_tui.core.model import Evidence, EvidenceChunk, FieldResult, WorkItem

__all__ = ["MAX_LISTED_CANDIDATES", "plan_evidence"]

MAX_LISTED_CANDIDATES = 12
"""Distinct candidate values listed per field; a list field's items can run to hundreds."""


def _plain(value: object) -> object:
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return str(value)


def _listed(result: FieldResult) -> dict[str, object]:
    """A field as the verifier reads it: value, distinct candidates, conflicts."""
    candidates: dict[str, dict[str, object]] = {}
    for candidate in result.candidates:
        key = " ".join(candidate.value.split()).casefold()
        entry = candidates.get(key)
        if entry is None:
            if len(candidates) >= MAX_LISTED_CANDIDATES:
                continue
            entry = candidates[key] = {"value": candidate.value, "quote": candidate.quote,
                                       "chunks": []}
        chunks = entry["chunks"]
        assert isinstance(chunks, list)
        if candidate.chunk not in chunks:
            chunks.append(candidate.chunk)
    return {"value": _plain(result.value), "candidates": list(candidates.values()),
            "conflicts": [c.value for c in result.conflicts]}


def _chunks_of(result: FieldResult, known: Mapping[str, WorkItem]) -> list[str]:
    return list(dict.fromkeys(c.chunk for c in result.candidates if c.chunk in known))


def plan_evidence(fields: FieldSet, results: Mapping[str, FieldResult],
                  items: Sequence[WorkItem], budget_tokens: int) -> list[Evidence]:
    """The evidence of each verify request of one document (empty when it has no chunks).

    ``results`` are the document's extract-stage results (before any hand edit: the
    verifier judges what the model found, not what a reviewer typed); ``items`` its leaf
    chunks, in order.
    """
    if not items:
        return []
    known = {item.id.label: item for item in items}
    order = {item.id.label: n for n, item in enumerate(items)}
    groups: list[tuple[list[str], list[str]]] = []  # (fields, chunk labels)
    spent: list[int] = []
    loose: list[str] = []
    for spec in fields:
        result = results.get(spec.name)
        chunks = _chunks_of(result, known) if result is not None else []
        if not chunks:
            loose.append(spec.name)
            continue
        if groups:
            names, labels = groups[-1]
            new = [label for label in chunks if label not in labels]
            cost = sum(known[label].tokens for label in new)
            if spent[-1] + cost <= budget_tokens:
                names.append(spec.name)
                labels.extend(new)
                spent[-1] += cost
                continue
        groups.append(([spec.name], list(chunks)))
        spent.append(sum(known[label].tokens for label in chunks))
    if not groups:
        groups.append(([], []))
    groups[0][0].extend(loose)
    page_starts = items[0].page_starts
    planned = []
    for names, labels in groups:
        ordered = [name for name in fields.names if name in set(names)]
        extracted: dict[str, object] = {
            name: _listed(results[name]) if name in results else
            {"value": None, "candidates": [], "conflicts": []} for name in ordered}
        cited = tuple(EvidenceChunk(label, known[label].start, known[label].text)
                      for label in sorted(labels, key=order.__getitem__))
        planned.append(Evidence(tuple(ordered), json.dumps(extracted, ensure_ascii=False),
                                cited, page_starts))
    return planned
