"""Shared fixtures for the document-loading tests: one PDF worker pool per test."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from extractor_tui.core import PdfWorkerPool


@pytest.fixture
async def pdf_pool() -> AsyncIterator[PdfWorkerPool]:
    """Two PDF workers with a generous time limit, closed when the test ends."""
    async with PdfWorkerPool(workers=2, timeout=30.0) as pool:
        yield pool
