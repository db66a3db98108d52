"""Benchmark: load and chunk the Kleister-NDA dev PDFs; prints figures, asserts nothing.

    .venv/bin/python bench/load_and_chunk.py [--runs 5] [--corpus DIR] [--baseline]

Figures (medians over --runs, all measured in this one run, since the machine is shared and
noisy):
  * PDF pages/s through ``load_documents``, worker-process start-up included
    (target >= 300 on 2 cores);
  * chunking MB/s of UTF-8 text, 1,000-token chunks with 100 overlap, single thread and on
    the 2-thread pool the engine uses (target >= 10), beside tiktoken's own encoding speed
    and how many times each character is encoded (the chunker's work, timing-free);
  * the longest event-loop stall while loading, from a 5 ms ticker (target < 50 ms);
  * the whole way in, as ``extractor run`` does it: ``Job.add_paths`` (load, chunk and
    register into a session file) with the default settings, in pages/s (target >= 300),
    and its longest event-loop stall;
  * with --baseline, the same pages read in-process by pypdfium2 and by pypdf, for ratios.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from benchkit import Ticker  # noqa: E402
from chunking import ChunkConfig, Chunker, resolve_encoding  # noqa: E402
from extractor_tui.core import LoadOptions, LoadResult, load_documents  # noqa: E402

DEFAULT_CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "kleister-nda-dev"


async def _load_with_ticker(paths: list[Path], workers: int) -> tuple[float, float, LoadResult]:
    """Seconds to load, the worst ticker lateness in seconds, and the result."""
    ticker = Ticker()
    ticker.start()
    await asyncio.sleep(0)
    started = time.perf_counter()
    result = await load_documents(paths, LoadOptions(workers=workers))
    elapsed = time.perf_counter() - started
    return elapsed, await ticker.stop(), result


class _CountingEncoding:
    """Counts the characters handed to the encoder: chunking's work, free of timing noise."""

    def __init__(self, encoding: Any) -> None:
        self.encoding = encoding
        self.chars = 0

    def encode_ordinary(self, text: str) -> list[int]:
        self.chars += len(text)
        return list(self.encoding.encode_ordinary(text))

    def __getattr__(self, name: str) -> Any:
        return getattr(self.encoding, name)


def _interleaved_medians(fns: list[Callable[[], object]], runs: int) -> list[float]:
    """Median seconds of each function, timing them in turn within every round."""
    times: list[list[float]] = [[] for _ in fns]
    for _ in range(runs):
        for fn, bucket in zip(fns, times):
            started = time.perf_counter()
            fn()
            bucket.append(time.perf_counter() - started)
    return [statistics.median(bucket) for bucket in times]


async def _add_paths(paths: list[Path], folder: Path) -> tuple[float, float, int]:
    """Seconds for ``Job.add_paths`` with the default settings into a new session file,
    the worst ticker lateness meanwhile, and the chunks registered."""
    import tempfile

    from extractor_tui.config import Settings
    from extractor_tui.core.fields import preset
    from extractor_tui.core.job import Job
    from extractor_tui.core.session import Session

    with tempfile.TemporaryDirectory(dir=folder) as tmp:
        with Session.open(Path(tmp) / "bench.sqlite") as session:
            job = Job(Settings(provider="offline"), preset("contract"), session)
            ticker = Ticker()
            ticker.start()
            await asyncio.sleep(0)
            started = time.perf_counter()
            await job.add_paths(paths)
            elapsed = time.perf_counter() - started
            worst = await ticker.stop()
            chunks = len(session.work_items())
            await job.aclose()
    return elapsed, worst, chunks


def _median_time(fn: Callable[[], object], runs: int) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def _in_process_pages(paths: list[Path], engine: str) -> int:
    pages = 0
    for path in paths:
        if engine == "pypdfium2":
            import pypdfium2 as pdfium

            pdf = pdfium.PdfDocument(path)
            for index in range(len(pdf)):
                pdf[index].get_textpage().get_text_bounded()
                pages += 1
            pdf.close()
        else:
            from pypdf import PdfReader

            for page in PdfReader(path).pages:
                page.extract_text()
                pages += 1
    return pages


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--baseline", action="store_true",
                        help="also time pypdfium2 and pypdf in-process (pypdf takes ~20 s)")
    args = parser.parse_args()
    paths = sorted((args.corpus / "documents").glob("*.pdf"))
    if not paths:
        print(f"no PDFs under {args.corpus / 'documents'}", file=sys.stderr)
        return 2

    load_times, stalls = [], []
    result: LoadResult | None = None
    for _ in range(args.runs):
        elapsed, worst, result = asyncio.run(_load_with_ticker(paths, args.workers))
        load_times.append(elapsed)
        stalls.append(worst)
    assert result is not None
    if result.errors:
        print(f"{len(result.errors)} file(s) failed: {result.errors[:3]}", file=sys.stderr)
    pages = sum(doc.page_count for doc in result.documents)
    load_s = statistics.median(load_times)

    resolved = resolve_encoding()
    chunker = Chunker(resolved.encoding, ChunkConfig(1000, 100))
    items = [(doc.text, doc.page_starts) for doc in result.documents]
    megabytes = sum(len(doc.text.encode("utf-8")) for doc in result.documents) / 1e6
    # Interleaved, so a noisy neighbour slows all three alike and the ratios stay fair.
    chunk_1, chunk_2, encode_s = _interleaved_medians([
        lambda: chunker.split_many(items, max_workers=1),
        lambda: chunker.split_many(items, max_workers=2),
        lambda: [resolved.encoding.encode_ordinary(t) for t, _ in items],
    ], args.runs)
    counting = _CountingEncoding(resolved.encoding)
    Chunker(counting, ChunkConfig(1000, 100)).split_many(items, max_workers=1)  # type: ignore[arg-type]
    encoded_ratio = counting.chars / sum(len(text) for text, _ in items)

    print(f"corpus: {len(paths)} PDFs, {pages} pages, {megabytes:.2f} MB of text; "
          f"{args.runs} runs, medians; tokenizer {resolved.describe()}")
    rows = [
        ("PDF pages/s (load_documents, workers incl.)", f"{pages / load_s:,.0f}", ">= 300"),
        ("  load time, s (min / median / max)",
         f"{min(load_times):.2f} / {load_s:.2f} / {max(load_times):.2f}", ""),
        ("chunking MB/s, 1 thread", f"{megabytes / chunk_1:.1f}", ">= 10"),
        ("chunking MB/s, 2 threads (as the engine runs it)", f"{megabytes / chunk_2:.1f}",
         ">= 10"),
        ("  tiktoken encode_ordinary alone, MB/s", f"{megabytes / encode_s:.1f}", ""),
        ("  1-thread chunking as a share of tiktoken's speed", f"{encode_s / chunk_1:.0%}", ""),
        ("  characters encoded per character chunked", f"{encoded_ratio:.3f}", ""),
        ("longest event-loop stall while loading, ms (median of runs / worst)",
         f"{statistics.median(stalls) * 1000:.1f} / {max(stalls) * 1000:.1f}", "< 50"),
    ]
    import tempfile

    whole = [asyncio.run(_add_paths(paths, Path(tempfile.gettempdir())))
             for _ in range(args.runs)]
    whole_s = statistics.median(run[0] for run in whole)
    rows += [
        ("whole way in (Job.add_paths: load, chunk, register), pages/s",
         f"{pages / whole_s:,.0f}", ">= 300"),
        ("  chunks registered; longest loop stall, ms (median / worst)",
         f"{whole[0][2]}; {statistics.median(r[1] for r in whole) * 1000:.0f} / "
         f"{max(r[1] for r in whole) * 1000:.0f}", "< 100"),
    ]
    if args.baseline:
        pdfium_s = _median_time(lambda: _in_process_pages(paths, "pypdfium2"), 1)
        pypdf_s = _median_time(lambda: _in_process_pages(paths, "pypdf"), 1)
        rows += [
            ("baseline: pypdfium2 in-process, 1 core, pages/s", f"{pages / pdfium_s:,.0f}", ""),
            ("baseline: pypdf in-process, 1 core, pages/s", f"{pages / pypdf_s:,.0f}", ""),
            ("  load_documents vs pypdf", f"{pypdf_s / load_s:.1f}x", ""),
        ]
    width = max(len(name) for name, _, _ in rows)
    for name, value, target in rows:
        print(f"{name:<{width}}  {value:>20}  {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
