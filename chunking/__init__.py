"""Token-aware chunking for extractor.

This package depends on tiktoken and nothing of ``extractor_tui``, so it can be tested,
benchmarked and reused on its own. The public surface is listed in ``__all__``.
"""

from __future__ import annotations

from chunking.chunker import Chunk, ChunkConfig, Chunker, ChunkingCancelled, ChunkingError
from chunking.tokenizer import (
    ResolvedEncoding,
    TokenizerUnavailable,
    cached_file,
    encoding_for_model,
    known_encoding,
    resolve_encoding,
)

__all__ = [
    "Chunk",
    "ChunkConfig",
    "Chunker",
    "ChunkingCancelled",
    "ChunkingError",
    "ResolvedEncoding",
    "TokenizerUnavailable",
    "cached_file",
    "encoding_for_model",
    "known_encoding",
    "resolve_encoding",
]
