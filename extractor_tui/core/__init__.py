"""The engine of extractor: everything that decides, nothing that draws.

Never imports Textual or Rich (a test runs this import in a subprocess and checks), so the
TUI and ``extractor run`` drive exactly the same code.
"""

from __future__ import annotations

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

__all__ = [
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
