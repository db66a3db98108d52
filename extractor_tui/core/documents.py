"""From paths the user typed to Documents: page texts, page offsets, and clear refusals.

Why it is built this way:

* Every input ends as exactly one outcome, in a stable order: a Document, or a
  DocumentError whose reason is one line a user can act on. One bad file never stops the
  others, and nothing is skipped silently: a file of a type we do not read, found while
  walking a folder, is listed as skipped (the folder may well hold a schema or a
  spreadsheet beside the documents); named on its own it is an error. A folder that cannot
  be listed is an error. Hidden files and folders are passed over, and the result says how
  many.
* PDFs are read in worker processes (``core/pdf_pool.py``) with a time limit; text files with
  aiofiles. Both run concurrently, so the event loop of the TUI never stalls on a file.
* A Document keeps each page's text and where each page starts in the joined text, so any
  character offset (of a chunk, of a quote) maps back to a page number.
"""

from __future__ import annotations

import asyncio
import os
from bisect import bisect_right
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import aiofiles

from extractor_tui.core.model import FileStamp
from extractor_tui.core.pdf_pool import PdfWorkerPool
from extractor_tui.core.text import BinaryContent, decode_text, split_pages
from extractor_tui.errors import (
    DocumentError,
    EmptyDocument,
    EmptyFolder,
    FileTooLarge,
    NoTextLayer,
    PathNotFound,
    UnreadableFile,
    UnsupportedType,
)

__all__ = [
    "Discovered",
    "Document",
    "LoadOptions",
    "LoadResult",
    "SUPPORTED_SUFFIXES",
    "Skipped",
    "discover",
    "load_documents",
]

SUPPORTED_SUFFIXES = frozenset({".pdf", ".txt", ".md"})
PAGE_SEPARATOR = "\n"


@dataclass(frozen=True)
class Document:
    """A loaded file: the text of each page, joined into ``text`` with ``page_starts``.

    ``text[page_starts[i]:]`` begins page ``i + 1``; pages are joined by one newline, which
    counts as the end of the page before it.
    """

    path: Path
    kind: str
    pages: tuple[str, ...]
    text: str
    page_starts: tuple[int, ...]
    notes: tuple[str, ...] = ()
    stamp: FileStamp | None = None  # the file as it was when it was read

    @classmethod
    def from_pages(cls, path: Path, kind: str, pages: Sequence[str],
                   notes: Sequence[str] = ()) -> Document:
        starts: list[int] = []
        offset = 0
        for page in pages:
            starts.append(offset)
            offset += len(page) + len(PAGE_SEPARATOR)
        return cls(path=path, kind=kind, pages=tuple(pages),
                   text=PAGE_SEPARATOR.join(pages), page_starts=tuple(starts),
                   notes=tuple(notes))

    @property
    def page_count(self) -> int:
        return len(self.pages)

    def page_of(self, offset: int) -> int:
        """1-based page holding character ``offset`` of ``text``."""
        if not 0 <= offset < max(1, len(self.text)):
            raise IndexError(f"offset {offset} outside the document (0..{len(self.text) - 1})")
        return bisect_right(self.page_starts, offset)


Outcome = Document | DocumentError


@dataclass(frozen=True)
class LoadResult:
    """Every input's outcome in discovery order, notes about the whole load, and the files
    skipped while walking folders."""

    outcomes: tuple[Outcome, ...]
    notes: tuple[str, ...] = ()
    skipped: tuple[Skipped, ...] = ()
    unchanged: tuple[Path, ...] = ()  # files ``reuse`` said need not be read again

    @property
    def documents(self) -> list[Document]:
        return [o for o in self.outcomes if isinstance(o, Document)]

    @property
    def errors(self) -> list[DocumentError]:
        return [o for o in self.outcomes if isinstance(o, DocumentError)]


@dataclass(frozen=True)
class LoadOptions:
    """What bounds a load; the front ends fill it from Settings."""

    max_file_bytes: int = 100 * 1024 * 1024
    pdf_timeout_s: float = 60.0
    workers: int = 2
    text_concurrency: int = 16


@dataclass(frozen=True)
class Skipped:
    """A file passed over while walking a folder, with why: a type we do not read, a link
    to a folder (not followed). Never an error: a folder of documents may hold other files."""

    path: Path
    reason: str


@dataclass(frozen=True)
class Discovered:
    """What the paths expand to: files and errors in order, what was skipped, hidden count."""

    items: list[Path | DocumentError]
    skipped: list[Skipped]
    hidden: int


def discover(paths: Sequence[Path | str]) -> Discovered:
    """Expand folders (recursively, sorted) into files; report what cannot be used.

    A file named on its own must be readable (an unsupported type is an error); a file of
    another type found in a folder is skipped, and so is a link to a folder. A folder that
    cannot be listed is an error, never a silent gap. The same file named twice is kept
    once; a symlink loop is an error of its own, never an exception.
    """
    items: list[Path | DocumentError] = []
    skipped: list[Skipped] = []
    hidden_total = 0
    seen: set[tuple[bool, str]] = set()  # (loaded or refused, real path)
    for raw in paths:
        path = Path(raw).expanduser()
        if path.is_dir():
            walk = _walk(path)
            hidden_total += walk.hidden
            skipped.extend(walk.skipped)
            if not walk.entries and not walk.skipped:
                items.append(EmptyFolder(path, "folder holds no files" if not walk.hidden
                                         else f"folder holds only {walk.hidden} hidden "
                                              "entries"))
            found: list[Path | DocumentError] = walk.entries
            named = False
        elif path.exists():
            found, named = [path], True
        elif path.is_symlink():  # the link exists, what it points to does not, or loops
            items.append(_broken_link(path))
            continue
        else:
            items.append(PathNotFound(path))
            continue
        for file in found:
            if isinstance(file, DocumentError):  # a subfolder that cannot be listed
                items.append(file)
                continue
            supported = file.suffix.lower() in SUPPORTED_SUFFIXES
            # realpath never raises, even on a symlink loop (Path.resolve does on 3.11)
            key = (supported or named, os.path.realpath(file))
            if key in seen:
                continue
            seen.add(key)
            if supported:
                items.append(file)
            elif named:
                items.append(UnsupportedType(
                    file, f"unsupported file type {_suffix(file)} (use .pdf, .txt or .md)"))
            else:
                skipped.append(Skipped(file, f"unsupported type {_suffix(file)}"))
    return Discovered(items, skipped, hidden_total)


def _suffix(path: Path) -> str:
    return path.suffix or "(no extension)"


def _broken_link(path: Path) -> DocumentError:
    try:
        path.stat()
    except OSError as exc:
        return UnreadableFile.from_os_error(path, exc)
    return PathNotFound(path)


@dataclass
class _Walk:
    entries: list[Path | DocumentError]  # files, and folders that cannot be listed
    skipped: list[Skipped]
    hidden: int


def _walk(folder: Path) -> _Walk:
    walk = _Walk([], [], 0)

    def unreadable(exc: OSError) -> None:
        where = Path(exc.filename) if exc.filename else folder
        walk.entries.append(UnreadableFile(where, f"cannot read folder: "
                                                  f"{exc.strerror or exc}"))

    for root, dirs, names in os.walk(folder, onerror=unreadable, followlinks=False):
        walk.hidden += sum(1 for d in dirs if d.startswith("."))
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        for name in list(dirs):
            if os.path.islink(os.path.join(root, name)):  # os.walk would not enter it
                dirs.remove(name)
                walk.skipped.append(Skipped(Path(root) / name,
                                            "link to a folder (not followed)"))
        for name in names:
            if name.startswith("."):
                walk.hidden += 1
            else:
                walk.entries.append(Path(root) / name)
    walk.entries.sort(key=lambda e: _where(e).relative_to(folder).parts)
    walk.skipped.sort(key=lambda s: s.path.relative_to(folder).parts)
    return walk


def _where(entry: Path | DocumentError) -> Path:
    return entry.path if isinstance(entry, DocumentError) else entry


async def load_documents(
    paths: Sequence[Path | str],
    options: LoadOptions | None = None,
    on_outcome: Callable[[Outcome], Awaitable[None] | None] | None = None,
    reuse: Callable[[Path, FileStamp], bool] | None = None,
) -> LoadResult:
    """Load every input concurrently; outcomes come back in discovery order.

    ``on_outcome`` is called as each file finishes (in completion order), e.g. to show
    progress. It never raises into the caller's loop: loading errors are outcomes.
    ``reuse(path, stamp)`` says a file is already known as it is now: it is not read, and
    is listed in ``unchanged`` instead (re-running a finished 10,000-document command read
    and chunked every file again, about 9 s of its 26).
    """
    opts = options or LoadOptions()
    # Walking the folders and asking each file's stamp touch the disk: on a thread (10,000
    # files held the loop about 300 ms).
    found, items, unchanged = await asyncio.to_thread(_sort_out, paths, reuse)
    hidden = found.hidden
    notes = (f"passed over {hidden} hidden file(s) or folder(s)",) if hidden else ()
    text_gate = asyncio.Semaphore(opts.text_concurrency)
    pdfs = sum(1 for i in items if isinstance(i, Path) and i.suffix.lower() == ".pdf")
    async with PdfWorkerPool(min(opts.workers, max(1, pdfs)), opts.pdf_timeout_s) as pool:

        async def one(item: Path | DocumentError) -> Outcome:
            outcome: Outcome
            if isinstance(item, DocumentError):
                outcome = item
            else:
                try:
                    outcome = await _load_file(item, opts, pool, text_gate)
                except DocumentError as exc:
                    outcome = exc
            if on_outcome is not None:
                maybe = on_outcome(outcome)
                if maybe is not None:
                    await maybe
            return outcome

        # A few loaders take the files in turn, rather than a task per file: 10,000 tasks
        # made and first run together held the loop about 200 ms.
        outcomes: list[Outcome | None] = [None] * len(items)
        waiting = iter(enumerate(items))  # shared: each file is taken by one loader

        async def loader() -> None:
            for index, item in waiting:
                outcomes[index] = await one(item)

        await asyncio.gather(*(loader() for _ in range(
            min(len(items), opts.text_concurrency + 4 * max(1, opts.workers)))))
    return LoadResult(tuple(o for o in outcomes if o is not None), notes,
                      tuple(found.skipped), tuple(unchanged))


def _sort_out(paths: Sequence[Path | str], reuse: Callable[[Path, FileStamp], bool] | None
              ) -> tuple[Discovered, list[Path | DocumentError], list[Path]]:
    """What ``paths`` hold: the walk, the files (and errors) to load, and the files
    ``reuse`` says are registered as they are now."""
    found = discover(paths)
    if reuse is None:
        return found, list(found.items), []
    kept: list[Path | DocumentError] = []
    unchanged: list[Path] = []
    for item in found.items:
        if isinstance(item, Path) and _unchanged(item, reuse):
            unchanged.append(item)
        else:
            kept.append(item)
    return found, kept, unchanged


def _unchanged(path: Path, reuse: Callable[[Path, FileStamp], bool]) -> bool:
    try:
        return reuse(path, FileStamp.of(path.stat()))
    except OSError:
        return False  # let the load report what is wrong with it


async def _load_file(path: Path, opts: LoadOptions, pool: PdfWorkerPool,
                     text_gate: asyncio.Semaphore) -> Document:
    try:
        stamp = FileStamp.of(path.stat())  # before reading: a later change means a new stamp
    except OSError as exc:
        raise UnreadableFile.from_os_error(path, exc) from exc
    size = stamp.size
    if size == 0:
        raise EmptyDocument(path, "empty file (0 bytes)")
    if size > opts.max_file_bytes:
        raise FileTooLarge(path, f"{_size(size)} is over the {_size(opts.max_file_bytes)} "
                                 "cap (max_file_mb)")
    if path.suffix.lower() == ".pdf":
        result = await pool.read(path)
        return replace(_pdf_document(path, list(result.pages), result.engine), stamp=stamp)
    async with text_gate:
        return replace(await _text_document(path), stamp=stamp)


def _size(count: int) -> str:
    """A byte count for people: 512 bytes, 3.2 KiB, 150.0 MiB."""
    if count < 1024:
        return f"{count} bytes"
    if count < 1024 * 1024:
        return f"{count / 1024:.1f} KiB"
    return f"{count / 2**20:.1f} MiB"


def _pdf_document(path: Path, pages: list[str], engine: str) -> Document:
    blank = sum(1 for page in pages if not page.strip())
    if not pages or blank == len(pages):
        raise NoTextLayer(path)
    notes = [] if engine == "pypdfium2" else [f"read with {engine} (PDFium refused it)"]
    if blank:
        notes.append(f"{blank} of {len(pages)} pages have no text (scanned?); "
                     "OCR is not supported")
    return Document.from_pages(path, "pdf", pages, notes)


async def _text_document(path: Path) -> Document:
    try:
        async with aiofiles.open(path, "rb") as handle:
            data = await handle.read()
    except OSError as exc:
        raise UnreadableFile.from_os_error(path, exc) from exc
    # Decoding, splitting into pages and joining them again is linear but not small: half a
    # second of the event loop for a 50 MB file.
    return await asyncio.to_thread(_decoded_document, path, data)


def _decoded_document(path: Path, data: bytes) -> Document:
    try:
        text, note = decode_text(data)
    except BinaryContent as exc:
        raise UnreadableFile(path, str(exc)) from exc
    if not text or text.isspace():  # not strip(): it copied a 50 MB text, holding the GIL
        raise EmptyDocument(path, "no text: the file holds only whitespace")
    return Document.from_pages(path, "text", split_pages(text), [note] if note else [])
