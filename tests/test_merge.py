"""Merging candidates into field results: grounding, ranking, lists, validation, edits."""

from __future__ import annotations

import json
from dataclasses import fields as dataclass_fields
from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from extractor_tui.core import fields as fields_module
from extractor_tui.core.fields import FieldSet, FieldSpec, FieldType, coerce
from extractor_tui.core.merge import (
    MISSING,
    apply_edit,
    candidates_from,
    chunk_order,
    fold,
    merge_document,
    merge_field,
)
from extractor_tui.core.model import (
    Candidate,
    ChunkId,
    FieldResult,
    RawCandidate,
    Source,
    WorkItem,
)
from extractor_tui.core.serial import result_from_json, result_json

NAME = FieldSpec("party")
DATE = FieldSpec("effective_date", FieldType.DATE)
AMOUNT = FieldSpec("total", FieldType.NUMBER)
PARTIES = FieldSpec("parties", many=True)
DATES = FieldSpec("dates", FieldType.DATE, many=True)
KIND = FieldSpec("kind", enum=("NDA", "MSA"))


def item(text: str, *, chunk: int = 1, part: tuple[int, ...] = (), start: int = 0,
         page_starts: tuple[int, ...] = (0,)) -> WorkItem:
    return WorkItem(id=ChunkId(0, chunk, part), document="doc.txt", text=text, start=start,
                    end=start + len(text), page_starts=page_starts, tokens=len(text) // 4,
                    key=f"key-{chunk}-{part}")


def raw(field: str, value: str, quote: str = "", confidence: float | None = None
        ) -> RawCandidate:
    return RawCandidate(field=field, value=value, quote=quote, confidence=confidence)


def cand(spec: FieldSpec, value: str, *, chunk: str = "1", grounded: bool = True,
         confidence: float | None = None, offset: int | None = None) -> Candidate:
    element = replace(spec, many=False)
    try:
        normalized, error = coerce(element, value), None
    except ValueError as exc:
        normalized, error = None, str(exc)
    return Candidate(field=spec.name, value=value, normalized=normalized, error=error,
                     quote=value if grounded else "", chunk=chunk, page=1,
                     grounded=grounded, confidence=confidence,
                     offset=(offset if offset is not None else 0) if grounded else None)


# --------------------------------------------------------------------------- grounding


def test_whitespace_and_case_differences_are_still_grounded() -> None:
    chunk = item("The Buyer:\n   ACME\tIndustries   Inc. agrees")
    [found] = candidates_from(chunk, [raw("party", "Acme Industries Inc.",
                                          "acme industries inc.")], FieldSet((NAME,)))
    assert found.grounded and found.normalized == "Acme Industries Inc."
    assert found.offset == chunk.text.index("ACME")
    assert found.chunk == "1" and found.page == 1


def test_case_folding_that_changes_length_maps_back_to_the_right_offset() -> None:
    chunk = item("Anschrift: Große Straße 5, Berlin")
    [found] = candidates_from(chunk, [raw("party", "x", "STRASSE 5, berlin")],
                              FieldSet((NAME,)))
    assert found.grounded and found.offset == chunk.text.index("Straße")


def test_a_fabricated_or_empty_quote_is_not_grounded_but_kept() -> None:
    chunk = item("Seller: Beta LLC", start=500, page_starts=(0, 300, 600))
    found = candidates_from(chunk, [raw("party", "Gamma Corp", "Buyer: Gamma Corp"),
                                    raw("party", "Beta LLC", "")], FieldSet((NAME,)))
    assert [c.grounded for c in found] == [False, False]
    assert [c.page for c in found] == [2, 2]  # the chunk's first page
    assert all(c.offset is None for c in found)


def test_page_comes_from_where_the_quote_sits_in_a_two_page_chunk() -> None:
    text = "Dated 1 May 2024 between us." + " filler" * 10 + " Total due: $1,234.50."
    start = 80
    page_two = start + text.index(" filler")  # page 2 starts inside the chunk
    chunk = item(text, start=start, page_starts=(0, page_two))
    found = candidates_from(chunk, [raw("effective_date", "1 May 2024", "dated 1 may 2024"),
                                    raw("total", "$1,234.50", "TOTAL DUE: $1,234.50")],
                            FieldSet((DATE, AMOUNT)))
    assert [c.page for c in found] == [1, 2]
    assert [c.normalized for c in found] == ["2024-05-01", 1234.5]
    assert found[1].offset == start + text.index("Total")


def test_candidates_for_unknown_fields_are_skipped_and_nan_confidence_dropped() -> None:
    found = candidates_from(item("x: 1"), [raw("nope", "1", "x: 1"),
                                           raw("party", "x", "x", float("nan"))],
                            FieldSet((NAME,)))
    assert [c.field for c in found] == ["party"] and found[0].confidence is None


# --------------------------------------------------------------------------- scalars


def test_chunk_labels_sort_numerically_part_by_part() -> None:
    labels = ["10.0", "2", "10", "1.1", "10.1", "1"]
    assert sorted(labels, key=chunk_order) == ["1", "1.1", "2", "10", "10.0", "10.1"]


def test_grounded_support_beats_confidence() -> None:
    result = merge_field(NAME, [cand(NAME, "Acme", chunk="1", confidence=0.5),
                                cand(NAME, "ACME", chunk="3", confidence=0.4),
                                cand(NAME, "Beta", chunk="2", confidence=0.99),
                                cand(NAME, "Beta", chunk="4", grounded=False,
                                     confidence=0.99)])
    assert result.value == "Acme" and result.valid and result.grounded
    assert [s.chunk for s in result.sources] == ["1", "3"]


def test_confidence_beats_the_earliest_chunk() -> None:
    result = merge_field(NAME, [cand(NAME, "Acme", chunk="1", confidence=0.5),
                                cand(NAME, "Beta", chunk="2", confidence=0.9)])
    assert result.value == "Beta"


def test_the_earliest_chunk_breaks_ties_in_numeric_order() -> None:
    result = merge_field(NAME, [cand(NAME, "Late", chunk="10", confidence=0.7),
                                cand(NAME, "Early", chunk="2", confidence=0.7)])
    assert result.value == "Early"
    assert [c.value for c in result.candidates] == ["Early", "Late"]


def test_a_value_that_coerces_wins_a_tie_in_grounded_support() -> None:
    result = merge_field(DATE, [cand(DATE, "soon", chunk="1", confidence=0.99),
                                cand(DATE, "March 5, 2024", chunk="2", confidence=0.1)])
    assert result.value == "2024-03-05" and result.valid


def test_conflicts_hold_one_grounded_candidate_per_other_value() -> None:
    result = merge_field(NAME, [cand(NAME, "Acme", chunk="1"), cand(NAME, "acme", chunk="2"),
                                cand(NAME, "Acme", chunk="5"),
                                cand(NAME, "Beta", chunk="3", confidence=0.2),
                                cand(NAME, "Beta", chunk="4", confidence=0.8),
                                cand(NAME, "Gamma", chunk="6", grounded=False)])
    assert result.value == "Acme"
    assert [(c.value, c.chunk) for c in result.conflicts] == [("Beta", "4")]
    assert len(result.candidates) == 6


def test_an_invalid_value_is_kept_and_flagged() -> None:
    amount = merge_field(AMOUNT, [cand(AMOUNT, "$1,234.50")])
    assert amount.value == 1234.5 and amount.valid and amount.errors == ()
    date = merge_field(DATE, [cand(DATE, "soon")])
    assert date.value == "soon" and not date.valid
    assert date.errors == ("not a date: 'soon'",)


def test_missing_values() -> None:
    required = merge_field(replace(DATE, required=True), [])
    assert required.value is None and not required.valid and required.errors == (MISSING,)
    optional = merge_field(DATE, [cand(NAME, "elsewhere")])  # another field's candidate
    assert optional.value is None and optional.valid and optional.errors == ()
    required_list = merge_field(replace(PARTIES, required=True), [])
    assert required_list.value == [] and required_list.errors == (MISSING,)


def test_enum_values_are_canonicalised_or_flagged() -> None:
    assert merge_field(KIND, [cand(KIND, " nda ")]).value == "NDA"
    lease = merge_field(KIND, [cand(KIND, "lease")])
    assert lease.value == "lease" and not lease.valid and "NDA, MSA" in lease.errors[0]


# --------------------------------------------------------------------------- lists


def test_list_union_deduplicates_after_normalising_in_first_seen_order() -> None:
    result = merge_field(PARTIES, [cand(PARTIES, "acme  inc.", chunk="2"),
                                   cand(PARTIES, "Beta LLC", chunk="1", offset=40),
                                   cand(PARTIES, "Acme Inc.", chunk="1", offset=10),
                                   cand(PARTIES, "Gamma", chunk="10", grounded=False)])
    assert result.value == ["Acme Inc.", "Beta LLC", "Gamma"]
    assert result.valid and not result.grounded  # Gamma was not found in the text
    assert [s.chunk for s in result.sources] == ["1", "2", "1", "10"]


def test_invalid_list_items_are_kept_and_flagged_by_position() -> None:
    result = merge_field(DATES, [cand(DATES, "2024-01-02", chunk="1"),
                                 cand(DATES, "Jan 2, 2024", chunk="2"),
                                 cand(DATES, "5 March 2024", chunk="3"),
                                 cand(DATES, "soon", chunk="4")])
    assert result.value == ["2024-01-02", "2024-03-05", "soon"]
    assert not result.valid and result.errors == ("item 3: not a date: 'soon'",)


# --------------------------------------------------------------------------- documents


def test_merge_document_keeps_field_order_and_merges_across_chunks() -> None:
    fields = FieldSet((DATE, NAME, PARTIES))
    one = item("Agreement dated 1 May 2024 by Acme Inc.", chunk=1)
    two = item("Parties: Acme Inc. and Beta LLC.", chunk=2, start=30)
    results = merge_document(fields, [
        (one, [raw("party", "Acme Inc.", "by acme inc."),
               raw("effective_date", "1 May 2024", "dated 1 May 2024")]),
        (two, [raw("parties", "Acme Inc.", "Acme Inc."), raw("parties", "Beta LLC", "Beta LLC"),
               raw("party", "Beta LLC", "Beta LLC")]),
    ])
    assert list(results) == ["effective_date", "party", "parties"]
    assert results["effective_date"].value == "2024-05-01"
    assert results["party"].value == "Acme Inc."  # tie on support: earliest chunk
    assert [c.chunk for c in results["party"].conflicts] == ["2"]
    assert results["parties"].value == ["Acme Inc.", "Beta LLC"]


def test_each_value_is_read_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """One validator: merge reads each candidate's value once (a record model re-read
    every merged value with the same parsers), and a missing required field says so once."""
    reads: list[object] = []
    real = fields_module.parse_date

    def counting(raw: object) -> str:
        reads.append(raw)
        return real(raw)

    monkeypatch.setattr(fields_module, "parse_date", counting)
    fields_module._adapter.cache_clear()  # noqa: SLF001 - rebuilt with the counting parser
    try:
        results = merge_document(FieldSet((DATE, replace(NAME, required=True))), [
            (item("dated 1 May 2024, or 2 May 2024"),
             [raw("effective_date", "1 May 2024", "dated 1 May 2024"),
              raw("effective_date", "2 May 2024", "2 May 2024")])])
    finally:
        fields_module._adapter.cache_clear()  # noqa: SLF001
    assert reads == ["1 May 2024", "2 May 2024"]
    assert results["effective_date"].value == "2024-05-01"
    assert results["party"].errors == (MISSING,) and not results["party"].valid


# --------------------------------------------------------------------------- edits, round trip


def test_apply_edit_coerces_and_keeps_the_offered_candidates_source() -> None:
    merged = merge_field(DATE, [cand(DATE, "1 May 2024", chunk="1"),
                                cand(DATE, "2 May 2024", chunk="2")])
    assert merged.value == "2024-05-01" and len(merged.conflicts) == 1
    edited = apply_edit(merged, DATE, "May 2, 2024", by="ana", at="2024-06-01T10:00:00Z")
    assert edited.value == "2024-05-02" and edited.valid and edited.edited
    assert (edited.edited_by, edited.edited_at) == ("ana", "2024-06-01T10:00:00Z")
    # the value a candidate offered (issue 12 item 14): its source and grounding stay
    assert [s.chunk for s in edited.sources] == ["2"] and edited.grounded
    assert edited.candidates == merged.candidates
    assert [c.value for c in edited.conflicts] == ["1 May 2024"]
    typed = apply_edit(merged, DATE, "3 May 2024", by="ana", at="t")
    assert typed.sources == () and not typed.grounded, "no candidate offered it"
    bad = apply_edit(merged, DATE, "whenever", by="ana", at="t")
    assert bad.value == "whenever" and not bad.valid and bad.errors == (
        "not a date: 'whenever'",)
    cleared = apply_edit(merged, replace(DATE, required=True), "  ", by="ana", at="t")
    assert cleared.value is None and cleared.errors == (MISSING,)


def test_apply_edit_on_a_list_splits_text_on_semicolons() -> None:
    merged = merge_field(DATES, [])
    edited = apply_edit(merged, DATES, "2024-01-02; someday;", by="bo", at="t")
    assert edited.value == ["2024-01-02", "someday"]
    assert edited.errors == ("item 2: not a date: 'someday'",)
    assert apply_edit(merged, DATES, ["Jan 3 2024"], by="bo", at="t").value == ["2024-01-03"]


def test_field_results_survive_a_json_round_trip() -> None:
    merged = merge_field(DATES, [cand(DATES, "2024-01-02", chunk="1", confidence=0.5),
                                 cand(DATES, "soon", chunk="2.1", grounded=False)])
    edited = apply_edit(merge_field(NAME, [cand(NAME, "Acme"), cand(NAME, "Beta", chunk="2")]),
                        NAME, "Acme Corp", by="ana", at="t")
    for result in (merged, edited, merge_field(AMOUNT, [])):
        data = json.loads(json.dumps(result_json(result)))
        assert list(data) == [f.name for f in dataclass_fields(FieldResult)]
        assert result_from_json(data) == result


# --------------------------------------------------------------------------- properties

_VALUES = ["Acme Inc.", "acme  inc.", "Beta LLC", "BETA llc", "Gamma", "", "  "]


@st.composite
def _candidates(draw: st.DrawFn, spec: FieldSpec) -> list[Candidate]:
    count = draw(st.integers(0, 8))
    return [cand(spec, draw(st.sampled_from(_VALUES)),
                 chunk=draw(st.sampled_from(["1", "2", "10", "2.1", "10.0"])),
                 grounded=draw(st.booleans()),
                 confidence=draw(st.none() | st.sampled_from([0.1, 0.5, 0.9])),
                 offset=draw(st.integers(0, 50)))
            for _ in range(count)]


@settings(max_examples=200, deadline=None)
@given(data=st.data(), many=st.booleans())
def test_merge_does_not_depend_on_the_order_of_candidates(data: st.DataObject,
                                                          many: bool) -> None:
    spec = PARTIES if many else NAME
    candidates = data.draw(_candidates(spec))
    shuffled = data.draw(st.permutations(candidates))
    assert merge_field(spec, shuffled) == merge_field(spec, candidates)


@settings(max_examples=100, deadline=None)
@given(data=st.data())
def test_the_chosen_scalar_has_the_most_grounded_support(data: st.DataObject) -> None:
    candidates = data.draw(_candidates(NAME))
    result = merge_field(NAME, candidates)

    def support(value: object) -> int:
        # Distinct grounded places: the same quote at the same offset (a chunk overlap) is
        # one piece of evidence, however many chunks saw it.
        key = str(value).casefold()
        return len({(c.offset, c.quote) if c.offset is not None else (c.chunk, c.quote)
                    for c in candidates if c.grounded and c.error is None
                    and str(c.normalized).casefold() == key})

    best = max((support(c.normalized) for c in candidates if c.error is None), default=0)
    if result.valid and result.value is not None:
        assert support(result.value) == best


@pytest.mark.parametrize("text", ["", "   ", "\n"])
def test_a_blank_quote_never_grounds(text: str) -> None:
    [found] = candidates_from(item("some text"), [raw("party", "x", text)], FieldSet((NAME,)))
    assert not found.grounded


def _fold_per_character(text: str) -> tuple[str, list[int]]:
    """The definition ``merge.fold`` must agree with: one source index per folded char."""
    out: list[str] = []
    index: list[int] = []
    pending_space = -1
    for i, char in enumerate(text):
        if char.isspace():
            if out and pending_space < 0:
                pending_space = i
            continue
        if pending_space >= 0:
            out.append(" ")
            index.append(pending_space)
            pending_space = -1
        for folded in char.casefold():
            out.append(folded)
            index.append(i)
    return "".join(out), index


@settings(max_examples=300)
@given(st.text(alphabet=st.sampled_from("aB ß\tİ\u00a0\nﬁZ.\u2003ǅ"), max_size=60)
       | st.text(max_size=60))
def test_fold_maps_every_folded_character_back_like_the_per_character_definition(
        text: str) -> None:
    expected_text, expected_index = _fold_per_character(text)
    folded = fold(text)
    assert folded.text == expected_text
    assert [folded.source(i) for i in range(len(folded.text))] == expected_index
