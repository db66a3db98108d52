"""extractor: pull structured fields out of documents with LLMs, in a TUI or headless."""

from __future__ import annotations

__all__ = ["__version__"]

__version__ = "0.1.0"
