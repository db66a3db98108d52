"""Turning values "as written" into typed values: dates, numbers, integers, booleans, text.

Why a module of its own, with no field specs in it: models (and the offline provider) copy
values as they appear in a document ("January 17, 2024", "1.234,50 €", "ninety (90) days"),
and every place that validates or compares values must read them the same way. These are
plain functions of one raw value; ``fields.coerce`` picks one by the field's type.

Each parser raises ``ValueError`` with a short message a reviewer can read in a table cell
("not a date: 'soon'"), never a traceback-style message.

Conventions, chosen once here:
* Dates come out as ISO 8601 (``YYYY-MM-DD``). Numeric dates with ``/`` or ``-`` are read US
  style (month first) unless the first number is over 12; with ``.`` they are day first
  (``17.01.2024``), as everywhere dots are used. Two-digit years: 00-69 → 20xx, 70-99 → 19xx.
* Numbers: the last of ``.``/``,`` is the decimal mark when both occur; a lone ``,`` followed
  by exactly three digits is a thousands separator, any other lone ``,`` a decimal comma; a
  lone ``.`` is a decimal point. Parentheses or a minus sign make a number negative.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence

__all__ = [
    "MONTH_NAMES",
    "clean_text",
    "plain_number",
    "match_enum",
    "parse_boolean",
    "parse_date",
    "parse_integer",
    "parse_number",
]

_WS = re.compile(r"\s+")


def _short(raw: object) -> str:
    text = repr(raw)
    return text if len(text) <= 60 else text[:57] + "..."


def clean_text(raw: object) -> str:
    """Whitespace collapsed and stripped; numbers become their text; empty is an error."""
    if isinstance(raw, bool) or not isinstance(raw, (str, int, float)):
        raise ValueError(f"expected text, got {type(raw).__name__}")
    text = _WS.sub(" ", str(raw)).strip()
    if not text:
        raise ValueError("empty value")
    return text


def match_enum(text: str, allowed: Sequence[str]) -> str:
    """The canonical member of ``allowed`` equal to ``text`` ignoring case and spacing."""
    key = _WS.sub(" ", text).strip().casefold()
    for member in allowed:
        if _WS.sub(" ", member).strip().casefold() == key:
            return member
    raise ValueError(f"{_short(text)} is not one of: {', '.join(allowed)}")


# --------------------------------------------------------------------------- booleans

_TRUE = frozenset({"yes", "y", "true", "t", "1", "on", "x", "ja", "oui", "si"})
_FALSE = frozenset({"no", "n", "false", "f", "0", "off", "nein", "non"})


def parse_boolean(raw: object) -> bool:
    """yes/no, true/false, y/n, 1/0 (and on/off) in any case."""
    if isinstance(raw, bool):
        return raw
    if isinstance(raw, int) and raw in (0, 1):
        return bool(raw)
    if isinstance(raw, str):
        key = raw.strip().strip(".").casefold()
        if key in _TRUE:
            return True
        if key in _FALSE:
            return False
    raise ValueError(f"not yes/no: {_short(raw)}")


# --------------------------------------------------------------------------- numbers

_NUMBER = re.compile(
    r"""^\s*
    (?P<sign1>[-−–+(])?\s*
    (?P<pre>(?:[A-Za-z]{1,3}\.?|[$€£¥₹₩₽¢₺₪])\s*)?
    (?P<sign2>[-−–+(])?\s*
    (?P<num>\d[\d.,'’\u00a0\u202f ]*?)
    \s*(?P<post>[A-Za-z]{1,3}\.?|[$€£¥₹₩₽¢₺₪%])?
    \s*(?P<sign3>[-−–)])?
    \s*$""",
    re.VERBOSE,
)
_GROUPED = re.compile(r"^\d{1,3}(?:[,.'’\u00a0\u202f ]\d{3})+$")


def _decimal_text(num: str) -> str:
    """'1.234,50' → '1234.50': decide which mark is the decimal one (module docstring)."""
    num = re.sub(r"['’\u00a0\u202f ]", "", num)
    if not num or not num[-1].isdigit():
        raise ValueError
    last_dot, last_comma = num.rfind("."), num.rfind(",")
    if last_dot >= 0 and last_comma >= 0:
        dec = "." if last_dot > last_comma else ","
        other = "," if dec == "." else "."
        whole, frac = num.rsplit(dec, 1)
        if dec in whole:
            raise ValueError
        return whole.replace(other, "") + "." + frac
    mark = "." if last_dot >= 0 else "," if last_comma >= 0 else ""
    if not mark:
        return num
    parts = num.split(mark)
    if len(parts) > 2:  # 1,234,567 or 1.234.567: thousands only
        return "".join(parts)
    whole, frac = parts
    if mark == "," and len(frac) == 3 and whole not in ("", "0"):
        return whole + frac
    return whole + "." + frac


def plain_number(value: object) -> object:
    """A whole float as an int (12450.0 → 12450, as people write amounts); anything else,
    and floats too large to be exact as an int in JSON (past 2**53), unchanged."""
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return int(value)
    return value


def parse_number(raw: object) -> float:
    """"$1,234.50" → 1234.5, "1.234,50 €" → 1234.5, "(1,000.00)" → -1000.0."""
    if isinstance(raw, bool):
        raise ValueError(f"not a number: {raw!r}")
    if isinstance(raw, (int, float)):
        if raw != raw or raw in (float("inf"), float("-inf")):
            raise ValueError(f"not a finite number: {raw!r}")
        return float(raw)
    if not isinstance(raw, str):
        raise ValueError(f"not a number: {_short(raw)}")
    match = _NUMBER.match(raw)
    if match is None:
        raise ValueError(f"not a number: {_short(raw)}")
    num = match["num"].rstrip(" \u00a0\u202f")
    spaced = re.sub(r"[\u00a0\u202f ]", " ", num)
    if " " in spaced and not _GROUPED.match(spaced.split(",")[0].split(".")[0]):
        raise ValueError(f"not one number: {_short(raw)}")
    try:
        value = float(_decimal_text(num))
    except ValueError:
        raise ValueError(f"not a number: {_short(raw)}") from None
    signs = {match["sign1"], match["sign2"], match["sign3"]} - {None}
    if "(" in signs and ")" not in signs or ")" in signs and "(" not in signs:
        raise ValueError(f"unbalanced parentheses: {_short(raw)}")
    if signs & {"-", "−", "–", "("}:
        value = -value
    return value


# --------------------------------------------------------------------------- integers

_UNITS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine",
          "ten", "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen",
          "seventeen", "eighteen", "nineteen"]
_TENS = ["twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]
_WORDS: dict[str, int] = {word: n for n, word in enumerate(_UNITS)}
_WORDS.update({word: 20 + 10 * i for i, word in enumerate(_TENS)})
_NUMBER_WORDS = re.compile(
    r"\b(?:(?:a|one)[\s-]+hundred|(?P<tens>" + "|".join(_TENS) + r")(?:[\s-]+(?P<unit>"
    + "|".join(_UNITS[1:10]) + r"))?|(?P<small>" + "|".join(_UNITS) + r"))\b",
    re.IGNORECASE,
)
_PAREN_INT = re.compile(r"\(\s*(\d{1,3}(?:,\d{3})*|\d+)\s*\)")
_INT_TOKEN = re.compile(r"(?<![\d.,])\d{1,3}(?:,\d{3})+(?![\d.,]*\d)|(?<![\d.,])\d+(?![.,]?\d)")


def _words_value(text: str) -> int | None:
    match = _NUMBER_WORDS.search(text)
    if match is None:
        return None
    if match["tens"]:
        return _WORDS[match["tens"].lower()] + (_WORDS[match["unit"].lower()]
                                                 if match["unit"] else 0)
    if match["small"]:
        return _WORDS[match["small"].lower()]
    return 100


def parse_integer(raw: object) -> int:
    """A whole number: 90, "90", "1,000", "ninety (90) days" → 90, "thirty days" → 30."""
    if isinstance(raw, bool):
        raise ValueError(f"not a whole number: {raw!r}")
    if isinstance(raw, int):
        return raw
    if isinstance(raw, float):
        if raw.is_integer():
            return int(raw)
        raise ValueError(f"not a whole number: {raw!r}")
    if not isinstance(raw, str):
        raise ValueError(f"not a whole number: {_short(raw)}")
    try:
        number = parse_number(raw)
    except ValueError:
        pass
    else:
        if number.is_integer():
            return int(number)
        raise ValueError(f"not a whole number: {_short(raw)}")
    paren = _PAREN_INT.search(raw)
    if paren is not None:
        return int(paren[1].replace(",", ""))
    tokens = _INT_TOKEN.findall(raw)
    if len(tokens) == 1 and not re.search(r"\d[.,]\d", raw):
        return int(tokens[0].replace(",", ""))
    if not tokens and (value := _words_value(raw)) is not None:
        return value
    raise ValueError(f"not a whole number: {_short(raw)}")


# --------------------------------------------------------------------------- dates

_MONTHS: dict[str, int] = {}
for _number, _names in enumerate([
    "january jan janvier januar januari jänner enero gennaio",
    "february feb febr février fevrier februar februari febrero febbraio",
    "march mar märz maerz mars maart marzo",
    "april apr avril abril aprile",
    "may mai mei mayo maggio",
    "june jun juin juni junio giugno",
    "july jul juillet juli julio luglio",
    "august aug août aout augustus agosto",
    "september sep sept septembre setiembre settembre",
    "october oct octobre oktober okt octubre ottobre",
    "november nov novembre noviembre",
    "december dec décembre decembre dezember dez diciembre dicembre",
], start=1):
    for _name in _names.split():
        _MONTHS[_name] = _number
MONTH_NAMES: tuple[str, ...] = tuple(sorted(_MONTHS, key=lambda name: (-len(name), name)))
"""Every month name and abbreviation ``parse_date`` reads, longest first (for regexes)."""

_MONTH = r"(?P<month>[A-Za-zÀ-ÿ]{3,10})\.?"
_DAY = r"(?P<day>\d{1,2})(?:st|nd|rd|th|er|e)?\.?"
_YEAR = r"(?P<year>\d{4}|'?\d{2})"
_WEEKDAY = (r"(?:(?:mon|tues?|wed(?:nes)?|thu(?:rs)?|fri|sat(?:ur)?|sun)(?:day)?|"
            r"lundi|mardi|mercredi|jeudi|vendredi|samedi|dimanche|montag|dienstag|mittwoch|"
            r"donnerstag|freitag|samstag|sonntag)\.?,?\s+")
_TIME = (r"(?:(?:\s*,?\s*(?:at|um|à)?\s*|T)\d{1,2}[:.h]\d{2}(?::\d{2}(?:\.\d+)?)?"  # a time after
         r"\s*(?:[ap]\.?m\.?)?\s*(?:Z|[+-]\d{2}:?\d{2}|[A-Z]{2,4})?)?")  # the date is ignored
_DATE_FORMS = [
    re.compile(r"(?P<year>\d{4})[-/.](?P<month>\d{1,2})[-/.](?P<day>\d{1,2})" + _TIME,
               re.IGNORECASE),
    re.compile(r"(?P<a>\d{1,2})(?P<sep>[/.\-])(?P<b>\d{1,2})(?P=sep)" + _YEAR + _TIME,
               re.IGNORECASE),
    re.compile(r"(?:the\s+)?" + _DAY + r"(?:\s+day)?(?:\s+of)?[\s\-/,]*" + _MONTH +
               r"[\s\-/,]*" + _YEAR + _TIME, re.IGNORECASE),
    re.compile(_MONTH + r"[\s\-/]*(?:the\s+)?" + _DAY + r"\s*,?\s*" + _YEAR + _TIME,
               re.IGNORECASE),
    re.compile(r"(?P<year>\d{4})[\s\-/,]+" + _MONTH + r"[\s\-/,]+" + _DAY + _TIME,
               re.IGNORECASE),
]
_DATE_PREFIX = re.compile(r"^\s*(?:on\s+|dated\s+)?(?:" + _WEEKDAY + r")?", re.IGNORECASE)


def _year(text: str) -> int:
    text = text.lstrip("'")
    year = int(text)
    if len(text) == 2:
        year += 2000 if year < 70 else 1900
    return year


def _month(text: str) -> int:
    """The month number of a name or abbreviation; 0 when ``text`` is not one."""
    return int(text) if text.isdigit() else _MONTHS.get(text.casefold(), 0)


def parse_date(raw: object) -> str:
    """Any common written date → ISO ``YYYY-MM-DD`` (see the module docstring for d/m order)."""
    if isinstance(raw, dt.datetime):
        return raw.date().isoformat()
    if isinstance(raw, dt.date):
        return raw.isoformat()
    if not isinstance(raw, str):
        raise ValueError(f"not a date: {_short(raw)}")
    text = _DATE_PREFIX.sub("", _WS.sub(" ", raw)).strip().rstrip(".")
    for form in _DATE_FORMS:
        match = form.fullmatch(text)
        if match is None:
            continue
        groups = match.groupdict()
        if groups.get("a") is not None:
            first, second = int(groups["a"]), int(groups["b"])
            day_first = groups["sep"] == "." or first > 12
            day, month = (first, second) if day_first else (second, first)
        else:
            day, month = int(groups["day"]), _month(groups["month"])
            if month == 0:  # a word that is not a month name: not this form
                continue
        try:
            return dt.date(_year(groups["year"]), month, day).isoformat()
        except ValueError:
            raise ValueError(f"not a real date: {_short(raw)}") from None
    raise ValueError(f"not a date: {_short(raw)}")
