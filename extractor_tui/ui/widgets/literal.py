"""Document-derived strings as literal ``rich.text.Text``, never as markup.

A value read from a document may hold ``[/bold]`` or ``[red]``; handed to a widget as a
plain ``str`` it would be parsed as markup, and a stray closing tag crashes a DataTable.
Every view turns such strings into ``Text`` here, with control characters (a carriage
return, an escape sequence) shown as spaces so they cannot move the cursor or restyle the
terminal. Values get one display form everywhere: lists joined with ``"; "`` (the form the
edit dialog and the CSV export use), ``None`` as a dash.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from pathlib import Path

from rich.text import Text

from extractor_tui.core.scrub import printable
from extractor_tui.core.values import plain_number

__all__ = ["CONTROL_NO_NEWLINE", "NO_VALUE", "display_path", "find_quote", "highlight", "literal", "value_text"]

NO_VALUE = "—"
# C0 (but tab and newline), DEL and C1: a C1 byte such as U+009B is a CSI on some terminals.
_CONTROL = {code: " " for code in (*range(9), *range(11, 32), *range(127, 160))}
CONTROL_NO_NEWLINE = {**_CONTROL, 9: " ", 10: " "}
"""Every control character mapped to a space, for ``str.translate`` on one-line cells."""


def literal(value: object, style: str = "", *, multiline: bool = False) -> Text:
    """``value`` as text that is shown exactly as written, whatever brackets it holds."""
    text = value if isinstance(value, str) else str(value)
    table = _CONTROL if multiline else CONTROL_NO_NEWLINE
    return Text(text.translate(table), style=style)


def value_text(value: object) -> str:
    """One display form for a field value: lists joined with ``"; "``, None as a dash."""
    if value is None:
        return NO_VALUE
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (list, tuple)):
        return "; ".join(value_text(item) for item in value) if value else NO_VALUE
    return str(plain_number(value))  # 12450, not 12450.0


def display_path(path: str | Path) -> str:
    """A path relative to the working folder when it is inside it (shorter, and stable)."""
    text = str(path)
    try:
        relative = os.path.relpath(text)
    except ValueError:  # another drive (Windows)
        relative = ".."
    # A name that is not UTF-8 shows its odd bytes as \xNN, an escape sequence as \x1b.
    return printable(text if relative.startswith("..") else relative)


def find_quote(text: str, quote: str, near: int | None = None) -> tuple[int, int] | None:
    """Where ``quote`` is in ``text``, matched as the merge step grounds it: whitespace
    collapsed and case ignored. With several matches, the one starting nearest ``near``."""
    words = quote.split()
    if not words:
        return None
    pattern = re.compile(r"\s+".join(re.escape(word) for word in words), re.IGNORECASE)
    matches = list(pattern.finditer(text))
    if not matches:
        return None
    best = min(matches, key=lambda m: abs(m.start() - near)) if near is not None else matches[0]
    return best.start(), best.end()


def highlight(text: str, quotes: Sequence[tuple[str, int | None]],
              style: str = "reverse bold") -> Text:
    """``text`` as literal ``Text`` with each ``(quote, near)`` (see ``find_quote``) marked."""
    shown = literal(text, multiline=True)
    for quote, near in quotes:
        span = find_quote(text, quote, near)
        if span is not None:
            shown.stylize(style, *span)
    return shown
