"""The offline provider's reading of one chunk: labels, values, lists and a few prose patterns.

How a chunk is read, in order of trust (the confidence each rule gives):

* 0.9 / 0.8 — label-value: "Label: value", "Label ..... value", "Label  value" (two spaces),
  "Label $12.00" (a label followed by an amount, date or id), or a label alone on its line
  with the value on the next line(s) or, for list fields, the bulleted or numbered items
  under it. Lines are cut into columns on runs of three or more spaces, tabs and ``|``, so
  two label-value pairs side by side are read separately. 0.9 when the whole label is a
  synonym of the field, 0.8 when it starts or ends with one ("Invoice date / tax point").
* 0.7 — layout and prose patterns: the first company name at the top of an invoice (vendor),
  numbered party paragraphs in a contract, "governed by the laws of X".
* 0.6 — weak labels ("Name:", "Date:", "From:") and a synonym mentioned in running text near
  a value of the field's type ("payment due … by 04.04.2024", "ninety (90) days' written
  notice").
* 0.5 — pattern-only guesses: the first e-mail address, phone number or currency.

Cutting lines into cells and reading typed values is ``_offline_text``'s work; a value
for a typed field is offered only if ``fields.coerce`` accepts it. Each value is the text
as written, each quote a verbatim slice of the chunk.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from extractor_tui.core.fields import FieldType
from extractor_tui.core.llm._offline_rules import (
    AMOUNT,
    COMPANY,
    CURRENCY_CODES,
    CURRENCY_MARK,
    CURRENCY_SYMBOLS,
    DATE,
    DURATION,
    EMAIL,
    PHONE,
    FieldVocabulary,
    Role,
)
from extractor_tui.core.llm._offline_text import (
    INTEGER_PHRASE,
    Cell,
    Line,
    amount_like,
    is_underline,
    label_core,
    looks_typed,
    split_lines,
    typed_values,
    unmark,
)

__all__ = ["Found", "best_first", "scan"]


@dataclass(frozen=True)
class Found:
    """One candidate: field index, value as written, verbatim quote, confidence, offset."""

    field: int
    value: str
    quote: str
    confidence: float
    pos: int


_COLON = re.compile(r"^(?P<label>[^\W\d][^:]{0,58}?)\s*[:：]\s*(?P<value>.*)$")
_LEADER = re.compile(r"^(?P<label>[^\W\d].{0,58}?)\s*\.{3,}\s*(?P<value>\S.*)$")
_GAP = re.compile(r"^(?P<label>[^\W\d].{0,58}?\S)\s{2,}(?P<value>\S.*)$")
_NEXT_PAIR = re.compile(r"\s(?=[A-Z][\w.#°/-]*(?:\s[A-Za-z][\w.#°/-]*){0,3}\s?:\s)")
_LETTER = re.compile(r"[^\W\d_]")
_TYPED_LAST = frozenset("$€£¥₹)")  # how a cell that ends in an amount or a code can end
_BULLET = re.compile(
    r"^(?P<indent>\s*)(?:[-*•·▪◦–]|\(?\d{1,2}[.)]|\(?[a-zA-Z][.)])\s+(?P<text>\S.*)$")
_ATTENTION = re.compile(r"^(?:Attn|Attention|FAO|z\.\s?Hd\.?|c/o)\b", re.IGNORECASE)
_LAW = re.compile(
    r"govern(?:ed|s)\s+by(?:,?\s+and\s+(?:construed|interpreted|enforced)\s+in\s+accordance"
    r"\s+with,?)?\s+(?:the\s+)?(?:internal\s+)?laws?\s+of\s+(?:the\s+)?"
    r"(?P<v>(?:(?:State|Commonwealth|Province|Republic|Kingdom)\s+of\s+)?"
    r"[A-Z][\w]+(?:\s+(?:and\s+)?[A-Z][\w]+){0,3})")
_PARTY_PARAGRAPH = re.compile(r"^[ \t>*]*\(?(?:\d{1,2}|[a-z])\)\s+(?P<c>" + COMPANY.pattern + ")",
                              re.MULTILINE)
_BETWEEN = re.compile(r"between(?<!\wbetween)\s+(?P<a>" + COMPANY.pattern
                      + r")[^.;]{0,300}?\band\s+(?P<b>" + COMPANY.pattern + ")")
_SENTENCE_END = re.compile(r"[.;](?:\s|$)")

_MAX_CANDIDATES = {False: 5, True: 60}


# --------------------------------------------------------------------------- scanning


class _Scan:
    """One pass over one chunk; ``found`` collects candidates."""

    def __init__(self, text: str, vocab: FieldVocabulary) -> None:
        self.text = text
        self.vocab = vocab
        self.lines = split_lines(text)
        self.found: list[Found] = []

    def add(self, index: int, value: str, quote: str, confidence: float, pos: int) -> None:
        self.found.append(Found(index, value, quote, confidence, pos))

    def offer(self, matches: list[tuple[int, float]], value: str, quote: str, pos: int) -> None:
        """Values for each matched field read from ``value`` (a label's value text)."""
        for index, confidence in matches:
            spec = self.vocab.specs[index]
            role = self.vocab.roles[index]
            parts = [p for p in re.split(r"\s*;\s*", value) if p] if spec.many else [value]
            for part in parts:
                for found in typed_values(spec, role, part):
                    self.add(index, found, quote, confidence, pos)

    # label-value pairs ---------------------------------------------------------
    def labels(self) -> None:
        for n, line in enumerate(self.lines):
            cells = line.cells
            for i, cell in enumerate(cells):
                text = cell.text
                if text.count(" ") >= 10 and ":" not in text and "  " not in text \
                        and "..." not in text:
                    continue  # running text: the prose rules read it
                if _LETTER.search(text) is None:
                    continue  # "38.50", "----": a value, never a label
                core = unmark(text)
                if core:
                    self.cell(n, line, i, cell, core)

    def cell(self, n: int, line: Line, i: int, cell: Cell, core: str) -> None:
        match = _COLON.match(core) if ":" in core or "：" in core else None
        if match is not None and len(match["label"].split()) <= 8:
            value = match["value"].strip()
            label = match["label"]
            if value:
                following = _NEXT_PAIR.search(value)
                if following is not None:  # "Guest Name: Sanjay Date: 31/12/2017"
                    rest = value[following.end():]
                    value = value[:following.start()]
                    self.cell(n, line, i, cell, rest)
                matches = self.vocab.match(label)
                if matches:
                    self.offer(matches, value, cell.text, cell.start)
                return
            matches = self.vocab.match(label)
            if matches:
                self.beside_or_below(n, line, i, cell, matches)
            return
        for pattern, needle in ((_LEADER, "..."), (_GAP, "  ")):
            match = pattern.match(core) if needle in core else None
            if match is not None and len(match["label"].split()) <= 8:
                matches = self.vocab.match(match["label"])
                if matches:
                    self.offer(matches, match["value"], cell.text, cell.start)
                    return
        last = core[-1]
        if (last.isdigit() or last in _TYPED_LAST or core[-3:].isupper()) \
                and core.count(" ") < 8:
            if self.trailing(core, cell):
                return
        label = label_core(core)
        if label and len(label.split()) <= 6 and not label.endswith((".", ",", ";")):
            matches = self.vocab.match(label)
            if matches and (matches[0][1] >= 0.9 or len(label.split()) <= 4):  # not a header row
                self.beside_or_below(n, line, i, cell, matches)

    def beside_or_below(self, n: int, line: Line, i: int, cell: Cell,
                        matches: list[tuple[int, float]]) -> None:
        """A label without its value: in the next column ("Currency:      GBP"), else below."""
        if i + 1 < len(line.cells):
            nxt = line.cells[i + 1]
            text = unmark(nxt.text)
            if not text.endswith(":") and not self.vocab.match(label_core(text)):
                self.offer(matches, text, self.span(cell.start, nxt), cell.start)
                return
        self.below(n, cell, matches)

    def span(self, start: int, last: Cell) -> str:
        return self.text[start:last.start + len(last.text)]

    def trailing(self, core: str, cell: Cell) -> bool:
        """"Subtotal $12,450.00", "VAT 19% EUR 2,287.13", "DOB 03/14/1957", "MRN 00482913"."""
        best: tuple[float, list[tuple[int, float]], str] | None = None
        words = core.split(" ")
        for cut in range(len(words) - 1, max(0, len(words) - 5), -1):
            label, value = " ".join(words[:cut]), " ".join(words[cut:])
            if not label or not label[0].isalpha() or not looks_typed(value):
                continue
            matches = self.vocab.match(label)
            if matches and (best is None or matches[0][1] > best[0]):
                best = (matches[0][1], matches, value)
        if best is None:
            return False
        self.offer(best[1], best[2], cell.text, cell.start)
        return True

    def below(self, n: int, cell: Cell, matches: list[tuple[int, float]]) -> None:
        """A label alone: the value is on the next line(s), or the list items under it."""
        scalars = [(i, c) for i, c in matches if not self.vocab.specs[i].many]
        lists = [(i, c) for i, c in matches if self.vocab.specs[i].many]
        j = self.next_content(n + 1)
        if j is None:
            return
        if lists:
            self.items(j, lists)
        if scalars and len(self.lines[n].cells) <= 2:  # not a column header of a table
            line = self.lines[j]
            target = min(line.cells, key=lambda c: abs(c.column - cell.column))
            value, end = unmark(target.text), target.start + len(target.text)
            k = j + 1
            while (k < len(self.lines) and k - j <= 3 and self.lines[k].cells
                   and len(self.lines[k].cells) == 1 and self.lines[k].cells[0].text[0].islower()):
                last = self.lines[k].cells[0]
                value += " " + last.text
                end = last.start + len(last.text)
                k += 1
            if len(value.split()) <= 20:
                self.offer(scalars, value, self.text[target.start:end], target.start)

    def next_content(self, j: int) -> int | None:
        for k in range(j, min(j + 4, len(self.lines))):
            line = self.lines[k]
            if not line.blank and not is_underline(line):
                return k
        return None

    def items(self, j: int, matches: list[tuple[int, float]]) -> None:
        items: list[tuple[int, int, str]] = []  # (start, end, text)
        indent = -1
        skipped = 0
        k = j
        while k < len(self.lines) and len(items) < 60:
            line = self.lines[k]
            if line.blank or is_underline(line):
                after = self.next_content(k + 1)
                if items and (after is None or not _BULLET.match(self.lines[after].text)):
                    break
                k += 1
                continue
            bullet = _BULLET.match(line.text)
            stripped = line.text.strip()
            if bullet is not None:
                indent = bullet.start("text")
                start = line.start + indent
                items.append((start, line.start + len(line.text.rstrip()), bullet["text"]))
            elif items and (len(line.text) - len(line.text.lstrip()) >= indent > 0
                            or stripped[:1].islower()):
                start, _, text = items[-1]
                items[-1] = (start, line.start + len(line.text.rstrip()), f"{text} {stripped}")
            elif not items and skipped < 2 and stripped.endswith(":"):
                skipped += 1  # "Principal diagnosis first, followed by secondary diagnoses:"
            else:
                break
            k += 1
        if not items:
            line = self.lines[j]
            text = unmark(line.text.strip())
            if len(text.split()) <= 12 and not _COLON.match(text):
                self.offer(matches, text, line.text.strip(), line.start + line.text.find(text[:1]))
            return
        for start, end, text in items:
            self.offer(matches, unmark(text), self.text[start:end], start)

    # layout and prose patterns ---------------------------------------------------
    def patterns(self) -> None:
        vocab = self.vocab
        for index, (spec, role) in enumerate(zip(vocab.specs, vocab.roles, strict=True)):
            canonical = vocab.canonical[index]
            if role is Role.LAW:
                for match in _LAW.finditer(self.text):
                    value = re.sub(r"^(?:State|Commonwealth|Province)\s+of\s+", "", match["v"])
                    self.offer([(index, 0.7)], value, match[0], match.start())
            elif canonical == "parties" or (role is Role.COMPANY and spec.many):
                for match in _PARTY_PARAGRAPH.finditer(self.text):
                    self.offer([(index, 0.7)], match["c"], match[0].strip(), match.start("c"))
                for match in _BETWEEN.finditer(self.text):
                    for group in ("a", "b"):
                        self.offer([(index, 0.7)], match[group], match[0], match.start(group))
            elif canonical == "vendor" or (role is Role.COMPANY and canonical == ""
                                           and "vend" in spec.name):
                self.letterhead(index)
            elif canonical == "customer":
                self.attention(index)
            elif role in (Role.EMAIL, Role.PHONE, Role.CURRENCY):
                self.first_pattern(index, role)

    def letterhead(self, index: int) -> None:
        """The first line of the chunk's top that is a company name (all-caps twins lose)."""
        seen = 0
        found: list[Cell] = []
        for line in self.lines:
            if line.blank or is_underline(line):
                continue
            seen += 1
            if seen > 12:
                break
            if COMPANY.fullmatch(unmark(line.cells[0].text)):
                found.append(line.cells[0])
        if not found:
            return
        best = found[0]
        for other in found[1:]:
            if (unmark(other.text).casefold() == unmark(best.text).casefold()
                    and best.text.isupper() and not other.text.isupper()):
                best = other
        self.offer([(index, 0.7)], unmark(best.text), best.text, best.start)

    def attention(self, index: int) -> None:
        """The line above "Attn:", "FAO:" or "z. Hd." names the customer."""
        previous: Line | None = None
        for line in self.lines:
            if line.blank:
                continue
            for cell in line.cells:
                if previous is not None and _ATTENTION.match(cell.text):
                    above = min(previous.cells, key=lambda c: abs(c.column - cell.column))
                    if len(above.text.split()) <= 8:
                        self.offer([(index, 0.6)], unmark(above.text), above.text, above.start)
            previous = line

    def first_pattern(self, index: int, role: Role) -> None:
        pattern = {Role.EMAIL: EMAIL, Role.PHONE: PHONE}.get(role)
        if pattern is None:  # currency: the first one written next to a number
            for match in CURRENCY_MARK.finditer(self.text):
                marker = match[0].strip()
                code = CURRENCY_SYMBOLS.get(marker, marker)
                if code in CURRENCY_CODES:
                    line_start = self.text.rfind("\n", 0, match.start()) + 1
                    line_end = self.text.find("\n", match.end())
                    quote = self.text[line_start:line_end if line_end >= 0 else None].strip()
                    self.add(index, code, quote, 0.5, match.start())
                    return
            return
        if role is Role.EMAIL and "@" not in self.text:
            return
        found = pattern.search(self.text)
        if found is not None:
            self.offer([(index, 0.5)], found[0], found[0], found.start())

    def mentions(self) -> None:
        """A strong synonym in running text near a value of the field's type (0.6)."""
        vocab = self.vocab
        if vocab.mention is None or vocab.mention_any_case is None:
            return
        lowered = self.text.lower()
        if len(lowered) == len(self.text):  # offsets stay valid
            matches = vocab.mention.finditer(lowered)
        else:
            matches = vocab.mention_any_case.finditer(self.text)
        text = self.text
        for match in matches:
            if match.start() and (text[match.start() - 1].isalnum()
                                  or text[match.start() - 1] == "_"):
                continue  # inside a word: "determination notice" is not "termination notice"
            key = " ".join(match[0].casefold().split())
            for index in vocab.mention_fields.get(key, ()):
                self.near(index, match)

    def near(self, index: int, mention: re.Match[str]) -> None:
        spec, role = self.vocab.specs[index], self.vocab.roles[index]
        pattern: re.Pattern[str]
        if spec.type is FieldType.DATE:
            pattern = DATE
        elif spec.type is FieldType.NUMBER:
            pattern = AMOUNT
        elif spec.type is FieldType.INTEGER:
            pattern = DURATION if spec.name.endswith(("_days", "_months", "_years")) \
                else INTEGER_PHRASE
        elif role is Role.DURATION:
            pattern = DURATION
        else:
            return
        text = self.text
        after_end = mention.end() + 100
        stop = _SENTENCE_END.search(text, mention.end(), after_end)
        after = pattern.search(text, mention.end(), stop.start() if stop else after_end)
        lo = max(0, mention.start() - 80)
        stops = list(_SENTENCE_END.finditer(text, lo, mention.start()))
        lo = stops[-1].end() if stops else lo
        before = None
        for before in pattern.finditer(text, lo, mention.start()):
            pass
        options = []
        if after is not None:
            options.append((after.start() - mention.end(), after))
        if before is not None:  # labels come first: a value before counts 30 characters further
            options.append((mention.start() - before.end() + 30, before))
        for _, value in sorted(options, key=lambda o: o[0]):
            if spec.type is FieldType.NUMBER and not amount_like(value):
                continue
            start = min(value.start(), mention.start())
            end = max(value.end(), mention.end())
            found = list(typed_values(spec, role, value[0]))
            if found:
                self.add(index, found[0], text[start:end], 0.6, value.start())
                return


def scan(text: str, vocab: FieldVocabulary) -> list[Found]:
    """Every candidate in ``text`` for the fields of ``vocab``, unordered, with duplicates."""
    reader = _Scan(text, vocab)
    reader.labels()
    reader.patterns()
    reader.mentions()
    return reader.found


def best_first(found: list[Found], vocab: FieldVocabulary) -> dict[int, list[Found]]:
    """Per field: candidates by confidence then position, one per value, capped."""
    result: dict[int, list[Found]] = {}
    seen: set[tuple[int, str]] = set()
    for item in sorted(found, key=lambda f: (-f.confidence, f.pos)):
        key = (item.field, " ".join(item.value.split()).casefold())
        if key in seen:
            continue
        seen.add(key)
        bucket = result.setdefault(item.field, [])
        if len(bucket) < _MAX_CANDIDATES[vocab.specs[item.field].many]:
            bucket.append(item)
    return result
