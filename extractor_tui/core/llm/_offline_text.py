"""The offline provider's reading of text: lines cut into columns, and typed values in them.

``split_lines`` cuts a chunk into lines and each line into cells on runs of three or more
spaces, tabs, ``|`` and `` · ``, keeping every cell's offset, so two label-value pairs side
by side ("Acme Inc.        Invoice No.: INV-1") are read apart and every quote stays a
verbatim slice of the chunk. ``typed_values`` finds what a label's value text holds for a
field: a date, an amount, a whole number, a name without "MD", a currency code; a value is
offered only when ``fields.coerce`` accepts it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import NamedTuple

from extractor_tui.core.fields import FieldSpec, FieldType, coerce
from extractor_tui.core.llm._offline_rules import (
    AMOUNT,
    COMPANY,
    CURRENCY_CODES,
    CURRENCY_SYMBOLS,
    DATE,
    DURATION,
    EMAIL,
    ID_TOKEN,
    PHONE,
    Role,
)

__all__ = [
    "INTEGER_PHRASE",
    "Cell",
    "Line",
    "accepts",
    "amount_like",
    "is_underline",
    "label_core",
    "looks_typed",
    "split_lines",
    "typed_values",
    "unmark",
]

_SEPARATOR = re.compile(r"\s{3,}|\t+|\s*\|\s*|\s+·\s+")
_UNDERLINE = re.compile(r"^[\s\-=_*~+|:#]+$")
_MARKERS = frozenset("#>*_")
_MARKUP = re.compile(r"^(?:[#>]+\s*|\*\*?|__)+|(?:\*\*?|__)+$")
_SECTION_NO = re.compile(r"^(?:\d+(?:\.\d+)*\.?|[IVX]+\.)\s+")
_PLACEHOLDER = re.compile(r"^\[[^\[\]]*\]$|^<[^<>]*>$|^\{[^{}]*\}$|^[\s_.\-/]+$")
_CREDENTIALS = re.compile(
    r"(?:,?\s+(?:MD|M\.D\.|DO|D\.O\.|PhD|Ph\.D\.|RN|NP|PA-C|MBBS|FRCP|FACP|FACC|DDS|MBChB|"
    r"Esq\.?|Jr\.|Sr\.))+\.?$")
_TITLE = re.compile(r"^(?:Dr|Prof|Mr|Mrs|Ms|Mx)\.?\s+")
INTEGER_PHRASE = re.compile(r"\b(?:[a-z]+(?:-[a-z]+)?\s*\(\d{1,6}\)|\d{1,6})"
                            r"(?:\s+(?:calendar|business|working))?(?:\s+(?:days?|months?|"
                            r"years?|weeks?|hours?))?(?![\d.,]\d)", re.IGNORECASE)
"""A count as contracts write it: "90", "ninety (90) days", "30 business days"."""


class Cell(NamedTuple):  # tuples: a chunk has hundreds, built on every request
    """One column of a line."""

    start: int  # offset in the chunk
    column: int  # offset in its line
    text: str  # stripped of whitespace; a verbatim slice of the chunk


class Line(NamedTuple):
    """One line of the chunk and its cells (none when blank)."""

    start: int
    text: str
    cells: tuple[Cell, ...]

    @property
    def blank(self) -> bool:
        return not self.cells


# --------------------------------------------------------------------------- layout


def split_lines(text: str) -> list[Line]:
    """The lines of ``text`` with their cells and offsets (``\r`` kept out of cells)."""
    lines: list[Line] = []
    offset = 0
    for raw in text.split("\n"):
        body = raw.rstrip("\r")
        cells: list[Cell] = []
        if "   " not in body and "\t" not in body and "|" not in body and "·" not in body:
            stripped = body.strip()
            if stripped:
                column = len(body) - len(body.lstrip())
                cells.append(Cell(offset + column, column, stripped))
            lines.append(Line(offset, body, tuple(cells)))
            offset += len(raw) + 1
            continue
        last = 0
        for sep in [*_SEPARATOR.finditer(body), None]:
            end = sep.start() if sep is not None else len(body)
            piece = body[last:end]
            stripped = piece.strip()
            if stripped:
                column = last + (len(piece) - len(piece.lstrip()))
                cells.append(Cell(offset + column, column, stripped))
            if sep is not None:
                last = sep.end()
        lines.append(Line(offset, body, tuple(cells)))
        offset += len(raw) + 1
    return lines


def unmark(text: str) -> str:
    """A cell without markdown markers (``**``, ``#``, ``>``): what values are read from."""
    if text[:1] in _MARKERS or text[-1:] in _MARKERS:
        return _MARKUP.sub("", text).strip()
    return text.strip()


def label_core(text: str) -> str:
    """A cell without markdown markers and section numbers: what a lone label is read from."""
    return _SECTION_NO.sub("", unmark(text)).strip()


def is_underline(line: Line) -> bool:
    """``-----``, ``=====``, ``+---+---+``: rules under headings and around tables."""
    return bool(line.cells) and _UNDERLINE.match(line.text) is not None


# --------------------------------------------------------------------------- values


def accepts(spec: FieldSpec, value: str) -> bool:
    """Whether ``fields.coerce`` reads ``value`` for ``spec`` (one item of a list field)."""
    try:
        coerce(spec, [value] if spec.many else value)
    except ValueError:
        return False
    return True


def typed_values(spec: FieldSpec, role: Role, text: str) -> Iterator[str]:
    """Values for ``spec`` found in ``text`` (a label's value), as written, coerce-checked."""
    text = text.strip().strip("*_").strip()
    if not text or _PLACEHOLDER.match(text):
        return
    if spec.type is FieldType.DATE:
        for match in DATE.finditer(text):
            if accepts(spec, match[0]):
                yield match[0]
                return
        return
    if spec.type is FieldType.NUMBER:
        amounts = [m for m in AMOUNT.finditer(text)
                   if m["num"] and (amount_like(m) or m[0].strip() == text)]
        for match in reversed(amounts):  # totals rows put the amount last
            value = match[0].strip()
            if accepts(spec, value):
                yield value
                return
        return
    if spec.type in (FieldType.INTEGER, FieldType.BOOLEAN):
        if accepts(spec, text):
            yield text
        elif spec.type is FieldType.INTEGER:
            for match in INTEGER_PHRASE.finditer(text):
                if accepts(spec, match[0]):
                    yield match[0]
                    return
        return
    yield from _string_values(spec, role, text)


def _string_values(spec: FieldSpec, role: Role, text: str) -> Iterator[str]:
    if spec.enum is not None:
        for member in spec.enum:
            found = re.search(r"(?<!\w)" + re.escape(member) + r"(?!\w)", text, re.IGNORECASE)
            if found is not None:
                yield found[0]
                return
        return
    value: str | None = text
    if role is Role.CURRENCY:
        value = _currency(text)
    elif role is Role.EMAIL:
        found = EMAIL.search(text)
        value = found[0] if found else None
    elif role is Role.PHONE:
        found = PHONE.search(text)
        value = found[0].strip() if found else None
    elif role is Role.IDENTIFIER:
        found = ID_TOKEN.search(text)
        value = found[0] if found else text if len(text.split()) <= 2 else None
    elif role is Role.PERSON:
        value = _TITLE.sub("", _CREDENTIALS.sub("", text.rstrip(",;"))).strip()
    elif role is Role.COMPANY:
        found = COMPANY.match(text)
        value = found[0] if found else text
    elif role is Role.DURATION:
        found = DURATION.search(text)
        value = found[0] if found else text if len(text.split()) <= 6 else None
    if value is None:
        return
    value = value.strip().rstrip(",;:")
    if value and len(value) <= 300 and len(value.split()) <= 40 and accepts(spec, value):
        yield value


def _currency(text: str) -> str | None:
    for match in re.finditer(r"\b[A-Z]{3}\b", text):
        if match[0] in CURRENCY_CODES:
            return match[0]
    for symbol, code in CURRENCY_SYMBOLS.items():
        if symbol in text:
            return code
    return None


def amount_like(match: re.Match[str]) -> bool:
    """Written as money: with a currency, cents or thousands separators (not "30" in "Net 30")."""
    return bool(match["pre"] or match["post"] or match["sep"]
                or re.search(r"[.,]\d\d$", match["num"]))


def looks_typed(value: str) -> bool:
    """A value that can follow its label after one space: an amount, a date or an id."""
    amount = AMOUNT.fullmatch(value)
    if amount is not None and amount_like(amount):
        return True
    if DATE.fullmatch(value) is not None:
        return True
    return (ID_TOKEN.fullmatch(value) is not None and any(c.isdigit() for c in value)
            and (any(c.isalpha() for c in value) or len(value) >= 5))
