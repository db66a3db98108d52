"""The chunker's invariants, checked on generated and hand-made texts.

Properties (hypothesis): every character is in a chunk, chunks come in order, none is over
budget, token counts are exact, overlap never exceeds the setting, page spans are right, and
output is deterministic. Examples: each boundary kind is preferred in its turn, a word longer
than a chunk is cut between tokens, and a 200,000-character line costs linear work.
"""

from __future__ import annotations

import asyncio
import random
import threading
from bisect import bisect_right

import pytest
import tiktoken
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chunking import (
    Chunk,
    ChunkConfig,
    Chunker,
    ChunkingCancelled,
    ChunkingError,
    resolve_encoding,
)

ENC = resolve_encoding().encoding


def count(text: str) -> int:
    return len(ENC.encode_ordinary(text))


def check_invariants(text: str, chunks: list[Chunk], config: ChunkConfig,
                     page_starts: tuple[int, ...] = (0,)) -> None:
    if not text:
        assert chunks == []
        return
    assert chunks[0].start == 0
    assert chunks[-1].end == len(text)
    for i, chunk in enumerate(chunks):
        assert chunk.index == i
        assert chunk.text == text[chunk.start:chunk.end]
        assert chunk.start < chunk.end
        assert chunk.token_count == count(chunk.text) <= config.max_tokens
        assert chunk.page_start == bisect_right(page_starts, chunk.start)
        assert chunk.page_end == bisect_right(page_starts, chunk.end - 1)
    for a, b in zip(chunks, chunks[1:]):
        assert a.start < b.start and a.end < b.end, "chunks out of order"
        assert b.start <= a.end, "a gap: characters in no chunk"
        shared = text[b.start:a.end]
        assert count(shared) <= config.overlap_tokens
        if config.overlap_tokens == 0:
            assert b.start == a.end


ALPHABET = st.sampled_from(list("abcdefghij ABC  \n\n\n.,!?;:-'\"()0123456789")
                           + ["é", "ß", "中", "文", "😀", "\u200b", "\xa0", "\t", "\f",
                              "Mr. ", "e.g. ", "[/bold]", "<|endoftext|>", "  \n  \n"])
TEXTS = st.lists(ALPHABET, max_size=600).map("".join)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=TEXTS, max_tokens=st.integers(16, 64), overlap_share=st.floats(0, 0.5),
       page_cuts=st.lists(st.integers(0, 10_000), max_size=5))
def test_invariants_hold_for_any_text(text: str, max_tokens: int, overlap_share: float,
                                      page_cuts: list[int]) -> None:
    config = ChunkConfig(max_tokens, int(max_tokens * overlap_share))
    starts = tuple(sorted({0, *(c % len(text) for c in page_cuts if text)}))
    chunker = Chunker(ENC, config)
    chunks = chunker.split(text, starts)
    check_invariants(text, chunks, config, starts)
    assert chunker.split(text, starts) == chunks, "not deterministic"


def prose(paragraphs: int, seed: int = 7) -> str:
    rng = random.Random(seed)
    words = ("the party shall disclose confidential information agreement term notice "
             "receiving delaware obligations effective date hereof written consent").split()

    def sentence() -> str:
        body = " ".join(rng.choice(words) for _ in range(rng.randint(6, 18)))
        return body[0].upper() + body[1:] + rng.choice([".", ".", ".", "?", "!"])

    return "\n\n".join(" ".join(sentence() for _ in range(rng.randint(2, 6)))
                       for _ in range(paragraphs))


def test_prose_chunks_are_full_and_overlap_is_close_to_setting() -> None:
    text = prose(300)
    config = ChunkConfig(400, 60)
    chunks = Chunker(ENC, config).split(text)
    check_invariants(text, chunks, config)
    assert len(chunks) > 10
    overlaps = [count(text[b.start:a.end]) for a, b in zip(chunks, chunks[1:])]
    # At a word boundary within the last 60 tokens: never more, at most a word or two less.
    assert min(overlaps) >= 50, overlaps
    fills = sorted(c.token_count for c in chunks[:-1])
    assert fills[len(fills) // 2] >= 0.75 * config.max_tokens, fills


def test_paragraph_break_is_preferred() -> None:
    text = prose(60)
    chunks = Chunker(ENC, ChunkConfig(300, 0)).split(text)
    for chunk in chunks[:-1]:
        assert text[:chunk.end].endswith("\n\n"), repr(chunk.text[-40:])


def test_sentence_end_is_preferred_when_no_paragraph_break() -> None:
    text = prose(60).replace("\n\n", " ")
    chunks = Chunker(ENC, ChunkConfig(300, 0)).split(text)
    for chunk in chunks[:-1]:
        assert chunk.text.rstrip()[-1] in ".?!", repr(chunk.text[-40:])


def test_abbreviation_followed_by_lowercase_is_not_a_sentence_end() -> None:
    # No real sentence ends at all: were "e.g. delta" a sentence end, nearly every chunk
    # would be cut right after it; as a plain space it is one candidate among eighteen.
    text = "alpha beta gamma e.g. delta epsilon zeta eta theta iota kappa lambda mu nu " * 200
    chunks = Chunker(ENC, ChunkConfig(60, 0)).split(text)
    after_abbreviation = sum(c.text.endswith("e.g. ") for c in chunks[:-1])
    assert after_abbreviation <= len(chunks) // 4, (after_abbreviation, len(chunks))


def test_word_boundary_when_no_sentence_end() -> None:
    text = " ".join(f"word{i}" for i in range(3000))
    chunks = Chunker(ENC, ChunkConfig(100, 10)).split(text)
    check_invariants(text, chunks, ChunkConfig(100, 10))
    for chunk in chunks[:-1]:
        assert text[chunk.end - 1] == " ", "cut inside a word"
    for a, b in zip(chunks, chunks[1:]):
        assert text[b.start] == " " or text[b.start - 1] == " ", "overlap starts inside a word"


def test_line_break_beats_space() -> None:
    lines = [" ".join(f"w{i}x{j}" for j in range(7)) for i in range(400)]
    text = "\n".join(lines)
    chunks = Chunker(ENC, ChunkConfig(120, 0)).split(text)
    for chunk in chunks[:-1]:
        assert chunk.text.endswith("\n")


def test_word_longer_than_a_chunk_is_cut_between_tokens() -> None:
    word = "".join(random.Random(1).choice("abcdefghijklmnopqrstuvwxyz0123456789")
                   for _ in range(5000))
    text = f"start {word} end"
    config = ChunkConfig(64, 8)
    chunks = Chunker(ENC, config).split(text)
    check_invariants(text, chunks, config)
    inner = [c for c in chunks if c.start > 6 and c.end < len(text) - 4]
    assert inner and all(c.token_count >= config.max_tokens - 4 for c in inner)


class CountingEncoding:
    """Wraps an Encoding and counts how many characters were handed to the encoder."""

    def __init__(self, enc: tiktoken.Encoding) -> None:
        self.enc = enc
        self.chars = 0

    def encode_ordinary(self, text: str) -> list[int]:
        self.chars += len(text)
        return self.enc.encode_ordinary(text)

    def __getattr__(self, name: str) -> object:
        return getattr(self.enc, name)


@pytest.mark.parametrize("line", [
    "a" * 200_000,
    "".join(random.Random(3).choice("abcXYZ0189-_/") for _ in range(200_000)),
    "中文字符" * 50_000,
])
def test_giant_line_without_whitespace_costs_linear_work(line: str) -> None:
    counting = CountingEncoding(ENC)
    config = ChunkConfig(1000, 100)
    chunks = Chunker(counting, config).split(line)  # type: ignore[arg-type]
    check_invariants(line, chunks, config)
    # Linear: every character is encoded a small constant number of times, not once per chunk.
    assert counting.chars <= 4 * len(line), counting.chars / len(line)


def test_prose_is_encoded_about_once() -> None:
    counting = CountingEncoding(ENC)
    text = prose(400)
    Chunker(counting, ChunkConfig(1000, 100)).split(text)  # type: ignore[arg-type]
    # Each chunk once, plus the overlap the next chunk shares; shortened retries and the
    # overlap count borrow tokens already computed (chunking/_meter.py).
    assert counting.chars <= 1.2 * len(text), counting.chars / len(text)


def test_page_spans_follow_page_starts() -> None:
    pages = [prose(8, seed=s) for s in range(6)]
    starts, offset = [], 0
    for page in pages:
        starts.append(offset)
        offset += len(page) + 1
    text = "\n".join(pages)
    config = ChunkConfig(200, 20)
    chunks = Chunker(ENC, config).split(text, tuple(starts))
    check_invariants(text, chunks, config, tuple(starts))
    assert chunks[0].page_start == 1 and chunks[-1].page_end == 6
    assert any(c.page_start != c.page_end for c in chunks), "no chunk crosses a page"


def test_special_token_text_is_plain_text() -> None:
    text = "before <|endoftext|> after " * 50
    chunks = Chunker(ENC, ChunkConfig(32, 4)).split(text)
    check_invariants(text, chunks, ChunkConfig(32, 4))


def test_split_many_matches_split_in_order() -> None:
    chunker = Chunker(ENC, ChunkConfig(100, 10))
    texts = [(prose(5, seed=s), (0,)) for s in range(7)]
    assert chunker.split_many(texts, max_workers=2) == [chunker.split(t, p) for t, p in texts]


@pytest.mark.parametrize("size,overlap", [(15, 0), (100, 51), (100, -1)])
def test_impossible_configs_are_refused(size: int, overlap: int) -> None:
    with pytest.raises(ChunkingError):
        ChunkConfig(size, overlap)


def test_page_starts_must_begin_at_zero() -> None:
    with pytest.raises(ChunkingError):
        Chunker(ENC).split("text", (5,))


class _GatedEncoding:
    """tiktoken's encoding, but each ``encode_ordinary`` waits for a permit: the test decides
    how far the chunker gets."""

    def __init__(self) -> None:
        self.permits = threading.Semaphore(0)
        self.calls = 0

    def encode_ordinary(self, text: str) -> list[int]:
        self.permits.acquire()
        self.calls += 1
        return list(ENC.encode_ordinary(text))

    def __getattr__(self, name: str) -> object:
        return getattr(ENC, name)


def test_a_cancelled_split_stops_within_one_chunk() -> None:
    gated = _GatedEncoding()
    chunker = Chunker(gated, ChunkConfig(64, 8))  # type: ignore[arg-type]
    text = prose(400)
    cancel = threading.Event()
    outcome: list[object] = []

    def work() -> None:
        try:
            outcome.append(chunker.split_many([(text, (0,)), (text, (0,))], 2, cancel))
        except ChunkingCancelled as exc:
            outcome.append(exc)

    thread = threading.Thread(target=work)
    thread.start()
    gated.permits.release(20)
    for _ in range(500):  # until both threads have used the permits
        if gated.calls == 20:
            break
        threading.Event().wait(0.01)
    cancel.set()
    gated.permits.release(100_000)
    thread.join(10)
    assert not thread.is_alive()
    assert len(outcome) == 1 and isinstance(outcome[0], ChunkingCancelled)
    assert gated.calls < 20 + 2 * 2 * 12  # at most one chunk's fitting more per thread
    needed = len(Chunker(ENC, ChunkConfig(64, 8)).split(text))
    assert needed > 100  # the whole job is much longer than what ran


async def test_cancelling_chunk_documents_stops_its_threads() -> None:
    from pathlib import Path

    from extractor_tui.core.chunks import chunk_documents
    from extractor_tui.core.documents import Document

    gated = _GatedEncoding()
    chunker = Chunker(gated, ChunkConfig(64, 8))  # type: ignore[arg-type]
    document = Document.from_pages(Path("big.txt"), "text", [prose(400)])
    task = asyncio.create_task(chunk_documents([document], chunker, 1))
    gated.permits.release(10)
    for _ in range(500):
        if gated.calls == 10:
            break
        await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    gated.permits.release(100_000)
    settled = -1
    for _ in range(200):  # the thread notices the cancel before its next chunk
        await asyncio.sleep(0.01)
        if gated.calls == settled:
            break
        settled = gated.calls
    assert gated.calls < 10 + 2 * 12
