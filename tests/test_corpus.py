"""Robustness over the real documents in ``../shared/corpus`` (beside the checkout): every
Kleister-NDA dev PDF and every invoice2data PDF/TXT loads in one ``load_documents`` call,
with the same page count pypdf reports. Skipped as a whole when the corpus is absent.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from pypdf import PdfReader

from extractor_tui.core import Document, LoadResult, load_documents

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus"
if not CORPUS.is_dir():
    pytest.skip(f"no corpus at {CORPUS}", allow_module_level=True)

KLEISTER = CORPUS / "kleister-nda-dev" / "documents"
INVOICES = CORPUS / "invoice2data"
KLEISTER_DOCUMENTS = 83
KLEISTER_PAGES = 489  # as the corpus README says

pytestmark = pytest.mark.corpus


def corpus_files() -> list[Path]:
    kleister = sorted(KLEISTER.glob("*.pdf"))
    invoices = sorted(p for p in INVOICES.iterdir() if p.suffix.lower() in {".pdf", ".txt"})
    return kleister + invoices


@pytest.fixture(scope="module")
def loaded() -> tuple[list[Path], LoadResult]:
    files = corpus_files()
    return files, asyncio.run(load_documents(files))


def by_path(result: LoadResult) -> dict[Path, Document]:
    return {d.path: d for d in result.documents}


def test_the_corpus_is_complete() -> None:
    files = corpus_files()
    assert sum(1 for f in files if f.is_relative_to(KLEISTER)) == KLEISTER_DOCUMENTS
    invoices = [f for f in files if f.is_relative_to(INVOICES)]
    assert any(f.suffix == ".pdf" for f in invoices)
    assert any(f.suffix == ".txt" for f in invoices)


def test_every_document_loads(loaded: tuple[list[Path], LoadResult]) -> None:
    files, result = loaded
    assert [str(e) for e in result.errors] == []
    assert [o.path for o in result.outcomes] == files
    for doc in result.documents:
        assert doc.text.strip(), doc.path.name
        assert doc.kind == ("pdf" if doc.path.suffix == ".pdf" else "text")


def test_pdf_page_counts_match_pypdf(loaded: tuple[list[Path], LoadResult]) -> None:
    files, result = loaded
    docs = by_path(result)
    pdfs = [f for f in files if f.suffix.lower() == ".pdf"]
    ours = {f.name: docs[f].page_count if f in docs else None for f in pdfs}
    theirs = {f.name: len(PdfReader(f).pages) for f in pdfs}
    assert ours == theirs


def test_kleister_has_489_pages_in_all(loaded: tuple[list[Path], LoadResult]) -> None:
    files, result = loaded
    docs = by_path(result)
    assert sum(docs[f].page_count for f in files if f.is_relative_to(KLEISTER)) == (
        KLEISTER_PAGES)


def test_page_offsets_are_consistent(loaded: tuple[list[Path], LoadResult]) -> None:
    _, result = loaded
    for doc in result.documents:
        for number, (start, page) in enumerate(zip(doc.page_starts, doc.pages,
                                                   strict=True), 1):
            assert doc.text[start:start + len(page)] == page
            if page:
                assert doc.page_of(start) == number
                assert doc.page_of(start + len(page) - 1) == number
