"""Candidates → one result per field: grounded, merged, validated, never silently dropped.

Why it works this way:

* **Grounding** compares the model's quote with the chunk text after collapsing whitespace
  and case folding: only about two thirds of quotes match verbatim (models re-flow line
  breaks and change case), but a quote that is not in the text at all is a fabrication the
  reviewer must see. Ungrounded candidates are kept and flagged, not discarded. The match
  is mapped back to the original text (``fold``) so the page is that of the quote, not of
  the chunk's start.
* **Scalars** are merged by grouping candidates that mean the same value (the coerced
  value; the folded raw text when it does not coerce) and ranking the groups by grounded
  support, then whether the value coerces, then the highest confidence, then the earliest
  chunk. Validity ranks just after grounded support because, with equal evidence in the
  document, a value that reads as the field's type is the likelier intended one and leaves
  the reviewer nothing to fix; a larger grounded support still wins over validity, so an
  invalid value the document states repeatedly surfaces with its error instead of hiding
  behind a one-off valid one.
* **Lists** are the union of every candidate's value, de-duplicated the same way, in
  first-seen order (chunk order, then the quote's offset).
* Every tie ends on a total order over the candidates' own data, so a merge never depends
  on the order candidates arrived in (the tests shuffle them).
* An invalid value is kept as the model wrote it and flagged with its error; a missing
  required value is an error, a missing optional one is not.

Results are the frozen dataclasses of ``model.py`` (``Candidate``, ``Source``,
``FieldResult``): merge computes them, the report, the session store and the app read them.
"""

from __future__ import annotations

import math
import re
from bisect import bisect_right
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from functools import cached_property
from typing import Any

from extractor_tui.core.fields import FieldSet, FieldSpec, coerce
from extractor_tui.core.model import (
    Candidate,
    FieldResult,
    RawCandidate,
    Source,
    WorkItem,
)

__all__ = [
    "MISSING",
    "FoldedText",
    "apply_edit",
    "candidates_from",
    "chunk_order",
    "coerce_value",
    "conflicts_among",
    "fold",
    "merge_document",
    "merge_field",
    "sources_of",
    "value_key",
]

MISSING = "required field missing"
"""The error of a required field without a value."""

_WS = re.compile(r"\s+")


def chunk_order(label: str) -> tuple[tuple[int, int, str], ...]:
    """Sort key of a chunk label, numeric part by part: ``"2" < "10" < "10.0" < "10.1"``."""
    return tuple((0, int(part), "") if part.isdigit() else (1, 0, part)
                 for part in label.split("."))


_WORD = re.compile(r"\S+")
_BLANKS = re.compile(r"\s{2,}")


@dataclass(frozen=True)
class FoldedText:
    """A text whitespace-collapsed, stripped and case folded, mapped back to the original.

    The map is kept as segments that line up character for character, not as one index per
    character: folding a 4,000-character chunk char by char in Python cost 0.5-2 ms, the
    largest single cost of merging a 10,000-document session. The usual text folds
    character for character (``casefold`` keeps its length), so the folded text comes from
    C string methods and only runs of two or more blanks, where the two texts stop lining
    up, start a segment; those are found when a position is first mapped back. Texts whose
    folding changes lengths (ß → ss) go word by word (``_fold_words``).
    """

    original: str
    text: str
    segments: tuple[tuple[int, ...], tuple[int, ...], Mapping[int, tuple[int, ...]]] | None

    @cached_property
    def _map(self) -> tuple[tuple[int, ...], tuple[int, ...], Mapping[int, tuple[int, ...]]]:
        if self.segments is not None:
            return self.segments
        text = self.original
        body_start, body_end = len(text) - len(text.lstrip()), len(text.rstrip())
        starts, sources = [0], [body_start]
        for run in _BLANKS.finditer(text, body_start, body_end):
            space = starts[-1] + run.start() - sources[-1]  # the one space the run became
            starts.append(space + 1)
            sources.append(run.end())
        return tuple(starts), tuple(sources), {}

    def source(self, position: int) -> int:
        """The index in the original text of character ``position`` of ``text``."""
        starts, sources, irregular = self._map
        segment = bisect_right(starts, position) - 1
        exact = irregular.get(segment)
        if exact is not None:
            return exact[position - starts[segment]]
        return sources[segment] + position - starts[segment]


def fold(text: str) -> FoldedText:
    """``text`` folded for grounding; a space stands for a run of blanks and maps back to
    its first blank."""
    collapsed = " ".join(text.split())  # str.split's blanks are the regex's \s
    folded = collapsed.casefold()
    if len(folded) != len(collapsed):
        return _fold_words(text)
    return FoldedText(text, folded, None)


def _fold_words(text: str) -> FoldedText:
    """``fold`` for a text whose case folding changes lengths (ß → ss): word by word, with a
    per-character index for each word that changed length."""
    pieces: list[str] = []
    starts: list[int] = []
    sources: list[int] = []
    irregular: dict[int, tuple[int, ...]] = {}
    length = 0
    previous_end = -1
    for match in _WORD.finditer(text):
        if previous_end >= 0:
            starts.append(length)
            sources.append(previous_end)
            pieces.append(" ")
            length += 1
        word = match.group()
        folded = word.casefold()
        starts.append(length)
        sources.append(match.start())
        if len(folded) != len(word):
            irregular[len(starts) - 1] = tuple(match.start() + i for i, char in enumerate(word)
                                               for _ in char.casefold())
        pieces.append(folded)
        length += len(folded)
        previous_end = match.end()
    return FoldedText(text, "".join(pieces), (tuple(starts), tuple(sources), irregular))


def _folded(text: str) -> str:
    return _WS.sub(" ", text).strip().casefold()


# --------------------------------------------------------------------------- candidates


def _coerce(spec: FieldSpec, raw: object) -> tuple[object, str | None]:
    """(coerced value, None), or (None, error message). Lists' elements one at a time."""
    try:
        return coerce(spec, raw, item=True), None
    except ValueError as exc:
        return None, str(exc) or "invalid value"


def candidates_from(item: WorkItem, raws: Sequence[RawCandidate],
                    fields: FieldSet) -> list[Candidate]:
    """Ground and coerce one chunk's raw candidates. Fields not in ``fields`` are skipped."""
    folded: FoldedText | None = None  # only when a quote needs looking up
    first_page = item.pages[0]
    result: list[Candidate] = []
    for raw in raws:
        spec = fields.get(raw.field)
        if spec is None:
            continue
        quote = _folded(raw.quote)
        offset = None
        if quote:
            folded = folded or fold(item.text)
            position = folded.text.find(quote)
            if position >= 0:
                offset = item.start + folded.source(position)
        normalized, error = _coerce(spec, raw.value)
        confidence = raw.confidence  # NaN would make the JSON report invalid
        if confidence is not None and not math.isfinite(confidence):
            confidence = None
        result.append(Candidate(
            field=raw.field, value=raw.value, normalized=normalized, error=error,
            quote=raw.quote, chunk=item.id.label,
            page=item.page_of(offset) if offset is not None else first_page,
            grounded=offset is not None, confidence=confidence, offset=offset))
    return result


# --------------------------------------------------------------------------- merging

_Key = tuple[str, str]


def _value_key(candidate: Candidate) -> _Key:
    """What makes two candidates "the same value"."""
    if candidate.error is None:
        value = candidate.normalized
        return ("ok", value.casefold() if isinstance(value, str) else repr(value))
    return ("raw", _folded(candidate.value))


def _confidence(candidate: Candidate) -> float:
    value = candidate.confidence
    return value if value is not None and not math.isnan(value) else -math.inf


def _position(candidate: Candidate) -> tuple[Any, ...]:
    """A total order: chunk, offset, then the candidate's own data (never arrival order)."""
    return (chunk_order(candidate.chunk), candidate.offset is None, candidate.offset or 0,
            candidate.value, candidate.quote, -_confidence(candidate),
            candidate.confidence is None, candidate.page or 0, candidate.grounded)


def _best_first(candidate: Candidate) -> tuple[Any, ...]:
    return (not candidate.grounded, -_confidence(candidate), _position(candidate))


def _groups(candidates: Iterable[Candidate]) -> dict[_Key, list[Candidate]]:
    groups: dict[_Key, list[Candidate]] = {}
    for candidate in sorted(candidates, key=_position):
        groups.setdefault(_value_key(candidate), []).append(candidate)
    return groups


def _sources(group: Sequence[Candidate]) -> list[Source]:
    ordered = sorted(group, key=lambda c: (not c.grounded, _position(c)))
    return list(dict.fromkeys(Source(c.chunk, c.page, c.quote) for c in ordered))


def _support(group: Sequence[Candidate]) -> int:
    """Distinct grounded places in the document: a quote inside the overlap of two chunks is
    seen twice but is one piece of evidence."""
    return len({(c.offset, c.quote) if c.offset is not None else (c.chunk, c.quote)
                for c in group if c.grounded})


def _rank(group: Sequence[Candidate]) -> tuple[Any, ...]:
    return (-_support(group), group[0].error is not None,
            -max(_confidence(c) for c in group), min(_position(c) for c in group))


def _missing(spec: FieldSpec, candidates: tuple[Candidate, ...]) -> FieldResult:
    return FieldResult(spec.name, [] if spec.many else None, valid=not spec.required,
                       errors=(MISSING,) if spec.required else (), candidates=candidates)


def _conflicts(candidates: Iterable[Candidate], chosen: _Key | None
               ) -> tuple[Candidate, ...]:
    """The best grounded candidate of every other value, best-ranked value first."""
    ranked = sorted(_groups(candidates).items(), key=lambda pair: _rank(pair[1]))
    return tuple(min((c for c in group if c.grounded), key=_best_first)
                 for key, group in ranked if key != chosen and any(c.grounded for c in group))


def merge_field(spec: FieldSpec, candidates: Iterable[Candidate]) -> FieldResult:
    """Merge every candidate for one field (see the module docstring for the rules)."""
    mine = tuple(sorted((c for c in candidates if c.field == spec.name), key=_position))
    if not mine:
        return _missing(spec, mine)
    groups = _groups(mine)
    if spec.many:
        return _merge_list(spec, mine, groups)
    top = min(groups.values(), key=_rank)
    best = min(top, key=_best_first)
    return FieldResult(
        spec.name, best.value if best.error is not None else best.normalized,
        valid=best.error is None, errors=(best.error,) if best.error is not None else (),
        grounded=best.grounded, sources=tuple(_sources(top)), candidates=mine,
        conflicts=_conflicts(mine, _value_key(best)))


def _merge_list(spec: FieldSpec, mine: tuple[Candidate, ...],
                groups: dict[_Key, list[Candidate]]) -> FieldResult:
    values: list[object] = []
    errors: list[str] = []
    sources: list[Source] = []
    for n, group in enumerate(groups.values(), 1):  # insertion order = first seen
        first = group[0]
        values.append(first.value if first.error is not None else first.normalized)
        if first.error is not None:
            errors.append(f"item {n}: {first.error}")
        sources.extend(_sources(group))
    return FieldResult(spec.name, values, valid=not errors, errors=tuple(errors),
                       grounded=all(any(c.grounded for c in g) for g in groups.values()),
                       sources=tuple(dict.fromkeys(sources)), candidates=mine)


def merge_document(fields: FieldSet, completed: Sequence[tuple[WorkItem,
                                                               Sequence[RawCandidate]]]
                   ) -> dict[str, FieldResult]:
    """Every field's result for one document, in field order. Each value was read (and so
    checked) once, by ``fields.coerce``: there is no second pass over the record."""
    candidates = [candidate for item, raws in completed
                  for candidate in candidates_from(item, raws, fields)]
    by_field: dict[str, list[Candidate]] = {name: [] for name in fields.names}
    for candidate in candidates:
        by_field[candidate.field].append(candidate)
    return {spec.name: merge_field(spec, by_field[spec.name]) for spec in fields}


def apply_edit(result: FieldResult, spec: FieldSpec, value: object, *, by: str,
               at: str) -> FieldResult:
    """A reviewer's value replaces the merged one.

    The value may be typed or a raw string; for a list field a string is split on ``;``
    (the CSV export joins with ``"; "``). Empty means no value. Candidates stay for the
    record. A value some candidate offered (a conflict candidate the reviewer picked)
    keeps that candidate's sources and grounding; any other value has no source and is
    not grounded, because it was not read from the document. ``conflicts`` are
    recomputed against the new value, so a conflict the reviewer resolved no longer shows.
    """
    errors: list[str] = []
    conflicts: tuple[Candidate, ...] = ()
    keys: list[_Key] = []
    if spec.many:
        if isinstance(value, str):
            items: list[object] = [p.strip() for p in value.split(";") if p.strip()]
        else:
            items = list(value) if isinstance(value, (list, tuple)) else (
                [] if value is None else [value])
        values: list[object] = []
        for n, raw in enumerate(items, 1):
            coerced, error = _coerce(spec, raw)
            values.append(raw if error is not None else coerced)
            errors.extend([f"item {n}: {error}"] if error is not None else [])
            keys.append(_value_key(Candidate(spec.name, str(raw), coerced, error, "", "0",
                                             None, False, None)))
        new_value: object = values
    elif value is None or (isinstance(value, str) and not value.strip()):
        new_value = None
        conflicts = _conflicts(result.candidates, None)
    else:
        coerced, error = _coerce(spec, value)
        new_value = value if error is not None else coerced
        errors.extend([error] if error is not None else [])
        probe = Candidate(spec.name, str(value), coerced, error, "", "0", None, False, None)
        keys.append(_value_key(probe))
        conflicts = _conflicts(result.candidates, keys[0])
    if spec.required and (new_value is None or new_value == []):
        errors.append(MISSING)
    offered = [c for c in result.candidates if _value_key(c) in keys]
    return replace(result, value=new_value, valid=not errors, errors=tuple(errors),
                   grounded=bool(offered) and all(
                       any(c.grounded and _value_key(c) == key for c in offered)
                       for key in keys),
                   sources=tuple(_sources(offered)), conflicts=conflicts, edited=True,
                   edited_by=by, edited_at=at)


# --------------------------------------------------------------------------- shared


def value_key(candidate: Candidate) -> tuple[str, str]:
    """What makes two candidates the same value (the verify stage compares with it)."""
    return _value_key(candidate)


def coerce_value(spec: FieldSpec, raw: object) -> tuple[object, str | None]:
    """``raw`` as one value of ``spec`` (a list field's item): (value, None) or (None, why)."""
    return _coerce(spec, raw)


def sources_of(group: Sequence[Candidate]) -> tuple[Source, ...]:
    """Where a value was read, grounded places first."""
    return tuple(_sources(group))


def conflicts_among(candidates: Iterable[Candidate], chosen: tuple[str, str] | None
                    ) -> tuple[Candidate, ...]:
    """The best grounded candidate of every value but ``chosen``."""
    return _conflicts(candidates, chosen)
