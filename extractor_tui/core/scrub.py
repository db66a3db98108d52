"""What may leave the process: secrets redacted, and text made safe to show on a terminal.

Two kinds of text come from outside and end up printed, stored or exported: file names
(any bytes but ``/`` and NUL, so escape sequences, bidi overrides and bytes that are not
UTF-8) and what a server sends (error messages and answers, which may echo the API key
back). Both are handled here, once, and applied where such text enters (the OpenAI client
redacts every message, raw body and answer) and where it is written (stderr, crash logs):

* ``redact(text)`` replaces every registered secret with ``[redacted]``. The API key is
  registered as soon as the settings hold it (``register_secret``), so a key the server
  echoes never reaches the session, an export, the terminal or a crash log. Secrets shorter
  than ``MIN_SECRET`` characters are not registered: redacting "abc" everywhere would
  mangle ordinary text, and such a value is no real credential.
* ``redact_url(url)`` drops user info and credential-like query parameters from a URL
  before it is stored or shown.
* ``printable(text)`` is for the terminal: control characters (C0, DEL, C1: ``ESC [31m``
  would recolour the terminal, ``ESC ]0;…`` retitle it, ``\\r`` overwrite a line), the
  invisible bidi and zero-width format characters (which can make a name read backwards),
  and the lone surrogates Python uses for bytes that are not UTF-8 all become visible
  escapes: ``\\x1b``, ``\\u202e``, and ``\\xff`` for the byte 0xff of a file name. Display
  only: what is stored keeps the real name (see ``_session_schema.db_path``).
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

__all__ = ["MIN_SECRET", "REDACTED", "SECRET_WORDS", "printable", "redact", "redact_url",
           "register_secret", "secrets"]

MIN_SECRET = 8
REDACTED = "[redacted]"
SECRET_WORDS = ("key", "token", "secret", "password", "credential", "auth")
"""Names (of query parameters, of session meta entries) that may hold a credential."""

_secrets: set[str] = set()

# C0 controls, DEL and C1 controls; zero-width and bidi format characters; the BOM;
# lone surrogates (U+DC80-U+DCFF hold bytes that were not UTF-8, the rest cannot be shown).
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff"
                     "\ud800-\udfff]")


def register_secret(value: str | None) -> None:
    """Redact ``value`` from now on, wherever ``redact`` is applied (for this process)."""
    if value and len(value) >= MIN_SECRET:
        _secrets.add(value)


def secrets() -> frozenset[str]:
    """The registered secrets (for tests and for code that must check, not print)."""
    return frozenset(_secrets)


def redact(text: str) -> str:
    """``text`` with every registered secret replaced by ``[redacted]``."""
    for secret in sorted(_secrets, key=len, reverse=True):  # a longer one may hold a shorter
        if secret in text:
            text = text.replace(secret, REDACTED)
    return text


def _escape(match: re.Match[str]) -> str:
    code = ord(match[0])
    if 0xDC80 <= code <= 0xDCFF:  # surrogateescape: the original byte
        return f"\\x{code - 0xDC00:02x}"
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


def printable(text: object) -> str:
    """``str(text)`` with secrets redacted and nothing left that a terminal would act on."""
    return _UNSAFE.sub(_escape, redact(str(text)))


def redact_url(url: str) -> str:
    """``url`` without user info or credential-like query parameters (``?api-key=…``)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    netloc = f"{host}:{parts.port}" if parts.port is not None else host
    query = [(name, value) for name, value in parse_qsl(parts.query, keep_blank_values=True)
             if not any(word in name.lower() for word in SECRET_WORDS)]
    return urlunsplit((parts.scheme, netloc, parts.path, urlencode(query), ""))
