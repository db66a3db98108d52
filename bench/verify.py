"""Benchmark: what the verify stage buys and costs; prints figures, asserts nothing.

    .venv/bin/python bench/verify.py [--wrong 0.5] [--seed 0] [--corpus DIR] [--no-kleister]

Through the loopback server (real HTTP, ``tests/gold_model.py``): the extract model
(``extract-model``) answers the right values, except for a share (``--wrong``) of each
document's fields, where it answers a wrong value that the text does hold (another date,
amount, name: quoted verbatim, so grounding cannot catch it); the verify model
(``verify-model``) answers right, judging only the chunk text its request carries. Each
corpus is run twice on one session per preset: extract only, then the same command with
``--stages extract,verify`` (which sends only the verify requests: the extra cost).

* ``sample_docs``: the gold is ``expected.json``; the right values are its ``display``
  forms (as the text writes them).
* Kleister-NDA dev (``../shared/corpus/kleister-nda-dev``; skipped when absent): the gold is
  ``expected.tsv`` (party → parties, effective_date, jurisdiction → governing_law, term);
  a gold value's form in the text is found by a loose pattern (words by their stems,
  punctuation and case aside; dates by their ISO value; terms as "3 years", "three (3)
  years"), and a value the pattern cannot find in the text is not known to the model.

Recall is right values / gold values, precision right values / values given, counting each
item of a list. Tokens are what the loopback server counts with cl100k_base.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import lzma
import re
import sys
import tempfile
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
for folder in (ROOT, ROOT / "tests"):
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))

from gold_model import DocTruth, GoldModel  # noqa: E402
from loopback import LoopbackServer  # noqa: E402

from chunking import resolve_encoding  # noqa: E402
from extractor_tui.config import Settings  # noqa: E402
from extractor_tui.core import load_documents  # noqa: E402
from extractor_tui.core.fields import FieldSet, FieldSpec, coerce, preset  # noqa: E402
from extractor_tui.core.job import Job  # noqa: E402
from extractor_tui.core.session import Session  # noqa: E402

SAMPLES = ROOT / "sample_docs"
KLEISTER = ROOT.parent / "shared" / "corpus" / "kleister-nda-dev"
KIND_PRESET = {"invoice": "invoice", "contract": "contract", "discharge_summary": "medical"}
KLEISTER_FIELDS = {"party": "parties", "effective_date": "effective_date",
                   "jurisdiction": "governing_law", "term": "term"}
NUMBERS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine",
           "ten", "eleven", "twelve"]
Match = Callable[[FieldSpec, object, object], bool]


@dataclass
class Case:
    """One document: its preset, the right values as its text writes them, and the gold."""

    path: Path
    preset: str
    text: str = ""
    forms: dict[str, list[str]] = field(default_factory=dict)
    gold: dict[str, list[object]] = field(default_factory=dict)


def _fold(value: object) -> object:
    if isinstance(value, str):
        return " ".join(value.replace("_", " ").split()).casefold()
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def same_value(spec: FieldSpec, gold: object, got: object) -> bool:
    """sample_docs: equal after the field's own coercion (amounts within half a cent), to
    the gold value or to the form the text shows it in ("two (2) years" for "2 years");
    ``gold`` is then the pair (value, form)."""
    if isinstance(gold, tuple):
        return any(same_value(spec, one, got) for one in gold)
    one = replace(spec, many=False)
    try:
        want, have = _fold(coerce(one, gold)), _fold(coerce(one, got))
    except ValueError:
        return _fold(gold) == _fold(got)
    if isinstance(want, float) or isinstance(have, float):
        return abs(float(want) - float(have)) < 0.005  # type: ignore[arg-type]
    return want == have


def _loose(gold: str) -> re.Pattern[str]:
    """A Kleister value as a pattern over the text: each word by its stem, any punctuation
    and blanks between them ("Liquidmetal_Technology_Inc." finds "LIQUIDMETAL
    TECHNOLOGIES, INC.")."""
    words = [w for w in re.split(r"[_\s]+", gold.strip(" ._,")) if w]
    stems = [re.escape(w.rstrip(".,")[:max(3, len(w.rstrip(".,")) - 2)]) + r"[\w']*"
             for w in words]
    return re.compile(r"(?<!\w)" + r"[\s,.]+".join(stems) + r"\.?", re.IGNORECASE)


def _term_forms(gold: str) -> list[re.Pattern[str]]:
    count, _, unit = gold.partition("_")
    n = int(count) if count.isdigit() else -1
    word = NUMBERS[n] if 0 <= n < len(NUMBERS) else count
    unit = unit.rstrip("s")
    forms = [rf"{word}\s*\(\s*{count}\s*\)\s*{unit}s?", rf"{count}\s*{unit}s?",
             rf"{word}\s+{unit}s?", rf"{word}-{unit}"]
    return [re.compile(rf"(?<!\w){form}(?!\w)", re.IGNORECASE) for form in forms]


def kleister_value(spec: FieldSpec, gold: object, got: object) -> bool:
    if spec.name == "effective_date":
        return same_value(spec, gold, got)
    patterns = (_term_forms(str(gold)) if spec.name == "term" else [_loose(str(gold))])
    return any(p.fullmatch(" ".join(str(got).split()).strip(" .,")) or p.fullmatch(
        " ".join(str(got).split())) for p in patterns)


def kleister_forms(spec: FieldSpec, gold: str, text: str) -> list[str]:
    """Where the text writes a gold value (none when the patterns do not find it)."""
    if spec.name == "effective_date":
        dates = re.finditer(r"(?:January|February|March|April|May|June|July|August|"
                            r"September|October|November|December)\s+\d{1,2}(?:st|nd|rd|th)?"
                            r",?\s+\d{4}|\d{1,2}(?:st|nd|rd|th)?\s+(?:day\s+of\s+)?(?:"
                            r"January|February|March|April|May|June|July|August|September|"
                            r"October|November|December),?\s+\d{4}|\d{1,2}/\d{1,2}/\d{4}",
                            text, re.IGNORECASE)
        return [m.group(0) for m in dates if same_value(spec, gold, m.group(0))][:1]
    patterns = _term_forms(gold) if spec.name == "term" else [_loose(gold)]
    for pattern in patterns:
        found = pattern.search(text)
        if found:
            return [found.group(0)]
    return []


async def _texts(cases: Sequence[Case]) -> None:
    loaded = await load_documents([case.path for case in cases])
    by_path = {doc.path.resolve(): doc.text for doc in loaded.documents}
    for case in cases:
        case.text = by_path.get(case.path.resolve(), "")


async def sample_cases() -> list[Case]:
    expected: dict[str, Any] = json.loads((SAMPLES / "expected.json").read_text("utf-8"))
    cases = []
    for name, entry in expected.items():
        kind = KIND_PRESET[entry["kind"]]
        fields = preset(kind)
        case = Case(SAMPLES / name, kind)
        for field_name, truth in entry["fields"].items():
            if fields.get(field_name) is None:
                continue
            shown = truth["display"]
            value = truth["value"]
            forms = [str(v) for v in (shown if isinstance(shown, list) else [shown])]
            values = list(value) if isinstance(value, list) else [value]
            case.forms[field_name] = forms
            case.gold[field_name] = list(zip(values, forms, strict=True))
        cases.append(case)
    await _texts(cases)
    return cases


async def kleister_cases(corpus: Path) -> list[Case]:
    names = [line.split("\t", 1)[0] for line in
             lzma.open(corpus / "in.tsv.xz", "rt", encoding="utf-8").read().splitlines()]
    golds = (corpus / "expected.tsv").read_text("utf-8").splitlines()
    cases = [Case(corpus / "documents" / name, "contract") for name in names]
    for case, line in zip(cases, golds, strict=True):
        for pair in line.split():
            key, _, value = pair.partition("=")
            if key in KLEISTER_FIELDS:
                case.gold.setdefault(KLEISTER_FIELDS[key], []).append(value)
    await _texts(cases)
    fields = preset("contract")
    for case in cases:
        for name, values in case.gold.items():
            spec = fields.get(name)
            assert spec is not None
            forms = [form for value in values for form in kleister_forms(spec, str(value),
                                                                         case.text)]
            if forms:
                case.forms[name] = forms
    return cases


@dataclass
class Score:
    right: int = 0
    given: int = 0
    gold: int = 0

    def line(self) -> str:
        recall = self.right / self.gold if self.gold else 0.0
        precision = self.right / self.given if self.given else 0.0
        return (f"recall {recall:6.1%} ({self.right}/{self.gold}), precision "
                f"{precision:6.1%} ({self.right}/{self.given})")


def score(report: dict[str, Any], cases: Sequence[Case], fields: FieldSet,
          match: Match, total: Score) -> None:
    by_path = {str(case.path.resolve()): case for case in cases}
    for document in report["documents"]:
        case = by_path.get(str(Path(document["path"]).resolve()))
        if case is None:
            continue
        for name in KLEISTER_FIELDS.values() if match is kleister_value else case.gold:
            spec = fields.get(name)
            if spec is None:
                continue
            value = document["fields"].get(name, {}).get("value")
            given = [] if value is None else (value if isinstance(value, list) else [value])
            gold = list(case.gold.get(name, []))
            total.gold += len(gold)
            total.given += len(given)
            for item in given:
                hit = next((g for g in gold if match(spec, g, item)), None)
                if hit is not None:
                    total.right += 1
                    gold.remove(hit)


async def run_corpus(label: str, cases: Sequence[Case], match: Match, wrong: float,
                     seed: int) -> None:
    encoding = resolve_encoding(None).encoding
    model = GoldModel([DocTruth(case.text, case.forms) for case in cases],
                      wrong_models={"extract-model": wrong}, seed=seed)
    groups: dict[str, list[Case]] = defaultdict(list)
    for case in cases:
        groups[case.preset].append(case)
    scores = {"extract only": Score(), "extract + verify": Score()}
    costs: dict[str, list[int]] = {"extract": [0, 0, 0], "verify": [0, 0, 0]}
    with tempfile.TemporaryDirectory() as folder:
        server = LoopbackServer(responder=model, max_lifetime_s=3000,
                                token_counter=lambda text: len(encoding.encode_ordinary(text)))
        await server.start()
        for kind, group in groups.items():
            fields = preset(kind)
            path = Path(folder) / f"{kind}.sqlite"
            for mode, verify in (("extract only", False), ("extract + verify", True)):
                settings = Settings(base_url=server.base_url, api_key="sk-bench-not-a-key",
                                    model="extract-model", concurrency=16, retries=2,
                                    stages={"verify": {"enabled": verify,
                                                       "model": "verify-model"}})
                with Session.open(path) as session:
                    job = Job(settings, fields, session)
                    try:
                        await job.add_paths([case.path for case in group])
                        await job.run()
                        report = job.report()
                    finally:
                        await job.aclose()
                score(report, group, fields, match, scores[mode])
                for stage, spent in report["summary"]["stages"].items():
                    costs[stage][0] += spent["requests"]
                    costs[stage][1] += spent["prompt_tokens"]
                    costs[stage][2] += spent["completion_tokens"]
        await server.close()
    gold = sum(len(values) for case in cases for values in case.gold.values())
    shown = sum(min(len(values), len(case.forms.get(name, ())))
                for case in cases for name, values in case.gold.items())
    print(f"{label}: {len(cases)} documents, {gold} gold values ({shown} found in the text: "
          f"the most a model can give), {wrong:.0%} of each document's fields answered "
          "wrong-but-grounded by the extract model")
    for mode, result in scores.items():
        print(f"  {mode:<17} {result.line()}")
    extract, verify = costs["extract"], costs["verify"]
    print(f"  cost: extract {extract[0]} requests, {extract[1]:,} + {extract[2]:,} tokens; "
          f"verify +{verify[0]} requests (+{verify[0] / max(1, extract[0]):.0%}), "
          f"+{verify[1]:,} + {verify[2]:,} tokens "
          f"(+{(verify[1] + verify[2]) / max(1, extract[1] + extract[2]):.0%})")
    print(f"  loopback: {model.extract_requests} extract and {model.verify_requests} verify "
          "requests answered")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--wrong", type=float, default=0.5,
                        help="share of each document's fields the extract model gets wrong")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--corpus", type=Path, default=KLEISTER)
    parser.add_argument("--no-kleister", action="store_true")
    args = parser.parse_args(argv)

    async def both() -> None:
        await run_corpus("sample_docs", await sample_cases(), same_value, args.wrong,
                         args.seed)
        if args.no_kleister:
            return
        if not (args.corpus / "expected.tsv").is_file():
            print(f"Kleister-NDA dev: skipped ({args.corpus} not found)")
            return
        await run_corpus("Kleister-NDA dev", await kleister_cases(args.corpus),
                         kleister_value, args.wrong, args.seed)

    asyncio.run(both())
    return 0


if __name__ == "__main__":
    sys.exit(main())
