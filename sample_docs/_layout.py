"""A tiny block layout engine that renders one document twice: as PDF and as text.

A document is a flat list of blocks (title, heading, paragraph, table, ...).
``paginate`` measures every block with fpdf2 and assigns it to a page; blocks
are never split across pages.  Both renderers then consume the *same* page
assignment, so page N of the PDF and page N of the text version (pages are
separated by form feeds) contain exactly the same words.  Blocks can carry
``anchors`` (field names); the page a field is reported on is the page of its
first anchored block.

Only fpdf2's built-in core fonts are used, which encode latin-1 only.
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, ClassVar

from fpdf import FPDF
from fpdf.enums import MethodReturnValue, XPos, YPos

PT = 25.4 / 72  # millimetres per typographic point
TEXT_WIDTH = 88  # wrap width of .txt output
FIXED_CREATION_DATE = datetime(2024, 7, 1, 12, 0, 0, tzinfo=timezone.utc)
LIGHT_GRAY = (200, 200, 200)


# --------------------------------------------------------------------------- styles


@dataclass(frozen=True)
class Theme:
    """Typography and page geometry for one document."""

    family: str = "Helvetica"
    size: float = 10.0
    page_format: str = "A4"
    margin: float = 20.0
    leading: float = 1.4
    accent: tuple[int, int, int] = (0, 0, 0)
    fill: tuple[int, int, int] = (235, 235, 235)
    justify: bool = False

    @property
    def lh(self) -> float:
        """Line height in mm for body text."""
        return self.size * self.leading * PT

    @property
    def align(self) -> str:
        return "J" if self.justify else "L"


@dataclass(frozen=True)
class Chrome:
    """Running header and footer, printed on every page of both versions."""

    header: str | None = None
    header_on_first_page: bool = False
    footer: tuple[str, ...] = ()
    page_label: str = "Page {n} of {total}"

    def header_for(self, n: int) -> str | None:
        if self.header is None or (n == 1 and not self.header_on_first_page):
            return None
        return self.header

    def footer_for(self, n: int, total: int) -> list[str]:
        return [*self.footer, self.page_label.format(n=n, total=total)]


@dataclass(frozen=True)
class Run:
    """A line of text with a font style ("", "B", "I", "BI") and a size factor."""

    text: str
    style: str = ""
    scale: float = 1.0


def _run(x: str | Run) -> Run:
    return x if isinstance(x, Run) else Run(x)


# --------------------------------------------------------------------------- PDF


class DocPDF(FPDF):
    """FPDF with deterministic metadata and a header/footer taken from ``Chrome``."""

    def __init__(self, theme: Theme, chrome: Chrome, total_pages: int = 0) -> None:
        super().__init__(unit="mm", format=theme.page_format)
        self.theme = theme
        self.chrome = chrome
        self.total_pages = total_pages
        self.set_margins(theme.margin, theme.margin, theme.margin)
        self.set_auto_page_break(False)
        self.set_creation_date(FIXED_CREATION_DATE)
        self.set_producer("extractor sample_docs/generate.py (fpdf2)")
        self.set_creator("extractor sample_docs/generate.py")

    # geometry -------------------------------------------------------------
    @property
    def small_lh(self) -> float:
        return self.theme.size * 0.8 * 1.3 * PT

    @property
    def content_top(self) -> float:
        reserve = self.small_lh + 4 if self.chrome.header else 0.0
        return self.theme.margin + reserve

    @property
    def content_bottom(self) -> float:
        n_lines = len(self.chrome.footer) + 1
        return self.h - self.theme.margin * 0.75 - n_lines * self.small_lh - 4

    # helpers ----------------------------------------------------------------
    def font(self, style: str = "", scale: float = 1.0) -> None:
        self.set_font(self.theme.family, style, self.theme.size * scale)

    def text_height(self, w: float, text: str, lh: float, markdown: bool = False) -> float:
        return float(
            self.multi_cell(
                w, lh, text, dry_run=True, output=MethodReturnValue.HEIGHT, markdown=markdown
            )
        )

    def put(self, x: float, y: float, w: float, lh: float, text: str, align: str = "L",
            markdown: bool = False) -> None:
        self.set_xy(x, y)
        self.multi_cell(w, lh, text, align=align, markdown=markdown,
                        new_x=XPos.LMARGIN, new_y=YPos.NEXT)

    # header / footer ----------------------------------------------------------
    def header(self) -> None:
        text = self.chrome.header_for(self.page_no())
        if not text:
            return
        self.font("I", 0.8)
        self.set_text_color(90, 90, 90)
        self.set_xy(self.l_margin, self.theme.margin)
        self.cell(self.epw, self.small_lh, text, align="R")
        self.set_draw_color(*LIGHT_GRAY)
        y = self.theme.margin + self.small_lh + 1
        self.line(self.l_margin, y, self.w - self.r_margin, y)
        self.set_text_color(0, 0, 0)

    def footer(self) -> None:
        lines = self.chrome.footer_for(self.page_no(), self.total_pages)
        self.font("", 0.8)
        self.set_text_color(90, 90, 90)
        y = self.h - self.theme.margin * 0.75 - len(lines) * self.small_lh
        for line in lines:
            self.set_xy(self.l_margin, y)
            self.cell(self.epw, self.small_lh, line, align="C")
            y += self.small_lh
        self.set_text_color(0, 0, 0)


# --------------------------------------------------------------------------- blocks


@dataclass
class Block:
    """Base class. ``anchors`` names the fields whose value this block states."""

    anchors: tuple[str, ...] = field(default=(), kw_only=True)
    keep_with_next: ClassVar[bool] = False

    def gap(self, pdf: DocPDF) -> float:
        """Vertical space after the block (not needed at the bottom of a page)."""
        return pdf.theme.lh * 0.6

    def height(self, pdf: DocPDF) -> float:
        raise NotImplementedError

    def draw(self, pdf: DocPDF, y: float) -> None:
        raise NotImplementedError

    def text(self, md: bool) -> str:
        raise NotImplementedError


@dataclass
class PageBreak(Block):
    """Forces the next block onto a new page."""


@dataclass
class Spacer(Block):
    mm: float = 4.0

    def gap(self, pdf: DocPDF) -> float:
        return 0.0

    def height(self, pdf: DocPDF) -> float:
        return self.mm

    def draw(self, pdf: DocPDF, y: float) -> None:
        pass

    def text(self, md: bool) -> str:
        return ""


@dataclass
class Rule(Block):
    def height(self, pdf: DocPDF) -> float:
        return 1.0

    def draw(self, pdf: DocPDF, y: float) -> None:
        pdf.set_draw_color(*pdf.theme.accent)
        pdf.set_line_width(0.4)
        pdf.line(pdf.l_margin, y + 0.5, pdf.w - pdf.r_margin, y + 0.5)
        pdf.set_line_width(0.2)

    def text(self, md: bool) -> str:
        return "---" if md else "-" * TEXT_WIDTH


@dataclass
class Title(Block):
    title: str
    align: str = "L"
    scale: float = 1.8

    def _lh(self, pdf: DocPDF) -> float:
        return pdf.theme.size * self.scale * 1.25 * PT

    def height(self, pdf: DocPDF) -> float:
        pdf.font("B", self.scale)
        return pdf.text_height(pdf.epw, self.title, self._lh(pdf))

    def draw(self, pdf: DocPDF, y: float) -> None:
        pdf.font("B", self.scale)
        pdf.set_text_color(*pdf.theme.accent)
        pdf.put(pdf.l_margin, y, pdf.epw, self._lh(pdf), self.title, self.align)
        pdf.set_text_color(0, 0, 0)

    def text(self, md: bool) -> str:
        return f"# {self.title}" if md else f"{self.title}\n{'=' * len(self.title)}"


@dataclass
class Heading(Block):
    title: str
    level: int = 1
    keep_with_next: ClassVar[bool] = True

    def _scale(self) -> float:
        return 1.2 if self.level == 1 else 1.05

    def _lh(self, pdf: DocPDF) -> float:
        return pdf.theme.size * self._scale() * 1.3 * PT

    def _above(self, pdf: DocPDF) -> float:
        return pdf.theme.lh * (0.5 if self.level == 1 else 0.25)

    def gap(self, pdf: DocPDF) -> float:
        return pdf.theme.lh * 0.3

    def height(self, pdf: DocPDF) -> float:
        pdf.font("B", self._scale())
        return self._above(pdf) + pdf.text_height(pdf.epw, self.title, self._lh(pdf))

    def draw(self, pdf: DocPDF, y: float) -> None:
        pdf.font("B", self._scale())
        pdf.set_text_color(*pdf.theme.accent)
        pdf.put(pdf.l_margin, y + self._above(pdf), pdf.epw, self._lh(pdf), self.title)
        pdf.set_text_color(0, 0, 0)

    def text(self, md: bool) -> str:
        if md:
            return f"{'#' * (self.level + 1)} {self.title}"
        return f"{self.title}\n{('=' if self.level == 1 else '-') * len(self.title)}"


_MD_MARKERS = ("**", "__", "--", "~~", "](")


@dataclass
class Para(Block):
    """A paragraph; ``lead`` (e.g. "5.1 Term.") is printed in bold before the text."""

    body: str
    lead: str = ""
    style: str = ""
    scale: float = 1.0
    indent: float = 0.0
    align: str | None = None

    def _pdf_text(self) -> tuple[str, bool]:
        if not self.lead:
            return self.body, False
        assert not any(m in self.body + self.lead for m in _MD_MARKERS), self.body
        return f"**{self.lead}** {self.body}", True

    def _lh(self, pdf: DocPDF) -> float:
        return pdf.theme.lh * self.scale

    def height(self, pdf: DocPDF) -> float:
        pdf.font(self.style, self.scale)
        text, md = self._pdf_text()
        return pdf.text_height(pdf.epw - self.indent, text, self._lh(pdf), md)

    def draw(self, pdf: DocPDF, y: float) -> None:
        pdf.font(self.style, self.scale)
        text, md = self._pdf_text()
        align = self.align or pdf.theme.align
        pdf.put(pdf.l_margin + self.indent, y, pdf.epw - self.indent, self._lh(pdf), text,
                align, md)

    def text(self, md: bool) -> str:
        if md:
            return f"**{self.lead}** {self.body}" if self.lead else self.body
        full = f"{self.lead} {self.body}" if self.lead else self.body
        pad = " " * (4 if self.indent else 0)
        return textwrap.fill(full, TEXT_WIDTH, initial_indent=pad, subsequent_indent=pad,
                             break_long_words=False, break_on_hyphens=False)


def _column_height(pdf: DocPDF, runs: Sequence[str | Run], w: float) -> float:
    total = 0.0
    for r in map(_run, runs):
        pdf.font(r.style, r.scale)
        lh = pdf.theme.lh * r.scale
        total += pdf.text_height(w, r.text, lh) if r.text else lh
    return total


def _column_draw(pdf: DocPDF, runs: Sequence[str | Run], x: float, y: float, w: float,
                 align: str) -> None:
    for r in map(_run, runs):
        pdf.font(r.style, r.scale)
        lh = pdf.theme.lh * r.scale
        if r.text:
            pdf.put(x, y, w, lh, r.text, align)
            y += pdf.text_height(w, r.text, lh)
        else:
            y += lh


@dataclass
class Lines(Block):
    """Short lines (addresses, letterheads); each line keeps its own style."""

    lines: Sequence[str | Run]
    align: str = "L"

    def height(self, pdf: DocPDF) -> float:
        return _column_height(pdf, self.lines, pdf.epw)

    def draw(self, pdf: DocPDF, y: float) -> None:
        _column_draw(pdf, self.lines, pdf.l_margin, y, pdf.epw, self.align)

    def text(self, md: bool) -> str:
        runs = [_run(r) for r in self.lines]
        if md:
            return "  \n".join(f"**{r.text}**" if "B" in r.style and r.text else r.text
                               for r in runs)
        return "\n".join(r.text for r in runs)


@dataclass
class Columns(Block):
    """Two columns side by side (letterhead + invoice metadata, signature blocks)."""

    left: Sequence[str | Run]
    right: Sequence[str | Run]
    split: float = 0.5
    right_align: str = "L"

    def _widths(self, pdf: DocPDF) -> tuple[float, float]:
        lw = pdf.epw * self.split
        return lw - 4, pdf.epw - lw

    def height(self, pdf: DocPDF) -> float:
        lw, rw = self._widths(pdf)
        return max(_column_height(pdf, self.left, lw), _column_height(pdf, self.right, rw))

    def draw(self, pdf: DocPDF, y: float) -> None:
        lw, rw = self._widths(pdf)
        _column_draw(pdf, self.left, pdf.l_margin, y, lw, "L")
        _column_draw(pdf, self.right, pdf.l_margin + pdf.epw * self.split, y, rw,
                     self.right_align)

    def text(self, md: bool) -> str:
        left = [_run(r).text for r in self.left]
        right = [_run(r).text for r in self.right]
        width = max((len(t) for t in left), default=0) + 4
        if md or width + max((len(t) for t in right), default=0) > TEXT_WIDTH + 12:
            return Lines(list(self.left)).text(md) + "\n\n" + Lines(list(self.right)).text(md)
        rows = max(len(left), len(right))
        left += [""] * (rows - len(left))
        right += [""] * (rows - len(right))
        return "\n".join(f"{a:<{width}}{b}".rstrip() for a, b in zip(left, right))


@dataclass
class KeyValues(Block):
    """Label: value pairs, label in bold."""

    pairs: Sequence[tuple[str, str]]
    label_width: float = 45.0

    def height(self, pdf: DocPDF) -> float:
        pdf.font()
        w = pdf.epw - self.label_width
        return sum(pdf.text_height(w, v, pdf.theme.lh) for _, v in self.pairs)

    def draw(self, pdf: DocPDF, y: float) -> None:
        w = pdf.epw - self.label_width
        for label, value in self.pairs:
            pdf.font("B")
            pdf.set_xy(pdf.l_margin, y)
            pdf.cell(self.label_width, pdf.theme.lh, f"{label}:" if label else "")
            pdf.font()
            pdf.put(pdf.l_margin + self.label_width, y, w, pdf.theme.lh, value)
            y += pdf.text_height(w, value, pdf.theme.lh)

    def text(self, md: bool) -> str:
        if md:
            return "  \n".join(f"**{k}:** {v}" if k else v for k, v in self.pairs)
        width = max(len(k) for k, _ in self.pairs) + 2
        return "\n".join(f"{k + ':' if k else '':<{width}}{v}" for k, v in self.pairs)


@dataclass
class Bullets(Block):
    items: Sequence[str]
    numbered: bool = False

    def _marker(self, i: int) -> str:
        return f"{i}." if self.numbered else "-"

    def height(self, pdf: DocPDF) -> float:
        pdf.font()
        return sum(pdf.text_height(pdf.epw - 8, t, pdf.theme.lh) for t in self.items)

    def draw(self, pdf: DocPDF, y: float) -> None:
        pdf.font()
        for i, item in enumerate(self.items, 1):
            pdf.set_xy(pdf.l_margin + 2, y)
            pdf.cell(6, pdf.theme.lh, self._marker(i))
            pdf.put(pdf.l_margin + 8, y, pdf.epw - 8, pdf.theme.lh, item)
            y += pdf.text_height(pdf.epw - 8, item, pdf.theme.lh)

    def text(self, md: bool) -> str:
        out = []
        for i, item in enumerate(self.items, 1):
            m = self._marker(i)
            if md:
                out.append(f"{m} {item}")
            else:
                out.append(textwrap.fill(item, TEXT_WIDTH, initial_indent=f"  {m} ",
                                         subsequent_indent=" " * (len(m) + 3),
                                         break_long_words=False, break_on_hyphens=False))
        return "\n".join(out)


@dataclass
class Table(Block):
    """A ruled table; cells wrap inside their column. Never split across pages."""

    headers: Sequence[str]
    rows: Sequence[Sequence[str]]
    widths: Sequence[float]  # relative column widths
    aligns: str  # one of L/C/R per column
    scale: float = 0.92
    pad: float = 1.5

    def _cols(self, pdf: DocPDF) -> list[float]:
        total = sum(self.widths)
        return [pdf.epw * w / total for w in self.widths]

    def _lh(self, pdf: DocPDF) -> float:
        return pdf.theme.size * self.scale * 1.3 * PT

    def _row_h(self, pdf: DocPDF, cells: Sequence[str], style: str) -> float:
        pdf.font(style, self.scale)
        return max(pdf.text_height(w - 2 * self.pad, c or " ", self._lh(pdf))
                   for w, c in zip(self._cols(pdf), cells)) + 2 * self.pad

    def height(self, pdf: DocPDF) -> float:
        return self._row_h(pdf, self.headers, "B") + sum(
            self._row_h(pdf, r, "") for r in self.rows)

    def draw(self, pdf: DocPDF, y: float) -> None:
        cols = self._cols(pdf)
        pdf.set_draw_color(*LIGHT_GRAY)
        for i, cells in enumerate([self.headers, *self.rows]):
            style = "B" if i == 0 else ""
            h = self._row_h(pdf, cells, style)
            if i == 0:
                pdf.set_fill_color(*pdf.theme.fill)
                pdf.rect(pdf.l_margin, y, pdf.epw, h, style="F")
            pdf.font(style, self.scale)
            x = pdf.l_margin
            for w, c, a in zip(cols, cells, self.aligns):
                if c:
                    pdf.put(x + self.pad, y + self.pad, w - 2 * self.pad, self._lh(pdf), c, a)
                x += w
            y += h
            pdf.line(pdf.l_margin, y, pdf.w - pdf.r_margin, y)

    def text(self, md: bool) -> str:
        table = [list(self.headers), *[list(r) for r in self.rows]]
        widths = [max(len(r[i]) for r in table) for i in range(len(self.headers))]

        def fmt(row: list[str]) -> str:
            cells = [c.rjust(w) if a == "R" else c.ljust(w)
                     for c, w, a in zip(row, widths, self.aligns)]
            return "| " + " | ".join(cells) + " |"

        if md:
            sep = "|" + "|".join(("-" * (w + 1) + ":") if a == "R" else "-" * (w + 2)
                                 for w, a in zip(widths, self.aligns)) + "|"
        else:
            sep = "+" + "+".join("-" * (w + 2) for w in widths) + "+"
        lines = [fmt(table[0]), sep, *(fmt(r) for r in table[1:])]
        return "\n".join(lines if md else [sep, *lines, sep])


@dataclass
class Totals(Block):
    """Right-aligned label/amount pairs under an invoice table; last row bold."""

    pairs: Sequence[tuple[str, str]]
    label_width: float = 60.0
    value_width: float = 38.0

    def height(self, pdf: DocPDF) -> float:
        return len(self.pairs) * pdf.theme.lh * 1.15

    def draw(self, pdf: DocPDF, y: float) -> None:
        x = pdf.w - pdf.r_margin - self.label_width - self.value_width
        lh = pdf.theme.lh * 1.15
        for i, (label, value) in enumerate(self.pairs):
            last = i == len(self.pairs) - 1
            pdf.font("B" if last else "")
            if last:
                pdf.set_draw_color(*pdf.theme.accent)
                pdf.line(x, y, pdf.w - pdf.r_margin, y)
            pdf.set_xy(x, y)
            pdf.cell(self.label_width, lh, label, align="R")
            pdf.cell(self.value_width, lh, value, align="R")
            y += lh

    def text(self, md: bool) -> str:
        lw = max(len(k) for k, _ in self.pairs)
        vw = max(len(v) for _, v in self.pairs)
        indent = " " * max(0, TEXT_WIDTH - lw - vw - 2)
        return "\n".join(f"{indent}{k:>{lw}}  {v:>{vw}}" for k, v in self.pairs)


# --------------------------------------------------------------------------- documents


@dataclass
class FieldSpec:
    """A field's true value (JSON-ready), the string(s) it is printed as, and how.

    ``labelled``: the value is printed next to a label, or under a heading, that names the
    field (a synonym counts: "Bill To" names the customer, "Net amount" the subtotal, the
    "Name:" lines of the "Signatures" block the signatories). False when the value is only
    stated in running prose, or in a letterhead or address block without a label.
    """

    value: Any
    display: Any  # str, list[str] or list[dict[str, str]] mirroring ``value``
    labelled: bool = True


@dataclass
class DocSpec:
    """Everything needed to render one document and describe it in expected.json."""

    stem: str  # path relative to sample_docs, without suffix
    kind: str
    text_suffix: str  # ".txt" or ".md"
    title: str
    theme: Theme
    chrome: Chrome
    blocks: list[Block]
    fields: dict[str, FieldSpec]


@dataclass
class Rendered:
    pdf: bytes
    text: str
    pages: int
    field_pages: dict[str, int]


def paginate(doc: DocSpec) -> list[list[Block]]:
    """Assign blocks to pages; a heading moves with the block that follows it."""
    pdf = DocPDF(doc.theme, doc.chrome)
    pdf.add_page()
    room = pdf.content_bottom - pdf.content_top
    heights = [0.0 if isinstance(b, PageBreak) else b.height(pdf) for b in doc.blocks]
    pages: list[list[Block]] = [[]]
    used = 0.0
    for i, block in enumerate(doc.blocks):
        if isinstance(block, PageBreak):
            pages.append([])
            used = 0.0
            continue
        if isinstance(block, Spacer) and not pages[-1]:
            continue
        need = heights[i]
        if block.keep_with_next and i + 1 < len(doc.blocks):
            need += block.gap(pdf) + heights[i + 1]
        if heights[i] > room:
            raise ValueError(f"{doc.stem}: block taller than a page: {block!r:.80}")
        if pages[-1] and used + need > room:
            pages.append([])
            used = 0.0
        pages[-1].append(block)
        used += heights[i] + block.gap(pdf)
    return pages


def render(doc: DocSpec) -> Rendered:
    pages = paginate(doc)
    total = len(pages)
    pdf = DocPDF(doc.theme, doc.chrome, total)
    pdf.set_title(doc.title)
    pdf.set_author("extractor sample_docs (fictional)")
    pdf.set_subject(f"Fictional {doc.kind} for testing document extraction")
    pdf.set_keywords("fictional synthetic sample")
    pdf.set_lang("en")
    field_pages: dict[str, int] = {}
    text_pages: list[str] = []
    for n, blocks in enumerate(pages, 1):
        pdf.add_page()
        y = pdf.content_top
        for block in blocks:
            block.draw(pdf, y)
            y += block.height(pdf)
            if y > pdf.content_bottom + 0.01:
                raise AssertionError(f"{doc.stem}: overflow on page {n}")
            y += block.gap(pdf)
            for name in block.anchors:
                field_pages.setdefault(name, n)
        text_pages.append(_page_text(blocks, doc, n, total))
    missing = set(doc.fields) - set(field_pages)
    if missing:
        raise AssertionError(f"{doc.stem}: fields without an anchor block: {sorted(missing)}")
    return Rendered(bytes(pdf.output()), "\f".join(text_pages), total, field_pages)


def _page_text(blocks: list[Block], doc: DocSpec, n: int, total: int) -> str:
    md = doc.text_suffix == ".md"
    parts: list[str] = []
    header = doc.chrome.header_for(n)
    if header:
        parts.append(f"*{header}*" if md else header)
    parts.extend(t for t in (b.text(md) for b in blocks) if t)
    parts.append("\n".join(doc.chrome.footer_for(n, total)) if not md else
                 "  \n".join(doc.chrome.footer_for(n, total)))
    return "\n\n".join(parts) + "\n"
