"""A loopback model that knows the right values of some documents, and can be told to get
part of them wrong, in a way grounding cannot catch.

For the verify stage's tests and ``bench/verify.py``: ``GoldModel`` is a ``Responder`` for
``LoopbackServer`` (and ``python tests/loopback.py --gold FILE --wrong MODEL=SHARE``).

* Each document is given as its text and, per field, the right values *as the text writes
  them* (``DocTruth``). A request is matched to its document by its text: an extraction's
  chunk is a slice of the document, a verification's first chunk too.
* An extract request gets, per field, every right value its chunk holds, quoted verbatim;
  except that a model named in ``wrong_models`` gets a share of each document's fields
  (chosen by a hash of seed, document and field: deterministic) wrong-but-grounded: another
  value of the field's type that the chunk does hold (another date, amount, name), quoted
  verbatim, so the quote is grounded and the value is wrong. A list loses one right item
  for such a value. A chunk that holds no such value answers nothing for the field.
* A verify request gets, per field, the right values found in the chunk text it carries
  (``confirmed`` when that is the extracted value, else ``corrected``), or ``not_found``.
  Fields without a right value get nothing from the extract model and ``not_found``.

Only the standard library: the loopback server runs as its own process for benchmarks.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = ["DocTruth", "GoldModel", "load_truth"]

_FIELD_LINE = re.compile(r"^- (\w+) \[(\w+)(?: \(one of: [^)]*\))?, (single|list)\]",
                         re.MULTILINE)
_DECOYS = {
    "date": re.compile(r"\b(?:\d{4}-\d{2}-\d{2}|\d{1,2}[/.]\d{1,2}[/.]\d{2,4}|"
                       r"\d{1,2}(?:st|nd|rd|th)? (?:January|February|March|April|May|June|"
                       r"July|August|September|October|November|December),? \d{4}|"
                       r"(?:January|February|March|April|May|June|July|August|September|"
                       r"October|November|December) \d{1,2}(?:st|nd|rd|th)?,? \d{4})\b"),
    "number": re.compile(r"(?<![\w.])\d{1,3}(?:,\d{3})*(?:\.\d+)?(?![\w.])"),
    "integer": re.compile(r"(?<![\w.,])\d{1,6}(?![\w.,])"),
    "boolean": re.compile(r"\b(?:yes|no|true|false)\b", re.IGNORECASE),
    "string": re.compile(r"\b[A-Z][\w&'-]+(?: (?:of |and |& )?[A-Z][\w&'.-]+){1,4}"),
}


def _fold(text: str) -> str:
    return " ".join(text.split()).casefold()


@dataclass(frozen=True)
class DocTruth:
    """A document's text and, per field, its right values as the text writes them."""

    text: str
    values: Mapping[str, Sequence[str]] = field(default_factory=dict)


def load_truth(path: str) -> list[DocTruth]:
    """``[{"text": ..., "values": {field: [surface form, ...]}}]`` from a JSON file."""
    with open(path, encoding="utf-8") as handle:
        data = json.load(handle)
    return [DocTruth(str(entry["text"]), {str(k): [str(v) for v in vs]
                                          for k, vs in entry["values"].items()})
            for entry in data]


def _between_delimiters(body: Mapping[str, Any]) -> tuple[str, str]:
    """(the user message, the data between its delimiter lines)."""
    user = next((m.get("content", "") for m in body.get("messages", [])
                 if isinstance(m, dict) and m.get("role") == "user"), "")
    match = re.search(r"^(<<<DOCUMENT-[0-9a-f]{8}>>>)\n(.*)\n<<<END-DOCUMENT-[0-9a-f]{8}>>>$",
                      user, re.MULTILINE | re.DOTALL)
    return user, (match.group(2) if match else "")


def _occurrences(text: str, wanted: str) -> list[str]:
    """``wanted`` as ``text`` writes it (whitespace and case aside), every time it occurs."""
    words = [re.escape(word) for word in wanted.split()]
    if not words:
        return []
    pattern = re.compile(r"\s+".join(words), re.IGNORECASE)
    return [match.group(0) for match in pattern.finditer(text)]


class GoldModel:
    """A responder: right values from the truth, some made wrong for ``wrong_models``."""

    def __init__(self, truth: Sequence[DocTruth], *,
                 wrong_models: Mapping[str, float] | None = None, seed: int = 0) -> None:
        self.truth = list(truth)
        self.wrong_models = dict(wrong_models or {})
        self.seed = seed
        self.extract_requests = 0
        self.verify_requests = 0

    def _document(self, probe: str) -> int | None:
        probe = probe.strip()[:200]
        if not probe:
            return None
        return next((n for n, doc in enumerate(self.truth) if probe in doc.text), None)

    def is_wrong(self, model: str, doc: int, name: str) -> bool:
        share = self.wrong_models.get(model, 0.0)
        digest = hashlib.sha256(f"{self.seed}:{doc}:{name}".encode()).digest()
        return int.from_bytes(digest[:4], "big") / 2**32 < share

    def __call__(self, body: Mapping[str, Any]) -> str:
        user, data = _between_delimiters(body)
        fields = [(m.group(1), m.group(2), m.group(3) == "list")
                  for m in _FIELD_LINE.finditer(user)]
        if user.startswith("Fields to check:"):
            self.verify_requests += 1
            return json.dumps(self._verify(fields, data))
        self.extract_requests += 1
        return json.dumps(self._extract(str(body.get("model", "")), fields, data))

    def _extract(self, model: str, fields: list[tuple[str, str, bool]],
                 chunk: str) -> dict[str, list[dict[str, object]]]:
        doc = self._document(chunk)
        answer: dict[str, list[dict[str, object]]] = {}
        for name, kind, many in fields:
            right = [] if doc is None else self.truth[doc].values.get(name, [])
            found = list(dict.fromkeys(o for value in right for o in _occurrences(chunk, value)))
            if doc is not None and right and self.is_wrong(model, doc, name):
                decoy = self._decoy(kind, chunk, right)
                found = ([*found[:-1], decoy] if many and found else [decoy]) if decoy else []
            answer[name] = [{"value": value, "quote": value, "confidence": 0.9}
                            for value in (found if many else found[:1])]
        return answer

    def _decoy(self, kind: str, chunk: str, right: Sequence[str]) -> str | None:
        """A value of ``kind`` the chunk holds that is none of the right ones."""
        pattern = _DECOYS.get(kind, _DECOYS["string"])
        rights = {_fold(value) for value in right}
        for match in pattern.finditer(chunk):
            text = match.group(0)
            if _fold(text) not in rights and not any(_fold(text) in r or r in _fold(text)
                                                     for r in rights):
                return text
        return None

    def _verify(self, fields: list[tuple[str, str, bool]],
                data: str) -> dict[str, dict[str, object]]:
        head, _, chunks = data.partition("\n\n")
        listed = json.loads(head.partition("\n")[2] or "{}")
        doc = self._document(chunks.partition("\n")[2])
        answer: dict[str, dict[str, object]] = {}
        for name, _kind, many in fields:
            right = [] if doc is None else self.truth[doc].values.get(name, [])
            found = list(dict.fromkeys(o for value in right for o in _occurrences(chunks, value)))
            if not many:
                found = found[:1]
            if not found:
                answer[name] = {"verdict": "not_found", "values": []}
                continue
            extracted = listed.get(name, {}).get("value")
            shown = extracted if isinstance(extracted, list) else [extracted]
            same = {_fold(str(v)) for v in shown if v is not None} == {_fold(v) for v in found}
            answer[name] = {"verdict": "confirmed" if same else "corrected",
                            "values": [{"value": value, "quote": value} for value in found]}
        return answer
