"""Token-aware chunking that prefers natural boundaries and runs in linear time.

How it works, and why:

* Chunks are sized in *tokens* of a tiktoken encoding, because that is what a model's context
  and a provider's bill count. Every chunk's ``token_count`` is exact: it is the length of
  ``encode_ordinary(chunk.text)``, measured, never estimated.
* We never encode the whole document and map tokens back to characters: tiktoken's
  ``decode_with_offsets`` is pure Python and costs more than the encoding itself. Instead we
  keep a running estimate of characters per token, propose a window, cut it at the best
  boundary inside it, and measure that one chunk. An over-budget guess is cut back to where
  its ``max_tokens``-th token ends and measured again. Re-measuring borrows the tokens
  already computed up to a provably safe piece boundary (``_meter.py``), so retries and the
  overlap cost a few words, not a chunk: on the Kleister-NDA texts each character is
  encoded 1.01 times, and tiktoken's own speed is the ceiling.
* Boundaries, best first: a paragraph break, a sentence end, a line break, a space between
  words. The best kind found in the second half of the window wins, so chunks stay large.
  Only a window with no whitespace at all (one "word" longer than a chunk) is cut between
  tokens. Every search is bounded by the window, so a 200,000-character line with no
  whitespace costs the same per character as prose.
* Overlap: the next chunk starts at a word boundary (preferably the space before a word)
  inside the last ``overlap_tokens`` of the previous chunk, so a value cut by one boundary is
  whole in the next chunk. The overlap is counted exactly and never exceeds the setting.

Chunks carry character spans into the source text and 1-based page spans, computed from the
page start offsets the caller passes in (this package knows nothing of PDFs or documents).
"""

from __future__ import annotations

import re
import threading
from bisect import bisect_right
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import tiktoken

from chunking._meter import Measured, TokenMeter

__all__ = ["Chunk", "ChunkConfig", "Chunker", "ChunkingCancelled", "ChunkingError"]

_PARAGRAPH = re.compile(r"\n[^\S\n]*\n\s*")
# A sentence end: terminal punctuation, optional closing quotes/brackets, whitespace, and not
# followed by a lower-case letter (so "e.g. the" and "approx. five" do not count).
_SENTENCE = re.compile(r"[.!?\u2026\u3002\uff01\uff1f][\"'\u201d\u2019)\]]*\s++(?![a-z])")
_WORD_START = re.compile(r"\s(?=\S)")
_SPACES = (" ", "\n", "\t", "\r", "\f", "\v", "\xa0", "\u3000")

_INITIAL_CHARS_PER_TOKEN = 4.0
_FILL = 0.95  # aim a little under the budget so most first guesses fit
_MAX_FIT_ATTEMPTS = 12


class ChunkingError(ValueError):
    """The chunk configuration is impossible (e.g. overlap not smaller than half the size)."""


class ChunkingCancelled(Exception):
    """``split`` stopped because its ``cancel`` event was set (the caller went away)."""


@dataclass(frozen=True)
class ChunkConfig:
    """Chunk size and overlap, both in tokens.

    ``overlap_tokens`` may be at most half of ``max_tokens`` so every chunk adds new text.
    """

    max_tokens: int = 1000
    overlap_tokens: int = 100

    def __post_init__(self) -> None:
        if self.max_tokens < 16:
            raise ChunkingError(f"chunk size must be at least 16 tokens, got {self.max_tokens}")
        if not 0 <= self.overlap_tokens <= self.max_tokens // 2:
            raise ChunkingError(
                f"overlap must be between 0 and half the chunk size ({self.max_tokens // 2}), "
                f"got {self.overlap_tokens}")


@dataclass(frozen=True)
class Chunk:
    """One piece of a text: ``text == source[start:end]``; pages are 1-based and inclusive."""

    index: int
    text: str
    token_count: int
    start: int
    end: int
    page_start: int
    page_end: int


class Chunker:
    """Splits texts into chunks of at most ``config.max_tokens`` tokens.

    Stateless between calls and deterministic: the same text and settings give the same
    chunks. Safe to share between threads (tiktoken encodings are thread-safe).
    """

    def __init__(self, encoding: tiktoken.Encoding, config: ChunkConfig | None = None) -> None:
        self.encoding = encoding
        self.config = config or ChunkConfig()

    def count(self, text: str) -> int:
        """Exact token count; special-token text in documents is treated as plain text."""
        return len(self.encoding.encode_ordinary(text))

    def split(self, text: str, page_starts: Sequence[int] = (0,),
              cancel: threading.Event | None = None) -> list[Chunk]:
        """Chunk ``text``. ``page_starts[i]`` is the offset where page ``i + 1`` begins.

        ``cancel`` is checked before each chunk: a thread cannot be stopped from outside, so
        a caller that no longer wants the result (Ctrl-C while a 16 MB file is chunked) sets
        it and the work ends within one chunk, raising ``ChunkingCancelled``.
        """
        if not page_starts or page_starts[0] != 0:
            raise ChunkingError("page_starts must begin with 0")
        spans = _Splitter(self, text, cancel).spans()
        return [
            Chunk(index=i, text=text[start:end], token_count=count, start=start, end=end,
                  page_start=bisect_right(page_starts, start),
                  page_end=bisect_right(page_starts, end - 1))
            for i, (start, end, count) in enumerate(spans)
        ]

    def split_many(self, items: Iterable[tuple[str, Sequence[int]]],
                   max_workers: int = 2,
                   cancel: threading.Event | None = None) -> list[list[Chunk]]:
        """Chunk several texts on a thread pool, results in input order.

        tiktoken releases the GIL while it encodes, which is most of the work, so threads
        use both cores without the cost of shipping texts to other processes. ``cancel``
        stops every text's work as in ``split``.
        """
        work = list(items)
        if max_workers <= 1 or len(work) <= 1:
            return [self.split(text, pages, cancel) for text, pages in work]
        with ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="chunk") as pool:
            try:
                return list(pool.map(lambda item: self.split(item[0], item[1], cancel), work))
            except ChunkingCancelled:
                pool.shutdown(cancel_futures=True)
                raise


class _Splitter:
    """The state of one ``split`` call: the text, the estimate, the cursor."""

    def __init__(self, chunker: Chunker, text: str, cancel: threading.Event | None) -> None:
        self.cancel = cancel
        self.enc = chunker.encoding
        self.meter = TokenMeter(chunker.encoding, text)
        self.max = chunker.config.max_tokens
        self.overlap = chunker.config.overlap_tokens
        self.text = text
        self.n = len(text)
        self.chars_per_token = _INITIAL_CHARS_PER_TOKEN

    def spans(self) -> list[tuple[int, int, int]]:
        out: list[tuple[int, int, int]] = []
        start, prev_end = 0, 0
        previous: Measured | None = None
        while prev_end < self.n:
            if self.cancel is not None and self.cancel.is_set():
                raise ChunkingCancelled
            chunk = self._fit(start, prev_end + 1, previous)
            if chunk is None:  # the overlap left no room: start this chunk fresh
                start = prev_end
                chunk = self._fit(start, prev_end + 1, None)
                assert chunk is not None  # a window of >= 1 char always fits 16 tokens
            out.append((chunk.start, chunk.end, len(chunk.tokens)))
            if chunk.tokens:
                self.chars_per_token = max(0.25, min(64.0, (chunk.end - chunk.start)
                                                     / len(chunk.tokens)))
            prev_end, previous = chunk.end, chunk
            start = self._overlap_start(chunk)
        return out

    # -- fitting one chunk -------------------------------------------------------------

    def _fit(self, start: int, min_end: int, known: Measured | None) -> Measured | None:
        """The best chunk from ``start`` ending at or after ``min_end``, measured exactly.

        ``known`` is a measured slice (the previous chunk) whose tokens may be borrowed.
        """
        limit = min(self.n, max(min_end, start + int(self.max * self.chars_per_token * _FILL)))
        for _ in range(_MAX_FIT_ATTEMPTS):
            end = self._boundary(start, min_end, limit)
            if end is None:
                return self._token_cut(start, min_end)
            chunk = self.meter.measure(start, end, known)
            if len(chunk.tokens) <= self.max:
                return chunk
            if end <= min_end:
                return None
            known = chunk  # too long: the shorter retry borrows its tokens
            fits = start + self._chars_in(chunk.tokens[:self.max])
            limit = max(min_end, min(fits, end - 1))
        return self._token_cut(start, min_end)
    def _boundary(self, start: int, min_end: int, limit: int) -> int | None:
        """Best cut in ``[min_end, limit]``, or None when only a token cut is possible."""
        if limit >= self.n:
            return self.n
        lo = max(min_end - 1, start + (limit - start) // 2)
        for find in (self._last_paragraph, self._last_sentence, self._last_line, self._last_space):
            cut = find(lo, limit)
            if cut is not None:
                return cut
        return self._last_space(min_end - 1, lo)

    def _last_match(self, pattern: re.Pattern[str], lo: int, limit: int) -> int | None:
        last = None
        for match in pattern.finditer(self.text, lo, limit):
            last = match.end()
        return last if last is not None and last > lo else None

    def _last_paragraph(self, lo: int, limit: int) -> int | None:
        return self._last_match(_PARAGRAPH, lo, limit)

    def _last_sentence(self, lo: int, limit: int) -> int | None:
        return self._last_match(_SENTENCE, lo, limit)

    def _last_line(self, lo: int, limit: int) -> int | None:
        at = self.text.rfind("\n", lo, limit)
        return at + 1 if at >= 0 else None

    def _last_space(self, lo: int, limit: int) -> int | None:
        at = max(self.text.rfind(space, lo, limit) for space in _SPACES)
        return at + 1 if at >= 0 else None

    def _token_cut(self, start: int, min_end: int) -> Measured:
        """Cut a run without whitespace between tokens, as close to the budget as fits."""
        width = max(64, int(self.max * self.chars_per_token * 1.3))
        while True:  # widen until the window holds more than a chunk, or reaches the end
            stop = min(self.n, start + width)
            tokens = self.enc.encode_ordinary(self.text[start:stop])
            if len(tokens) > self.max or stop == self.n:
                break
            width *= 2
        if len(tokens) <= self.max:
            return Measured(start, stop, tokens)
        keep = self.max
        for _ in range(_MAX_FIT_ATTEMPTS):
            # Re-encoding a prefix of one long pre-token can merge differently, so measure.
            end = max(min_end, start + self._chars_in(tokens[:keep]))
            measured = self.meter.encode(start, end)
            if len(measured.tokens) <= self.max:
                return measured
            keep = max(1, keep - (len(measured.tokens) - self.max))
        # One character is at most 4 tokens, so this always fits.
        return self.meter.encode(start, max(min_end, start + 1))

    def _chars_in(self, tokens: list[int]) -> int:
        """How many whole characters the given tokens spell out (a split UTF-8 char is dropped)."""
        return len(self.enc.decode_bytes(tokens).decode("utf-8", errors="ignore"))

    # -- overlap ---------------------------------------------------------------------------

    def _overlap_start(self, chunk: Measured) -> int:
        """Where the next chunk starts: a word boundary inside the last ``overlap`` tokens.

        Preferably a safe gap (the space before a word), whose overlap is counted from the
        chunk's own tokens; otherwise a word start, measured.
        """
        start, end, tokens = chunk.start, chunk.end, chunk.tokens
        if self.overlap == 0 or end >= self.n or len(tokens) <= self.overlap:
            return end
        at = end - self._chars_in(tokens[-self.overlap:])
        gap = self.meter.safe_gap_after(max(at, start + 1), end - 1) if self.meter.reuse else None
        if gap is not None:
            before = self.meter.token_index(chunk, gap)
            if before is not None and len(tokens) - before <= self.overlap:
                return gap
        word = _WORD_START.search(self.text, max(at - 1, start), end)
        if word is not None:  # else: one long word; keep the token-aligned position
            at = word.end()
        for _ in range(_MAX_FIT_ATTEMPTS):
            if not start < at < end:
                break
            if len(self.enc.encode_ordinary(self.text[at:end])) <= self.overlap:
                return at
            word = _WORD_START.search(self.text, at, end)
            at = word.end() if word is not None else at + max(1, (end - at) // 8)
        return end
