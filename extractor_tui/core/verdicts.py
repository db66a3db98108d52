"""What a verify answer does to a document's results.

The rules, per field the request checked:

* The verify values are grounded in the evidence the request carried: a quote counts only
  where it occurs (whitespace collapsed, case folded, as for extraction) in the text of one
  of its chunks, never in the listed candidates. Each becomes a candidate of stage
  ``verify`` beside the extract-stage candidates, which all stay in the record.
* A value with a grounded quote replaces the extracted one (``stage: "verify"``). Its
  verdict follows the value, not the word the model chose: a value equal to the extracted
  one is ``confirmed``, another one is ``corrected`` (a "confirmed" that names another
  value counts as a correction). For a list, the grounded items are the list, ``confirmed``
  when they are the extracted items, else ``corrected``.
* ``not_found`` (or a verdict with no value) clears the field (``stage: "verify"``): the
  verifier read every chunk any candidate came from and found the field stated in none,
  which is evidence against the extracted value; a required field is then flagged missing,
  and the candidates are still there for a reviewer to pick.
* A verdict whose every value is ungrounded changes nothing (``verified`` stays null): a
  verifier's unsupported claim must not overwrite a value read from the text.

A field the answer left out, or that no verify request checked, keeps its extract result.
Each verified value is read by the field's own ``coerce``, as every extracted one is.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import replace

from extractor_tui.core.fields import FieldSet, FieldSpec
from extractor_tui.core.merge import (
    MISSING,
    coerce_value,
    conflicts_among,
    fold,
    sources_of,
    value_key,
)
from extractor_tui.core.model import (
    Candidate,
    Evidence,
    FieldResult,
    RawCandidate,
    StageName,
    Verdict,
)

__all__ = ["apply_verdicts", "ground_in_evidence"]


def ground_in_evidence(spec: FieldSpec, raw: RawCandidate, evidence: Evidence) -> Candidate:
    """``raw`` grounded in the first evidence chunk whose text holds its quote, coerced."""
    quote = " ".join(raw.quote.split()).casefold()
    chunk_label, offset = "verify", None
    if quote:
        for chunk in evidence.chunks:
            folded = fold(chunk.text)
            position = folded.text.find(quote)
            if position >= 0:
                chunk_label, offset = chunk.label, chunk.start + folded.source(position)
                break
    normalized, error = coerce_value(spec, raw.value)
    confidence = raw.confidence if raw.confidence is None or math.isfinite(raw.confidence) \
        else None
    page = evidence.page_of(offset) if offset is not None else None
    return Candidate(field=spec.name, value=raw.value, normalized=normalized, error=error,
                     quote=raw.quote, chunk=chunk_label, page=page,
                     grounded=offset is not None, confidence=confidence, offset=offset,
                     stage=StageName.VERIFY.value)


def _extracted_keys(spec: FieldSpec, result: FieldResult) -> list[tuple[str, str]]:
    values = result.value if isinstance(result.value, list) else (
        [] if result.value is None else [result.value])
    keys = []
    for value in values:
        normalized, error = coerce_value(spec, value)
        keys.append(value_key(Candidate(spec.name, str(value), normalized, error, "", "", None,
                                        False, None)))
    return keys


def _verdict(spec: FieldSpec, before: FieldResult, raws: Sequence[RawCandidate],
             evidence: Evidence) -> FieldResult:
    said = next((raw.verdict for raw in raws if raw.verdict), None)
    offered = [ground_in_evidence(spec, raw, evidence) for raw in raws if raw.value]
    candidates = (*before.candidates, *offered)
    if said == Verdict.NOT_FOUND.value and not offered:
        return replace(before, value=[] if spec.many else None, valid=not spec.required,
                       errors=(MISSING,) if spec.required else (), grounded=False,
                       sources=(), candidates=candidates,
                       conflicts=() if spec.many else conflicts_among(before.candidates, None),
                       verified=Verdict.NOT_FOUND.value, stage=StageName.VERIFY.value)
    grounded = [c for c in offered if c.grounded]
    if not grounded:
        return replace(before, candidates=candidates)
    extracted = _extracted_keys(spec, before)
    if spec.many:
        kept: dict[tuple[str, str], Candidate] = {}
        for candidate in grounded:
            kept.setdefault(value_key(candidate), candidate)
        chosen = list(kept.values())
        same = set(kept) == set(extracted)
        errors = tuple(f"item {n}: {c.error}" for n, c in enumerate(chosen, 1) if c.error)
        value: object = [c.value if c.error else c.normalized for c in chosen]
        conflicts: tuple[Candidate, ...] = ()
    else:
        best = grounded[0]
        chosen = [best]
        same = extracted == [value_key(best)]
        errors = (best.error,) if best.error else ()
        value = best.value if best.error else best.normalized
        conflicts = conflicts_among(candidates, value_key(best))
    verdict = Verdict.CONFIRMED if same else Verdict.CORRECTED
    return replace(before, value=value, valid=not errors, errors=errors, grounded=True,
                   sources=sources_of(chosen), candidates=candidates, conflicts=conflicts,
                   verified=verdict.value, stage=StageName.VERIFY.value)


def apply_verdicts(fields: FieldSet, results: Mapping[str, FieldResult],
                   answers: Sequence[tuple[Evidence, Sequence[RawCandidate]]]
                   ) -> dict[str, FieldResult]:
    """``results`` with each verify answer applied to the fields its evidence checked."""
    updated = dict(results)
    for evidence, raws in answers:
        for name in evidence.fields:
            spec = fields.get(name)
            mine = [raw for raw in raws if raw.field == name]
            if spec is None or name not in updated or not mine:
                continue
            updated[name] = _verdict(spec, updated[name], mine, evidence)
    return updated
