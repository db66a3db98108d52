"""Benchmark: how often the built-in ``offline`` provider is right; prints, asserts nothing.

    .venv/bin/python bench/offline_score.py [--corpus DIR] [--verbose]

Runs the real path for every document: ``load_documents`` → ``chunk_documents`` (1,000-token
chunks, 100 overlap, the gpt-4o-mini encoding) → ``make_request`` → ``OfflineClient.complete``
→ ``parse_output``, then picks per field the best candidate (highest confidence, then earliest
chunk) and compares it with the truth after ``coerce``; list fields count as right when every
expected item is among the candidates.

* ``sample_docs/``: with the matching preset, split into fields printed next to a label
  (``labelled`` in expected.json) and fields only stated in prose; then how many chunks per
  second ``offline_answer`` reads (best of 7 passes).
* ``../shared/corpus/invoice2data`` (skipped when absent): the invoice preset against the
  gold JSON, mapping ``issuer`` → vendor, ``date`` → invoice_date, ``amount`` → total,
  ``amount_untaxed`` → subtotal, ``amount_tax`` → tax, ``date_due`` → due_date.
  Strings count as right when equal after case folding and whitespace collapsing.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from extractor_tui.core import (  # noqa: E402
    ChunkedDocument,
    chunk_documents,
    load_documents,
    make_chunker,
)
from extractor_tui.core.fields import FieldSet, coerce, preset  # noqa: E402
from extractor_tui.core.llm.offline import OfflineClient, offline_answer  # noqa: E402
from extractor_tui.core.prompts import make_request, parse_output, request_key  # noqa: E402

SAMPLES = ROOT / "sample_docs"
DEFAULT_CORPUS = ROOT.parent / "shared" / "corpus" / "invoice2data"
KIND_PRESET = {"invoice": "invoice", "contract": "contract", "discharge_summary": "medical"}
GOLD_MAP = {"issuer": "vendor", "date": "invoice_date", "amount": "total",
            "amount_untaxed": "subtotal", "amount_tax": "tax", "date_due": "due_date",
            "invoice_number": "invoice_number", "currency": "currency"}


async def candidates(chunked: ChunkedDocument, fields: FieldSet,
                     client: OfflineClient) -> dict[str, list[tuple[float, int, int, str]]]:
    """Per field: (confidence, chunk index, rank in the answer, value) for every candidate."""
    found: dict[str, list[tuple[float, int, int, str]]] = defaultdict(list)
    text = chunked.document.text
    for chunk in chunked.chunks:
        key = request_key(text, chunk.start, chunk.end, fields, "offline")
        request = make_request(fields=fields, chunk_text=chunk.text, model="offline", key=key)
        response = await client.complete(request, timeout=10.0)
        for rank, cand in enumerate(parse_output(response.content, fields)):
            found[cand.field].append((cand.confidence or 0.0, chunk.index, rank, cand.value))
    return found


def _norm(value: Any) -> Any:
    if isinstance(value, str):
        return " ".join(value.split()).casefold()
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def is_right(fields: FieldSet, name: str, expected: Any,
             found: Sequence[tuple[float, int, int, str]]) -> bool:
    """The best candidate (or, for lists, all candidates) matches ``expected`` after coerce."""
    spec = fields.get(name)
    if spec is None or not found:
        return False
    item_spec = replace(spec, many=False)  # list candidates are one item each
    values = []
    for _, _, _, raw in sorted(found, key=lambda c: (-c[0], c[1], c[2])):
        try:
            values.append(_norm(coerce(item_spec, raw)))
        except ValueError:
            values.append(None)
    if spec.many:
        return {_norm(item) for item in expected} <= set(values)
    want = _norm(coerce(spec, expected)) if expected is not None else None
    got = values[0]
    if isinstance(want, float) or isinstance(got, float):
        return got is not None and want is not None and abs(float(got) - float(want)) < 0.005
    return bool(got == want)


async def _chunked(paths: list[Path]) -> list[ChunkedDocument]:
    result = await load_documents(paths)
    for error in result.errors:
        print(f"  skipped {error}", file=sys.stderr)
    chunker, _ = make_chunker("gpt-4o-mini", 1000, 100)
    return await chunk_documents(result.documents, chunker)


async def score_samples(verbose: bool) -> None:
    expected: dict[str, Any] = json.loads((SAMPLES / "expected.json").read_text("utf-8"))
    docs = await _chunked([SAMPLES / name for name in expected])
    client = OfflineClient()
    tally: dict[bool, list[int]] = {True: [0, 0], False: [0, 0]}
    chunks = 0
    started = time.perf_counter()
    for chunked in docs:
        name = chunked.document.path.relative_to(SAMPLES).as_posix()
        entry = expected[name]
        fields = preset(KIND_PRESET[entry["kind"]])
        found = await candidates(chunked, fields, client)
        chunks += len(chunked.chunks)
        for field, truth in entry["fields"].items():
            if fields.get(field) is None:
                continue
            right = is_right(fields, field, truth["value"], found.get(field, []))
            labelled = bool(truth.get("labelled"))
            tally[labelled][0] += int(right)
            tally[labelled][1] += 1
            if verbose and not right:
                best = sorted(found.get(field, []), key=lambda c: (-c[0], c[1], c[2]))[:3]
                print(f"  miss {name} {field} ({'labelled' if labelled else 'prose'}): "
                      f"want {truth['value']!r}, best {best}")
    elapsed = time.perf_counter() - started
    print(f"sample_docs ({len(docs)} files, {chunks} chunks, {elapsed * 1000:.0f} ms):")
    print(f"  labelled fields right:   {tally[True][0]}/{tally[True][1]}")
    print(f"  unlabelled fields right: {tally[False][0]}/{tally[False][1]}")
    work = [(chunk.text, preset(KIND_PRESET[expected[
        doc.document.path.relative_to(SAMPLES).as_posix()]["kind"]]))
        for doc in docs for chunk in doc.chunks]
    fastest = min(_timed(work) for _ in range(7))
    print(f"  offline answers: {len(work) / fastest:,.0f} chunks/s "
          f"({fastest / len(work) * 1e6:.0f} µs per {sum(len(t) for t, _ in work) // len(work)}"
          "-character chunk, best of 7)")


def _timed(work: list[tuple[str, FieldSet]]) -> float:
    started = time.perf_counter()
    for text, fields in work:
        offline_answer(text, fields)
    return time.perf_counter() - started


async def score_invoice2data(corpus: Path, verbose: bool) -> None:
    if not corpus.is_dir():
        print(f"invoice2data: {corpus} not found, skipped")
        return
    golds = sorted(corpus.glob("*.json"))
    paths = [p for gold in golds for p in (gold.with_suffix(".pdf"), gold.with_suffix(".txt"))
             if p.exists()]
    docs = {chunked.document.path.stem: chunked for chunked in await _chunked(paths)}
    fields = preset("invoice")
    client = OfflineClient()
    per_field: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for gold_path in golds:
        chunked = docs.get(gold_path.stem)
        if chunked is None:
            continue
        gold = json.loads(gold_path.read_text("utf-8"))[0]
        found = await candidates(chunked, fields, client)
        for key, field in GOLD_MAP.items():
            if key not in gold:
                continue
            right = is_right(fields, field, gold[key], found.get(field, []))
            per_field[field][0] += int(right)
            per_field[field][1] += 1
            if verbose and not right:
                best = sorted(found.get(field, []), key=lambda c: (-c[0], c[1], c[2]))[:2]
                print(f"  miss {gold_path.stem} {field}: want {gold[key]!r}, best {best}")
    n_right = sum(v[0] for v in per_field.values())
    n_total = sum(v[1] for v in per_field.values())
    print(f"invoice2data ({len(docs)} files): {n_right}/{n_total} fields right")
    for field in fields.names:
        if field in per_field:
            print(f"  {field:<16} {per_field[field][0]:>2}/{per_field[field][1]}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS,
                        help="the invoice2data folder (default: ../shared/corpus/invoice2data)")
    parser.add_argument("--verbose", action="store_true", help="print every miss")
    args = parser.parse_args(argv)
    asyncio.run(score_samples(args.verbose))
    asyncio.run(score_invoice2data(args.corpus, args.verbose))
    return 0


if __name__ == "__main__":
    sys.exit(main())
