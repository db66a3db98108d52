"""Reading PDFs: ``read_pdf`` itself, and the ``PdfWorkerPool`` of worker processes around
it. Covers the per-file time limit (a worker stuck on a FIFO is killed and replaced), a
worker that dies mid-read, errors crossing the process boundary intact, many concurrent
reads each getting their own text, and the parsing kept off the event loop.
"""

from __future__ import annotations

import asyncio
import os
import signal
import threading
import time
from pathlib import Path

import pytest

from extractor_tui.core import LoadOptions, PdfWorkerPool, documents, load_documents, read_pdf
from extractor_tui.core.documents import Document
from extractor_tui.core.pdf import PdfPages
from extractor_tui.errors import (
    CorruptPdf,
    DocumentError,
    EncryptedPdf,
    LoadTimedOut,
    NoTextLayer,
    UnreadableFile,
)
from pdfs import (
    encrypted_pdf,
    image_only_pdf,
    many_pages_pdf,
    pdf_bytes,
    text_pdf,
    truncated_pdf,
)

needs_proc = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc")
needs_fifo = pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs os.mkfifo")


def child_pids() -> set[int]:
    """Live (non-zombie) child processes of this test process, from /proc."""
    me, found = os.getpid(), set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[1]) == me and fields[0] != "Z":
            found.add(int(entry.name))
    return found


async def wait_for_children(expected: int, within: float = 5.0) -> set[int]:
    deadline = time.monotonic() + within
    while len(pids := child_pids()) != expected and time.monotonic() < deadline:
        await asyncio.sleep(0.02)
    return pids


def fifo(path: Path) -> Path:
    """A named pipe: opening it for reading blocks until a writer comes, i.e. forever."""
    os.mkfifo(path)
    return path


# --- read_pdf, in this process -------------------------------------------------------------


def test_read_pdf_returns_each_page(tmp_path: Path) -> None:
    result = read_pdf(text_pdf(tmp_path / "a.pdf", ["One", "Two\nlines", "Three"]))
    assert result.pages == ("One", "Two\nlines", "Three")
    assert result.engine == "pypdfium2"


def test_read_pdf_on_a_missing_file_is_unreadable_not_corrupt(tmp_path: Path) -> None:
    path = tmp_path / "vanished.pdf"
    with pytest.raises(UnreadableFile) as caught:
        read_pdf(path)
    assert caught.value.path == path
    assert caught.value.reason == "cannot read: No such file or directory"


def test_read_pdf_on_a_directory_is_unreadable(tmp_path: Path) -> None:
    folder = tmp_path / "folder.pdf"
    folder.mkdir()
    with pytest.raises(UnreadableFile, match="Is a directory"):
        read_pdf(folder)


def test_read_pdf_errors(tmp_path: Path) -> None:
    with pytest.raises(EncryptedPdf):
        read_pdf(encrypted_pdf(tmp_path / "e.pdf", ["x"], "secret", "owner", "AES-256"))
    with pytest.raises(CorruptPdf):
        read_pdf(truncated_pdf(tmp_path / "t.pdf", ["x", "y"]))
    # read_pdf reports blank pages; deciding they mean "no text layer" is the loader's job.
    assert read_pdf(image_only_pdf(tmp_path / "i.pdf", pages=2)).pages == ("", "")


# --- the pool ------------------------------------------------------------------------------


@needs_fifo
async def test_time_limit_kills_a_stuck_read_and_the_pool_recovers(tmp_path: Path) -> None:
    stuck = fifo(tmp_path / "x.pdf")
    good = text_pdf(tmp_path / "good.pdf", ["Read after the timeout"])
    limit = 1.0  # includes a fresh worker's start-up (~0.2 s), so not too tight
    async with PdfWorkerPool(workers=1, timeout=limit) as pool:
        with pytest.raises(LoadTimedOut) as caught:  # the pipe never delivers: only the limit
            await pool.read(stuck)                    # ends this read
        err = caught.value
        assert err.path == stuck
        assert err.reason == ("took longer than 1 s to read "
                              "(raise pdf_timeout_s to allow more)")
        # One worker only: this read succeeds only if the stuck worker was replaced.
        assert (await pool.read(good)).pages == ("Read after the timeout",)


@needs_fifo
@needs_proc
async def test_a_stuck_read_does_not_fail_the_reads_beside_it(tmp_path: Path) -> None:
    stuck = fifo(tmp_path / "stuck.pdf")
    goods = [text_pdf(tmp_path / f"g{i}.pdf", [f"Innocent file {i}"]) for i in range(12)]
    before = child_pids()
    async with PdfWorkerPool(workers=2, timeout=1.0) as pool:
        results = await asyncio.gather(pool.read(stuck), *(pool.read(g) for g in goods),
                                       return_exceptions=True)
        assert isinstance(results[0], LoadTimedOut)
        assert [r.pages for r in results[1:]] == [  # type: ignore[union-attr]
            (f"Innocent file {i}",) for i in range(12)]
        # The killed worker was replaced: the pool still has exactly two.
        assert len(await wait_for_children(len(before) + 2)) == len(before) + 2
    # Closing the pool leaves no worker behind.
    assert await wait_for_children(len(before)) == before


@needs_fifo
@needs_proc
async def test_a_worker_that_dies_mid_read_is_reported_and_replaced(tmp_path: Path) -> None:
    stuck = fifo(tmp_path / "crash.pdf")
    good = text_pdf(tmp_path / "good.pdf", ["Still fine"])
    before = child_pids()
    async with PdfWorkerPool(workers=1, timeout=30.0) as pool:
        reading = asyncio.create_task(pool.read(stuck))
        [worker] = await wait_for_children(len(before) + 1) - before
        await asyncio.sleep(0.3)  # let it reach the blocking open()
        os.kill(worker, signal.SIGKILL)
        with pytest.raises(CorruptPdf) as caught:
            await asyncio.wait_for(reading, 10)
        assert caught.value.path == stuck
        assert caught.value.reason == "the PDF reader crashed on this file"
        assert (await pool.read(good)).pages == ("Still fine",)


async def test_errors_cross_the_process_boundary_intact(tmp_path: Path,
                                                        pdf_pool: PdfWorkerPool) -> None:
    cases: list[tuple[Path, type[DocumentError], str | None]] = [
        (encrypted_pdf(tmp_path / "enc.pdf", ["x"], "secret", "owner"), EncryptedPdf,
         "encrypted: a password is needed"),
        (truncated_pdf(tmp_path / "cut.pdf", ["x", "y"]), CorruptPdf, None),
        (tmp_path / "gone.pdf", UnreadableFile, "cannot read: No such file or directory"),
    ]
    for path, cls, reason in cases:
        with pytest.raises(DocumentError) as caught:
            await pdf_pool.read(path)
        assert type(caught.value) is cls
        assert caught.value.path == path
        assert "\n" not in caught.value.reason
        if reason is not None:
            assert caught.value.reason == reason
    # A reply that is an error leaves the worker healthy and in use.
    assert (await pdf_pool.read(text_pdf(tmp_path / "ok.pdf", ["ok"]))).pages == ("ok",)


async def test_concurrent_reads_each_get_their_own_text(tmp_path: Path,
                                                         pdf_pool: PdfWorkerPool) -> None:
    expected: dict[Path, tuple[str, ...]] = {}
    for i in range(30):
        pages = tuple(f"Document {i:02d} page {p} token {i * 7919 + p}"
                      for p in range(1, i % 4 + 2))
        expected[text_pdf(tmp_path / f"doc{i:02d}.pdf", pages)] = pages
    bad = encrypted_pdf(tmp_path / "locked.pdf", ["x"], "secret", "owner")
    paths = list(expected)
    paths.insert(15, bad)

    results = await asyncio.gather(*(pdf_pool.read(p) for p in paths),
                                   return_exceptions=True)

    for path, result in zip(paths, results, strict=True):
        if path == bad:
            assert isinstance(result, EncryptedPdf) and result.path == bad
        else:
            assert not isinstance(result, BaseException), result
            assert result.pages == expected[path], path.name


async def test_loading_keeps_the_parsing_off_the_event_loop(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every PDF goes to the worker pool (its processes: the tests above), every text file is
    decoded on another thread. How long the loop stalls meanwhile is a figure of
    bench/load_and_chunk.py, not a test: it depends on the machine."""
    lorem = "lorem ipsum dolor sit amet consectetur " * 60
    many_pages_pdf(tmp_path / "long-a.pdf", "A " + lorem, 400)
    data = pdf_bytes([f"Page {p}: " + lorem for p in range(12)])
    for i in range(6):
        (tmp_path / f"doc{i:02d}.pdf").write_bytes(data)
        (tmp_path / f"note{i:02d}.txt").write_text(f"note {i}\n" * 2000, encoding="utf-8")
    pooled: list[Path] = []
    decoded_on: list[int] = []
    pool_read, decode = PdfWorkerPool.read, documents._decoded_document

    async def read(self: PdfWorkerPool, path: Path) -> PdfPages:
        pooled.append(path)
        return await pool_read(self, path)

    def decoded(path: Path, data: bytes) -> Document:
        decoded_on.append(threading.get_ident())
        return decode(path, data)

    monkeypatch.setattr(PdfWorkerPool, "read", read)
    monkeypatch.setattr(documents, "_decoded_document", decoded)
    result = await load_documents([tmp_path], LoadOptions(workers=2))

    assert result.errors == []
    assert len(result.documents) == 13
    assert sum(d.page_count for d in result.documents if d.kind == "pdf") == 400 + 6 * 12
    assert sorted(p.name for p in pooled) == sorted(p.name for p in tmp_path.glob("*.pdf"))
    assert len(decoded_on) == 6 and threading.get_ident() not in decoded_on
