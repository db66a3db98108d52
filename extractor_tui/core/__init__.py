"""The engine of extractor: everything that decides, nothing that draws.

Never imports Textual or Rich (a test runs this import in a subprocess and checks), so the
TUI and ``extractor run`` drive exactly the same code.

Names are exported lazily (PEP 562): ``from extractor_tui.core import load_documents`` works
as usual, but importing one submodule does not import all of them. That matters for the PDF
worker processes, which start as ``python -m extractor_tui.core.pdf_worker`` and would
otherwise pay ~90 ms for asyncio, tiktoken and the rest before reading their first page.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from extractor_tui.core.chunks import ChunkedDocument, chunk_documents, make_chunker
    from extractor_tui.core.documents import (
        SUPPORTED_SUFFIXES,
        Document,
        LoadOptions,
        LoadResult,
        discover,
        load_documents,
    )
    from extractor_tui.core.pdf import PdfPages, read_pdf
    from extractor_tui.core.pdf_pool import PdfWorkerPool
    from extractor_tui.core.text import decode_text

_HOMES = {
    "ChunkedDocument": "chunks", "chunk_documents": "chunks", "make_chunker": "chunks",
    "SUPPORTED_SUFFIXES": "documents", "Document": "documents", "LoadOptions": "documents",
    "LoadResult": "documents", "discover": "documents", "load_documents": "documents",
    "PdfPages": "pdf", "read_pdf": "pdf", "PdfWorkerPool": "pdf_pool", "decode_text": "text",
}

__all__ = [  # spelled out so type checkers see the re-exports; a test compares it to _HOMES
    "SUPPORTED_SUFFIXES",
    "ChunkedDocument",
    "Document",
    "LoadOptions",
    "LoadResult",
    "PdfPages",
    "PdfWorkerPool",
    "chunk_documents",
    "decode_text",
    "discover",
    "load_documents",
    "make_chunker",
    "read_pdf",
]


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(f"{__name__}.{home}"), name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
