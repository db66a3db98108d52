"""Decoding text files whose encoding nobody told us.

Order of trust: a byte-order mark (UTF-8, UTF-16, UTF-32) is certain; strict UTF-8 is next
(random bytes almost never pass it); then Windows-1252, which is what most "ANSI" files
really are; Latin-1 last, because it accepts every byte. Whenever we guess, the document gets
a note saying so, so a user who sees odd characters knows why. NUL bytes without a BOM mean
UTF-16 without a mark (tried) or a binary file (refused), never garbage passed on as text.
"""

from __future__ import annotations

import codecs
from collections.abc import Iterator

__all__ = ["PIECE", "BinaryContent", "decode_text", "split_pages"]

_BOMS: tuple[tuple[bytes, str, str], ...] = (
    (codecs.BOM_UTF32_LE, "utf-32-le", "UTF-32"),
    (codecs.BOM_UTF32_BE, "utf-32-be", "UTF-32"),
    (codecs.BOM_UTF8, "utf-8", "UTF-8 with BOM"),
    (codecs.BOM_UTF16_LE, "utf-16-le", "UTF-16"),
    (codecs.BOM_UTF16_BE, "utf-16-be", "UTF-16"),
)


class BinaryContent(ValueError):
    """The bytes are not text in any encoding we accept."""


PIECE = 1 << 22
"""Bytes decoded (and characters normalised) per step. Each step is one C call that holds
the GIL, so the event loop waits for it even though loading runs on a thread: whole, a 50 MB
file's decode and newline passes held it 40-75 ms each."""


def decode_text(data: bytes) -> tuple[str, str | None]:
    """Text with newlines normalised to ``\\n``, and a note when the encoding was guessed.
    Decoded ``PIECE`` bytes at a time; the same text as decoding it whole."""
    for bom, codec, label in _BOMS:
        if data.startswith(bom):
            body = memoryview(data)[len(bom):]
            try:
                return _normalised(_pieces(body, codec, "strict")), None
            except UnicodeDecodeError:
                return _normalised(_pieces(body, codec, "replace")), (
                    f"{label} byte-order mark but invalid bytes; replaced them with \ufffd")
    if b"\x00" in data:
        text, note = _decode_without_bom(data)
        return _normalised(iter((text,))), note
    whole = memoryview(data)
    try:
        return _normalised(_pieces(whole, "utf-8", "strict")), None
    except UnicodeDecodeError:
        pass
    try:
        return (_normalised(_pieces(whole, "cp1252", "strict")),
                "not valid UTF-8; read as Windows-1252 (cp1252)")
    except UnicodeDecodeError:
        return (_normalised(_pieces(whole, "latin-1", "strict")),
                "not valid UTF-8 or Windows-1252; read as Latin-1")


def _pieces(data: memoryview, codec: str, errors: str) -> Iterator[str]:
    """``data`` decoded ``PIECE`` bytes at a time (a character cut between two pieces is
    held back by the incremental decoder until the next)."""
    decoder = codecs.getincrementaldecoder(codec)(errors)
    for at in range(0, len(data), PIECE):
        yield decoder.decode(data[at:at + PIECE])
    yield decoder.decode(b"", final=True)


def _normalised(pieces: Iterator[str]) -> str:
    """The pieces joined, with ``\\r\\n`` and lone ``\\r`` as ``\\n``: a ``\\r`` that ends a piece
    waits for the next, which may begin with its ``\\n``."""
    parts: list[str] = []
    carry = ""
    for piece in pieces:
        piece = carry + piece
        carry = "\r" if piece.endswith("\r") else ""
        if carry:
            piece = piece[:-1]
        parts.append(piece.replace("\r\n", "\n").replace("\r", "\n"))
    if carry:
        parts.append("\n")
    return "".join(parts)


def _decode_without_bom(data: bytes) -> tuple[str, str | None]:
    """UTF-16 without a BOM shows NULs in every other byte of ASCII text; else it is binary."""
    sample = data[:4096]
    even_nuls = sample[0::2].count(0)
    odd_nuls = sample[1::2].count(0)
    half = max(1, len(sample) // 2)
    for nuls, codec in ((odd_nuls, "utf-16-le"), (even_nuls, "utf-16-be")):
        if nuls > 0.3 * half and len(data) % 2 == 0:
            try:
                text = data.decode(codec)
            except UnicodeDecodeError:
                break
            if "\x00" in text:  # U+0000 is never text: zero-filled or binary data
                break
            return text, f"no byte-order mark; read as {codec.upper()}"
    raise BinaryContent("binary content, not text (NUL bytes)")


def split_pages(text: str) -> list[str]:
    """Form feeds separate pages (as pdftotext writes them); a trailing one adds no page."""
    pages = text.split("\f")
    if len(pages) > 1 and not pages[-1].strip():
        pages.pop()
    return pages
